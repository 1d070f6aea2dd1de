"""``keras_tuner.engine.oracle``."""

from tuning.objective import Objective
from tuning.oracles.base import Oracle, synchronized

__all__ = ["Objective", "Oracle", "synchronized"]
