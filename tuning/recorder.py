"""Follows one trial as it trains: each epoch to MLflow, the best weights, pruning.

Free of Keras: the model is only asked to ``save_weights``.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Any

from tuning.objective import Objective
from tuning.pruning import MedianStoppingRule
from tuning.results import Execution
from tuning.store import RunStore

__all__ = ["TrialRecorder"]

WEIGHTS_FILE = "best.weights.h5"


class TrialRecorder:
    """Follows one trial's epochs: logs them, keeps the best weights, applies pruning.

    Args:
        runs: The store's runs, where each epoch's metrics go.
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
        self.best_value: float | None = None
        self.logged = False
        self.pruned = False
        self._search_run_id: str | None = None
        self._curves: dict[int, dict[int, float]] = {}
        self._lock = threading.Lock()

    @property
    def has_checkpoint(self) -> bool:
        return os.path.exists(self.checkpoint_path)

    def log_metrics(self, metrics: dict[str, float], step: int, execution: int = 0) -> None:
        """Logs one step of one execution's metrics to the trial's MLflow run."""
        prefix = f"execution_{execution}/" if self.executions > 1 else ""
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

    def epoch_end(self, model: Any, epoch: int, logs: dict[str, float], execution: int) -> bool:
        """Records one epoch; returns whether training should stop (pruned)."""
        self.log_metrics(logs, epoch, execution)
        if not self.objective.has_value(logs):
            return False
        value = self.objective.get_value(logs)
        if not math.isnan(value):
            with self._lock:
                if self.best_value is None or self.objective.better_than(value, self.best_value):
                    self.best_value = value
                    model.save_weights(self.checkpoint_path)
        curve = self._curves.setdefault(execution, {})
        curve[epoch] = value
        if self.pruning is not None and self.pruning.should_stop(
            curve, self._latest_reference(), self.objective.direction
        ):
            self.pruned = True
        return self.pruned

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
