"""Random search: every trial draws fresh values, never repeating a configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.oracles.base import Oracle
from tuning.trial import TrialStatus

__all__ = ["RandomSearchOracle"]


class RandomSearchOracle(Oracle):
    """Samples each active hyperparameter uniformly in its probability space.

    After 20 draws in a row that repeat an earlier configuration the space
    counts as exhausted and the search ends early; it stays over (for every
    worker, and after ``set_state``) until the space grows.

    Args:
        objective: See ``Oracle``.
        max_trials: The most trials to run (default 10).
        seed: Makes the sequence of trials repeatable.
        hyperparameters: Part of the space declared in advance.
        allow_new_entries: See ``Oracle``.
        tune_new_entries: See ``Oracle``.
        max_retries_per_trial: See ``Oracle``.
        max_consecutive_failed_trials: See ``Oracle``.
        **kwargs: Further ``Oracle`` options (``pruning``).

    Example:
        >>> oracle = RandomSearchOracle(objective="val_loss", max_trials=3, seed=1)
        >>> oracle.hyperparameters.Float("x", -1.0, 1.0)
        -1.0
        >>> trial = oracle.create_trial("worker-0")
        >>> trial.status.value
        'RUNNING'
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
        seed: int | None = None,
        hyperparameters: Any = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **kwargs,
        )

    def _reset_state(self) -> None:
        super()._reset_state()
        # The size of the space when it counted as exhausted; None while it has not.
        self._exhausted_at: int | None = None

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        # Without this verdict kept, a later call would draw afresh and could find an
        # untried configuration: the search, over for one worker, would go on for another
        # (or resume after it ended). Only hyperparameters declared since reopen it.
        size = len(self.hyperparameters.space)
        if self._exhausted_at == size:
            return {"status": TrialStatus.STOPPED}
        values = self._random_values()
        if values is None:
            self._exhausted_at = size
            return {"status": TrialStatus.STOPPED}
        return {"status": TrialStatus.RUNNING, "values": values}

    def get_state(self) -> dict[str, Any]:
        """The search state, with whether the space counts as exhausted."""
        return {**super().get_state(), "exhausted_at": self._exhausted_at}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores ``get_state``'s output; the search continues identically."""
        super().set_state(state)
        self._exhausted_at = state.get("exhausted_at")
