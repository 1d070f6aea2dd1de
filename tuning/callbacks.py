"""The Keras callback a tuner adds to every execution.

Imported only where a Keras model trains, since it imports Keras.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import keras

from tuning.recorder import TrialRecorder

if TYPE_CHECKING:
    from tuning.trial import Trial
    from tuning.tuners import Tuner

__all__ = ["TrialCallback"]


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
