"""``keras_tuner.engine.hyperparameters``."""

from tuning.hyperparameters import (
    Boolean,
    Choice,
    Fixed,
    Float,
    HyperParameter,
    HyperParameters,
    Int,
    deserialize,
    serialize,
)

__all__ = [
    "Boolean",
    "Choice",
    "Fixed",
    "Float",
    "HyperParameter",
    "HyperParameters",
    "Int",
    "deserialize",
    "serialize",
]
