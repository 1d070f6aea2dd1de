"""The model store's contract: log, load, register and alias Keras and scikit-learn models."""

from __future__ import annotations

import json
import os
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tuning.store import TrialStore

X, Y = load_iris(return_X_y=True)
VERSIONS_TAG = "mlflow.modelVersions"


def _trial_run(store: TrialStore) -> str:
    search = store.runs.start_search("SklearnTuner", {}, {})
    return store.trials.start_trial(search, "00", {})


def _model_files(store: TrialStore, model_id: str, dst: Path) -> Path:
    """A local copy of a logged model's files, fetched as any client would."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    location = store.connection.call("get_logged_model", model_id).artifact_location
    repo = get_artifact_repository(location, tracking_uri=store.tracking_uri)
    dst.mkdir()
    return Path(repo.download_artifacts("", str(dst)))


def _check_logged(store: TrialStore, run_id: str, uri: str) -> str:
    """Checks what every logged model is: READY, the run's output, named by the run's tag."""
    from mlflow.entities import LoggedModelStatus

    assert uri.startswith("models:/m-")
    model_id = uri.removeprefix("models:/")
    run = store.connection.call("get_run", run_id)
    assert run.data.tags["hyperflow.model_uri"] == uri
    assert [o.model_id for o in run.outputs.model_outputs] == [model_id]
    logged = store.connection.call("get_logged_model", model_id)
    assert (logged.experiment_id, logged.source_run_id) == (store.experiment_id, run_id)
    assert logged.status == LoggedModelStatus.READY
    return model_id


@pytest.mark.parametrize(
    "model",
    [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        RandomForestClassifier(n_estimators=3, random_state=0),  # types skops does not trust
    ],
    ids=["pipeline", "forest"],
)
def test_sklearn_model_loads_back_by_run_id_and_by_uri(
    store, backend, tmp_path, monkeypatch, model
):
    import mlflow

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    default_uri = mlflow.get_tracking_uri()
    model.fit(X, Y)
    run_id = _trial_run(store)

    uri = store.models.log_model(run_id, model, "sklearn")

    model_id = _check_logged(store, run_id, uri)
    folder = _model_files(store, model_id, tmp_path / "files")
    mlmodel = (folder / "MLmodel").read_text()
    assert "sklearn:" in mlmodel and "serialization_format: skops" in mlmodel
    assert "signature:" not in mlmodel  # no input example, no signature
    assert not list(folder.glob("*.pkl"))
    assert "scikit-learn==" in (folder / "requirements.txt").read_text()
    if not backend.is_server:  # in the experiment's artifact location, under the project
        local = backend.directory / "mlartifacts" / "models" / model_id / "artifacts"
        assert (local / "MLmodel").read_text() == mlmodel

    for reference in (run_id, uri):
        loaded = store.models.load_model(reference, "sklearn")
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # The store's own client did it all: MLflow's global state is untouched.
    assert mlflow.get_tracking_uri() == default_uri
    assert os.listdir(cwd) == []


def test_loading_what_was_never_logged_names_the_problem(store):
    run_id = _trial_run(store)
    with pytest.raises(ValueError, match="has no model"):
        store.models.load_model(run_id, "sklearn")
    with pytest.raises(ValueError, match="models:/ URI"):
        store.models.load_model(f"runs:/{run_id}/model", "sklearn")
    with pytest.raises(ValueError, match="flavor"):
        store.models.load_model(run_id, "torch")
    with pytest.raises(ValueError, match="flavor"):
        store.models.log_model(run_id, LogisticRegression(), "torch")
    assert "hyperflow.model_uri" not in store.connection.call("get_run", run_id).data.tags


def test_a_model_that_cannot_be_saved_is_marked_failed(store, monkeypatch):
    from mlflow.entities import LoggedModelStatus

    def broken(model):
        raise RuntimeError("cannot be saved")

    run_id = _trial_run(store)
    monkeypatch.setattr("tuning.store.models._sklearn_save_options", broken)
    with pytest.raises(RuntimeError, match="cannot be saved"):
        store.models.log_model(run_id, LogisticRegression(max_iter=500).fit(X, Y), "sklearn")

    assert "hyperflow.model_uri" not in store.connection.call("get_run", run_id).data.tags
    [logged] = store.connection.call(
        "search_logged_models",
        experiment_ids=[store.experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
    )
    assert logged.status == LoggedModelStatus.FAILED


def test_keras_model_with_signature_is_registered_aliased_and_loaded(store, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    x = X[:8].astype("float32")
    expected = model.predict(x, verbose=0)
    run_id = store.runs.start_run("retrain-00", "retrain")

    uri = store.models.log_model(run_id, model, "keras", input_example=x[:5], name="best")

    model_id = _check_logged(store, run_id, uri)
    assert store.connection.call("get_logged_model", model_id).name == "best"
    folder = _model_files(store, model_id, tmp_path / "files")
    mlmodel = (folder / "MLmodel").read_text()
    assert "keras:" in mlmodel and "signature:" in mlmodel and "-1, 4" in mlmodel
    requirements = (folder / "requirements.txt").read_text().split()
    assert f"keras=={version('keras')}" in requirements
    assert f"tensorflow=={version('tensorflow')}" in requirements
    for reference in (run_id, uri):
        loaded = store.models.load_model(reference, "keras")
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)

    name = store.project_name
    assert store.models.version(name) is None  # no registered model yet
    assert store.models.register(name, uri, run_id, tags={"test_accuracy": 0.5}) == "1"
    assert store.models.version(name) is None  # registered, but no champion yet
    store.models.set_alias(name, "champion", "1")
    assert store.models.version(name) == {
        "version": "1",
        "model_uri": f"models:/{name}/1",
        "run_id": run_id,
        "tags": {"test_accuracy": "0.5"},
    }
    for reference in (f"models:/{name}/1", f"models:/{name}@champion"):
        loaded = store.models.load_model(reference, "keras")
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)

    assert store.models.register(name, uri, run_id, tags={"test_accuracy": 0.7}) == "2"
    store.models.set_alias(name, "champion", 2)
    assert store.models.version(name)["tags"] == {"test_accuracy": "0.7"}
    assert store.models.version(name, "challenger") is None
    # The logged model lists each of its versions once (a server writes them itself).
    listed = json.loads(store.connection.call("get_logged_model", model_id).tags[VERSIONS_TAG])
    assert [(v["name"], str(v["version"])) for v in listed] == [(name, "1"), (name, "2")]
