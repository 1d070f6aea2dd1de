"""Search spaces: ``HyperParameters`` and the five kinds of hyperparameter.

A model-building function declares what it tunes by calling ``hp.Int``,
``hp.Float``, ``hp.Choice``, ``hp.Boolean`` or ``hp.Fixed``. Each call
registers the hyperparameter (once) and returns its current value: the
default on a fresh container, the oracle's choice during a trial.

Example:
    >>> hp = HyperParameters()
    >>> hp.Int("units", min_value=32, max_value=512, step=32)
    32
    >>> with hp.conditional_scope("units", [32]):
    ...     hp.Boolean("dropout")
    False
    >>> hp.values
    {'units': 32, 'dropout': False}
    >>> deserialize(serialize(hp)).values
    {'units': 32, 'dropout': False}
"""

from __future__ import annotations

from tuning.hyperparameters._container import HyperParameters, deserialize, serialize
from tuning.hyperparameters._discrete import Boolean, Choice, Fixed
from tuning.hyperparameters._hyperparameter import HyperParameter
from tuning.hyperparameters._numerical import Float, Int
from tuning.hyperparameters.conditions import Condition, Parent

__all__ = [
    "Boolean",
    "Choice",
    "Condition",
    "Fixed",
    "Float",
    "HyperParameter",
    "HyperParameters",
    "Int",
    "Parent",
    "deserialize",
    "serialize",
]
