"""KerasTuner's module paths resolve to the same objects, as code written for it expects."""

from __future__ import annotations

import importlib

import pytest

import tuning as kt


@pytest.mark.parametrize(
    ("path", "name", "expected"),
    [
        ("tuning.engine.hyperparameters", "HyperParameters", "tuning.HyperParameters"),
        ("tuning.engine.hyperparameters", "Int", "tuning.hyperparameters.Int"),
        ("tuning.engine.conditions", "Parent", "tuning.hyperparameters.conditions.Parent"),
        ("tuning.engine.hypermodel", "HyperModel", "tuning.HyperModel"),
        ("tuning.engine.objective", "Objective", "tuning.Objective"),
        ("tuning.engine.trial", "Trial", "tuning.Trial"),
        ("tuning.engine.oracle", "Oracle", "tuning.Oracle"),
        ("tuning.engine.metrics_tracking", "MetricsTracker",
         "tuning.metrics_tracking.MetricsTracker"),
        ("tuning.engine.tuner_utils", "get_best_step", "tuning.results.get_best_step"),
        ("tuning.engine.tuner", "Tuner", "tuning.Tuner"),
        ("tuning.engine.base_tuner", "BaseTuner", "tuning.BaseTuner"),
        ("tuning.tuners", "BayesianOptimization", "tuning.BayesianOptimization"),
        ("tuning.tuners", "SklearnTuner", "tuning.SklearnTuner"),
        ("tuning.oracles", "BayesianOptimizationOracle", "tuning.BayesianOptimizationOracle"),
        ("tuning.applications", "HyperResNet", "tuning.applications.resnet.HyperResNet"),
    ],
)
def test_keras_tuner_module_paths_name_our_objects(path, name, expected):
    module_name, _, attribute = expected.rpartition(".")
    assert getattr(importlib.import_module(path), name) is getattr(
        importlib.import_module(module_name), attribute
    )


def test_module_paths_work_as_attributes_after_import_tuning():
    # The seed documents write kerastuner.engine.hyperparameters.HyperParameters().
    hp = kt.engine.hyperparameters.HyperParameters()
    assert hp.Int("units", 1, 4) == 1
    assert kt.engine.tuner.Tuner is kt.Tuner
    assert kt.tuners.RandomSearch is kt.RandomSearch
    with pytest.raises(AttributeError):
        kt.engine.no_such_module  # noqa: B018
