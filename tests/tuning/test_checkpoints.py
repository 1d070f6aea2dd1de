"""A trial saves its progress as it trains, continues from it, and stops once pruned."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

import tuning as kt
from tuning import heap
from tuning.checkpoints import PROGRESS_FOLDER, CheckpointPolicy

_projects = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _thaw_heap():
    yield
    heap.thaw()


def _data(n: int = 48):
    rng = np.random.default_rng(0)
    x = rng.random((n, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int64")
    return x, y


def build_classifier(hp):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(hp.Int("units", 2, 4, step=2), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


class _Died(BaseException):
    """Stands for the search's process dying: nothing of the executor's catches it."""


_trained: list[tuple[int, int]] = []  # (fit, epoch); module-level: callbacks are deep-copied


class _Epochs:
    """A Keras callback that notes each epoch it trains, and dies at one of them."""

    def __new__(cls, die_at: tuple[int, int] | None = None):
        import keras

        class Callback(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.fit = len({f for f, _ in _trained})

            def on_epoch_begin(self, epoch, logs=None):
                if (self.fit, epoch) == die_at:
                    raise _Died
                _trained.append((self.fit, epoch))

        return Callback()


def _tuner(directory: Path, project: str, **kwargs) -> kt.Tuner:
    return kt.RandomSearch(
        build_classifier,
        objective="loss",
        max_trials=1,
        seed=2,
        directory=directory,
        project_name=project,
        **kwargs,
    )


def _sampled(tuner: kt.Tuner, overwrite: bool):
    tuner.search_space()
    tuner.engine.open(type(tuner).__name__, {}, overwrite=overwrite)
    spec = tuner.engine.sample("0")
    tuner.engine.flush()
    return spec


FIT = {"epochs": 3, "shuffle": False, "verbose": 0}


def test_a_trial_interrupted_in_its_second_execution_continues_there_in_its_run(directory):
    project = f"resumed-{next(_projects)}"
    x, y = _data()
    _trained.clear()
    tuner = _tuner(directory, project, executions_per_trial=2, checkpoint_every=1)
    spec = _sampled(tuner, overwrite=True)
    with pytest.raises(_Died):
        tuner.executor.execute(spec, (x, y), {**FIT, "callbacks": [_Epochs(die_at=(1, 2))]})
    assert _trained == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]

    _trained.clear()
    resumed = _tuner(directory, project, executions_per_trial=2, checkpoint_every=1)
    again = _sampled(resumed, overwrite=False)
    result = resumed.executor.execute(again, (x, y), {**FIT, "callbacks": [_Epochs()]})

    assert again.run_id == spec.run_id and again.seed == spec.seed
    assert (again.resume["execution"], again.resume["epoch"]) == (1, 1)
    assert _trained == [(0, 2)]  # execution 1's last epoch, nothing else
    assert result.status == "COMPLETED", result.message
    assert [e["steps"] for e in result.executions] == [[0, 1, 2], [0, 1, 2]]
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    for execution in (0, 1):
        history = client.get_metric_history(spec.run_id, f"execution_{execution}/loss")
        assert sorted(m.step for m in history) == [0, 1, 2]
    # Weights and optimizer state came back: the curves are those of a trial never stopped.
    whole = _tuner(directory, f"whole-{next(_projects)}", executions_per_trial=2)
    unbroken = whole.executor.execute(_sampled(whole, overwrite=True), (x, y), FIT)
    for got, want in zip(result.executions, unbroken.executions, strict=True):
        np.testing.assert_allclose(got["metrics"]["loss"], want["metrics"]["loss"], rtol=1e-5)
    # The progress is gone once the trial ended; its best weights stay.
    assert not client.list_artifacts(spec.run_id, PROGRESS_FOLDER)
