"""Choosing one trial from a Pareto front by a stated rule (the retrain flow's champion).

A pure function of trials and an objective: no MLflow, no Prefect.

Example:
    >>> rule = ChampionRule(metric="val_accuracy", limits={"params": 20_000})
    >>> rule.metric, rule.limits
    ('val_accuracy', {'params': 20000})
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tuning.objective import Objective
from tuning.oracles._trials import objective_values, pareto_trials
from tuning.trial import Trial

__all__ = ["ChampionRule", "choose_from_front"]


@dataclass(frozen=True)
class ChampionRule:
    """Which trial of the front is the champion: the best ``metric`` within ``limits``.

    Args:
        metric: The objective the champion is best at, e.g. ``"val_accuracy"``.
        limits: Bounds on the other objectives: an upper bound for one that is
            minimised (``{"params": 20000}``: at most 20 000), a lower bound for
            one that is maximised.
    """

    metric: str
    limits: Mapping[str, float] = field(default_factory=dict)


def choose_from_front(
    trials: Iterable[Trial], objective: Objective, rule: ChampionRule
) -> Trial | None:
    """The Pareto front's trial that is best at ``rule.metric`` among those within the limits.

    Args:
        trials: A search's trials (any status; only COMPLETED ones count).
        objective: The search's (multi-)objective.
        rule: The rule.

    Returns:
        The chosen trial, or None when no trial of the front is within the limits.

    Raises:
        ValueError: The rule names a metric that is not one of the objectives.
    """
    objectives = {o.name: o for o in getattr(objective, "objectives", [objective])}
    unknown = sorted({rule.metric, *rule.limits} - set(objectives))
    if unknown:
        raise ValueError(
            f"The champion rule names {unknown}, which are not objectives of the search "
            f"({sorted(objectives)})."
        )
    names = list(objectives)
    best: tuple[float, Trial] | None = None
    for trial in pareto_trials(trials, objective):
        values = dict(zip(names, objective_values(trial, objective), strict=True))
        if any(math.isnan(v) for v in values.values()):
            continue
        if not all(
            _within(values[name], bound, objectives[name].direction)
            for name, bound in rule.limits.items()
        ):
            continue
        loss = objectives[rule.metric].loss(values[rule.metric])
        if best is None or loss < best[0]:
            best = (loss, trial)
    return None if best is None else best[1]


def _within(value: float, bound: float, direction: str) -> bool:
    """Whether ``value`` respects ``bound``: at most it when minimised, at least when maximised."""
    return value <= bound if direction == "min" else value >= bound
