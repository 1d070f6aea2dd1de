"""The Keras callback the trial executor adds to every execution.

Imported only where a Keras model trains, since it imports Keras.
"""

from __future__ import annotations

from typing import Any

import keras

from tuning.hooks import TunerHooks
from tuning.recorder import TrialRecorder
from tuning.trial import Trial

__all__ = ["TrialCallback"]


class TrialCallback(keras.callbacks.Callback):
    """Reports each epoch to the recorder and calls the tuner's epoch and batch hooks.

    Args:
        hooks: The tuner, whose hooks are called.
        trial: The trial that trains.
        recorder: Follows the trial's epochs.
        execution: Which of the trial's executions trains.
    """

    def __init__(
        self, hooks: TunerHooks, trial: Trial, recorder: TrialRecorder, execution: int
    ) -> None:
        super().__init__()
        self.hooks = hooks
        self.trial = trial
        self.recorder = recorder
        self.execution = execution
        self._batch_hooks = hooks.batch_hooks_overridden()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.hooks.on_epoch_begin(self.trial, self.model, epoch, logs=logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = {k: m for k, v in (logs or {}).items() if (m := _as_metric(v)) is not None}
        epochs = (self.params or {}).get("epochs")
        if self.recorder.epoch_end(self.model, epoch, metrics, self.execution, epochs):
            self.model.stop_training = True
        self.hooks.on_epoch_end(self.trial, self.model, epoch, logs=logs)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batch_hooks:
            self.hooks.on_batch_begin(self.trial, self.model, batch, logs)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._batch_hooks:
            self.hooks.on_batch_end(self.trial, self.model, batch, logs)


def _as_metric(value: Any) -> float | None:
    """A log value as a metric: anything ``float()`` takes (tensors too) but text and booleans."""
    if isinstance(value, (str, bytes, bool)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
