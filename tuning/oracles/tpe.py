"""TPE: a density-model oracle for large, categorical and conditional spaces."""

from __future__ import annotations

from typing import Any

from tuning.hyperparameters import HyperParameters
from tuning.oracles import _tpe
from tuning.oracles.base import _MAX_COLLISIONS, Oracle, values_key
from tuning.oracles.random_search import RandomSearchOracle
from tuning.trial import TrialStatus

__all__ = ["TPEOracle"]


class TPEOracle(RandomSearchOracle):
    """The Tree-structured Parzen Estimator (Bergstra et al., 2011).

    The first ``num_initial_points`` trials draw random values (as
    ``RandomSearchOracle``, whose exhaustion rule it keeps); after that
    each proposal models the good and the bad scored trials' values with one
    density per hyperparameter (see ``tuning.oracles._tpe``) and proposes the
    candidate most likely under the good ones relative to the bad ones.
    Conditional hyperparameters are modelled only on the trials where they
    were active; unordered choices by their frequencies; grids (stepped
    ``Int``/``Float``, ordered ``Choice``) are scored after rounding. A
    proposal takes a few milliseconds whatever the number of trials, which
    suits large spaces and long searches better than the Gaussian process of
    ``BayesianOptimizationOracle``.

    Args:
        objective: See ``Oracle``.
        max_trials: The most trials to run (default 10).
        num_initial_points: Random trials before the model is used (default 10).
        seed: Makes the sequence of trials repeatable.
        hyperparameters: Part of the space declared in advance.
        allow_new_entries: See ``Oracle``.
        tune_new_entries: See ``Oracle``.
        max_retries_per_trial: See ``Oracle``.
        max_consecutive_failed_trials: See ``Oracle``.
        **kwargs: Further ``Oracle`` options (``pruning``).

    Raises:
        ValueError: ``num_initial_points`` is negative.

    Example:
        >>> oracle = TPEOracle(objective="val_loss", max_trials=20, seed=1)
        >>> oracle.hyperparameters.Choice("optimizer", ["adam", "sgd"])
        'adam'
        >>> oracle.create_trial("worker-0").status.value
        'RUNNING'
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
        num_initial_points: int = 10,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        **kwargs: Any,
    ) -> None:
        if int(num_initial_points) < 0:
            raise ValueError(f"num_initial_points must be >= 0, got {num_initial_points!r}.")
        self.num_initial_points = int(num_initial_points)
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
        """Proposes random values first, then the TPE's choice.

        Called by ``create_trial`` when no retry or enqueued trial comes first.

        Returns:
            RUNNING with values never tried before, or STOPPED once no new
            configuration turns up (as ``RandomSearchOracle``, for good).
        """
        observed = self.scored_trials()
        if self._exhausted_at != len(self.hyperparameters.space) and (
            observed and len(observed) >= self.num_initial_points
        ):
            values = tpe_values(self, observed)
            if values is not None:
                return {"status": TrialStatus.RUNNING, "values": values}
        return super().populate_space(trial_id)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_initial_points": self.num_initial_points}


def tpe_values(oracle: Oracle, observed: list[Any]) -> dict[str, Any] | None:
    """The TPE's proposal for ``oracle`` from its scored trials ``observed``.

    Retries with fresh draws up to ``_MAX_COLLISIONS`` times while every
    candidate was tried before; shared by ``TPEOracle`` and the ``"auto"``
    mode of ``BayesianOptimizationOracle``.
    """
    observations = [(t.values, oracle.objective.loss(float(t.score))) for t in observed]
    for _ in range(_MAX_COLLISIONS):
        values = _tpe.propose(
            oracle.hyperparameters.space,
            oracle._is_tuned,
            observations,
            oracle._rng(),
            lambda v: values_key(v) not in oracle._tried,
        )
        if values is not None:
            return values
    return None
