"""``keras_tuner.engine.conditions``."""

from tuning.hyperparameters.conditions import Condition, Parent

__all__ = ["Condition", "Parent"]
