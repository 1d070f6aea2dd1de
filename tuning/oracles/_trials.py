"""What an oracle reads from its trials and its space: curves, rankings, samples.

Pure functions of trials, a space and an objective; the ``Oracle`` keeps the
state and calls them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective, pareto_front
from tuning.trial import Trial, TrialStatus

__all__ = [
    "active_values",
    "best_trials",
    "direction_of",
    "objective_curve",
    "objective_values",
    "pareto_trials",
    "sample_values",
    "scored_trials",
    "warm_start_points",
]


def objective_curve(trial: Trial, objective: Objective) -> dict[int, float]:
    """``{step: objective value}`` of a trial, at the steps where all its metrics are."""
    names = objective.names
    histories = [trial.metrics.get_curve(name) for name in names]
    steps = set(histories[0]).intersection(*histories[1:]) if histories else set()
    pairs = list(zip(names, histories, strict=True))
    return {
        step: objective.get_value({name: h[step] for name, h in pairs}) for step in sorted(steps)
    }


def direction_of(objective: Objective, name: str) -> str:
    """The direction of the metric ``name`` in ``objective`` (``"min"`` when it is not there)."""
    for single in getattr(objective, "objectives", [objective]):
        if single.name == name:
            return single.direction
    return "min"


def scored_trials(trials: Iterable[Trial]) -> list[Trial]:
    """The trials that finished with a usable score (COMPLETED or pruned)."""
    return [
        t
        for t in trials
        if t.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED)
        and t.score is not None
        and not math.isnan(t.score)
    ]


def best_trials(trials: Iterable[Trial], objective: Objective) -> list[Trial]:
    """The COMPLETED trials with a usable score, best first."""
    completed = [t for t in scored_trials(trials) if t.status == TrialStatus.COMPLETED]
    return sorted(completed, key=lambda t: objective.loss(t.score))  # type: ignore[arg-type]


def objective_values(trial: Trial, objective: Objective) -> list[float]:
    """A scored trial's value of each objective at its best step (NaN where missing).

    With a single objective this is ``[trial.score]``.
    """
    objectives = getattr(objective, "objectives", [objective])
    if len(objectives) == 1:
        return [float(trial.score)]  # type: ignore[arg-type]
    steps = list(trial.metrics.get_curve(objectives[0].name))
    if not steps:
        return [math.nan] * len(objectives)
    # The best step may be a mean over executions: read the nearest recorded one.
    step = min(steps, key=lambda s: abs(s - (trial.best_step or 0)))
    values = [trial.metrics.get_value_at(o.name, step) for o in objectives]
    return [math.nan if v is None else float(v) for v in values]


def pareto_trials(trials: Iterable[Trial], objective: Objective) -> list[Trial]:
    """The COMPLETED trials that no other beats on every objective (the best, with one)."""
    objectives = getattr(objective, "objectives", [objective])
    completed = [t for t in scored_trials(trials) if t.status == TrialStatus.COMPLETED]
    points = [objective_values(t, objective) for t in completed]
    front = pareto_front(points, [o.direction for o in objectives])
    return [completed[i] for i in front]


def sample_values(
    space: HyperParameters, rng: np.random.Generator, is_tuned: Callable[[str], bool]
) -> dict[str, Any]:
    """Random active values of ``space``; hyperparameters not tuned keep their defaults."""
    hps = space.copy()
    values: dict[str, Any] = {}
    for hp in hps.space:  # parents come before their children
        hps.values = values
        if hps.is_active(hp):
            values[hp.name] = hp.random_sample(rng) if is_tuned(hp.name) else hp.default
    return values


def active_values(space: HyperParameters, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` completed with the defaults of ``space`` and cut to what is active."""
    hps = space.copy()
    hps.values = {**{hp.name: hp.default for hp in hps.space}, **values}
    return hps.values


def warm_start_points(
    trials: Sequence[Trial], space: HyperParameters, objective: Objective
) -> list[tuple[float, dict[str, Any]]]:
    """``(score, values)`` of the earlier trials a search can start from, best first.

    Only COMPLETED trials with a finite score whose values ``space`` allows;
    Hyperband's ``tuner/*`` bookkeeping is dropped.
    """
    known = {hp.name: hp for hp in space.space}
    points = []
    for trial in trials:
        score = trial.score
        if trial.status != TrialStatus.COMPLETED or score is None or not math.isfinite(score):
            continue
        values = {k: v for k, v in trial.values.items() if not k.startswith("tuner/")}
        if all(known[k].contains(v) for k, v in values.items() if k in known):
            points.append((float(score), values))
    return sorted(points, key=lambda point: objective.loss(point[0]))
