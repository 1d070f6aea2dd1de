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
from tests.store_copies import copy_store

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.py"
PROJECT = "retrain-digits"


def load_noisy() -> Any:
    """The digits splits with the training labels shuffled: a model that learns nothing useful."""
    (x_train, y_train), (x_val, y_val), test = load_object(f"{DIGITS}:load")()
    rng = np.random.default_rng(0)
    return (x_train, rng.permutation(y_train)), (x_val, rng.permutation(y_val)), test


def finished_search(directory: Path, **fields: Any) -> dict[str, Any]:
    """A search of two two-epoch trials on digits, run to its end from a spec."""
    spec = SearchSpec(
        data=f"{DIGITS}:load",
        tuner="RandomSearch",
        max_trials=2,
        epochs=2,
        directory=str(directory),
        verbose=0,
        **fields,
    )
    summary = search_spec_flow(spec)
    assert summary["completed"] == 2
    return {**summary, "spec": spec, "directory": str(directory)}


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory, template_dir: Path) -> dict[str, Any]:
    """One finished search."""
    return finished_search(
        copy_store(template_dir, tmp_path_factory.mktemp("retrain")),
        project_name=PROJECT,
        hypermodel=f"{DIGITS}:build_model",
        seed=4,
    )


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


# The tuner's arguments reach the retrained model -----------------------------------------

OVERRIDES = "retrain-overrides"


def build_without_metrics(hp):
    """A digits classifier compiled without metrics: the tuner's ``metrics=`` adds accuracy."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hp.Int("units", 8, 16, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def override_search(tmp_path_factory: pytest.TempPathFactory, template_dir: Path) -> dict[str, Any]:
    """A finished search whose tuner overrides the metrics, caps the size, trains twice a trial."""
    return finished_search(
        copy_store(template_dir, tmp_path_factory.mktemp("overrides")),
        project_name=OVERRIDES,
        hypermodel=f"{__name__}:build_without_metrics",
        objective="val_accuracy",
        seed=7,
        executions_per_trial=2,
        tuner_args={"metrics": ["accuracy"], "max_model_size": 5000},
    )


def test_retrain_builds_what_the_trial_built(override_search):
    from mlflow.keras import load_model

    from tuning.search_engine import trial_seed

    result = retrain_flow(project_name=OVERRIDES, directory=override_search["directory"])
    client = MlflowClient(tracking_uri=override_search["tracking_uri"])
    run = client.get_run(result["run_id"])

    # Compile override: the objective is measured on the test split, not replaced by the loss.
    assert result["metric"] == "accuracy" and "test_accuracy" in run.data.metrics
    # executions_per_trial: two models trained, their mean reported beside the registered one.
    assert result["executions"] == 2 and "test_accuracy_mean" in run.data.metrics
    # The trial's own seed, derived as the search derived it.
    best_id = override_search["best_trial_id"]
    assert run.data.params["seed"] == str(trial_seed(7, best_id, 0))
    # The trial's architecture and compile settings.
    version = client.get_model_version(OVERRIDES, result["version"])
    model = load_model(version.source)
    assert model.layers[0].units == override_search["best_values"]["units"]
    assert model.get_compile_config()["metrics"] == ["accuracy"]


def test_retrain_honours_max_model_size(override_search):
    import tuning as kt

    tiny = override_search["spec"].model_copy(
        update={"tuner_args": {"metrics": ["accuracy"], "max_model_size": 100}}
    )
    with pytest.raises(kt.FailedTrialError, match="Oversized model"):
        retrain_flow(project_name=OVERRIDES, directory=override_search["directory"], spec=tiny)


def test_retrain_refuses_an_objective_the_test_split_cannot_measure(override_search):
    without = override_search["spec"].model_copy(update={"tuner_args": {}})
    client = MlflowClient(tracking_uri=override_search["tracking_uri"])
    runs_before = len(client.search_runs([client.get_experiment_by_name(OVERRIDES).experiment_id]))

    refusal = "'val_accuracy' is measured on the test split as 'accuracy'"
    with pytest.raises(ValueError, match=refusal):
        retrain_flow(project_name=OVERRIDES, directory=override_search["directory"], spec=without)

    runs_after = len(client.search_runs([client.get_experiment_by_name(OVERRIDES).experiment_id]))
    assert runs_after == runs_before  # nothing logged, nothing registered


def test_retrain_picks_the_champion_from_the_pareto_front_by_the_spec_rule(tmp_path):
    from tuning.objective import create_objective
    from tuning.pareto import ChampionRule, choose_from_front
    from tuning.store import TrialStore
    from tuning.trial import Trial

    spec = SearchSpec(
        project_name="retrain-pareto",
        hypermodel=f"{DIGITS}:build_model",
        data=f"{DIGITS}:load",
        tuner="BayesianOptimization",
        tuner_args={"multi_objective": "pareto", "num_initial_points": 2},
        objective=["val_accuracy", "val_loss"],
        champion={"metric": "val_loss", "limits": {"val_accuracy": 0.2}},
        max_trials=3,
        epochs=1,
        directory=str(tmp_path),
        verbose=0,
        seed=3,
    )
    summary = search_spec_flow(spec)
    assert summary["completed"] == 3

    result = retrain_flow(project_name="retrain-pareto", directory=str(tmp_path))

    store = TrialStore("retrain-pareto", str(tmp_path))
    state = store.state.load(result["search_run_id"])
    trials = [Trial.from_state(t) for t in state["trials"]]
    objective = create_objective(state["config"]["objective"])
    rule = ChampionRule("val_loss", {"val_accuracy": 0.2})
    assert result["trial_id"] == choose_from_front(trials, objective, rule).trial_id
    assert (result["metric"], result["direction"]) == ("loss", "min")
