"""The retrain flow: the best trial retrained, logged (Keras flavor), registered, champion moved."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient

from flows.retrain import retrain_flow
from flows.spec import SearchSpec, load_object, search_spec_flow

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.py"
PROJECT = "retrain-digits"


def load_noisy() -> Any:
    """The digits splits with the training labels shuffled: a model that learns nothing useful."""
    (x_train, y_train), (x_val, y_val), test = load_object(f"{DIGITS}:load")()
    rng = np.random.default_rng(0)
    return (x_train, rng.permutation(y_train)), (x_val, rng.permutation(y_val)), test


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One finished search of two one-epoch trials."""
    directory = tmp_path_factory.mktemp("retrain")
    spec = SearchSpec(
        project_name=PROJECT,
        hypermodel=f"{DIGITS}:build_model",
        data=f"{DIGITS}:load",
        tuner="RandomSearch",
        max_trials=2,
        epochs=2,
        directory=str(directory),
        seed=4,
        verbose=0,
    )
    summary = search_spec_flow(spec)
    assert summary["completed"] == 2
    return {**summary, "spec": spec, "directory": str(directory)}


@contextlib.contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """``mlflow.set_tracking_uri(uri)`` for the block; it also sets ``MLFLOW_TRACKING_URI``."""
    import mlflow

    saved = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(None)  # unsets the variable too
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def noisy(search: dict[str, Any]) -> SearchSpec:
    return search["spec"].model_copy(update={"data": f"{__name__}:load_noisy"})


def test_champion_moves_only_to_a_better_version(search):
    directory = search["directory"]
    client = MlflowClient(tracking_uri=search["tracking_uri"])

    # 1. The first version becomes champion, however poor (trained on shuffled labels).
    first = retrain_flow(project_name=PROJECT, directory=directory, spec=noisy(search))
    assert (first["version"], first["promoted"], first["champion_version"]) == ("1", True, "1")
    assert first["previous_champion_version"] is None
    assert first["metric"] == "accuracy" and first["score"] < 0.5

    # 2. The real data beat it on the same held-out data: champion moves.
    second = retrain_flow(project_name=PROJECT, directory=directory)
    assert (second["version"], second["promoted"]) == ("2", True)
    assert second["score"] > 0.7 and second["previous_champion_score"] == pytest.approx(
        first["score"], abs=1e-6
    )
    assert str(client.get_model_version_by_alias(PROJECT, "champion").version) == "2"

    # 3. A worse version is registered but leaves the champion where it is.
    third = retrain_flow(project_name=PROJECT, directory=directory, spec=noisy(search))
    assert (third["version"], third["promoted"], third["champion_version"]) == ("3", False, "2")
    assert third["previous_champion_score"] == pytest.approx(second["score"], abs=1e-6)
    assert str(client.get_model_version_by_alias(PROJECT, "champion").version) == "2"
    versions = client.search_model_versions(f"name = '{PROJECT}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2", "3"]


def test_retrain_run_is_linked_to_the_search_and_logs_a_keras_model(search):
    import mlflow
    import mlflow.keras

    result = retrain_flow(project_name=PROJECT, directory=search["directory"])
    client = MlflowClient(tracking_uri=search["tracking_uri"])
    run = client.get_run(result["run_id"])

    assert run.info.status == "FINISHED"
    assert run.data.tags["hyperflow.kind"] == "retrain"
    assert run.data.tags["hyperflow.search_run_id"] == search["search_run_id"]
    assert run.data.tags["hyperflow.trial_id"] == search["best_trial_id"]
    best = search["best_values"]
    assert {k: run.data.params[k] for k in best} == {k: str(v) for k, v in best.items()}
    epochs = int(run.data.params["epochs"])
    assert 1 <= epochs <= search["spec"].epochs
    assert len(client.get_metric_history(run.info.run_id, "loss")) == epochs
    assert run.data.metrics["test_accuracy"] == pytest.approx(result["score"])
    version = client.get_model_version(PROJECT, result["version"])
    assert version.run_id == run.info.run_id
    assert version.tags["test_accuracy"] == str(result["score"])

    logged = client.get_logged_model(result["model_uri"].removeprefix("models:/"))
    assert logged.source_run_id == run.info.run_id
    assert json.loads(logged.tags["mlflow.modelVersions"]) == [
        {"name": PROJECT, "version": result["version"]}
    ]
    from mlflow.models import get_model_info

    with global_tracking_uri(search["tracking_uri"]):  # what the README tells users to do
        info = get_model_info(result["model_uri"])
        assert "keras" in info.flavors
        assert info.signature is not None and info.signature.inputs.to_dict()[0]["type"] == "tensor"
        model = mlflow.keras.load_model(f"models:/{PROJECT}@champion")
    x_test, y_test = load_object(f"{DIGITS}:load")()[2]
    assert model.predict(x_test[:3], verbose=0).shape == (3, 10)
    champion = client.get_model_version_by_alias(PROJECT, "champion")
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert float(client.get_model_version(PROJECT, champion.version).tags["test_accuracy"]) == (
        pytest.approx(accuracy, abs=1e-6)
    )


def test_a_search_can_be_named_by_its_run_id_alone(search):
    result = retrain_flow(
        search_run_id=search["search_run_id"], directory=search["directory"], spec=noisy(search)
    )
    assert result["project_name"] == PROJECT
    assert result["search_run_id"] == search["search_run_id"]


def test_clear_errors_without_a_search_or_a_spec(search, tmp_path):
    with pytest.raises(ValueError, match="no finished search"):
        retrain_flow(project_name="nothing-here", directory=str(tmp_path))
    with pytest.raises(ValueError, match="project_name or search_run_id"):
        retrain_flow(directory=str(tmp_path))
    with pytest.raises(Exception, match="data") as raised:  # Prefect validates the parameter
        retrain_flow(
            project_name=PROJECT,
            directory=search["directory"],
            spec={**search["spec"].model_dump(), "data": f"{DIGITS}:nothing"},
        )
    assert "has no attribute 'nothing'" in str(raised.value)
