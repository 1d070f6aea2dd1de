"""The trial executor and the model builder on a real MLflow store, without Prefect."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import tuning as kt
from tests.tuning.tiny_keras import build_classifier, tiny_data
from tuning import heap
from tuning.executor import BUILD_CONFIG_ARTIFACT, MODEL_CONFIG_ARTIFACT, WEIGHTS_ARTIFACT

_projects = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _thaw_heap():
    """Builds freeze the heap (``heap.collect``); a search thaws it at its end, so do we."""
    yield
    heap.thaw()


def _opened(tuner: kt.Tuner):
    """The tuner's search opened and one trial sampled: its spec."""
    tuner.search_space()
    tuner.engine.open(type(tuner).__name__, {}, overwrite=True)
    return tuner.engine.sample("0")


def _tuner(directory: Path, cls=kt.RandomSearch, **kwargs) -> kt.Tuner:
    kwargs.setdefault("objective", "val_accuracy")
    return cls(
        kwargs.pop("hypermodel", build_classifier),
        max_trials=3,
        seed=2,
        directory=directory,
        project_name=f"executor-{next(_projects)}",
        **kwargs,
    )


def test_a_keras_trial_records_each_epoch_and_uploads_its_best_weights(directory):
    from mlflow import MlflowClient

    tuner = _tuner(directory)
    spec = _opened(tuner)
    x, y = tiny_data()

    result = tuner.executor.execute(
        spec, (x, y), {"epochs": 3, "validation_split": 0.25, "verbose": 0}
    )

    assert result.status == "COMPLETED", result.message
    (execution,) = result.executions
    assert execution["steps"] == [0, 1, 2]
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    history = client.get_metric_history(spec.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [0, 1, 2]
    assert [round(m.value, 6) for m in sorted(history, key=lambda m: m.step)] == [
        round(v, 6) for v in execution["metrics"]["val_accuracy"]
    ]
    for artifact in (WEIGHTS_ARTIFACT, BUILD_CONFIG_ARTIFACT, MODEL_CONFIG_ARTIFACT):
        assert tuner.store.connection.has_artifact(spec.run_id, artifact), artifact


class _Raises(kt.RandomSearch):
    error: Exception = ValueError("boom")

    def run_trial(self, trial, *args, **kwargs):
        trial.hyperparameters.Float("x", 0.0, 1.0)
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (ValueError("boom"), "INVALID", None),
        (kt.FailedTrialError("too big"), "FAILED", None),
        (kt.FatalValueError("misconfigured"), "FAILED", "FatalValueError"),
    ],
    ids=["crash", "failed-trial", "fatal"],
)
def test_a_failure_of_user_code_is_a_result_not_an_exception(directory, error, status, error_type):
    tuner = _tuner(directory, cls=_Raises, hypermodel=None, objective="loss")
    tuner.error = error
    spec = _opened(tuner)

    result = tuner.executor.execute(spec, (), {})

    assert (result.status, result.error_type) == (status, error_type)
    assert type(error).__name__ in result.message and str(error) in result.message
    # What the trial declared before it failed is in the result.
    assert [hp["config"]["name"] for hp in result.hyperparameters["space"]] == ["x"]


class _ReturnsNothing(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        return None


def test_a_trial_that_returns_no_metrics_fails_the_search(directory):
    tuner = _tuner(directory, cls=_ReturnsNothing, hypermodel=None, objective="loss")
    spec = _opened(tuner)

    result = tuner.executor.execute(spec, (), {})

    assert (result.status, result.error_type) == ("FAILED", "FatalTypeError")
    assert "returned None" in result.message


_draws: list[int] = []


def build_recording_seed(hp):
    """Records a draw of numpy's global generator, which ``set_random_seed`` seeds."""
    _draws.append(int(np.random.randint(2**30)))
    return build_classifier(hp)


def test_each_execution_and_its_retrain_are_seeded_alike(directory):
    tuner = _tuner(directory, hypermodel=build_recording_seed, executions_per_trial=2)
    spec = _opened(tuner)
    x, y = tiny_data()
    _draws.clear()

    result = tuner.executor.execute(spec, (x, y), {"epochs": 1, "verbose": 0})
    trial_draws = list(_draws)
    _draws.clear()
    retrained = tuner.executor.retrain(
        kt.HyperParameters.from_config(spec.hyperparameters), spec.seed, x, y, epochs=1, verbose=0
    )

    assert result.status == "COMPLETED" and len(result.executions) == 2
    assert len(retrained) == 2
    assert _draws == trial_draws
    assert trial_draws[0] != trial_draws[1]  # seed and seed + 1
    np.random.seed(spec.seed)
    assert trial_draws[0] == int(np.random.randint(2**30))


def test_the_builder_applies_the_compile_overrides_and_the_size_limit(directory):
    import keras

    tuner = _tuner(
        directory,
        metrics=["mae"],
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        max_model_size=1000,
    )
    hp = tuner.search_space()

    model = tuner.builder.build_checked(hp)

    assert model.get_compile_config()["metrics"] == ["mae"]
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert model.optimizer is not tuner.optimizer  # each model gets its own copy
    small = _tuner(directory, max_model_size=5)
    with pytest.raises(kt.FailedTrialError, match="Oversized model: .* max_model_size=5"):
        small.builder.build_checked(small.search_space())


def test_a_hypermodel_that_is_no_keras_model_is_a_clear_error(directory):
    tuner = _tuner(directory, hypermodel=lambda hp: "not a model")

    with pytest.raises(kt.FatalTypeError, match="must return a keras.Model, got str"):
        tuner.search_space()
