"""Pruning inside real searches: a trial sees trials that complete while it trains; NaN stops it."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import tuning as kt

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")

EPOCHS = 10


class _Paced(kt.HyperModel):
    """A linear model: "good" learns; "bad" learns nothing, slowly; "nan" diverges at epoch 2."""

    def build(self, hp):
        import keras

        mode = hp.Choice("mode", ["good", "bad", "nan"])
        model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.0 if mode == "bad" else 0.05), "mse")
        return model

    def fit(self, hp, model, *args, callbacks=(), **kwargs):
        import keras

        mode = hp.get("mode")

        def on_epoch_end(epoch, logs):
            if mode == "bad":
                time.sleep(0.5)
            if mode == "nan" and epoch >= 2:
                logs["loss"] = math.nan  # seen by the trial's own callback, which comes after

        paced = keras.callbacks.LambdaCallback(on_epoch_end=on_epoch_end)
        return model.fit(*args, callbacks=[paced, *callbacks], **kwargs)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (3.0 * x.sum(axis=1, keepdims=True) + 5.0).astype("float32")


def _loss_steps(tuner, trial_id: str) -> int:
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    return len(client.get_metric_history(tuner.trial_run_ids[trial_id], "loss"))


def test_a_trial_is_pruned_by_a_trial_that_completed_while_it_trained(tmp_path):
    tuner = kt.RandomSearch(
        _Paced(),
        objective="loss",
        max_trials=2,
        directory=tmp_path,
        max_concurrent_trials=2,
        isolation="worker",
        pruning=kt.MedianStoppingRule(min_trials=1, warmup_steps=1),
    )
    for mode in ("bad", "good"):  # both start before either has completed
        tuner.oracle.enqueue_trial({"mode": mode})
    tuner.search(*_data(), epochs=EPOCHS, batch_size=8, verbose=0)

    bad, good = tuner.oracle.trials["00"], tuner.oracle.trials["01"]
    assert good.status == kt.TrialStatus.COMPLETED
    assert bad.status == kt.TrialStatus.STOPPED
    assert _loss_steps(tuner, "00") < EPOCHS


def test_a_trial_whose_objective_becomes_nan_is_stopped(tmp_path):
    tuner = kt.RandomSearch(
        _Paced(),
        objective="loss",
        max_trials=1,
        directory=tmp_path,
        pruning=kt.MedianStoppingRule(min_trials=5, warmup_steps=1),  # no median to compare with
    )
    tuner.oracle.enqueue_trial({"mode": "nan"})
    tuner.search(*_data(), epochs=EPOCHS, batch_size=8, verbose=0)

    [trial] = tuner.oracle.trials.values()
    assert trial.status == kt.TrialStatus.STOPPED
    assert _loss_steps(tuner, "00") == 3  # epochs 0 and 1, then the NaN one
