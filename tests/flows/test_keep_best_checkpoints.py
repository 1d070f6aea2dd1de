"""max_checkpoints keeps the weights of the best k trials only, in a real search."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

import tuning as kt
from tests.flows.helpers import build_dense, digits
from tuning.executor import WEIGHTS_ARTIFACT

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")


def test_max_checkpoints_leaves_the_weights_of_the_best_two_of_four(tmp_path):
    (x, y), validation = digits(160)
    tuner = kt.RandomSearch(
        build_dense,
        objective="val_accuracy",
        max_trials=4,
        seed=3,
        directory=str(tmp_path),
        project_name="kept",
        max_checkpoints=2,
    )

    tuner.search(x, y, epochs=2, validation_data=validation, verbose=0)

    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    with_weights = {
        trial_id
        for trial_id, run_id in tuner.trial_run_ids.items()
        if tuner.store.connection.has_artifact(run_id, WEIGHTS_ARTIFACT)
    }
    best = [t.trial_id for t in tuner.oracle.get_best_trials(2)]
    assert len(tuner.oracle.trials) == 4
    assert with_weights == set(best)  # two of the four lost theirs
    for run_id in tuner.trial_run_ids.values():  # every trial keeps its record and curves
        assert client.get_metric_history(run_id, "val_accuracy")
        assert tuner.store.connection.has_artifact(run_id, "trial.json")
    assert len(tuner.get_best_models(2)) == 2
    reopened = kt.RandomSearch(
        build_dense, objective="val_accuracy", directory=str(tmp_path), project_name="kept"
    )
    (model,) = reopened.get_best_models(1)
    assert model.evaluate(*validation, verbose=0, return_dict=True)["accuracy"] == pytest.approx(
        tuner.oracle.get_best_trials(1)[0].metrics.get_best_value("val_accuracy")
    )
