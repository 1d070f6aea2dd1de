"""A search ended from outside leaves nothing running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prefect.settings import PREFECT_API_URL

from tests.flows.helpers import store_client
from tests.flows.processes import cmdline, descendants, start_time, wait_gone

SCRIPT = Path(__file__).with_name("killable_search.py")
ORPHAN = Path(__file__).with_name("orphan_search.py")
ROOT = Path(__file__).resolve().parents[2]


def _runs(directory: Path, kind: str) -> list:
    client = store_client(directory)
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
    log = tmp_path / "search.log"
    with log.open("wb") as output:
        search = subprocess.Popen(
            [sys.executable, str(SCRIPT), str(tmp_path), "500", "2", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=output,
        )
    try:
        deadline = time.monotonic() + 240
        while _completed(tmp_path) < 2:
            running = search.poll() is None and time.monotonic() < deadline
            assert running, f"no trial completed; its stderr ends: {log.read_text()[-3000:]}"
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


def _trial_process(directory: Path, search: subprocess.Popen) -> int:
    """The process id the trial wrote once it began training."""
    path = directory / "trial-00.pid"
    deadline = time.monotonic() + 240
    while not path.exists() or not path.read_text():
        assert search.poll() is None and time.monotonic() < deadline, "the trial never began"
        time.sleep(0.1)
    return int(path.read_text())


def _start_orphan_search(directory: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": PREFECT_API_URL.value()}
    return subprocess.Popen(
        [sys.executable, str(ORPHAN), str(directory), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_trial_in_a_worker_process_ends_within_seconds_of_its_search_being_killed(tmp_path):
    search = _start_orphan_search(tmp_path, "worker")
    try:
        trial = _trial_process(tmp_path, search)
        assert trial != search.pid
        assert trial in descendants(search.pid)
        start = start_time(trial)
        search.send_signal(signal.SIGKILL)
        search.wait()
        assert not wait_gone({trial: start}, timeout=10)
    finally:
        if search.poll() is None:
            search.kill()


def test_a_trial_on_a_dask_worker_ends_within_seconds_of_its_search_being_killed(
    tmp_path, dask_cluster
):
    search = _start_orphan_search(tmp_path, "worker", dask_cluster.scheduler_address)
    try:
        trial = _trial_process(tmp_path, search)
        start = start_time(trial)
        assert trial not in descendants(search.pid)  # it trains below a Dask worker
        search.send_signal(signal.SIGKILL)
        search.wait()
        assert not wait_gone({trial: start}, timeout=10)
    finally:
        if search.poll() is None:
            search.kill()
