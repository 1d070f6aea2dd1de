"""The small, JSON-able values that cross a task boundary: a trial to run, and what it gave.

Neither holds a model, a dataset or a client, so both can travel to another
thread, process or machine unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tuning.results import Evaluation
from tuning.trial import TrialStatus

__all__ = ["TrialOutcome", "TrialResult", "TrialSpec"]


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to train one trial.

    Attributes:
        status: RUNNING to train; IDLE (wait) or STOPPED (search over) carry no trial.
        session_key: Finds the search's in-process session (tuner, data).
        trial_id: The trial's id.
        attempt: 0 for the first run, then one more per retry or resume.
        hyperparameters: ``HyperParameters.get_config()`` of the trial.
        run_id: The trial's MLflow run.
        artifact_uri: Where that run's artifacts go (a worker need not ask MLflow).
        search_run_id: The search's (parent) MLflow run.
        tracking_uri: Where the MLflow store is.
        seed: The trial's seed, derived from the search seed.
        parent_run_id: The MLflow run whose weights the trial starts from
            (Hyperband's promoted trials), or None.
        pruning_reference: ``{step: median}`` for the pruning rule, or empty.
        slot: Which of the ``max_concurrent_trials`` slots runs the trial.
        payload_key: Where a remote worker finds the search's payload (the
            key of the data scattered to a Dask cluster), or empty.
        isolation: The tuner's ``isolation``, for a remote worker.
        max_trial_time: The tuner's ``max_trial_time``, for a remote worker.
    """

    status: str
    session_key: str = ""
    trial_id: str = ""
    attempt: int = 0
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    artifact_uri: str = ""
    search_run_id: str = ""
    tracking_uri: str = ""
    seed: int = 0
    parent_run_id: str | None = None
    pruning_reference: dict[int, float] = field(default_factory=dict)
    slot: str = ""
    payload_key: str = ""
    isolation: str = "none"
    max_trial_time: float | None = None

    @property
    def runnable(self) -> bool:
        return self.status == TrialStatus.RUNNING.value

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrialResult:
    """What training a trial gave.

    Attributes:
        trial_id: The trial's id.
        run_id: The trial's MLflow run.
        status: COMPLETED, STOPPED (pruned), INVALID (crashed, may be
            retried) or FAILED (``FailedTrialError`` or a fatal error).
        executions: ``Execution.to_dict()`` per execution.
        hyperparameters: The trial's hyperparameters after the model ran
            (it may have declared new ones).
        message: The traceback of a crash.
        error_type: The name of a ``tuning.errors`` class that must stop the
            whole search, or None.
        duration_s: Wall time of the trial.
        weights_path: The artifact path of the best-epoch weights, or None.
    """

    trial_id: str
    run_id: str
    status: str
    executions: list[dict[str, Any]] = field(default_factory=list)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None
    duration_s: float = 0.0
    weights_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class TrialOutcome:
    """A trial's result with its evaluation (None when it did not complete)."""

    result: TrialResult
    evaluation: Evaluation | None = None
