"""``keras_tuner.engine.objective``."""

from tuning.objective import DefaultObjective, MultiObjective, Objective, create_objective

__all__ = ["DefaultObjective", "MultiObjective", "Objective", "create_objective"]
