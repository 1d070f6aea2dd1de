"""What a trial returns, made uniform, and scored the way KerasTuner scores it.

``run_trial`` (or ``HyperModel.fit``) may return a Keras ``History``, a dict of
metrics, a number, or a list of these (one per execution). ``to_executions``
turns any of them into plain curves; ``aggregate`` picks each execution's best
step and averages over executions.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuning.errors import FatalTypeError, FatalValueError
from tuning.objective import Objective, best_point

__all__ = ["Evaluation", "Execution", "aggregate", "to_executions"]


@dataclass(frozen=True)
class Execution:
    """One execution's curves: metric name to one value per step."""

    steps: list[int]
    metrics: dict[str, list[float]]

    def to_dict(self) -> dict[str, Any]:
        return {"steps": list(self.steps), "metrics": {k: list(v) for k, v in self.metrics.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Execution:
        return cls(list(data["steps"]), {k: list(v) for k, v in data["metrics"].items()})


@dataclass(frozen=True)
class Evaluation:
    """A trial's outcome on its objective.

    Attributes:
        score: Mean over executions of each execution's best objective value.
        best_step: Mean (rounded) of the executions' best steps.
        curve: Each step's metrics averaged over the executions that reached it.
    """

    score: float
    best_step: int
    curve: dict[int, dict[str, float]] = field(default_factory=dict)


def _number(value: Any, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Number, np.generic)):
        raise FatalTypeError(f"{what} must be a number, got {type(value).__name__} ({value!r}).")
    return float(value)


def _one_execution(result: Any, objective: Objective) -> Execution:
    history = getattr(result, "history", None)
    if isinstance(history, Mapping):  # a keras.callbacks.History
        steps = [
            int(s) for s in getattr(result, "epoch", range(len(next(iter(history.values()), []))))
        ]
        return Execution(
            steps,
            {
                name: [_number(v, f"Metric {name!r}") for v in values]
                for name, values in history.items()
            },
        )
    if isinstance(result, Mapping):
        return Execution([0], {str(k): [_number(v, f"Metric {k!r}")] for k, v in result.items()})
    if isinstance(result, (numbers.Number, np.generic)) and not isinstance(result, bool):
        return Execution([0], {objective.name: [float(result)]})
    raise FatalTypeError(
        "run_trial() and HyperModel.fit() must return a number, a dict of metrics, a Keras "
        f"History or a list of these; got {type(result).__name__}."
    )


def to_executions(results: Any, objective: Objective) -> list[Execution]:
    """Turns what ``run_trial`` returned into one ``Execution`` per execution.

    Raises:
        FatalTypeError: ``results`` is None or of a type that carries no metrics.
    """
    if results is None:
        raise FatalTypeError(
            "The run_trial() method (or HyperModel.fit()) returned None. Did you forget to "
            "return the metrics?"
        )
    if isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        if not results:
            raise FatalTypeError("run_trial() returned an empty list: no execution to score.")
        return [_one_execution(r, objective) for r in results]
    return [_one_execution(results, objective)]


def _objective_values(execution: Execution, objective: Objective) -> list[float]:
    missing = [name for name in objective.names if name not in execution.metrics]
    if missing:
        raise FatalValueError(
            f"The objective {', '.join(map(repr, missing))} is not among the metrics the trial "
            f"reported: {sorted(execution.metrics)}. Pass an objective that names one of them."
        )
    return [
        objective.get_value({name: execution.metrics[name][i] for name in objective.names})
        for i in range(len(execution.steps))
    ]


def aggregate(executions: Sequence[Execution], objective: Objective) -> Evaluation:
    """Scores a trial from its executions, as KerasTuner does.

    Each execution's best step is where its objective value is best (NaN
    ignored, the earliest of equals); the score is the mean of those best values.

    Raises:
        FatalValueError: The objective's metric is not among the reported ones.
    """
    best_values, best_steps = [], []
    for execution in executions:
        values = _objective_values(execution, objective)
        best = best_point(zip(execution.steps, values, strict=True), objective.direction)
        if best is None:
            best_values.append(math.nan)
            best_steps.append(execution.steps[-1] if execution.steps else 0)
            continue
        best_steps.append(best[0])
        best_values.append(best[1])
    curve: dict[int, dict[str, list[float]]] = {}
    for execution in executions:
        for i, step in enumerate(execution.steps):
            for name, values in execution.metrics.items():
                if i < len(values):
                    curve.setdefault(step, {}).setdefault(name, []).append(values[i])
    return Evaluation(
        score=float(np.mean(best_values)),
        best_step=int(round(float(np.mean(best_steps)))),
        curve={
            step: {name: float(np.mean(v)) for name, v in by_name.items()}
            for step, by_name in sorted(curve.items())
        },
    )
