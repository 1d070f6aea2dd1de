"""The connection's contract: where the store lives, connecting, pickling, retries, SQLite."""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.tuning.store.helpers import Backend, make_record
from tuning.store import MlflowConnection, TrialStore, resolve_tracking_uri

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


def test_relative_sqlite_uris_and_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///runs/mlflow.db")

    assert resolve_tracking_uri("x") == f"sqlite:///{tmp_path}/runs/mlflow.db"
    assert resolve_tracking_uri("x", "sqlite:////abs/m.db") == "sqlite:////abs/m.db"
    assert resolve_tracking_uri("x", "mlruns") == (tmp_path / "mlruns").as_uri()


def test_store_config_is_absolute_lazy_and_one_shared_connection(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = TrialStore("p", "sub")

    assert store.tracking_uri == f"sqlite:///{tmp_path}/sub/mlflow.db"
    assert store.directory == tmp_path / "sub"
    assert store.connection.artifact_root == (tmp_path / "sub" / "mlartifacts").as_uri()
    assert not (tmp_path / "sub").exists()
    assert store.connection._client_ is None
    assert store.runs.connection is store.connection
    assert store.state.connection is store.connection
    assert store.models.connection is store.connection
    server = TrialStore("p", "sub", tracking_uri="http://127.0.0.1:5000")
    assert server.connection.artifact_root is None
    assert repr(server) == "TrialStore(project_name='p', tracking_uri='http://127.0.0.1:5000')"
    with pytest.raises(ValueError, match="project_name"):
        TrialStore(" ")


def test_importing_the_store_does_not_import_mlflow():
    code = (
        "import sys, tuning.store\n"
        "print(sorted(m for m in ('mlflow', 'tensorflow', 'keras', 'prefect') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# Connecting ---------------------------------------------------------------------------------


def test_nothing_is_written_to_the_current_directory(backend, tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    store = backend.open("p", directory="../project")
    search = store.runs.start_search("RandomSearch", {"max_trials": 1}, {"space": []})
    trial = store.trials.start_trial(search, "00", {"units": 8})
    store.runs.log_metrics(trial, {"loss": 1.0}, step=0)
    store.trials.end_trial(trial, make_record("00", 8, 0.5, "COMPLETED"), "COMPLETED", 0.5, 1.0)
    store.state.save(search, {"trials": []})
    store.runs.end_search(search, "FINISHED", 0.5, "00", [])

    assert store.directory == tmp_path / "project"
    assert list(elsewhere.iterdir()) == []
    # Artifacts go under the project's directory, or to the server: never anywhere else.
    assert (tmp_path / "project" / "mlartifacts").is_dir() != backend.is_server


def test_connect_is_idempotent_and_keeps_projects_apart(backend):
    first = backend.open("mnist")
    experiment_id = first.connect()

    assert first.connect() == experiment_id == first.experiment_id
    assert backend.open("mnist").connect() == experiment_id
    assert backend.open("cifar").connect() != experiment_id
    experiment = first.connection.call("get_experiment", experiment_id)
    assert experiment.name == backend.project("mnist")
    if backend.is_server:  # the server proxies the artifacts
        assert experiment.artifact_location.startswith("mlflow-artifacts:")
    else:
        assert experiment.artifact_location == (backend.directory / "mlartifacts").as_uri()


def test_exists_creates_nothing(backend, tmp_path):
    assert backend.open("never-ran").exists() is False
    assert backend.open("never-ran").exists() is False  # asking created nothing
    assert TrialStore("p", tmp_path / "nowhere").exists() is False
    assert not (tmp_path / "nowhere").exists()

    store = backend.open("mnist")
    store.connect()
    assert store.exists() and backend.open("mnist").exists()


def test_connect_quiets_mlflow_and_ending_runs_prints_nothing(backend, capfd, monkeypatch):
    # Against a server MLflow prints "View run" / "View experiment" links whenever a run
    # ends, unless this variable says otherwise; connect() sets it unless it is exported.
    monkeypatch.delenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", raising=False)
    store = backend.open("mnist")
    store.connect()
    assert logging.getLogger("mlflow").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("alembic").getEffectiveLevel() >= logging.WARNING
    assert os.environ.get("MLFLOW_DISABLE_TELEMETRY") is not None

    search = store.runs.start_search("RandomSearch", {}, {})
    trial = store.trials.start_trial(search, "00", {"units": 8})
    store.trials.end_trial(trial, make_record("00", 8, 0.5, "COMPLETED"), "COMPLETED", 0.5, 1.0)
    store.state.save(search, {"a": 1})
    assert store.state.load(search) == {"a": 1}
    assert store.trials.finished_trial_record(trial)["trial_id"] == "00"
    assert Path(store.connection.download(trial, "trial.json")).is_file()
    store.trials.start_trial(search, "01", {"units": 16})
    assert store.trials.kill_unfinished_trials(search) == ["01"]
    store.runs.end_search(search, "FINISHED", 0.5, "00", [])
    retrain = store.runs.start_run("retrain", "retrain")
    store.connection.end_run(retrain)

    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_exported_mlflow_setting_brings_the_run_links_back(
    mlflow_server, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")
    store = Backend("server", tmp_path, mlflow_server).open("links")
    run_id = store.runs.start_run("retrain", "retrain")
    capsys.readouterr()
    store.connection.end_run(run_id)

    out = capsys.readouterr().out
    assert f"View run retrain at: {store.connection.run_url(run_id)}" in out
    assert "View experiment at:" in out


# The experiment's kind ---------------------------------------------------------------------


def _kind(store: TrialStore) -> str | None:
    experiment = store.connection.call("get_experiment", store.experiment_id)
    return experiment.tags.get("mlflow.experimentKind")


def test_the_experiment_opens_on_the_runs_table_in_mlflows_ui(backend):
    store = backend.open("mnist")
    store.runs.start_search("RandomSearch", {}, {})

    assert _kind(store) == "custom_model_development"


def test_an_experiment_created_without_a_kind_gets_it_when_a_search_opens_it(
    backend, tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)  # a plain create_experiment puts artifacts in ./mlruns

    client = MlflowClient(tracking_uri=backend.open().tracking_uri)
    old = client.create_experiment(backend.project("old"))  # as Hyperflow made them before
    deleted = client.create_experiment(backend.project("deleted"))
    client.delete_experiment(deleted)
    chosen = client.create_experiment(
        backend.project("chosen"), tags={"mlflow.experimentKind": "genai_development"}
    )
    assert "mlflow.experimentKind" not in client.get_experiment(old).tags

    stores = {name: backend.open(name) for name in ("old", "deleted", "chosen")}
    for store in stores.values():
        store.runs.start_search("RandomSearch", {}, {})

    assert [stores[name].experiment_id for name in ("old", "deleted", "chosen")] == [
        old,
        deleted,
        chosen,
    ]
    assert _kind(stores["old"]) == _kind(stores["deleted"]) == "custom_model_development"
    assert client.get_experiment(deleted).lifecycle_stage == "active"
    assert _kind(stores["chosen"]) == "genai_development"  # a kind set on purpose is kept


def test_store_pickles_as_configuration(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    store.state.save(search, {"a": 1})

    clone = pickle.loads(pickle.dumps(store))

    assert clone.connection._client_ is None
    assert clone.connection._artifact_uris == {} and clone.state._committed == {}
    assert clone.runs.connection is clone.connection is clone.state.connection
    assert (clone.project_name, clone.tracking_uri) == (store.project_name, store.tracking_uri)
    assert clone.connect() == store.connect()
    assert clone.state.load(search) == {"a": 1}
    # Each part pickles as configuration too.
    runs = pickle.loads(pickle.dumps(store.runs))
    assert runs.connection._client_ is None
    assert runs.latest_search() == search


def test_a_worker_told_the_artifact_uri_writes_artifacts_without_asking_mlflow(store):
    search = store.runs.start_search("RandomSearch", {}, {})
    run_id = store.trials.start_trial(search, "00", {"units": 8})
    worker = pickle.loads(pickle.dumps(store))  # another process's copy knows no run
    worker.connection.note_artifact_uri(run_id, store.connection.artifact_uri(run_id))
    asked = []
    worker.connect()
    original = worker.connection._client_.get_run
    worker.connection._client_.get_run = lambda *a, **k: asked.append(a) or original(*a, **k)

    worker.runs.log_dict(run_id, {"layers": 2}, "build_config.json")

    assert asked == []
    assert store.runs.read_dict(run_id, "build_config.json") == {"layers": 2}


def test_run_url_and_project_of(store, backend):
    search = store.runs.start_search("RandomSearch", {}, {})
    page = f"/#/experiments/{store.experiment_id}/runs/{search}"

    expected_ui = backend.tracking_uri if backend.is_server else "http://127.0.0.1:5000"
    assert store.connection.run_url(search) == expected_ui + page
    assert store.connection.run_url(search, "http://ui:8080/") == "http://ui:8080" + page
    found = MlflowConnection.project_of(search, backend.directory, backend.tracking_uri)
    assert found == store.project_name


def test_locked_database_errors_are_retried_and_others_are_not():
    from mlflow.exceptions import MlflowException

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise MlflowException("(sqlite3.OperationalError) database is locked")
        return "done"

    assert MlflowConnection.retry(flaky) == "done"
    assert len(calls) == 3

    def broken():
        calls.append(1)
        raise MlflowException("RESOURCE_DOES_NOT_EXIST: run 'x' not found")

    calls.clear()
    with pytest.raises(MlflowException, match="not found"):
        MlflowConnection.retry(broken)
    assert len(calls) == 1


def test_retries_give_up_after_the_last_attempt(monkeypatch):
    from tuning.store import _sqlite

    monkeypatch.setattr(_sqlite, "LOCK_RETRIES", 3)
    monkeypatch.setattr(_sqlite, "LOCK_BACKOFF_S", 0.001)
    calls = []

    def locked():
        calls.append(1)
        raise RuntimeError("database is locked")

    with pytest.raises(RuntimeError, match="locked"):
        MlflowConnection.retry(locked)
    assert len(calls) == 3


# What only a local SQLite store does --------------------------------------------------------


def test_connect_switches_a_new_sqlite_database_to_wal(template_dir):
    connection = sqlite3.connect(template_dir / "mlflow.db")
    try:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def test_the_init_lock_admits_one_holder_at_a_time(tmp_path):
    from tuning.store._sqlite import init_lock

    db_path = tmp_path / "mlflow.db"
    entered = threading.Event()

    def second_holder():
        with init_lock(db_path):  # its own open file: flock excludes it as another process
            entered.set()

    with init_lock(db_path):
        thread = threading.Thread(target=second_holder)
        thread.start()
        assert not entered.wait(0.3)
    assert entered.wait(10)
    thread.join()


def test_the_init_lock_lives_beside_the_database_not_in_the_temp_folder(tmp_path, monkeypatch):
    from tuning.store._sqlite import init_lock

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr("tempfile.tempdir", None)
    db_path = tmp_path / "store" / "mlflow.db"
    with init_lock(db_path):
        pass
    assert (tmp_path / "store" / "mlflow.db-init.lock").exists()
    assert list(temp.iterdir()) == []


def test_mlflows_locked_error_logs_are_hidden_and_others_kept(sqlite_backend):
    sqlite_backend.open().connect()  # installs the filter
    db_log = logging.getLogger("mlflow.store.db.utils")

    def shown(message: str) -> bool:
        record = db_log.makeRecord(db_log.name, logging.ERROR, __file__, 1, message, (), None)
        return all(f.filter(record) for f in db_log.filters)

    assert not shown("(sqlite3.OperationalError) database is locked")
    assert shown("no such table: runs")


def _log_one_trial(store: TrialStore, search: str, trial_id: str) -> None:
    """A worker process: one trial with five epochs, as a train task would log it."""
    units = 8 + int(trial_id)
    run_id = store.trials.start_trial(search, trial_id, {"units": units})
    for step in range(5):
        store.runs.log_metrics(run_id, {"loss": 1.0 / (step + 1), "acc": step / 5}, step)
    record = make_record(trial_id, units, 0.2, "COMPLETED")
    store.trials.end_trial(run_id, record, "COMPLETED", 0.2, 1.0)


def test_processes_log_to_one_sqlite_store_concurrently(sqlite_backend):
    store = sqlite_backend.open()
    search = store.runs.start_search("RandomSearch", {}, {})  # connect() ran before the fan-out
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_log_one_trial, args=(store, search, f"{i:02d}")) for i in range(3)
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=max(1.0, 120 - (time.monotonic() - started)))

    assert [w.exitcode for w in workers] == [0, 0, 0]
    rows = store.trials.trial_runs(search)
    assert [(r["trial_id"], r["status"], r["score"]) for r in rows] == [
        ("00", "COMPLETED", 0.2),
        ("01", "COMPLETED", 0.2),
        ("02", "COMPLETED", 0.2),
    ]
    for row in rows:
        history = store.connection.call("get_metric_history", row["run_id"], "loss")
        assert [m.step for m in history] == [0, 1, 2, 3, 4]
        assert store.trials.finished_trial_record(row["run_id"])["trial_id"] == row["trial_id"]
