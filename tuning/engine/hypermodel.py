"""``keras_tuner.engine.hypermodel``."""

from tuning.hypermodel import HyperModel

__all__ = ["HyperModel"]
