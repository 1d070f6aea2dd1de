"""A search ended from outside leaves nothing running."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from prefect.settings import PREFECT_API_URL

from tests.flows.helpers import ended_early, start_script
from tests.flows.killable_search import completed, runs_of
from tests.flows.processes import cmdline, descendants, start_time, wait_gone

SCRIPT = Path(__file__).with_name("killable_search.py")
ORPHAN = Path(__file__).with_name("orphan_search.py")
ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_ends_a_search_as_ctrl_c_does_and_leaves_no_process(tmp_path):
    # Its own temporary Prefect server, as a search started from a shell has.
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's code, not an installed copy
    env.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    log = tmp_path / "search.log"
    search = start_script(SCRIPT, [str(tmp_path), "500", "2", "worker"], env, log)
    try:
        deadline = time.monotonic() + 240
        while completed(tmp_path) < 2:
            assert search.poll() is None, ended_early(search, log)
            assert time.monotonic() < deadline, "no trial completed"
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

    trials = runs_of(tmp_path, "trial")
    assert trials and all(r.info.status != "RUNNING" for r in trials)
    assert any(r.data.tags.get("hyperflow.status") == "KILLED" for r in trials)
    [run] = runs_of(tmp_path, "search")
    assert run.info.status == "KILLED"
    assert "SIGTERM" in run.data.tags["hyperflow.stop_reason"]


@contextlib.contextmanager
def _orphan_search(directory: Path, *args: str) -> Iterator[tuple[subprocess.Popen, int]]:
    """Starts ``orphan_search.py``; yields it and its trial's process id; ends it in any case."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PREFECT_API_URL": PREFECT_API_URL.value()}
    log = directory / "orphan-search.log"
    search = start_script(ORPHAN, [str(directory), *args], env, log)
    try:
        path = directory / "trial-00.pid"  # the trial writes it once it began training
        deadline = time.monotonic() + 240
        while not path.exists() or not path.read_text():
            assert search.poll() is None, ended_early(search, log)
            assert time.monotonic() < deadline, "the trial never began"
            time.sleep(0.1)
        yield search, int(path.read_text())
    finally:
        if search.poll() is None:
            search.kill()


def _assert_sigkill_ends_the_trial(search: subprocess.Popen, trial: int) -> None:
    start = start_time(trial)
    search.send_signal(signal.SIGKILL)
    search.wait()
    assert not wait_gone({trial: start}, timeout=10)


def test_a_trial_in_a_worker_process_ends_within_seconds_of_its_search_being_killed(tmp_path):
    with _orphan_search(tmp_path, "worker") as (search, trial):
        assert trial != search.pid
        assert trial in descendants(search.pid)
        _assert_sigkill_ends_the_trial(search, trial)


def test_a_trial_on_a_dask_worker_ends_within_seconds_of_its_search_being_killed(
    tmp_path, dask_cluster
):
    with _orphan_search(tmp_path, "worker", dask_cluster.scheduler_address) as (search, trial):
        assert trial not in descendants(search.pid)  # it trains below a Dask worker
        _assert_sigkill_ends_the_trial(search, trial)
