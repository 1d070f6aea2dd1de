"""A trial saves its progress as it trains, continues from it, and stops once pruned."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

import tuning as kt
from tests.tuning import tiny_keras
from tests.tuning.tiny_keras import tiny_data
from tuning import heap
from tuning.checkpoints import PROGRESS_FOLDER, CheckpointPolicy

_projects = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _thaw_heap():
    yield
    heap.thaw()


def build_classifier(hp):
    """The tiny classifier without metrics: a trial's curves hold its loss alone."""
    return tiny_keras.build_classifier(hp, metrics=())


class _Died(BaseException):
    """Stands for the search's process dying: nothing of the executor's catches it."""


_trained: list[tuple[int, int]] = []  # (fit, epoch); module-level: callbacks are deep-copied


def _epochs(die_at: tuple[int, int] | None = None):
    """A Keras callback that notes each (fit, epoch) it trains in ``_trained``, dying at one."""
    import keras

    class Epochs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.fit = len({f for f, _ in _trained})

        def on_epoch_begin(self, epoch, logs=None):
            if (self.fit, epoch) == die_at:
                raise _Died
            _trained.append((self.fit, epoch))

    return Epochs()


def _tuner(directory: Path, project: str, **kwargs) -> kt.Tuner:
    return kt.RandomSearch(
        build_classifier,
        objective="val_loss",
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


FIT = {"epochs": 3, "shuffle": False, "verbose": 0, "validation_data": tiny_data()}


def test_a_trial_interrupted_in_its_second_execution_continues_there_in_its_run(directory):
    project = f"resumed-{next(_projects)}"
    x, y = tiny_data()
    _trained.clear()
    tuner = _tuner(directory, project, executions_per_trial=2, checkpoint_every=1)
    spec = _sampled(tuner, overwrite=True)
    with pytest.raises(_Died):
        tuner.executor.execute(spec, (x, y), {**FIT, "callbacks": [_epochs(die_at=(1, 2))]})
    assert _trained == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]

    _trained.clear()
    resumed = _tuner(directory, project, executions_per_trial=2, checkpoint_every=1)
    again = _sampled(resumed, overwrite=False)
    result = resumed.executor.execute(again, (x, y), {**FIT, "callbacks": [_epochs()]})

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
    # The progress is gone once the trial ended; the best weights, of either execution, stay.
    assert not client.list_artifacts(spec.run_id, PROGRESS_FOLDER)
    best = resumed.load_model(resumed.oracle.trials[spec.trial_id])
    best_loss = min(min(e["metrics"]["val_loss"]) for e in result.executions)
    assert best.evaluate(x, y, verbose=0) == pytest.approx(best_loss, rel=1e-5)


class _StopsAtOnce(kt.MedianStoppingRule):
    """Prunes every trial at its first epoch."""

    def should_stop(self, curve, reference, direction):
        return bool(curve)


def test_once_an_execution_is_pruned_the_others_are_not_trained(directory):
    _trained.clear()
    tuner = _tuner(
        directory, f"pruned-{next(_projects)}", executions_per_trial=3, pruning=_StopsAtOnce()
    )
    spec = _sampled(tuner, overwrite=True)
    x, y = tiny_data()

    result = tuner.executor.execute(spec, (x, y), {**FIT, "callbacks": [_epochs()]})

    assert result.status == "STOPPED"
    assert _trained == [(0, 0)]
    assert len(result.executions) == 1


@pytest.mark.parametrize("every", [0, -1, 1.5, "often", True])
def test_checkpoint_every_is_checked_before_any_trial(tmp_path, every):
    with pytest.raises(ValueError, match="checkpoint_every"):
        _tuner(tmp_path, "checked", checkpoint_every=every)


@pytest.mark.parametrize("keep", [0, -2, 1.5, "2", True])
def test_max_checkpoints_is_checked_before_any_trial(tmp_path, keep):
    with pytest.raises(ValueError, match="max_checkpoints must be a positive integer"):
        _tuner(tmp_path, "checked", max_checkpoints=keep)


def test_a_policy_saves_every_n_epochs_or_never():
    every_two = CheckpointPolicy(2)
    assert [every_two.due(epoch) for epoch in range(5)] == [False, True, False, True, False]
    assert not any(CheckpointPolicy(None).due(epoch) for epoch in range(5))


def test_the_automatic_policy_keeps_saving_within_its_share_of_the_time(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("tuning.checkpoints.time.monotonic", lambda: now[0])
    policy = CheckpointPolicy("auto")
    now[0] = 101.0
    assert policy.due(0)  # the first epoch's end always saves
    policy.saved(0.5)
    now[0] = 110.0  # 10 s in: 0.5 s spent, one more would make 1 s, over 4 %
    assert not policy.due(1)
    now[0] = 125.0  # 25 s in: 1 s is 4 %
    assert policy.due(2)


def test_the_last_epoch_of_the_last_execution_saves_no_progress(directory, monkeypatch):
    # The trial ends right after it and discards its progress: the save would be wasted.
    from tuning.recorder import TrialRecorder

    saved: list[tuple[int, int]] = []
    monkeypatch.setattr(
        TrialRecorder, "_save_progress", lambda self, model, e, x: saved.append((x, e))
    )
    tuner = _tuner(directory, f"last-{next(_projects)}", executions_per_trial=2, checkpoint_every=1)
    result = tuner.executor.execute(_sampled(tuner, overwrite=True), tiny_data(), FIT)

    assert result.status == "COMPLETED", result.message
    assert saved == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
