"""A trial: one point of the search space, what it measured, and how it ended."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import numpy as np

from tuning.hyperparameters import HyperParameters
from tuning.objective import best_point, infer_direction

__all__ = ["MetricHistory", "MetricsTracker", "Trial", "TrialStatus"]


class TrialStatus(str, enum.Enum):
    """Where a trial stands.

    ``RUNNING``: being trained. ``IDLE``: the oracle asks the worker to wait.
    ``INVALID``: crashed; retried while retries remain. ``STOPPED``: stopped
    early (pruned, or the search ended). ``COMPLETED``: finished with a score.
    ``FAILED``: crashed for good.
    """

    RUNNING = "RUNNING"
    IDLE = "IDLE"
    INVALID = "INVALID"
    STOPPED = "STOPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    def __str__(self) -> str:
        return self.value

    @property
    def is_finished(self) -> bool:
        """Whether the trial ended (it holds no worker any more)."""
        return self in (
            TrialStatus.COMPLETED,
            TrialStatus.FAILED,
            TrialStatus.STOPPED,
            TrialStatus.INVALID,
        )


class MetricHistory:
    """One metric's values by step; several values at a step are averaged.

    Args:
        direction: ``"min"`` or ``"max"``, used to find the best value.
    """

    def __init__(self, direction: str = "min") -> None:
        self.direction = direction
        self._values: dict[int, list[float]] = {}

    def update(self, value: float, step: int = 0) -> None:
        """Records one execution's value at ``step``."""
        self._values.setdefault(int(step), []).append(float(value))

    def get_history(self) -> list[tuple[int, float]]:
        """``(step, mean value)`` pairs in step order."""
        return [(step, float(np.mean(v))) for step, v in sorted(self._values.items())]

    def best(self) -> tuple[int, float] | None:
        """The ``(step, value)`` with the best mean value, or None if empty."""
        return best_point(self.get_history(), self.direction)

    def best_value(self) -> float | None:
        best = self.best()
        return None if best is None else best[1]

    def last_value(self) -> float | None:
        history = self.get_history()
        return history[-1][1] if history else None

    def get_config(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "observations": [
                {"step": step, "value": values} for step, values in sorted(self._values.items())
            ],
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricHistory:
        history = cls(config.get("direction", "min"))
        for observation in config["observations"]:
            for value in observation["value"]:
                history.update(value, observation["step"])
        return history


class MetricsTracker:
    """Every metric a trial reported, by name and step.

    A metric's direction (which value is best) is the one registered, else
    the one its name implies (``accuracy`` is maximised), else ``"min"``.
    """

    def __init__(self) -> None:
        self.metrics: dict[str, MetricHistory] = {}

    def register(self, name: str, direction: str | None = None) -> None:
        """Declares a metric's direction before values arrive (optional).

        Args:
            name: The metric's name.
            direction: ``"min"`` or ``"max"``; None infers it from the name.
        """
        direction = direction or infer_direction(name) or "min"
        self.metrics.setdefault(name, MetricHistory(direction)).direction = direction

    def update(self, name: str, value: float, step: int = 0) -> None:
        """Records ``value`` of metric ``name`` at ``step``."""
        if name not in self.metrics:
            self.register(name)
        self.metrics[name].update(value, step)

    def get_history(self, name: str) -> list[tuple[int, float]]:
        return self.metrics[name].get_history() if name in self.metrics else []

    def get_value_at(self, name: str, step: int) -> float | None:
        """The mean value of ``name`` at ``step``, or None."""
        return dict(self.get_history(name)).get(step)

    def get_best_value(self, name: str) -> float | None:
        return self.metrics[name].best_value() if name in self.metrics else None

    def get_last_value(self, name: str) -> float | None:
        return self.metrics[name].last_value() if name in self.metrics else None

    def exists(self, name: str) -> bool:
        return name in self.metrics

    def get_config(self) -> dict[str, Any]:
        return {"metrics": {name: h.get_config() for name, h in self.metrics.items()}}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MetricsTracker:
        tracker = cls()
        tracker.metrics = {
            name: MetricHistory.from_config(h) for name, h in config["metrics"].items()
        }
        return tracker


class Trial:
    """One point of the search space and its outcome.

    Args:
        hyperparameters: The trial's space and values.
        trial_id: Unique within the search, e.g. ``"07"``.
        status: The trial's ``TrialStatus``.
        message: The error traceback of a crashed trial.
    """

    def __init__(
        self,
        hyperparameters: HyperParameters,
        trial_id: str | None = None,
        status: TrialStatus | str = TrialStatus.RUNNING,
        message: str | None = None,
    ) -> None:
        self.hyperparameters = hyperparameters
        self.trial_id = trial_id
        self.status = TrialStatus(status)
        self.message = message
        self.metrics = MetricsTracker()
        self.score: float | None = None
        self.best_step: int | None = None

    @property
    def values(self) -> dict[str, Any]:
        """The trial's active hyperparameter values."""
        return self.hyperparameters.values

    def summary(self) -> str:
        """The text ``results_summary`` prints for this trial."""
        lines = [f"Trial {self.trial_id} summary", "Hyperparameters:"]
        lines += [f"{name}: {value}" for name, value in self.values.items()]
        if self.score is not None:
            lines.append(f"Score: {self.score}")
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def get_state(self) -> dict[str, Any]:
        """A JSON-safe snapshot, the inverse of ``from_state``."""
        return {
            "trial_id": self.trial_id,
            "hyperparameters": self.hyperparameters.get_config(),
            "status": self.status.value,
            "message": self.message,
            "metrics": self.metrics.get_config(),
            "score": self.score,
            "best_step": self.best_step,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Trial:
        trial = cls(
            HyperParameters.from_config(state["hyperparameters"]),
            trial_id=state["trial_id"],
            status=state["status"],
            message=state.get("message"),
        )
        trial.metrics = MetricsTracker.from_config(state["metrics"])
        trial.score = state.get("score")
        trial.best_step = state.get("best_step")
        return trial

    def __repr__(self) -> str:
        return (
            f"Trial(trial_id={self.trial_id!r}, status={self.status.value}, "
            f"score={self.score!r}, values={self.values!r})"
        )
