"""The trial store's contract suite runs on two backends: SQLite files and an MLflow server.

Creating an MLflow SQLite database runs its schema migration (seconds), so each
test gets its own copy of the session's migrated database (``template_dir``). One
``mlflow server`` (SQLite behind it, artifacts proxied) serves the whole
session; each test uses experiments and registered models of its own on it.
If the server cannot start, the server tests fail: they are never skipped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.store_copies import copy_store
from tests.tuning.store.helpers import Backend
from tuning.store import TrialStore

BACKENDS = ("sqlite", "server")
SERVER_START_TIMEOUT_S = 120


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers_health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen) -> None:
    """Ends the server's process group (the CLI starts uvicorn as a child)."""
    for sig, wait_s in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> str:
    """A real ``mlflow server`` on a free local port, for the whole session; its URL."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # No job runner processes (GenAI jobs) competing for the test machine's cores.
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "1",
        "--backend-store-uri", f"sqlite:///{(root / 'server.db').as_posix()}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    try:
        while not _answers_health(url):
            if process.poll() is not None or time.monotonic() > deadline:
                log_tail = log_path.read_text(errors="replace")[-3000:]
                pytest.fail(f"mlflow server did not start (exit {process.poll()}):\n{log_tail}")
            time.sleep(0.25)
        yield url
    finally:
        _stop(process)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path) -> Backend:
    """Where this test's stores live; see ``Backend``. Each backend starts on first use."""
    directory = tmp_path / "project"
    if request.param == "sqlite":
        return Backend("sqlite", copy_store(request.getfixturevalue("template_dir"), directory))
    return Backend("server", directory, request.getfixturevalue("mlflow_server"))


@pytest.fixture
def sqlite_backend(tmp_path, template_dir) -> Backend:
    """For the tests of what only a local SQLite store does."""
    return Backend("sqlite", copy_store(template_dir, tmp_path / "project"))


@pytest.fixture
def store(backend) -> TrialStore:
    """A connected store of the project ``mnist`` (its name prefixed on the server)."""
    store = backend.open("mnist")
    store.connect()
    return store
