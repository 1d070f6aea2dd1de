"""A trial: one point of the search space, what it measured, and how it ended."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from tuning.hyperparameters import HyperParameters
from tuning.metrics_tracking import MetricsTracker

__all__ = ["Trial", "TrialStatus"]


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

    def summary(self) -> None:
        """Prints the trial as ``results_summary`` shows it.

        Its values (``default configuration`` when it has none), its score if
        it has one, and its message, e.g. the error of a failed trial.
        """
        print(f"Trial {self.trial_id} summary")
        print("Hyperparameters:")
        for name, value in self.values.items():
            print(f"{name}: {value}")
        if not self.values:
            print("default configuration")
        if self.score is not None:
            print(f"Score: {self.score}")
        if self.message is not None:
            print(self.message)

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
