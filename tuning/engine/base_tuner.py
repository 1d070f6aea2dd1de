"""``keras_tuner.engine.base_tuner``."""

from tuning.base_tuner import BaseTuner

__all__ = ["BaseTuner"]
