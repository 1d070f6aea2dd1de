"""Hyperflow: KerasTuner's API, each search a Prefect flow, each trial an MLflow run.

Change one line of KerasTuner code, ``import keras_tuner`` to
``import tuning as kt``, and the rest runs as before.
"""

from __future__ import annotations

import importlib
from typing import Any

from tuning import errors, oracles, stopping
from tuning.errors import (
    FailedTrialError,
    FatalError,
    FatalRuntimeError,
    FatalTypeError,
    FatalValueError,
)
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective
from tuning.oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    Oracle,
    RandomSearchOracle,
    TPEOracle,
    synchronized,
)
from tuning.pruning import MedianStoppingRule
from tuning.trial import Trial, TrialStatus

# The tuners reach MLflow and Keras: imported on first use, so that the search
# core (``import tuning.oracles``) stays light.
_LAZY = {
    "BaseTuner": "tuning.base_tuner",
    "BayesianOptimization": "tuning.tuners",
    "GridSearch": "tuning.tuners",
    "Hyperband": "tuning.tuners",
    "RandomSearch": "tuning.tuners",
    "SklearnTuner": "tuning.sklearn_tuner",
    "TPESearch": "tuning.tuners",
    "Tuner": "tuning.tuners",
}
# Modules reached as attributes (``kt.tuners.RandomSearch``), imported on first use.
_LAZY_MODULES = {"applications", "engine", "tuners"}


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f"tuning.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tuning' has no attribute {name!r}")


__all__ = [
    "BaseTuner",
    "BayesianOptimization",
    "BayesianOptimizationOracle",
    "FailedTrialError",
    "FatalError",
    "FatalRuntimeError",
    "FatalTypeError",
    "FatalValueError",
    "GridSearch",
    "GridSearchOracle",
    "HyperModel",
    "HyperParameters",
    "Hyperband",
    "HyperbandOracle",
    "MedianStoppingRule",
    "Objective",
    "Oracle",
    "RandomSearch",
    "RandomSearchOracle",
    "SklearnTuner",
    "TPEOracle",
    "TPESearch",
    "Trial",
    "TrialStatus",
    "Tuner",
    "applications",
    "engine",
    "errors",
    "oracles",
    "stopping",
    "synchronized",
    "tuners",
]
