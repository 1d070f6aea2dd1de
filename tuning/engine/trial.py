"""``keras_tuner.engine.trial``."""

from tuning.trial import Trial, TrialStatus

__all__ = ["Trial", "TrialStatus"]
