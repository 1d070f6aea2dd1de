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
        trial_id: The trial's id.
        hyperparameters: ``HyperParameters.get_config()`` of the trial.
        run_id: The trial's MLflow run.
        artifact_uri: Where that run's artifacts go (a worker need not ask MLflow).
        seed: The trial's seed, derived from the search seed, the trial and its attempt.
        parent_run_id: The MLflow run whose weights the trial starts from
            (Hyperband's promoted trials), or None.
        pruning_reference: ``{step: median}`` for the pruning rule, or empty.
        slot: Which of the ``max_concurrent_trials`` slots runs the trial.
        resume: The progress a trial interrupted mid-training continues from,
            in its same run (``checkpoints/last/progress.json``: the execution,
            the last saved epoch, its weights file, the epochs recorded, and
            ``logged``, the last step MLflow holds per execution); empty to
            start afresh.
    """

    status: str
    trial_id: str = ""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    artifact_uri: str = ""
    seed: int = 0
    parent_run_id: str | None = None
    pruning_reference: dict[int, float] = field(default_factory=dict)
    slot: str = ""
    resume: dict[str, Any] = field(default_factory=dict)

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
    """

    trial_id: str
    run_id: str
    status: str
    executions: list[dict[str, Any]] = field(default_factory=list)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    error_type: str | None = None
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def invalid(cls, spec: TrialSpec, message: str, duration_s: float = 0.0) -> TrialResult:
        """The result of a trial whose machinery broke (its process died, its task failed).

        INVALID: the oracle retries it while ``max_retries_per_trial`` allows.
        """
        return cls(
            trial_id=spec.trial_id,
            run_id=spec.run_id,
            status=TrialStatus.INVALID.value,
            hyperparameters=spec.hyperparameters,
            message=message,
            duration_s=duration_s,
        )

    def failed_by(self, error: BaseException) -> TrialResult:
        """This result turned FAILED by ``error``, a ``FatalError`` that ends the search."""
        return dataclasses.replace(
            self,
            status=TrialStatus.FAILED.value,
            message=str(error),
            error_type=type(error).__name__,
        )


@dataclass(frozen=True)
class TrialOutcome:
    """A trial's result with its evaluation (None when it did not complete)."""

    result: TrialResult
    evaluation: Evaluation | None = None
