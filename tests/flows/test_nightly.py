"""The nightly flow: each night warm-started from the earlier nights' trials, then retrained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.nightly import earlier_trials, nightly_flow
from flows.spec import SearchSpec, build_tuner
from tests.store_copies import copy_store
from tuning.store import TrialStore

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits.py"
PROJECT = "nightly-digits"


def spec(directory: Path, **fields: Any) -> SearchSpec:
    options = {
        "project_name": PROJECT,
        "hypermodel": f"{DIGITS}:build_model",
        "data": f"{DIGITS}:load",
        "tuner": "RandomSearch",
        "max_trials": 3,
        "epochs": 1,
        "directory": str(directory),
        "seed": 7,
        "verbose": 0,
        **fields,
    }
    return SearchSpec(**options)


@pytest.fixture(scope="module")
def first_night(tmp_path_factory: pytest.TempPathFactory, template_dir: Path) -> dict[str, Any]:
    directory = copy_store(template_dir, tmp_path_factory.mktemp("nightly"))
    summary = nightly_flow(spec(directory))
    return {**summary, "directory": directory}


def state(directory: Path, run_id: str) -> dict[str, Any]:
    return TrialStore(PROJECT, directory).state.load(run_id)


def completed_values(night_state: dict[str, Any]) -> list[tuple[float, dict[str, Any]]]:
    """(score, values) of a night's completed trials, best (highest accuracy) first."""
    rows = [
        (t["score"], t["hyperparameters"]["values"])
        for t in night_state["trials"]
        if t["status"] == "COMPLETED"
    ]
    return sorted(rows, key=lambda row: -row[0])


def test_first_night_searches_cold_retrains_and_reports(first_night):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    assert first_night["warm_start_trials"] == 0 and first_night["warm_start_searches"] == []
    assert first_night["completed"] == 3
    retrained = first_night["retrain"]
    assert retrained["version"] == "1" and retrained["promoted"]
    assert retrained["search_run_id"] == first_night["search_run_id"]

    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nightly-digits-nightly"])),
            limit=1,
        )
    report = artifact.data
    assert "# Nightly search of nightly-digits" in report
    assert first_night["search_url"] in report and retrained["run_url"] in report
    assert "models:/nightly-digits@champion" in report


def test_second_night_first_tries_the_best_of_the_first(first_night):
    directory = first_night["directory"]

    second = nightly_flow(spec(directory, seed=8), warm_start_best_k=2, retrain=False)

    assert second["warm_start_searches"] == [first_night["search_run_id"]]
    assert second["warm_start_trials"] == 2
    assert second["retrain"] is None
    before = completed_values(state(directory, first_night["search_run_id"]))
    tonight = state(directory, second["search_run_id"])["trials"]
    for (_, best), trial in zip(before[:2], tonight[:2], strict=True):
        values = trial["hyperparameters"]["values"]
        assert {name: values.get(name) for name in best} == best
    assert len(tonight) == 3  # enqueued trials spend tonight's budget


def test_bayesian_night_models_every_earlier_completed_trial(first_night):
    directory = first_night["directory"]
    store = TrialStore(PROJECT, directory)
    earlier = [s["run_id"] for s in store.runs.searches()]
    expected = sum(len(completed_values(state(directory, run_id))) for run_id in earlier)

    night = nightly_flow(spec(directory, tuner="BayesianOptimization", max_trials=1), retrain=False)

    assert sorted(night["warm_start_searches"]) == sorted(earlier)
    assert night["warm_start_trials"] == expected
    tonight = state(directory, night["search_run_id"])
    assert len(tonight["prior_observations"]) == expected
    assert len(tonight["trials"]) == 1  # priors are not trials


def test_other_spaces_and_objectives_are_not_used(first_night):
    directory = first_night["directory"]
    other_space = build_tuner(
        spec(directory, hypermodel="tests.flows.helpers:build_dense", max_trials=1)
    )
    assert earlier_trials(other_space) == ([], [])
    other_objective = build_tuner(spec(directory, objective="val_loss"))
    assert earlier_trials(other_objective) == ([], [])
    same = build_tuner(spec(directory))
    trials, searches = earlier_trials(same, limit=1)
    assert len(searches) == 1 and len(trials) >= 1
