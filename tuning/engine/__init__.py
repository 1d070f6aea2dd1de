"""KerasTuner's module paths, for code written against them.

``kt.engine.hyperparameters.HyperParameters``, ``kt.engine.tuner.Tuner``,
``kt.engine.base_tuner.BaseTuner`` and the rest resolve as in KerasTuner; each
module here names where the thing lives in ``tuning``. Submodules import on
first use, so that ``import tuning`` stays light.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = [
    "base_tuner",
    "conditions",
    "hypermodel",
    "hyperparameters",
    "metrics_tracking",
    "objective",
    "oracle",
    "trial",
    "tuner",
    "tuner_utils",
]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"tuning.engine.{name}")
    raise AttributeError(f"module 'tuning.engine' has no attribute {name!r}")
