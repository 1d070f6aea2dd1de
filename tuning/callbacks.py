"""The Keras callback a tuner adds to every execution, and the recorder behind it.

Imported only where a trial trains, since it imports Keras.
"""

from __future__ import annotations

import math
import os
import threading
from typing import TYPE_CHECKING, Any

import keras

from tuning.objective import Objective
from tuning.pruning import MedianStoppingRule
from tuning.tracking import TrialStore

if TYPE_CHECKING:
    from tuning.trial import Trial
    from tuning.tuners import Tuner

__all__ = ["TrialCallback", "TrialRecorder"]

WEIGHTS_FILE = "best.weights.h5"


class TrialRecorder:
    """Follows one trial's epochs: logs them, keeps the best weights, applies pruning.

    Args:
        store: The trial store.
        run_id: The trial's MLflow run.
        objective: The search's objective.
        checkpoint_dir: A local folder for the best-epoch weights.
        executions: How many executions the trial runs (metric names get an
            ``execution_{i}/`` prefix in MLflow when there are several).
        seed: The trial's seed; execution i is seeded with ``seed + i``.
        pruning: The pruning rule, or None.
        pruning_reference: The rule's reference at the trial's start.
        initial_weights: A weights file to start from, or None.
    """

    def __init__(
        self,
        store: TrialStore,
        run_id: str,
        objective: Objective,
        checkpoint_dir: str,
        executions: int = 1,
        seed: int = 0,
        pruning: MedianStoppingRule | None = None,
        pruning_reference: dict[int, float] | None = None,
        initial_weights: str | None = None,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.objective = objective
        self.checkpoint_path = os.path.join(checkpoint_dir, WEIGHTS_FILE)
        self.executions = executions
        self.seed = seed
        self.build_config: dict[str, Any] | None = None
        self.pruning = pruning
        self.pruning_reference = pruning_reference or {}
        self.initial_weights = initial_weights
        self.best_value: float | None = None
        self.pruned = False
        self._curves: dict[int, dict[int, float]] = {}
        self._lock = threading.Lock()

    @property
    def has_checkpoint(self) -> bool:
        return os.path.exists(self.checkpoint_path)

    def epoch_end(self, model: Any, epoch: int, logs: dict[str, float], execution: int) -> bool:
        """Records one epoch; returns whether training should stop (pruned)."""
        prefix = f"execution_{execution}/" if self.executions > 1 else ""
        self.store.log_metrics(self.run_id, {prefix + k: v for k, v in logs.items()}, step=epoch)
        if not self.objective.has_value(logs):
            return False
        value = self.objective.get_value(logs)
        if math.isnan(value):
            return False
        with self._lock:
            if self.best_value is None or self.objective.better_than(value, self.best_value):
                self.best_value = value
                model.save_weights(self.checkpoint_path)
        curve = self._curves.setdefault(execution, {})
        curve[epoch] = value
        if self.pruning is not None and self.pruning.should_stop(
            curve, self.pruning_reference, self.objective.direction
        ):
            self.pruned = True
        return self.pruned


class TrialCallback(keras.callbacks.Callback):
    """Reports each epoch to the recorder and calls the tuner's epoch and batch hooks."""

    def __init__(self, tuner: Tuner, trial: Trial, recorder: TrialRecorder, execution: int):
        super().__init__()
        self.tuner = tuner
        self.trial = trial
        self.recorder = recorder
        self.execution = execution
        from tuning.tuners import Tuner  # tuners imports this module lazily

        # Per-batch hooks cost a Python call per batch: only call overridden ones.
        self._batch_hooks = any(
            getattr(type(tuner), name) is not getattr(Tuner, name)
            for name in ("on_batch_begin", "on_batch_end")
        )

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.tuner.on_epoch_begin(self.trial, self.model, epoch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        numbers = {k: float(v) for k, v in (logs or {}).items() if _is_number(v)}
        if self.recorder.epoch_end(self.model, epoch, numbers, self.execution):
            self.model.stop_training = True
        self.tuner.on_epoch_end(self.trial, self.model, epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batch_hooks:
            self.tuner.on_batch_begin(self.trial, self.model, batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batch_hooks:
            self.tuner.on_batch_end(self.trial, self.model, batch, logs)


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
