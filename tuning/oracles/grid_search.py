"""Grid search: every combination of the hyperparameters' values, in odometer order."""

from __future__ import annotations

from typing import Any

from tuning.hyperparameters import HyperParameter, HyperParameters
from tuning.oracles.base import Oracle, values_key
from tuning.trial import TrialStatus

__all__ = ["GridSearchOracle"]

# How many values a continuous Float contributes besides its default.
_FLOAT_GRID_SIZE = 10


def grid_values(hp: HyperParameter) -> list[Any]:
    """The values grid search tries for ``hp``: its default first, then the others.

    A Float without a step contributes its default plus 10 evenly spread values.
    """
    values = hp.values
    if values is None:
        values = [hp.prob_to_value((i + 0.5) / _FLOAT_GRID_SIZE) for i in range(_FLOAT_GRID_SIZE)]
    return [hp.default] + [v for v in values if v != hp.default]


class GridSearchOracle(Oracle):
    """Tries every combination, the last-declared hyperparameter varying fastest.

    The first trial uses every default. Each later trial advances the previous
    one's values like an odometer; conditional hyperparameters take part only
    while active, and hyperparameters discovered during a trial join the
    enumeration from then on.

    Args:
        objective: See ``Oracle``.
        max_trials: The most trials to run; None (the default) exhausts the grid.
        seed: Kept for a uniform signature; grid search draws nothing at random.
        hyperparameters: Part of the space declared in advance.
        allow_new_entries: See ``Oracle``.
        tune_new_entries: See ``Oracle``.
        max_retries_per_trial: See ``Oracle``.
        max_consecutive_failed_trials: See ``Oracle``.
        **kwargs: Further ``Oracle`` options (``pruning``).

    Example:
        >>> oracle = GridSearchOracle(objective="loss")
        >>> oracle.hyperparameters.Int("a", 1, 2)
        1
        >>> [oracle.create_trial(f"w{i}").values for i in range(2)]
        [{'a': 1}, {'a': 2}]
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = None,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
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
        if not self.trials:
            values: dict[str, Any] | None = self._active_values({})
        else:
            values = self._advance(list(self.trials.values())[-1].values)
        while values is not None and values_key(values) in self._tried:
            values = self._advance(values)
        if values is None:
            return {"status": TrialStatus.STOPPED}
        return {"status": TrialStatus.RUNNING, "values": values}

    def _grid(self, hp: HyperParameter) -> list[Any]:
        return grid_values(hp) if self._is_tuned(hp.name) else [hp.default]

    def _advance(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """The combination after ``values``, or None once the grid is exhausted."""
        space = self.hyperparameters.space
        current = self._active_values(values)
        active = [i for i, hp in enumerate(space) if hp.name in current]
        for position in reversed(active):
            hp = space[position]
            grid = self._grid(hp)
            index = grid.index(current[hp.name]) if current[hp.name] in grid else -1
            if index + 1 < len(grid):
                kept = {h.name: current[h.name] for h in space[:position] if h.name in current}
                return self._fill_defaults({**kept, hp.name: grid[index + 1]}, position + 1)
        return None

    def _fill_defaults(self, values: dict[str, Any], start: int) -> dict[str, Any]:
        """``values`` with every hyperparameter from ``start`` on at its first grid value."""
        hps = self.hyperparameters.copy()
        for hp in hps.space[start:]:
            hps.values = values
            if hps.is_active(hp):
                values[hp.name] = self._grid(hp)[0]
        hps.values = values
        return hps.values
