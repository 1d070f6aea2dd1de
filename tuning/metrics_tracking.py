"""Every metric a trial reported, by name and step, as KerasTuner tracks them.

A ``MetricsTracker`` holds one ``MetricHistory`` per metric; a history holds
one ``MetricObservation`` per step, with one value per execution.

Example:
    >>> tracker = MetricsTracker()
    >>> tracker.update("val_accuracy", 0.8, step=0)
    >>> tracker.update("val_accuracy", 0.9, step=0)  # a second execution
    >>> tracker.get_history("val_accuracy")
    [MetricObservation(value=[0.8, 0.9], step=0)]
    >>> tracker.metrics["val_accuracy"].direction
    'max'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from tuning.objective import best_point, check_direction, infer_metric_direction, metric_name

__all__ = ["MetricHistory", "MetricObservation", "MetricsTracker", "infer_metric_direction"]


def _as_values(value: float | Sequence[float]) -> list[float]:
    return [float(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


class MetricObservation:
    """A metric's values at one step, one value per execution.

    Args:
        value: A value, or a list of values (one per execution).
        step: The step they were measured at, e.g. the epoch.
    """

    def __init__(self, value: float | Sequence[float], step: int = 0) -> None:
        self.value = _as_values(value)
        self.step = int(step)

    def append(self, value: float | Sequence[float]) -> None:
        """Adds another execution's value (or values) at this step."""
        self.value += _as_values(value)

    def mean(self) -> float:
        """The mean over executions."""
        return float(np.mean(self.value))

    def get_config(self) -> dict[str, Any]:
        return {"value": list(self.value), "step": self.step}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricObservation:
        return cls(config["value"], config["step"])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MetricObservation)
            and self.value == other.value
            and self.step == other.step
        )

    __hash__ = None  # type: ignore[assignment]  # mutable (``append``)

    def __repr__(self) -> str:
        return f"MetricObservation(value={self.value}, step={self.step})"


class MetricHistory:
    """One metric's observations by step, and which value is best.

    Args:
        direction: ``"min"`` or ``"max"``.

    Raises:
        ValueError: Any other direction.
    """

    def __init__(self, direction: str = "min") -> None:
        self.direction = check_direction(direction, "MetricHistory")
        self._observations: dict[int, MetricObservation] = {}

    def update(self, value: float | Sequence[float], step: int = 0) -> None:
        """Records one execution's value (or several) at ``step``."""
        step = int(step)
        if step in self._observations:
            self._observations[step].append(value)
        else:
            self._observations[step] = MetricObservation(value, step)

    def get_history(self) -> list[MetricObservation]:
        """The observations, in step order."""
        return [self._observations[step] for step in sorted(self._observations)]

    def set_history(self, observations: Iterable[MetricObservation]) -> None:
        """Records ``observations`` (added to any already at their steps)."""
        for observation in observations:
            self.update(observation.value, observation.step)

    def get_curve(self) -> dict[int, float]:
        """``{step: mean over executions}``, in step order."""
        return {o.step: o.mean() for o in self.get_history()}

    def _best(self) -> tuple[int, float] | None:
        return best_point(self.get_curve().items(), self.direction)

    def get_best_value(self) -> float | None:
        """The best mean value (NaN ignored), or None when there is none."""
        best = self._best()
        return None if best is None else best[1]

    def get_best_step(self) -> int | None:
        """The step of the best mean value (the earliest of equals), or None."""
        best = self._best()
        return None if best is None else best[0]

    def get_last_value(self) -> float | None:
        """The mean value at the last step, or None when nothing was recorded."""
        history = self.get_history()
        return history[-1].mean() if history else None

    def get_statistics(self) -> dict[str, float]:
        """``min``, ``max``, ``mean``, ``median``, ``var`` and ``std`` of the steps' means.

        NaN values are ignored; empty when nothing was recorded.
        """
        means = list(self.get_curve().values())
        if not means:
            return {}
        return {
            "min": float(np.nanmin(means)),
            "max": float(np.nanmax(means)),
            "mean": float(np.nanmean(means)),
            "median": float(np.nanmedian(means)),
            "var": float(np.nanvar(means)),
            "std": float(np.nanstd(means)),
        }

    def get_config(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "observations": [o.get_config() for o in self.get_history()],
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricHistory:
        history = cls(config.get("direction", "min"))
        history.set_history(MetricObservation.from_config(o) for o in config["observations"])
        return history


class MetricsTracker:
    """Every metric a trial reported, by name and step.

    A metric's direction (which value is best) is the one registered, else
    the one its name implies (``accuracy`` is maximised, see
    ``infer_metric_direction``), else ``"min"``.

    Args:
        metrics: Metrics to register now: names, Keras metric objects or
            metric functions (see ``metric_name``).
    """

    def __init__(self, metrics: Iterable[Any] | None = None) -> None:
        self.metrics: dict[str, MetricHistory] = {}
        for metric in metrics or []:
            self.register(metric_name(metric))

    def exists(self, name: str) -> bool:
        """Whether metric ``name`` is registered."""
        return name in self.metrics

    def register(self, name: str, direction: str | None = None) -> None:
        """Declares a metric and its direction before values arrive (optional).

        Args:
            name: The metric's name.
            direction: ``"min"`` or ``"max"``; None infers it from the name.

        Raises:
            ValueError: The metric is already registered, or ``direction`` is
                neither ``"min"`` nor ``"max"``.
        """
        if self.exists(name):
            raise ValueError(f"Metric already exists: {name!r}.")
        if direction is None:
            direction = infer_metric_direction(name) or "min"
        self.metrics[name] = MetricHistory(check_direction(direction, f"Metric {name!r}"))

    def update(self, name: str, value: float, step: int = 0) -> None:
        """Records ``value`` of metric ``name`` at ``step``, registering it if new."""
        if not self.exists(name):
            self.register(name)
        self.metrics[name].update(float(value), step)

    def _history(self, name: str) -> MetricHistory:
        if name not in self.metrics:
            raise ValueError(f"Unknown metric: {name!r}. Known metrics: {sorted(self.metrics)}.")
        return self.metrics[name]

    def get_history(self, name: str) -> list[MetricObservation]:
        """The observations of metric ``name``, in step order.

        Raises:
            ValueError: ``name`` is not a registered metric.
        """
        return self._history(name).get_history()

    def set_history(self, name: str, observations: Iterable[MetricObservation]) -> None:
        """Records ``observations`` of metric ``name``, registering it if new."""
        if not self.exists(name):
            self.register(name)
        self.metrics[name].set_history(observations)

    def get_curve(self, name: str) -> dict[int, float]:
        """``{step: mean value}`` of metric ``name``; empty when it is unknown."""
        return self.metrics[name].get_curve() if name in self.metrics else {}

    def get_value_at(self, name: str, step: int) -> float | None:
        """The mean value of ``name`` at ``step``, or None."""
        return self.get_curve(name).get(step)

    def get_best_value(self, name: str) -> float | None:
        """The best mean value of metric ``name``, or None before any value.

        Raises:
            ValueError: ``name`` is not a registered metric.
        """
        return self._history(name).get_best_value()

    def get_best_step(self, name: str) -> int | None:
        """The step of the best mean value of metric ``name``, or None before any value.

        Raises:
            ValueError: ``name`` is not a registered metric.
        """
        return self._history(name).get_best_step()

    def get_last_value(self, name: str) -> float | None:
        """The mean value of metric ``name`` at its last step, or None before any value.

        Raises:
            ValueError: ``name`` is not a registered metric.
        """
        return self._history(name).get_last_value()

    def get_statistics(self, name: str) -> dict[str, float]:
        """Statistics of metric ``name`` over its steps (see ``MetricHistory.get_statistics``).

        Raises:
            ValueError: ``name`` is not a registered metric.
        """
        return self._history(name).get_statistics()

    def get_config(self) -> dict[str, Any]:
        return {"metrics": {name: h.get_config() for name, h in self.metrics.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricsTracker:
        tracker = cls()
        tracker.metrics = {
            name: MetricHistory.from_config(h) for name, h in config["metrics"].items()
        }
        return tracker
