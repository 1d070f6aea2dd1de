"""Random search: every trial draws fresh values, never repeating a configuration."""

from __future__ import annotations

from typing import Any

from tuning.oracles.base import Oracle
from tuning.trial import TrialStatus

__all__ = ["RandomSearchOracle"]


class RandomSearchOracle(Oracle):
    """Samples each active hyperparameter uniformly in its probability space.

    After 20 draws in a row that repeat an earlier configuration the space
    counts as exhausted and the search ends early.

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

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        values = self._random_values()
        if values is None:
            return {"status": TrialStatus.STOPPED}
        return {"status": TrialStatus.RUNNING, "values": values}
