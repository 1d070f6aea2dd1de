"""Tests for ``TrialStore.log_sklearn_model`` and ``load_sklearn_model`` on a real SQLite store."""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from tuning.tracking import TrialStore  # noqa: E402

# MLflow 3.17's SQL store uses a SQLAlchemy loader that SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

X, Y = load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> TrialStore:
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    return TrialStore("sklearn-models", tmp_path_factory.mktemp("store"))


def _trial_run(store: TrialStore) -> str:
    search = store.start_search("SklearnTuner", {}, {})
    return store.start_trial(search, "00", {})


@pytest.mark.parametrize(
    "model",
    [
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        RandomForestClassifier(n_estimators=3, random_state=0),  # types skops does not trust
    ],
    ids=["pipeline", "forest"],
)
def test_logged_model_loads_back_by_run_id_and_by_uri(store, tmp_path, monkeypatch, model):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus

    monkeypatch.chdir(tmp_path)
    default_uri = mlflow.get_tracking_uri()
    model.fit(X, Y)
    run_id = _trial_run(store)

    uri = store.log_sklearn_model(run_id, model)

    assert uri.startswith("models:/m-")
    model_id = uri.removeprefix("models:/")
    client = MlflowClient(tracking_uri=store.tracking_uri)
    run = client.get_run(run_id)
    assert run.data.tags["hyperflow.model_uri"] == uri
    assert [o.model_id for o in run.outputs.model_outputs] == [model_id]
    logged = client.get_logged_model(model_id)
    assert (logged.experiment_id, logged.source_run_id) == (store.experiment_id, run_id)
    assert logged.status == LoggedModelStatus.READY
    folder = store.directory / "mlartifacts" / "models" / model_id / "artifacts"
    mlmodel = (folder / "MLmodel").read_text()
    assert "sklearn:" in mlmodel and "serialization_format: skops" in mlmodel
    assert not list(folder.glob("*.pkl"))
    assert "scikit-learn==" in (folder / "requirements.txt").read_text()

    for reference in (run_id, uri):
        loaded = store.load_sklearn_model(reference)
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # The store's own client did it all: MLflow's global state is untouched.
    assert mlflow.get_tracking_uri() == default_uri
    assert not os.listdir(tmp_path)


def test_loading_what_was_never_logged_names_the_problem(store):
    run_id = _trial_run(store)
    with pytest.raises(ValueError, match="has no model"):
        store.load_sklearn_model(run_id)
    with pytest.raises(ValueError, match="run_id_or_uri"):
        store.load_sklearn_model(f"runs:/{run_id}/model")


def test_a_model_that_cannot_be_saved_is_marked_failed(store, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus

    def broken(model):
        raise RuntimeError("cannot be saved")

    run_id = _trial_run(store)
    monkeypatch.setattr("tuning.tracking._sklearn_save_options", broken)
    with pytest.raises(RuntimeError, match="cannot be saved"):
        store.log_sklearn_model(run_id, LogisticRegression(max_iter=500).fit(X, Y))

    client = MlflowClient(tracking_uri=store.tracking_uri)
    assert "hyperflow.model_uri" not in client.get_run(run_id).data.tags
    [logged] = client.search_logged_models(
        experiment_ids=[store.experiment_id], filter_string=f"source_run_id = '{run_id}'"
    )
    assert logged.status == LoggedModelStatus.FAILED
