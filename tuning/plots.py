"""Plots of a finished search: the optimisation history, the hyperparameter importance and,
with several objectives, the Pareto front.

matplotlib with the Agg backend (no display needed), no MLflow: each function
returns a ``Figure``; ``TrialStore.log_figures`` uploads them as PNG files.

Hyperparameter importance is measured simply and said so in the plot's title:
for a numeric hyperparameter (``Int``, ``Float``, ``Boolean``, a numeric
``Choice``) the absolute Spearman rank correlation of its values with the
score; for a categorical one the correlation ratio eta (the spread of the
mean scores between its values, as a share of the scores' spread). Both lie
in [0, 1]; neither sees interactions, and with few trials they are noisy.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tuning.objective import pareto_front
from tuning.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tuning.oracles.base import Oracle

__all__ = [
    "history_figure",
    "importance",
    "importance_figure",
    "pareto_figure",
    "search_figures",
]

_logger = logging.getLogger(__name__)

HISTORY_FILE = "optimisation_history.png"
_MIN_TRIALS = 3
IMPORTANCE_FILE = "hyperparameter_importance.png"
PARETO_FILE = "pareto_front.png"


def _figure(width: float = 7.0, height: float = 4.0) -> Figure:
    """A new figure on the Agg canvas (``pyplot``'s global state is never touched)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _completed(trials: Sequence[Trial]) -> list[Trial]:
    return [
        t
        for t in trials
        if t.status == TrialStatus.COMPLETED and t.score is not None and math.isfinite(t.score)
    ]


def history_figure(trials: Sequence[Trial], objective: str, direction: str) -> Figure:
    """The objective of each completed trial, in trial order, and the best so far.

    Args:
        trials: The search's trials (any status; only COMPLETED ones are drawn).
        objective: The objective's name, for the axis label.
        direction: ``"min"`` or ``"max"``.
    """
    completed = _completed(trials)
    numbers = np.arange(len(completed))
    scores = np.array([float(t.score) for t in completed])  # type: ignore[arg-type]
    best = np.minimum.accumulate(scores) if direction == "min" else np.maximum.accumulate(scores)
    figure = _figure()
    axes = figure.add_subplot()
    axes.plot(numbers, scores, "o", color="tab:blue", alpha=0.7, label="trial")
    axes.step(numbers, best, where="post", color="tab:red", label="best so far")
    axes.set_xticks(
        numbers, [str(t.trial_id) for t in completed], rotation=90 if len(numbers) > 20 else 0
    )
    axes.set_xlabel("trial")
    axes.set_ylabel(objective)
    axes.set_title(f"Optimisation history ({direction}imise {objective})")
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    return figure


def importance(trials: Sequence[Trial]) -> dict[str, float]:
    """Each hyperparameter's importance in [0, 1] (see the module notes), largest first.

    Hyperparameters with a single value among the completed trials, or
    active in fewer than three of them, are left out (the plot then says so).
    """
    completed = _completed(trials)
    names = sorted({name for t in completed for name in t.values if not name.startswith("tuner/")})
    result = {}
    for name in names:
        pairs = [(t.values[name], float(t.score)) for t in completed if name in t.values]  # type: ignore[arg-type]
        if len(pairs) < _MIN_TRIALS or len({repr(v) for v, _ in pairs}) < 2:
            continue
        values, scores = [v for v, _ in pairs], np.array([s for _, s in pairs])
        if all(isinstance(v, (int, float, bool, np.number)) for v in values):
            value = _spearman(np.array(values, dtype=float), scores)
        else:
            value = _correlation_ratio([repr(v) for v in values], scores)
        if math.isfinite(value):
            result[name] = value
    return dict(sorted(result.items(), key=lambda item: -item[1]))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(abs(spearmanr(x, y).statistic))


def _correlation_ratio(categories: list[str], y: np.ndarray) -> float:
    total = float(((y - y.mean()) ** 2).sum())
    if total == 0:
        return 0.0
    between = 0.0
    for category in set(categories):
        group = y[[c == category for c in categories]]
        between += len(group) * float((group.mean() - y.mean()) ** 2)
    return math.sqrt(between / total)


def importance_figure(scores: Mapping[str, float], objective: str, trials: int) -> Figure:
    """A horizontal bar chart of ``importance``'s result.

    Args:
        scores: Hyperparameter names to importances, largest first.
        objective: The objective's name.
        trials: How many completed trials the importances come from.
    """
    figure = _figure(7.0, max(2.5, 0.4 * len(scores) + 1.5))
    axes = figure.add_subplot()
    names = list(scores)[::-1]
    axes.barh(names, [scores[n] for n in names], color="tab:green")
    axes.set_xlim(0, 1)
    if not scores:
        axes.text(
            0.5,
            0.5,
            f"Not enough data: each hyperparameter needs {_MIN_TRIALS} completed trials\n"
            "with at least two different values.",
            ha="center",
            va="center",
            transform=axes.transAxes,
        )
        axes.set_yticks([])
    axes.set_xlabel(f"association with {objective}")
    axes.set_title(
        f"Hyperparameter importance from {trials} completed trials\n"
        "|Spearman rho| (numeric), correlation ratio eta (categorical)",
        fontsize=10,
    )
    axes.grid(axis="x", alpha=0.3)
    return figure


def pareto_figure(
    points: Sequence[Sequence[float]],
    front: Sequence[int],
    objectives: Sequence[tuple[str, str]],
    labels: Sequence[str],
) -> Figure:
    """Every completed trial on the first two objectives, the Pareto front highlighted.

    Args:
        points: Each completed trial's value of each objective.
        front: The indices of ``points`` on the Pareto front.
        objectives: ``(name, direction)`` of each objective; the first two are drawn.
        labels: Each point's trial id, written next to the front's points.
    """
    values = np.asarray(points, dtype=float)
    (x_name, x_dir), (y_name, y_dir) = objectives[0], objectives[1]
    figure = _figure(6.0, 4.5)
    axes = figure.add_subplot()
    axes.plot(values[:, 0], values[:, 1], "o", color="tab:gray", alpha=0.5, label="trial")
    order = sorted(front, key=lambda i: values[i, 0])
    axes.plot(values[order, 0], values[order, 1], "o-", color="tab:red", label="Pareto front")
    for index in order:
        axes.annotate(
            labels[index], values[index, :2], fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    axes.set_xlabel(f"{x_name} ({x_dir})")
    axes.set_ylabel(f"{y_name} ({y_dir})")
    extra = f"; {len(objectives) - 2} more objective(s) not drawn" if len(objectives) > 2 else ""
    axes.set_title(f"Pareto front: {len(front)} of {len(values)} trials{extra}")
    axes.legend(loc="best")
    axes.grid(alpha=0.3)
    return figure


def search_figures(oracle: Oracle) -> dict[str, Any]:
    """The plots of a search, by file name; empty when nothing can be drawn.

    Never raises: a plot that fails is left out and logged, so that a search
    never fails for its pictures.
    """
    trials = list(oracle.trials.values())
    completed = _completed(trials)
    if not completed:
        return {}
    objective, direction = oracle.objective.name, oracle.objective.direction
    figures: dict[str, Any] = {}
    try:
        figures[HISTORY_FILE] = history_figure(trials, objective, direction)
        scores = importance(trials)
        figures[IMPORTANCE_FILE] = importance_figure(scores, objective, len(completed))
        objectives = getattr(oracle.objective, "objectives", [])
        if len(objectives) >= 2:
            points = [oracle.objective_values(t) for t in completed]
            front = pareto_front(points, [o.direction for o in objectives])
            figures[PARETO_FILE] = pareto_figure(
                points,
                front,
                [(o.name, o.direction) for o in objectives],
                [t.trial_id for t in completed],
            )
    except Exception as error:  # matplotlib missing or a value it cannot draw
        _logger.warning("Hyperflow: the search's plots were not drawn: %s", error)
    return figures
