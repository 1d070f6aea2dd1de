"""``keras_tuner.engine.tuner``."""

from tuning.tuners import Tuner

__all__ = ["Tuner"]
