"""Tests for ``tuning.tracking``: the trial store on a real MLflow SQLite store.

Creating an MLflow database runs its schema migration (seconds), so one
migrated database is made per session and each test gets its own copy.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import pytest

from tuning.hyperparameters import HyperParameters
from tuning.tracking import TrialStore, resolve_tracking_uri
from tuning.trial import Trial, TrialStatus

# MLflow 3.17's SQL store uses a SQLAlchemy loader that SQLAlchemy 2.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

# Fixtures ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_tracking_uri_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory) -> Path:
    """A directory whose store ``connect()`` created from nothing (the migration runs once)."""
    directory = tmp_path_factory.mktemp("template") / "not" / "yet"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    store = TrialStore("template", directory)
    assert not directory.exists()  # the constructor does no I/O
    store.connect()
    assert (directory / "mlflow.db").is_file()
    return directory


def _copy_store(template_dir: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(template_dir / "mlflow.db")
    target = sqlite3.connect(directory / "mlflow.db")
    try:
        source.backup(target)  # consistent even with a WAL file beside the source
    finally:
        source.close()
        target.close()
    return directory


@pytest.fixture
def project_dir(tmp_path, template_dir) -> Path:
    """A project directory holding a migrated, empty store."""
    return _copy_store(template_dir, tmp_path / "project")


@pytest.fixture
def store(project_dir) -> TrialStore:
    store = TrialStore("mnist", project_dir)
    store.connect()
    return store


def make_record(trial_id: str, units: int, score: float | None, status: str) -> dict:
    hp = HyperParameters()
    hp.Int("units", 8, 64, default=units)
    trial = Trial(hp, trial_id=trial_id, status=status)
    trial.metrics.update("val_loss", 0.9, step=0)
    if score is not None:
        trial.metrics.update("val_loss", score, step=1)
        trial.score, trial.best_step = score, 1
    return trial.get_state()


def artifact_names(store: TrialStore, run_id: str, path: str | None = None) -> list[str]:
    return sorted(info.path for info in store._client.list_artifacts(run_id, path))


# Where the store lives ----------------------------------------------------------------------


def test_resolve_tracking_uri_default_is_an_absolute_sqlite_uri(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert resolve_tracking_uri(tmp_path / "d") == f"sqlite:///{tmp_path}/d/mlflow.db"
    # A relative directory is resolved once, now, to an absolute path.
    assert resolve_tracking_uri("rel") == f"sqlite:///{tmp_path}/rel/mlflow.db"
    assert resolve_tracking_uri().startswith("sqlite:////")


def test_resolve_tracking_uri_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert resolve_tracking_uri(tmp_path) == "http://127.0.0.1:5000"
    assert resolve_tracking_uri(tmp_path, "http://10.0.0.1:80") == "http://10.0.0.1:80"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # empty means unset
    assert resolve_tracking_uri(tmp_path) == f"sqlite:///{tmp_path}/mlflow.db"


def test_relative_sqlite_uris_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs/mlflow.db")

    assert resolve_tracking_uri("x") == f"sqlite:///{tmp_path}/runs/mlflow.db"
    assert resolve_tracking_uri("x", "sqlite:////abs/m.db") == "sqlite:////abs/m.db"


def test_store_config_is_absolute_and_lazy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = TrialStore("p", "sub")

    assert store.tracking_uri == f"sqlite:///{tmp_path}/sub/mlflow.db"
    assert store.artifact_root == (tmp_path / "sub" / "mlartifacts").as_uri()
    assert not (tmp_path / "sub").exists()
    assert TrialStore("p", "sub", tracking_uri="http://127.0.0.1:5000").artifact_root is None


def test_nothing_is_written_to_the_current_directory(tmp_path, template_dir, monkeypatch):
    _copy_store(template_dir, tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    store = TrialStore("p", "../project")
    search = store.start_search("RandomSearch", {"max_trials": 1}, {"space": []})
    trial = store.start_trial(search, "00", {"units": 8})
    store.log_metrics(trial, {"loss": 1.0}, step=0)
    store.end_trial(trial, make_record("00", 8, 0.5, "COMPLETED"), "COMPLETED", 0.5, 1.0)
    store.save_state(search, {"trials": []})
    store.end_search(search, "FINISHED", 0.5, "00", [])

    assert list(elsewhere.iterdir()) == []
    assert (tmp_path / "project" / "mlartifacts").is_dir()


def test_connect_is_idempotent_and_keeps_projects_apart(project_dir):
    first = TrialStore("mnist", project_dir)
    experiment_id = first.connect()

    assert first.connect() == experiment_id
    assert TrialStore("mnist", project_dir).connect() == experiment_id
    assert TrialStore("cifar", project_dir).connect() != experiment_id
    experiment = first._client.get_experiment(experiment_id)
    assert experiment.name == "mnist"
    assert experiment.artifact_location == (project_dir / "mlartifacts").as_uri()


def test_connect_quiets_mlflow_and_alembic(store, capfd):
    assert logging.getLogger("mlflow").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("alembic").getEffectiveLevel() >= logging.WARNING
    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") is not None

    search = store.start_search("RandomSearch", {}, {})
    trial = store.start_trial(search, "00", {"units": 8})
    store.end_trial(trial, make_record("00", 8, 0.5, "COMPLETED"), "COMPLETED", 0.5, 1.0)
    store.save_state(search, {"a": 1})
    assert store.load_state(search) == {"a": 1}
    assert store.finished_trial_record(trial)["trial_id"] == "00"
    assert Path(store.download(trial, "trial.json")).is_file()

    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_store_pickles_as_configuration(store):
    import pickle

    clone = pickle.loads(pickle.dumps(store))

    assert clone._client_ is None
    assert clone.tracking_uri == store.tracking_uri
    assert clone.connect() == store.connect()


def test_a_worker_told_the_artifact_uri_writes_artifacts_without_asking_mlflow(store):
    import pickle

    search = store.start_search("RandomSearch", {}, {})
    run_id = store.start_trial(search, "00", {"units": 8})
    worker = pickle.loads(pickle.dumps(store))  # another process's copy knows no run
    worker.note_artifact_uri(run_id, store.artifact_uri(run_id))
    asked = []
    worker.connect()
    original = worker._client_.get_run
    worker._client_.get_run = lambda *a, **k: asked.append(a) or original(*a, **k)

    worker.log_dict(run_id, {"layers": 2}, "build_config.json")

    assert asked == []
    assert store.read_dict(run_id, "build_config.json") == {"layers": 2}


# A search with trials ---------------------------------------------------------------------


def test_search_with_three_trials(store, tmp_path):
    client = store._client
    long_value = "x" * 7000
    search = store.start_search(
        "RandomSearch",
        {"tuner": {"epochs": 3, "note": long_value}, "max_trials": 3, "lr@scale": [1, 2]},
        {"space": [{"class_name": "Int", "config": {"name": "units"}}]},
    )

    run = client.get_run(search)
    assert run.info.run_name == "RandomSearch-search"
    assert run.info.status == "RUNNING"
    assert run.data.tags["hyperflow.kind"] == "search"
    assert run.data.tags["hyperflow.project"] == "mnist"
    assert run.data.tags["hyperflow.tuner"] == "RandomSearch"
    assert run.data.params["tuner/epochs"] == "3"
    assert run.data.params["max_trials"] == "3"
    assert run.data.params["lr_scale"] == "[1, 2]"  # key made MLflow-safe
    assert run.data.params["tuner/note"] == long_value[:6000]  # truncated to MLflow's limit
    space = json.loads(Path(store.download(search, "search_space.json", str(tmp_path))).read_text())
    assert space["space"][0]["config"]["name"] == "units"

    # Trial 00 completes, 01 fails on its retry, 02 is stopped early.
    runs = {
        "00": store.start_trial(search, "00", {"units": 8, "tuner/epochs": 3}),
        "01": store.start_trial(search, "01", {"units": 16}, attempt=1),
        "02": store.start_trial(search, "02", {"units": 32}),
    }
    for step in range(3):
        store.log_metrics(runs["00"], {"loss": 1.0 - 0.1 * step, "val_loss": 0.9 - step / 10}, step)
    store.log_metrics(runs["02"], {"loss": float("nan"), "skipped": "not a number"}, 0)

    child = client.get_run(runs["01"])
    assert child.info.run_name == "trial-01-retry1"
    assert child.data.tags["mlflow.parentRunId"] == search
    assert child.data.tags["hyperflow.kind"] == "trial"
    assert child.data.tags["hyperflow.trial_id"] == "01"
    assert child.data.tags["hyperflow.attempt"] == "1"
    assert child.data.tags["hyperflow.status"] == "RUNNING"
    assert child.data.params == {"units": "16"}
    assert client.get_run(runs["00"]).info.run_name == "trial-00"
    assert client.get_run(runs["00"]).data.params == {"units": "8", "tuner/epochs": "3"}
    history = client.get_metric_history(runs["00"], "val_loss")
    assert [(m.step, round(m.value, 6)) for m in history] == [(0, 0.9), (1, 0.8), (2, 0.7)]
    assert math.isnan(client.get_metric_history(runs["02"], "loss")[0].value)  # NaN is kept
    assert "skipped" not in client.get_run(runs["02"]).data.metrics

    weights = tmp_path / "best.weights.h5"
    weights.write_bytes(b"\x00weights")
    uri = store.log_file(runs["00"], weights, "checkpoints")
    assert uri.endswith(f"{runs['00']}/artifacts/checkpoints/best.weights.h5")
    assert Path(uri.removeprefix("file://")).read_bytes() == b"\x00weights"

    traceback_text = "Traceback (most recent call last):\n" + "  line\n" * 200 + "ValueError: boom"
    store.end_trial(
        runs["00"],
        make_record("00", 8, 0.8, "COMPLETED"),
        TrialStatus.COMPLETED,
        0.8,
        duration_s=12.5,
    )
    store.end_trial(
        runs["01"],
        make_record("01", 16, None, "FAILED"),
        "FAILED",
        None,
        duration_s=1.0,
        error=traceback_text,
    )
    store.end_trial(
        runs["02"], make_record("02", 32, None, "STOPPED"), "STOPPED", float("nan"), duration_s=2.0
    )

    completed, failed, stopped = (client.get_run(runs[t]) for t in ("00", "01", "02"))
    assert completed.info.status == "FINISHED"
    assert completed.data.tags["hyperflow.status"] == "COMPLETED"
    assert completed.data.metrics["score"] == 0.8
    assert client.get_metric_history(runs["00"], "score")[0].step == 1  # the best step
    assert completed.data.metrics["duration_s"] == 12.5
    assert "error.txt" not in artifact_names(store, runs["00"])
    assert failed.info.status == "FAILED"
    assert failed.data.tags["hyperflow.status"] == "FAILED"
    assert failed.data.tags["hyperflow.error"] == traceback_text[:500]
    assert "score" not in failed.data.metrics
    error_file = store.download(runs["01"], "error.txt", str(tmp_path / "err"))
    assert Path(error_file).read_text() == traceback_text
    assert stopped.info.status == "FINISHED"
    assert stopped.data.tags["hyperflow.status"] == "STOPPED"
    assert "score" not in stopped.data.metrics  # NaN score is not logged

    record = store.finished_trial_record(runs["00"])
    assert record == make_record("00", 8, 0.8, "COMPLETED")
    assert Trial.from_state(record).score == 0.8

    rows = store.trial_runs(search)
    assert [(r["trial_id"], r["attempt"], r["status"], r["score"]) for r in rows] == [
        ("00", 0, "COMPLETED", 0.8),
        ("01", 1, "FAILED", None),
        ("02", 0, "STOPPED", None),
    ]
    assert [r["run_id"] for r in rows] == [runs["00"], runs["01"], runs["02"]]
    assert all(isinstance(r["start_time"], int) for r in rows)

    leaderboard = [{"trial_id": "00", "score": 0.8, "values": {"units": 8}}]
    store.end_search(search, "FINISHED", 0.8, "00", leaderboard)
    run = client.get_run(search)
    assert run.info.status == "FINISHED"
    assert run.data.metrics["best_score"] == 0.8
    assert run.data.tags["hyperflow.best_trial_id"] == "00"
    board = json.loads(Path(store.download(search, "leaderboard.json", str(tmp_path))).read_text())
    assert board == leaderboard

    store.reopen_search(search)
    assert client.get_run(search).info.status == "RUNNING"


def test_finished_trial_record_is_none_while_running(store):
    search = store.start_search("RandomSearch", {}, {})
    trial = store.start_trial(search, "00", {})

    assert store.finished_trial_record(trial) is None


def test_bad_statuses_are_rejected(store):
    search = store.start_search("RandomSearch", {}, {})
    trial = store.start_trial(search, "00", {})

    with pytest.raises(ValueError, match="status"):
        store.end_trial(trial, {}, "RUNNING", None, 0.0)
    with pytest.raises(ValueError, match="status"):
        store.end_search(search, "COMPLETED", None, None, [])


def test_param_keys_that_cannot_be_made_valid_are_skipped(store):
    search = store.start_search("RandomSearch", {}, {})
    trial = store.start_trial(search, "00", {"k" * 300: 1, "..": 2, "a b:c.d-e/f": 3})

    assert store._client.get_run(trial).data.params == {"a b:c.d-e/f": "3"}


# State --------------------------------------------------------------------------------------


def oracle_like_state(n: int) -> dict:
    return {
        "class_name": "RandomSearchOracle",
        "config": {"max_trials": 10, "seed": 1, "pruning": None},
        "trials": [make_record(f"{i:02d}", 8, 0.5, "COMPLETED") for i in range(n)],
        "ongoing_trials": {},
        "draws": n,
        "score": float("nan"),
    }


def state_files(store: TrialStore, search: str) -> list[str]:
    return artifact_names(store, search, "state")


def test_save_and_load_state_keeps_at_most_two_versions(store, project_dir):
    search = store.start_search("RandomSearch", {}, {})
    assert store.load_state(search) is None

    for n in range(1, 6):
        store.save_state(search, oracle_like_state(n))

    loaded = store.load_state(search)
    assert loaded["draws"] == 5 and len(loaded["trials"]) == 5
    assert math.isnan(loaded["score"])
    assert loaded["trials"][4] == make_record("04", 8, 0.5, "COMPLETED")
    assert store._client.get_run(search).data.tags["hyperflow.state"] == "state/state-000005.json"
    assert state_files(store, search) == ["state/state-000004.json", "state/state-000005.json"]

    # Another process (a resumed search) reads it and carries on numbering.
    other = TrialStore("mnist", project_dir)
    assert other.load_state(search)["draws"] == 5
    other.save_state(search, oracle_like_state(6))
    assert store.load_state(search)["draws"] == 6
    assert state_files(store, search) == ["state/state-000005.json", "state/state-000006.json"]


def test_a_crash_before_the_commit_keeps_the_last_committed_state(store, monkeypatch):
    search = store.start_search("RandomSearch", {}, {})
    store.save_state(search, oracle_like_state(1))
    store.save_state(search, oracle_like_state(2))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("process killed")

    monkeypatch.setattr(TrialStore, "_commit_state", killed)
    with pytest.raises(KeyboardInterrupt):
        store.save_state(search, oracle_like_state(3))

    # The new version was written but never committed: readers still see version 2.
    assert "state/state-000003.json" in state_files(store, search)
    assert store.load_state(search)["draws"] == 2
    assert TrialStore("mnist", store.directory).load_state(search)["draws"] == 2

    # Writing the file alone (the step before the commit) changes nothing either.
    monkeypatch.undo()
    store._write_state_file(search, oracle_like_state(9), seq=3)
    assert store.load_state(search)["draws"] == 2

    store.save_state(search, oracle_like_state(4))
    assert store.load_state(search)["draws"] == 4
    assert state_files(store, search) == ["state/state-000002.json", "state/state-000003.json"]


# Resume -------------------------------------------------------------------------------------


def test_latest_search_is_the_newest_parent_run(store):
    assert store.latest_search() is None

    first = store.start_search("RandomSearch", {}, {})
    store.end_search(first, "FINISHED", None, None, [])
    time.sleep(0.01)
    second = store.start_search("Hyperband", {}, {})
    store.start_trial(second, "00", {})  # child runs are never searches

    assert store.latest_search() == second
    store.end_search(second, "KILLED", None, None, [])
    assert store.latest_search() == second


def test_kill_unfinished_trials(store):
    search = store.start_search("RandomSearch", {}, {})
    done = store.start_trial(search, "00", {})
    store.end_trial(done, make_record("00", 8, 0.1, "COMPLETED"), "COMPLETED", 0.1, 1.0)
    running = {t: store.start_trial(search, t, {}) for t in ("02", "01")}

    assert store.kill_unfinished_trials(search) == ["01", "02"]
    for run_id in running.values():
        run = store._client.get_run(run_id)
        assert run.info.status == "KILLED"
        assert run.data.tags["hyperflow.status"] == "KILLED"
    assert store._client.get_run(done).info.status == "FINISHED"
    assert store.kill_unfinished_trials(search) == []
    assert [r["status"] for r in store.trial_runs(search)] == ["COMPLETED", "KILLED", "KILLED"]


def test_two_projects_in_one_store_do_not_mix(store, project_dir):
    other = TrialStore("cifar", project_dir)
    mine = store.start_search("RandomSearch", {}, {})
    theirs = other.start_search("RandomSearch", {}, {})
    my_trial = store.start_trial(mine, "00", {"units": 8})
    other.start_trial(theirs, "00", {"units": 9})
    other.start_trial(theirs, "01", {"units": 10})

    assert [r["run_id"] for r in store.trial_runs(mine)] == [my_trial]
    assert len(other.trial_runs(theirs)) == 2
    assert store.latest_search() == mine
    assert other.latest_search() == theirs
    assert store.kill_unfinished_trials(mine) == ["00"]
    assert [r["status"] for r in other.trial_runs(theirs)] == ["RUNNING", "RUNNING"]


# Concurrency --------------------------------------------------------------------------------


def test_locked_database_errors_are_retried_and_others_are_not():
    from mlflow.exceptions import MlflowException

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return "done"

    assert TrialStore._retry(flaky) == "done"
    assert len(calls) == 3

    def broken():
        calls.append(1)
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: run 'x' not found")

    calls.clear()
    with pytest.raises(MlflowException, match="not found"):
        TrialStore._retry(broken)
    assert len(calls) == 1


def _log_one_trial(store: TrialStore, search: str, trial_id: str) -> None:
    """A worker process: one trial with five epochs, as a train task would log it."""
    units = 8 + int(trial_id)
    run_id = store.start_trial(search, trial_id, {"units": units})
    for step in range(5):
        store.log_metrics(run_id, {"loss": 1.0 / (step + 1), "acc": step / 5}, step)
    record = make_record(trial_id, units, 0.2, "COMPLETED")
    store.end_trial(run_id, record, "COMPLETED", 0.2, 1.0)


def test_processes_log_to_one_sqlite_store_concurrently(store):
    search = store.start_search("RandomSearch", {}, {})  # connect() ran before the fan-out
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_log_one_trial, args=(store, search, f"{i:02d}")) for i in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert [w.exitcode for w in workers] == [0, 0, 0]
    rows = store.trial_runs(search)
    assert [(r["trial_id"], r["status"], r["score"]) for r in rows] == [
        ("00", "COMPLETED", 0.2),
        ("01", "COMPLETED", 0.2),
        ("02", "COMPLETED", 0.2),
    ]
    for row in rows:
        steps = [m.step for m in store._client.get_metric_history(row["run_id"], "loss")]
        assert steps == [0, 1, 2, 3, 4]
        assert store.finished_trial_record(row["run_id"])["trial_id"] == row["trial_id"]
