"""The hooks KerasTuner's ``Tuner`` offers a subclass, and where each is called.

``Tuner`` inherits them; the trial executor and the Keras callback call them
through this base class, so that neither needs the tuner's module.
"""

from __future__ import annotations

from typing import Any

from tuning.trial import Trial

__all__ = ["TunerHooks"]


class TunerHooks:
    """No-op hooks; override any of them in a ``Tuner`` subclass."""

    def on_search_begin(self) -> None:
        """Called at the start of ``search``, in the search's process."""

    def on_search_end(self) -> None:
        """Called at the end of ``search``, in the search's process."""

    def on_trial_begin(self, trial: Trial) -> None:
        """Called before a trial trains, in the process where it trains."""

    def on_trial_end(self, trial: Trial) -> None:
        """Called in the search's process after a trial ended and the oracle recorded it."""

    def on_epoch_begin(self, trial: Trial, model: Any, epoch: int, logs: Any = None) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self, trial: Trial, model: Any, epoch: int, logs: Any = None) -> None:
        """Called at the end of each epoch."""

    def on_batch_begin(self, trial: Trial, model: Any, batch: int, logs: Any) -> None:
        """Called at the start of each training batch."""

    def on_batch_end(self, trial: Trial, model: Any, batch: int, logs: Any) -> None:
        """Called at the end of each training batch."""

    def batch_hooks_overridden(self) -> bool:
        """Whether a subclass overrides a per-batch hook (each costs a call per batch)."""
        return any(
            getattr(type(self), name) is not getattr(TunerHooks, name)
            for name in ("on_batch_begin", "on_batch_end")
        )
