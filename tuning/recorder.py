"""Follows one trial as it trains: each epoch to MLflow, the best weights, its progress, pruning.

Free of Keras: the model is only asked to ``save_weights``.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Any

from tuning.checkpoints import PROGRESS_FILE, PROGRESS_FOLDER, CheckpointPolicy
from tuning.objective import Objective
from tuning.pruning import MedianStoppingRule
from tuning.results import Execution
from tuning.store import RunStore

__all__ = ["TrialRecorder"]

_logger = logging.getLogger(__name__)

WEIGHTS_FILE = "best.weights.h5"


class TrialRecorder:
    """Follows one trial's epochs: logs them, keeps the best weights, saves progress, prunes.

    Args:
        runs: The store's runs, where each epoch's metrics and the progress go.
        run_id: The trial's MLflow run.
        objective: The search's objective.
        checkpoint_dir: A local folder for the best-epoch weights.
        executions: How many executions the trial runs (metric names get an
            ``execution_{i}/`` prefix in MLflow when there are several).
        seed: The trial's seed; execution i is seeded with ``seed + i``.
        pruning: The pruning rule, or None.
        pruning_reference: The rule's reference at the trial's start; a newer
            one is read from the search's run at each epoch.
        initial_weights: A weights file to start from, or None.
        policy: When to save the trial's progress (``checkpoints/last/``); None never.
        resume: The progress the trial continues from (``TrialSpec.resume``):
            its epochs are restored and those already in MLflow not logged again.
    """

    def __init__(
        self,
        runs: RunStore,
        run_id: str,
        objective: Objective,
        checkpoint_dir: str,
        executions: int = 1,
        seed: int = 0,
        pruning: MedianStoppingRule | None = None,
        pruning_reference: dict[int, float] | None = None,
        initial_weights: str | None = None,
        policy: CheckpointPolicy | None = None,
        resume: dict[str, Any] | None = None,
    ) -> None:
        self.runs = runs
        self.run_id = run_id
        self.objective = objective
        self.checkpoint_path = os.path.join(checkpoint_dir, WEIGHTS_FILE)
        self.executions = executions
        self.seed = seed
        self.build_config: dict[str, Any] | None = None
        self.tensorboard_dirs: list[str] = []
        self.pruning = pruning
        self.pruning_reference = pruning_reference or {}
        self.initial_weights = initial_weights
        self.policy = policy
        self.resume = resume or {}
        # The local copy of the progress' weights (``resume``), set by the executor.
        self.resume_weights: str | None = None
        self.best_value: float | None = self.resume.get("best_value")
        self.logged = False
        self.pruned = False
        # execution -> step -> every metric of that epoch
        self.steps: dict[int, dict[int, dict[str, float]]] = {
            int(e): {int(s): dict(m) for s, m in steps.items()}
            for e, steps in self.resume.get("steps", {}).items()
        }
        self._logged_through = {int(e): int(s) for e, s in self.resume.get("logged", {}).items()}
        self._curves: dict[int, dict[int, float]] = {
            e: {
                s: self.objective.get_value(m)
                for s, m in steps.items()
                if self.objective.has_value(m)
            }
            for e, steps in self.steps.items()
        }
        self._best_uploaded = bool(self.resume)
        self._progress_weights: str | None = self.resume.get("weights")
        self._search_run_id: str | None = None
        self._lock = threading.Lock()

    @property
    def has_checkpoint(self) -> bool:
        return os.path.exists(self.checkpoint_path)

    @property
    def resume_execution(self) -> int:
        """The execution the trial continues (0 when it starts afresh)."""
        return int(self.resume.get("execution", 0))

    def initial_epoch(self, execution: int) -> int | None:
        """The epoch ``execution`` continues from, or None when it starts afresh."""
        if not self.resume or execution != self.resume_execution:
            return None
        return int(self.resume["epoch"]) + 1

    def recorded(self, execution: int) -> tuple[list[int], dict[str, list[float]]]:
        """The epochs of ``execution`` recorded so far (restored ones too): steps and curves."""
        steps = sorted(self.steps.get(execution, {}))
        names = {name for step in steps for name in self.steps[execution][step]}
        return steps, {
            name: [self.steps[execution][s].get(name, math.nan) for s in steps] for name in names
        }

    def _metric_prefix(self, execution: int) -> str:
        return f"execution_{execution}/" if self.executions > 1 else ""

    def log_metrics(self, metrics: dict[str, float], step: int, execution: int = 0) -> None:
        """Logs one step of one execution's metrics to the trial's MLflow run."""
        prefix = self._metric_prefix(execution)
        self.runs.log_metrics(self.run_id, {prefix + k: v for k, v in metrics.items()}, step=step)
        self.logged = True

    def log_executions(self, executions: list[Execution]) -> None:
        """Logs the curves ``run_trial`` returned, unless its epochs were already logged."""
        if self.logged:
            return
        for index, execution in enumerate(executions):
            for i, step in enumerate(execution.steps):
                metrics = {k: v[i] for k, v in execution.metrics.items() if i < len(v)}
                self.log_metrics(metrics, step, execution=index)

    def epoch_end(
        self,
        model: Any,
        epoch: int,
        logs: dict[str, float],
        execution: int,
        epochs: int | None = None,
    ) -> bool:
        """Records one epoch, saves the progress when due; returns whether to stop (pruned).

        An epoch MLflow already holds (trained before the search died, after
        its last saved progress) is not logged again. The last of ``epochs``
        (the fit's, if known) in the last execution saves no progress: the
        trial ends next and discards it.
        """
        final = epochs is not None and epoch + 1 >= epochs and execution == self.executions - 1
        if epoch > self._logged_through.get(execution, -1):
            self.log_metrics(logs, epoch, execution)
        self.logged = True
        self.steps.setdefault(execution, {})[epoch] = dict(logs)
        self._track_objective(model, epoch, logs, execution)
        if not (self.pruned or final) and self.policy is not None and self.policy.due(epoch):
            self._save_progress(model, epoch, execution)
        return self.pruned

    def _track_objective(
        self, model: Any, epoch: int, logs: dict[str, float], execution: int
    ) -> None:
        """Keeps the best epoch's weights and applies the pruning rule."""
        if not self.objective.has_value(logs):
            return
        value = self.objective.get_value(logs)
        if not math.isnan(value):
            with self._lock:
                if self.best_value is None or self.objective.better_than(value, self.best_value):
                    self.best_value = value
                    model.save_weights(self.checkpoint_path)
                    self._best_uploaded = False
        curve = self._curves.setdefault(execution, {})
        curve[epoch] = value
        if self.pruning is not None and self.pruning.should_stop(
            curve, self._latest_reference(), self.objective.direction
        ):
            self.pruned = True

    def _save_progress(self, model: Any, epoch: int, execution: int) -> None:
        """Uploads the latest weights (with the optimizer's state), the best ones, then the record.

        ``progress.json`` goes last and names its weights file, so that a
        search killed mid-upload resumes from the previous, complete progress;
        that one's weights are removed afterwards.
        """
        started = time.monotonic()
        connection = self.runs.connection
        name = f"execution{execution}-epoch{epoch}.weights.h5"
        local = os.path.join(os.path.dirname(self.checkpoint_path), name)
        model.save_weights(local)
        connection.log_file(self.run_id, local, PROGRESS_FOLDER)
        os.remove(local)
        if not self._best_uploaded and self.has_checkpoint:
            connection.log_file(self.run_id, self.checkpoint_path, os.path.dirname(PROGRESS_FOLDER))
            self._best_uploaded = True
        progress = {
            "execution": execution,
            "epoch": epoch,
            "weights": f"{PROGRESS_FOLDER}/{name}",
            "best_value": self.best_value,
            "steps": {
                str(e): {str(s): m for s, m in steps.items()} for e, steps in self.steps.items()
            },
            # A metric of each execution as MLflow names it, to learn its last logged step.
            "keys": {
                str(e): self._metric_prefix(e) + next(iter(steps[max(steps)]))
                for e, steps in self.steps.items()
                if steps and steps[max(steps)]
            },
        }
        self.runs.log_dict(self.run_id, progress, PROGRESS_FILE)
        if self._progress_weights:
            connection.delete_artifact(self.run_id, self._progress_weights)
        self._progress_weights = progress["weights"]
        self.policy.saved(time.monotonic() - started)  # type: ignore[union-attr]

    def discard_progress(self) -> None:
        """Removes the saved progress once the trial has ended: nothing will resume it."""
        if self._progress_weights and not self.runs.connection.delete_artifact(
            self.run_id, PROGRESS_FOLDER
        ):
            _logger.debug("Hyperflow: the artifact store of run %s deletes nothing", self.run_id)

    def _latest_reference(self) -> dict[int, float]:
        """The pruning reference as the search last published it, or the one the trial began with.

        Read from the search's run at each epoch, so that trials completing
        while this one trains count (``SearchEngine`` publishes it). A failed
        read keeps the reference last seen: it never fails the trial.
        """
        try:
            if self._search_run_id is None:
                self._search_run_id = self.runs.parent_run_id(self.run_id)
            latest = self.runs.pruning_reference(self._search_run_id)
        except Exception:  # noqa: BLE001 - the store is unreachable for now
            return self.pruning_reference
        if latest is not None:
            self.pruning_reference = latest
        return self.pruning_reference
