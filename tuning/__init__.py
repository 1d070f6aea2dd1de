"""Hyperflow: KerasTuner's API, each search a Prefect flow, each trial an MLflow run.

Change one line of KerasTuner code, ``import keras_tuner`` to
``import tuning as kt``, and the rest runs as before.
"""

from __future__ import annotations

import importlib
from typing import Any

from tuning import errors, oracles
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
)
from tuning.pruning import MedianStoppingRule
from tuning.trial import Trial, TrialStatus

# The tuners reach MLflow and Keras: imported on first use, so that the search
# core (``import tuning.oracles``) stays light.
_LAZY = {
    "BayesianOptimization": "tuning.tuners",
    "GridSearch": "tuning.tuners",
    "Hyperband": "tuning.tuners",
    "RandomSearch": "tuning.tuners",
    "SklearnTuner": "tuning.sklearn_tuner",
    "Tuner": "tuning.tuners",
    "applications": "tuning.applications",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if name == "applications" else getattr(module, name)
    raise AttributeError(f"module 'tuning' has no attribute {name!r}")


__all__ = [
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
    "Trial",
    "TrialStatus",
    "Tuner",
    "applications",
    "errors",
    "oracles",
]
