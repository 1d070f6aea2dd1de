"""Grid search: every combination of the hyperparameters' values, in odometer order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuning.hyperparameters import HyperParameter, HyperParameters
from tuning.oracles.base import Oracle, values_key
from tuning.trial import TrialStatus

__all__ = ["GridSearchOracle"]


def grid_values(hp: HyperParameter) -> list[Any]:
    """The values grid search tries for ``hp``: its default first, then the others.

    A ``Float`` without a step contributes its default and the values its
    ``values`` samples from its range (ten).
    """
    return [hp.default] + [v for v in hp.values if v != hp.default]


@dataclass
class _Progress:
    """What ``populate_space`` remembers between calls, for one state of the space.

    Worked out again from the trials whenever the space grows; never part of
    the saved state.

    Attributes:
        size: How many hyperparameters the space has (it only grows).
        names: Their names.
        start: Every combination before this one is taken for good; None
            once all are.
        indexed: How many trials of ``end_order`` ``taken`` holds.
        taken: The keys of the values of the trials that ended for good,
            by the names of the space they have values for.
    """

    size: int
    names: frozenset[str]
    start: dict[str, Any] | None
    indexed: int = 0
    taken: dict[frozenset[str], set[str]] = field(default_factory=dict)

    def add(self, values: dict[str, Any]) -> None:
        names = frozenset(name for name in values if name in self.names)
        self.taken.setdefault(names, set()).add(values_key({n: values[n] for n in names}))

    def takes(self, combination: dict[str, Any]) -> bool:
        """Whether a trial that ended for good stands for ``combination``."""
        return any(
            names <= combination.keys() and values_key({n: combination[n] for n in names}) in keys
            for names, keys in self.taken.items()
        )


class GridSearchOracle(Oracle):
    """Tries every combination, the last-declared hyperparameter varying fastest.

    The first trial uses every default. Each later trial takes the first
    combination, in odometer order, that no trial stands for yet;
    conditional hyperparameters take part only while active. A trial stands
    for every combination that agrees with the values it has: a
    hyperparameter it never declared (one discovered in another trial, in a
    branch of the model it did not take) cannot have changed what it ran,
    so the grid does not run it again for each of that hyperparameter's
    values. A hyperparameter discovered during a trial thus joins the
    enumeration for the trials that declare it.

    While a trial runs, what it stands for is not settled: it may still
    declare hyperparameters. A combination that agrees with a running
    trial's values waits for it to end. When no combination is left but
    trials still run, ``create_trial`` answers IDLE; once none runs, STOPPED.

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
        >>> oracle.create_trial("w2").status.value  # both run: they may declare more
        'IDLE'
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

    def _reset_state(self) -> None:
        super()._reset_state()
        self._progress: _Progress | None = None

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Picks the first combination that no trial stands for, nor may still.

        Returns:
            RUNNING with the values; IDLE when the grid is exhausted while
            trials run; STOPPED when it is exhausted and none runs.
        """
        progress = self._current_progress()
        names = progress.names
        # A running trial with a value for every active hyperparameter stands for that one
        # combination however it ends; the others may still declare values, and stand for
        # fewer combinations when they end.
        exact: list[dict[str, Any]] = []
        narrowing: list[dict[str, Any]] = []
        for trial in self.ongoing_trials.values():
            values = trial.values
            (narrowing if self._lacks_values(values) else exact).append(values)
        combination = progress.start
        passed = True  # whether every combination before ``combination`` is taken for good
        while combination is not None:
            if not progress.takes(combination) and not any(
                _agrees(combination, values, names) for values in exact
            ):
                if passed:
                    progress.start, passed = combination, False
                if not any(_agrees(combination, values, names) for values in narrowing):
                    return {"status": TrialStatus.RUNNING, "values": combination}
            combination = self._advance(combination)
        if passed:
            progress.start = None
        if self.ongoing_trials:
            return {"status": TrialStatus.IDLE}
        return {"status": TrialStatus.STOPPED}

    def _current_progress(self) -> _Progress:
        space = self.hyperparameters.space
        if self._progress is None or self._progress.size != len(space):
            names = frozenset(hp.name for hp in space)
            self._progress = _Progress(len(space), names, self._active_values({}))
        progress = self._progress
        end_order = self.end_order
        for trial_id in end_order[progress.indexed :]:
            progress.add(self.trials[trial_id].values)
        progress.indexed = len(end_order)
        return progress

    def _lacks_values(self, values: dict[str, Any]) -> bool:
        """Whether the space has active hyperparameters that ``values`` has no value for."""
        return not self._active_values(values).keys() <= values.keys()

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


def _agrees(combination: dict[str, Any], values: dict[str, Any], names: frozenset[str]) -> bool:
    """Whether ``combination`` has the same value as ``values`` for each of its ``names``."""
    return all(
        name in combination and combination[name] == value
        for name, value in values.items()
        if name in names
    )
