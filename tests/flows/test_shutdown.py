"""A search ended from outside leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow.tracking import MlflowClient

from tests.flows.processes import cmdline, descendants, wait_gone

SCRIPT = Path(__file__).with_name("killable_search.py")
ROOT = Path(__file__).resolve().parents[2]


def _runs(directory: Path, kind: str) -> list:
    client = MlflowClient(tracking_uri=f"sqlite:///{directory}/mlflow.db")
    experiment = client.get_experiment_by_name("killed")
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`hyperflow.kind` = '{kind}'"
    )


def _completed(directory: Path) -> int:
    try:
        runs = _runs(directory, "trial")
    except Exception:  # the store is still being created
        return 0
    return sum(r.data.tags.get("hyperflow.status") == "COMPLETED" for r in runs)


def test_sigterm_ends_a_search_as_ctrl_c_does_and_leaves_no_process(tmp_path):
    # Its own temporary Prefect server, as a search started from a shell has.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's code, not an installed copy
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    search = subprocess.Popen(
        [sys.executable, str(SCRIPT), str(tmp_path), "500", "2", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 240
        while _completed(tmp_path) < 2:
            assert search.poll() is None and time.monotonic() < deadline, "no trial completed"
            time.sleep(0.2)
        below = descendants(search.pid)
        commands = [cmdline(pid) for pid in below]
        assert any("tuning.zygote" in c for c in commands)
        assert any("uvicorn" in c or "prefect" in c for c in commands), commands
        assert len(below) >= 4  # the server, the zygote, a worker per slot

        search.send_signal(signal.SIGTERM)
        search.wait(timeout=60)
        left = wait_gone(below, timeout=15)
        assert not left, [cmdline(pid) for pid in left]
    finally:
        if search.poll() is None:
            search.kill()

    trials = _runs(tmp_path, "trial")
    assert trials and all(r.info.status != "RUNNING" for r in trials)
    assert any(r.data.tags.get("hyperflow.status") == "KILLED" for r in trials)
    [run] = _runs(tmp_path, "search")
    assert run.info.status == "KILLED"
    assert "SIGTERM" in run.data.tags["hyperflow.stop_reason"]
