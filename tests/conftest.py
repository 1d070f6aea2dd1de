"""Settings every test needs before Prefect, MLflow or TensorFlow is imported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No network here: no telemetry, and a slow machine needs time to start Prefect's server.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if not os.environ.get("PREFECT_API_URL"):
    os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for the whole test session, started on first use."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    # None: wait as long as PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS allows.
    # Heartbeats (crash detection) cost each short flow about a second at its end.
    with prefect_test_harness(server_startup_timeout=None):
        with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            yield


@pytest.fixture
def no_tracking_uri(monkeypatch):
    """The test picks its store; a tracking URI exported by the caller must not decide."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def directory(tmp_path_factory, template_dir) -> Path:
    """One SQLite store per test module (a copy of ``template_dir``'s); a project per test."""
    from tests.store_copies import copy_store

    return copy_store(template_dir, tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory) -> Path:
    """A directory whose store ``connect()`` created from nothing (the migration runs once)."""
    from tuning.store import TrialStore

    directory = tmp_path_factory.mktemp("template") / "not" / "yet"
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    store = TrialStore("template", directory)
    assert not directory.exists()  # the constructor does no I/O
    store.connect()
    assert (directory / "mlflow.db").is_file()
    return directory


@pytest.fixture
def migrated(template_dir, tmp_path) -> Path:
    """``tmp_path`` with a copy of a new store's database in it, for a search's ``directory``.

    For tests of what a search does, not of how its store comes to be: the
    search opens the copy instead of migrating a new database (seconds).
    """
    from tests.store_copies import copy_store

    return copy_store(template_dir, tmp_path)
