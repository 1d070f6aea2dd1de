"""What a trial returns, made uniform, and scored the way KerasTuner scores it.

``run_trial`` (or ``HyperModel.fit``) may return a Keras ``History``, a dict of
metrics, a number, or a list of these (one per execution). ``to_executions``
turns any of them into plain curves; ``aggregate`` picks each execution's best
step and averages over executions.

KerasTuner's ``tuner_utils`` helpers are views of the same two steps:
``validate_trial_results``, ``convert_to_metrics_dict`` and ``get_best_step``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tuning.errors import FatalTypeError, FatalValueError
from tuning.objective import DefaultObjective, Objective, best_point

__all__ = [
    "Evaluation",
    "Execution",
    "aggregate",
    "convert_to_metrics_dict",
    "get_best_step",
    "to_executions",
    "validate_trial_results",
]


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


_RUN_TRIAL = "run_trial() (or HyperModel.fit())"


def _number(value: Any, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Number, np.generic)):
        raise FatalTypeError(f"{what} must be a number, got {type(value).__name__} ({value!r}).")
    return float(value)


def _one_execution(result: Any, objective: Objective, func_name: str) -> Execution:
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
        f"{func_name} must return a number, a dict of metrics, a Keras History or a list of "
        f"these; got {type(result).__name__}."
    )


def to_executions(
    results: Any, objective: Objective, func_name: str = _RUN_TRIAL
) -> list[Execution]:
    """Turns what ``run_trial`` returned into one ``Execution`` per execution.

    Args:
        results: What ``func_name`` returned.
        objective: The search's objective; a bare number is its value.
        func_name: The function that returned ``results``, for error messages.

    Raises:
        FatalTypeError: ``results`` is None or of a type that carries no metrics.
    """
    if results is None:
        raise FatalTypeError(f"{func_name} returned None. Did you forget to return the metrics?")
    if isinstance(results, Sequence) and not isinstance(results, (str, bytes)):
        if not results:
            raise FatalTypeError(f"{func_name} returned an empty list: no execution to score.")
        return [_one_execution(r, objective, func_name) for r in results]
    return [_one_execution(results, objective, func_name)]


def _check_objective(execution: Execution, objective: Objective, source: str) -> None:
    missing = [name for name in objective.names if name not in execution.metrics]
    if not missing:
        return
    hint = (
        "No objective was given: return a single number, or pass objective= naming one of them."
        if isinstance(objective, DefaultObjective)
        else "Pass an objective that names one of them."
    )
    raise FatalValueError(
        f"The metrics {source} lack the specified objective {', '.join(map(repr, missing))}: "
        f"they are {sorted(execution.metrics)}. {hint}"
    )


def _objective_values(execution: Execution, objective: Objective) -> list[float]:
    _check_objective(execution, objective, "the trial reported")
    return [
        objective.get_value({name: execution.metrics[name][i] for name in objective.names})
        for i in range(len(execution.steps))
    ]


def _best_index(execution: Execution, objective: Objective) -> tuple[int, float]:
    """The position of an execution's best objective value, and that value.

    NaN values are ignored and the earliest of equals wins; an execution with
    no number scores NaN at its last step.
    """
    values = _objective_values(execution, objective)
    best = best_point(enumerate(values), objective.direction)
    return (len(values) - 1, math.nan) if best is None else best


def aggregate(executions: Sequence[Execution], objective: Objective) -> Evaluation:
    """Scores a trial from its executions, as KerasTuner does.

    Each execution's best step is where its objective value is best (NaN
    ignored, the earliest of equals); the score is the mean of those best
    values and the best step the mean of those steps, truncated to an integer.

    Raises:
        FatalValueError: The objective's metric is not among the reported ones.
    """
    best_values, best_steps = [], []
    for execution in executions:
        index, value = _best_index(execution, objective)
        best_steps.append(execution.steps[index] if execution.steps else 0)
        best_values.append(value)
    curve: dict[int, dict[str, list[float]]] = {}
    for execution in executions:
        for i, step in enumerate(execution.steps):
            for name, values in execution.metrics.items():
                if i < len(values):
                    curve.setdefault(step, {}).setdefault(name, []).append(values[i])
    return Evaluation(
        score=float(np.mean(best_values)),
        best_step=int(np.mean(best_steps)),
        curve={
            step: {name: float(np.mean(v)) for name, v in by_name.items()}
            for step, by_name in sorted(curve.items())
        },
    )


def validate_trial_results(results: Any, objective: Objective, func_name: str = _RUN_TRIAL) -> None:
    """Checks that what ``func_name`` returned can be scored on ``objective``.

    Args:
        results: A number, a dict of metrics, a Keras ``History``, or a list of these.
        objective: The search's objective.
        func_name: The function that returned ``results``, for error messages.

    Raises:
        FatalTypeError: ``results`` is None or of a type that carries no metrics.
        FatalValueError: A dict or ``History`` lacks the objective's metrics.
    """
    for execution in to_executions(results, objective, func_name):
        _check_objective(execution, objective, f"{func_name} returned")


def convert_to_metrics_dict(results: Any, objective: Objective) -> dict[str, float]:
    """The metrics of a trial's results at each execution's best step, averaged.

    A number becomes ``{objective.name: number}``; a dict is taken as is; a
    ``History`` gives its metrics at the epoch where the objective is best; a
    list of these (one per execution) is averaged metric by metric.

    Raises:
        FatalTypeError: ``results`` carries no metrics (see ``to_executions``).
        FatalValueError: The objective's metric is not among the reported ones.

    Example:
        >>> convert_to_metrics_dict([0.1, 0.3], Objective("val_loss", "min"))
        {'val_loss': 0.2}
    """
    collected: dict[str, list[float]] = {}
    for execution in to_executions(results, objective):
        index, _ = _best_index(execution, objective)
        for name, values in execution.metrics.items():
            if 0 <= index < len(values):
                collected.setdefault(name, []).append(values[index])
    return {name: float(np.mean(values)) for name, values in collected.items()}


def get_best_step(results: Any, objective: Objective) -> int:
    """The step (epoch) where the objective is best, as ``aggregate`` scores it.

    0 for results without steps (a number or a dict); over several executions,
    the mean of their best steps, truncated.

    Raises:
        FatalTypeError: ``results`` carries no metrics (see ``to_executions``).
        FatalValueError: The objective's metric is not among the reported ones.
    """
    return aggregate(to_executions(results, objective), objective).best_step
