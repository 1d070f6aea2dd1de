"""The run store's contract: searches, trials, metrics, statuses and queries, on every backend."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest

from tests.tuning.store.helpers import artifact_names, make_record
from tuning.trial import Trial, TrialStatus


def test_search_with_three_trials(store, backend, tmp_path):
    runs, connection = store.runs, store.connection
    long_value = "x" * 7000
    search = runs.start_search(
        "RandomSearch",
        {"tuner": {"epochs": 3, "note": long_value}, "max_trials": 3, "lr@scale": [1, 2]},
        {"space": [{"class_name": "Int", "config": {"name": "units"}}]},
    )

    run = connection.call("get_run", search)
    assert run.info.run_name == "RandomSearch-search"
    assert run.info.status == "RUNNING"
    assert run.data.tags["hyperflow.kind"] == "search"
    assert run.data.tags["hyperflow.project"] == store.project_name
    assert run.data.tags["hyperflow.tuner"] == "RandomSearch"
    assert run.data.params["tuner/epochs"] == "3"
    assert run.data.params["max_trials"] == "3"
    assert run.data.params["lr_scale"] == "[1, 2]"  # key made MLflow-safe
    assert run.data.params["tuner/note"] == long_value[:6000]  # truncated to MLflow's limit
    space_file = connection.download(search, "search_space.json", str(tmp_path))
    assert json.loads(Path(space_file).read_text())["space"][0]["config"]["name"] == "units"

    # Trial 00 completes, 01 fails on its retry, 02 is stopped early.
    trials = {
        "00": store.trials.start_trial(search, "00", {"units": 8, "tuner/epochs": 3}),
        "01": store.trials.start_trial(search, "01", {"units": 16}, attempt=1),
        "02": store.trials.start_trial(search, "02", {"units": 32}),
    }
    for step in range(3):
        runs.log_metrics(
            trials["00"], {"loss": 1.0 - 0.1 * step, "val_loss": 0.9 - step / 10}, step
        )
    runs.log_metrics(trials["02"], {"loss": float("nan"), "skipped": "not a number"}, 0)

    child = connection.call("get_run", trials["01"])
    assert child.info.run_name == "trial-01-retry1"
    assert child.data.tags["mlflow.parentRunId"] == search
    assert child.data.tags["hyperflow.kind"] == "trial"
    assert child.data.tags["hyperflow.project"] == store.project_name
    assert child.data.tags["hyperflow.trial_id"] == "01"
    assert child.data.tags["hyperflow.attempt"] == "1"
    assert child.data.tags["hyperflow.status"] == "RUNNING"
    assert child.data.params == {"units": "16"}
    first = connection.call("get_run", trials["00"])
    assert first.info.run_name == "trial-00"
    assert first.data.params == {"units": "8", "tuner/epochs": "3"}
    history = connection.call("get_metric_history", trials["00"], "val_loss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(0, 0.9), (1, 0.8), (2, 0.7)]
    nan_loss = connection.call("get_metric_history", trials["02"], "loss")
    assert math.isnan(nan_loss[0].value)  # NaN is kept
    assert "skipped" not in connection.call("get_run", trials["02"]).data.metrics

    weights = tmp_path / "best.weights.h5"
    weights.write_bytes(b"\x00weights")
    uri = connection.log_file(trials["00"], weights, "checkpoints")
    assert uri == f"{connection.artifact_uri(trials['00'])}/checkpoints/best.weights.h5"
    assert uri.endswith(f"{trials['00']}/artifacts/checkpoints/best.weights.h5")
    assert connection.has_artifact(trials["00"], "checkpoints/best.weights.h5")
    assert not connection.has_artifact(trials["00"], "checkpoints/other.h5")
    fetched = connection.download(trials["00"], "checkpoints/best.weights.h5", str(tmp_path / "w"))
    assert Path(fetched).read_bytes() == b"\x00weights"
    if not backend.is_server:  # a local store's URI is the file itself
        assert Path(uri.removeprefix("file://")).read_bytes() == b"\x00weights"

    traceback_text = "Traceback (most recent call last):\n" + "  line\n" * 200 + "ValueError: boom"
    store.trials.end_trial(
        trials["00"], make_record("00", 8, 0.8, "COMPLETED"), TrialStatus.COMPLETED, 0.8, 12.5
    )
    store.trials.end_trial(
        trials["01"],
        make_record("01", 16, None, "FAILED"),
        "FAILED",
        None,
        duration_s=1.0,
        error=traceback_text,
    )
    store.trials.end_trial(
        trials["02"], make_record("02", 32, None, "STOPPED"), "stopped", float("nan"), 2.0
    )

    completed, failed, stopped = (connection.call("get_run", trials[t]) for t in ("00", "01", "02"))
    assert completed.info.status == "FINISHED"
    assert completed.data.tags["hyperflow.status"] == "COMPLETED"
    assert completed.data.metrics["score"] == 0.8
    assert connection.call("get_metric_history", trials["00"], "score")[0].step == 1  # best step
    assert completed.data.metrics["duration_s"] == 12.5
    assert "hyperflow.error" not in completed.data.tags
    assert "error.txt" not in artifact_names(store, trials["00"])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["hyperflow.status"] == "FAILED"
    assert failed.data.tags["hyperflow.error"] == traceback_text[:500]
    assert "score" not in failed.data.metrics
    error_file = connection.download(trials["01"], "error.txt", str(tmp_path / "err"))
    assert Path(error_file).read_text() == traceback_text
    assert stopped.info.status == "FINISHED"
    assert stopped.data.tags["hyperflow.status"] == "STOPPED"
    assert "score" not in stopped.data.metrics  # NaN score is not logged

    record = store.trials.finished_trial_record(trials["00"])
    assert record == make_record("00", 8, 0.8, "COMPLETED")
    assert Trial.from_state(record).score == 0.8

    rows = store.trials.trial_runs(search)
    assert [(r["trial_id"], r["attempt"], r["status"], r["score"]) for r in rows] == [
        ("00", 0, "COMPLETED", 0.8),
        ("01", 1, "FAILED", None),
        ("02", 0, "STOPPED", None),
    ]
    assert [r["run_id"] for r in rows] == [trials["00"], trials["01"], trials["02"]]
    assert [r["run_status"] for r in rows] == ["FINISHED", "FAILED", "FINISHED"]
    assert all(isinstance(r["start_time"], int) and r["end_time"] for r in rows)

    leaderboard = [{"trial_id": "00", "score": 0.8, "values": {"units": 8}}]
    runs.end_search(search, "FINISHED", 0.8, "00", leaderboard)
    run = connection.call("get_run", search)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["best_score"] == 0.8
    assert run.data.tags["hyperflow.best_trial_id"] == "00"
    assert run.data.tags["hyperflow.status"] == "FINISHED"
    board_file = connection.download(search, "leaderboard.json", str(tmp_path))
    assert json.loads(Path(board_file).read_text()) == leaderboard

    runs.reopen_search(search)
    assert connection.call("get_run", search).info.status == "RUNNING"


def test_finished_trial_record_is_none_while_running(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    trial = store.trials.start_trial(search, "00", {})

    assert store.trials.finished_trial_record(trial) is None


def test_bad_statuses_are_rejected(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    trial = store.trials.start_trial(search, "00", {})

    with pytest.raises(ValueError, match="status"):
        store.trials.end_trial(trial, {}, "RUNNING", None, 0.0)
    with pytest.raises(ValueError, match="status"):
        store.runs.end_search(search, "COMPLETED", None, None, [])
    assert store.connection.call("get_run", trial).info.status == "RUNNING"
    assert store.trials.finished_trial_record(trial) is None


def test_param_keys_that_cannot_be_made_valid_are_skipped(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    trial = store.trials.start_trial(search, "00", {"k" * 300: 1, "..": 2, "a b:c.d-e/f": 3})

    assert store.connection.call("get_run", trial).data.params == {"a b:c.d-e/f": "3"}


def test_latest_search_is_the_newest_parent_run(store):
    assert store.runs.latest_search() is None

    first = store.runs.start_search("RandomSearch", {}, {})
    store.runs.end_search(first, "FINISHED", None, None, [])
    time.sleep(0.01)
    second = store.runs.start_search("Hyperband", {}, {})
    store.trials.start_trial(second, "00", {})  # child runs are never searches

    assert store.runs.latest_search() == second
    store.runs.end_search(second, "KILLED", None, None, [])
    assert store.runs.latest_search() == second


def test_kill_unfinished_trials(store):
    runs = store.runs
    search = runs.start_search("RandomSearch", {}, {})
    done = store.trials.start_trial(search, "00", {})
    store.trials.end_trial(done, make_record("00", 8, 0.1, "COMPLETED"), "COMPLETED", 0.1, 1.0)
    running = {t: store.trials.start_trial(search, t, {}) for t in ("02", "01")}

    assert store.trials.kill_unfinished_trials(search) == ["01", "02"]
    for run_id in running.values():
        run = store.connection.call("get_run", run_id)
        assert run.info.status == "KILLED"
        assert run.data.tags["hyperflow.status"] == "KILLED"
    assert store.connection.call("get_run", done).info.status == "FINISHED"
    assert store.trials.kill_unfinished_trials(search) == []
    assert [r["status"] for r in store.trials.trial_runs(search)] == [
        "COMPLETED",
        "KILLED",
        "KILLED",
    ]


def test_trial_runs_are_ordered_by_trial_number_then_attempt(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    for trial_id, attempt in (("10", 0), ("9", 1), ("x", 0), ("9", 0), ("00", 0)):
        store.trials.start_trial(search, trial_id, {}, attempt=attempt)

    rows = store.trials.trial_runs(search)

    assert [(r["trial_id"], r["attempt"]) for r in rows] == [
        ("00", 0),
        ("9", 0),
        ("9", 1),
        ("10", 0),
        ("x", 0),  # not a number: after the numbered ones
    ]
    with pytest.raises(ValueError, match="run id"):
        store.trials.trial_runs("x' or 1=1 or '")


def test_two_projects_in_one_store_do_not_mix(store, backend):
    other = backend.open("cifar")
    mine = store.runs.start_search("RandomSearch", {}, {})
    theirs = other.runs.start_search("RandomSearch", {}, {})
    my_trial = store.trials.start_trial(mine, "00", {"units": 8})
    other.trials.start_trial(theirs, "00", {"units": 9})
    other.trials.start_trial(theirs, "01", {"units": 10})

    assert [r["run_id"] for r in store.trials.trial_runs(mine)] == [my_trial]
    assert len(other.trials.trial_runs(theirs)) == 2
    assert store.runs.latest_search() == mine
    assert other.runs.latest_search() == theirs
    assert [s["run_id"] for s in store.runs.searches(statuses=None)] == [mine]
    assert store.trials.kill_unfinished_trials(mine) == ["00"]
    assert [r["status"] for r in other.trials.trial_runs(theirs)] == ["RUNNING", "RUNNING"]


def test_searches_lists_searches_only_newest_first_and_pages(store, monkeypatch):
    monkeypatch.setattr("tuning.store.connection._SEARCH_PAGE_SIZE", 2)
    runs = store.runs
    finished = []
    for i in range(3):
        search = runs.start_search("RandomSearch", {}, {})
        runs.end_search(search, "FINISHED", 0.1 * i if i else None, f"{i:02d}", [])
        finished.append(search)
        time.sleep(0.01)
    failed = runs.start_search("Hyperband", {}, {})
    runs.end_search(failed, "FAILED", None, None, [])
    time.sleep(0.01)
    running = runs.start_search("Hyperband", {}, {})
    retrain = runs.start_run("retrain", "retrain", tags={"hyperflow.search_run_id": running})

    pages = []
    call = store.connection.call
    monkeypatch.setattr(
        store.connection, "call", lambda name, *a, **k: pages.append(name) or call(name, *a, **k)
    )

    listed = runs.searches()  # FINISHED only, by default

    assert pages == ["search_runs"] * 3  # five searches in pages of two
    assert [s["run_id"] for s in listed] == finished[::-1]
    assert listed[0] == {
        "run_id": finished[2],
        "status": "FINISHED",
        "tuner": "RandomSearch",
        "best_trial_id": "02",
        "best_score": pytest.approx(0.2),
        "start_time": listed[0]["start_time"],
    }
    assert listed[2]["best_score"] is None
    every = [s["run_id"] for s in runs.searches(statuses=None)]
    assert every == [running, failed, *finished[::-1]]
    assert retrain not in every
    assert [s["status"] for s in runs.searches(("FAILED", "RUNNING"))] == ["RUNNING", "FAILED"]
    assert runs.latest_search() == running


def test_a_retrain_run_with_tags_params_and_files(store, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    connection = store.connection
    search = store.runs.start_search("RandomSearch", {}, {})
    run_id = store.runs.start_run(
        "retrain-00",
        "retrain",
        tags={"hyperflow.search_run_id": search, "long": "y" * 9000},
        params={"fit": {"epochs": 4}},
    )

    run = connection.call("get_run", run_id)
    assert run.info.run_name == "retrain-00" and run.info.status == "RUNNING"
    assert run.data.tags["hyperflow.kind"] == "retrain"
    assert run.data.tags["hyperflow.project"] == store.project_name
    assert run.data.tags["hyperflow.search_run_id"] == search
    assert run.data.tags["long"] == "y" * 8000  # MLflow's tag value limit
    assert "mlflow.parentRunId" not in run.data.tags
    assert run.data.params == {"fit/epochs": "4"}

    store.runs.log_dict(run_id, {"acc": np.float32(0.5), "curve": np.arange(3)}, "m/test.json")
    assert store.runs.read_dict(run_id, "m/test.json") == {"acc": 0.5, "curve": [0, 1, 2]}
    with pytest.raises(Exception):  # noqa: B017 (MLflow or OS error, by store)
        store.runs.read_dict(run_id, "missing.json")

    class Broken:
        def savefig(self, *args, **kwargs):
            raise RuntimeError("cannot draw")

    figure = plt.figure()
    plt.plot([0, 1], [1, 0])
    written = store.runs.log_figures(run_id, {"history.png": figure, "bad.png": Broken()})
    plt.close(figure)
    assert written == ["plots/history.png"]
    assert artifact_names(store, run_id, "plots") == ["plots/history.png"]
    png = connection.download(run_id, "plots/history.png", str(tmp_path))
    assert Path(png).read_bytes().startswith(b"\x89PNG")

    connection.set_tags(run_id, {"hyperflow.model_version": 3, "hyperflow.champion": "true"})
    connection.end_run(run_id, "FAILED")
    run = connection.call("get_run", run_id)
    assert run.data.tags["hyperflow.model_version"] == "3"
    assert run.data.tags["hyperflow.champion"] == "true"
    assert run.info.status == "FAILED"
    assert [s["run_id"] for s in store.runs.searches(statuses=None)] == [search]
