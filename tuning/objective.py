"""What a search optimises: one metric with a direction, or several.

Example:
    >>> Objective("val_mae", "min")
    Objective(name="val_mae", direction="min")
    >>> create_objective("val_accuracy").direction
    'max'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "best_point",
    "check_direction",
    "DefaultObjective",
    "MultiObjective",
    "Objective",
    "create_objective",
    "infer_metric_direction",
    "metric_name",
    "pareto_front",
]

_DIRECTIONS = ("min", "max")

# Checked against the metric name with one "val_" and one "weighted_" prefix dropped.
_MAXIMISED = re.compile(
    r"(^|_)(acc|accuracy|auc|prc|precision|recall|"
    r"true_positives|true_negatives|"
    r"f1_score|fbeta_score|f1|r2_score|r2|iou|mean_iou|one_hot_iou|binary_iou|"
    r"precision_at_recall|recall_at_precision|sensitivity_at_specificity|"
    r"specificity_at_sensitivity|top_k_categorical_accuracy|sparse_top_k_categorical_accuracy|"
    r"cosine_similarity|score)($|_)"
)
_MINIMISED = re.compile(
    r"(^|_)(loss|crossentropy|error|mae|mse|mape|msle|rmse|ce|hinge|squared_hinge|"
    r"categorical_hinge|kld|kl_divergence|kullback_leibler_divergence|logcosh|log_cosh|"
    r"poisson|huber|false_positives|false_negatives)($|_)"
)


def metric_name(metric: Any) -> str:
    """The name a metric goes by in a model's logs.

    Args:
        metric: A metric name, a Keras metric or loss object (its ``name``),
            or a metric function (its ``__name__``).

    Raises:
        TypeError: ``metric`` has no name.
    """
    if isinstance(metric, str):
        return metric
    name = getattr(metric, "name", None)
    if isinstance(name, str):
        return name
    name = getattr(metric, "__name__", None)
    if isinstance(name, str):
        return name
    raise TypeError(
        f"Expected a metric name, a Keras metric or loss, or a metric function; got {metric!r}."
    )


def infer_metric_direction(metric: Any) -> str | None:
    """Whether a metric is minimised or maximised, judged by its name.

    Names of losses and errors (``loss``, ``mse``, ``categorical_crossentropy``,
    ``false_positives``...) are minimised; accuracies and scores (``acc``,
    ``auc``, ``precision``, ``f1_score``...) are maximised. A ``val_`` and then
    a ``weighted_`` prefix are ignored.

    Args:
        metric: A metric name, a Keras metric or loss object, or a metric
            function (see ``metric_name``).

    Returns:
        ``"min"``, ``"max"``, or None when the name implies neither.

    Example:
        >>> infer_metric_direction("val_loss"), infer_metric_direction("val_f1_score")
        ('min', 'max')
        >>> infer_metric_direction("my_metric") is None
        True
    """
    base = metric_name(metric).lower()
    base = base.removeprefix("val_")
    base = base.removeprefix("weighted_")
    if _MINIMISED.search(base):
        return "min"
    if _MAXIMISED.search(base):
        return "max"
    return None


def check_direction(direction: Any, owner: str) -> str:
    """``direction`` if it is ``"min"`` or ``"max"``.

    Args:
        direction: The direction to check.
        owner: What the direction belongs to, for the error message.

    Raises:
        ValueError: Any other direction.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"{owner}: `direction` should be one of {_DIRECTIONS}, got {direction!r}.")
    return direction


class Objective:
    """A metric to minimise or maximise.

    Args:
        name: The metric's name as the model reports it, e.g. ``"val_accuracy"``.
        direction: ``"min"`` or ``"max"``.
    """

    def __init__(self, name: str, direction: str) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"Objective name must be a non-empty string, got {name!r}.")
        self.name = name
        self.direction = check_direction(direction, f"Objective {name!r}")

    @property
    def names(self) -> list[str]:
        """The metric names this objective reads."""
        return [self.name]

    def has_value(self, metrics: Mapping[str, Any]) -> bool:
        """Whether ``metrics`` holds everything needed to score."""
        return all(name in metrics for name in self.names)

    def get_value(self, metrics: Mapping[str, float]) -> float:
        """The objective's value among ``metrics`` (a name to number mapping)."""
        return float(metrics[self.name])

    def better_than(self, a: float, b: float) -> bool:
        """Whether value ``a`` is strictly better than ``b``."""
        if math.isnan(b):
            return not math.isnan(a)
        return a < b if self.direction == "min" else a > b

    def loss(self, value: float) -> float:
        """``value`` turned into something to minimise."""
        return value if self.direction == "min" else -value

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "direction": self.direction}

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self) and self.get_config() == other.get_config()  # type: ignore[attr-defined]
        )

    def __hash__(self) -> int:
        return hash((self.name, self.direction))

    def __str__(self) -> str:
        return f'Objective(name="{self.name}", direction="{self.direction}")'

    __repr__ = __str__


class DefaultObjective(Objective):
    """The objective when none is given: the number the trial returns, minimised."""

    def __init__(self) -> None:
        super().__init__("default_objective", "min")

    def get_config(self) -> dict[str, Any]:
        return {"name": "default_objective", "direction": "min", "default": True}


class MultiObjective(Objective):
    """Several objectives scored together.

    The score is KerasTuner's: the sum of the minimised values minus the sum of
    the maximised ones, minimised. ``pareto_front`` gives the trade-off set.

    Args:
        objectives: The objectives, at least one.
    """

    def __init__(self, objectives: Sequence[Objective]) -> None:
        if not objectives:
            raise ValueError("A multi-objective needs at least one objective.")
        self.objectives = list(objectives)
        super().__init__("multi_objective", "min")

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    def get_value(self, metrics: Mapping[str, float]) -> float:
        return float(sum(o.loss(float(metrics[o.name])) for o in self.objectives))

    def get_config(self) -> dict[str, Any]:
        return {"objectives": [o.get_config() for o in self.objectives]}

    def _pairs(self) -> list[tuple[str, str]]:
        return sorted((o.name, o.direction) for o in self.objectives)

    def __eq__(self, other: object) -> bool:
        """Equal to a multi-objective of the same objectives, in any order."""
        return isinstance(other, MultiObjective) and self._pairs() == other._pairs()

    def __hash__(self) -> int:
        return hash(tuple(self._pairs()))

    def __str__(self) -> str:
        return f"Multi{super().__str__()}: [{', '.join(str(o) for o in self.objectives)}]"

    __repr__ = __str__


def _single(objective: str | Objective) -> Objective:
    if isinstance(objective, Objective):
        return objective
    if not isinstance(objective, str):
        raise TypeError(
            "`objective` not understood, expected str, Objective or a list of these, "
            f"got {objective!r}."
        )
    direction = infer_metric_direction(objective)
    if direction is None:
        raise ValueError(
            f"Could not infer whether to minimise or maximise the objective {objective!r}. "
            f'Pass kt.Objective("{objective}", direction="min") or direction="max".'
        )
    return Objective(objective, direction)


def create_objective(objective: Any) -> Objective:
    """Turns what a user passes as ``objective=`` into an ``Objective``.

    Args:
        objective: None (the default objective), a metric name, an
            ``Objective``, a list of these, or a config from ``get_config``.

    Raises:
        ValueError: A metric name's direction cannot be inferred.
    """
    if objective is None:
        return DefaultObjective()
    if isinstance(objective, dict):
        if "objectives" in objective:
            return MultiObjective([create_objective(o) for o in objective["objectives"]])
        if objective.get("default"):
            return DefaultObjective()
        return Objective(objective["name"], objective["direction"])
    if isinstance(objective, (list, tuple)):
        objectives = [_single(o) for o in objective]
        return objectives[0] if len(objectives) == 1 else MultiObjective(objectives)
    return _single(objective)


def best_point(points: Iterable[tuple[int, float]], direction: str) -> tuple[int, float] | None:
    """The best ``(step, value)`` of a curve: NaN values ignored, the earliest of equals.

    The one definition of "best step" that scoring an execution, scoring a
    trial's curve and a metric's history share.

    Args:
        points: ``(step, value)`` pairs, in step order.
        direction: ``"min"`` or ``"max"``.

    Returns:
        The best pair, or None when no value is a number.
    """
    finite = [(int(step), float(value)) for step, value in points if not math.isnan(value)]
    if not finite:
        return None
    sign = 1.0 if direction == "min" else -1.0
    return min(finite, key=lambda point: sign * point[1])


def pareto_front(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    """Indices of the points that no other point dominates.

    Identical points do not dominate each other, so all of them stay. A point
    with a NaN value is left out (and dominates nothing).

    Args:
        points: One sequence of metric values per candidate.
        directions: ``"min"`` or ``"max"`` per metric.

    Returns:
        The indices of the non-dominated points, in increasing order.

    Example:
        >>> pareto_front([(1, 5), (2, 2), (3, 3)], ["min", "min"])
        [0, 1]
    """
    signs = [1.0 if d == "min" else -1.0 for d in directions]
    losses = {
        i: [s * float(v) for s, v in zip(signs, p, strict=True)]
        for i, p in enumerate(points)
        if not any(math.isnan(float(v)) for v in p)
    }
    return [
        i
        for i, a in losses.items()
        if not any(
            all(b_k <= a_k for a_k, b_k in zip(a, b, strict=True))
            and any(b_k < a_k for a_k, b_k in zip(a, b, strict=True))
            for j, b in losses.items()
            if j != i
        )
    ]
