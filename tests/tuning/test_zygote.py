"""The zygote forks worker processes that inherit its imports but take the caller's settings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from multiprocessing import Pipe
from multiprocessing.connection import Connection

import pytest

from tuning import zygote


def report(fd: int, variable: str) -> None:
    """Runs in a forked child: sends back what it inherited and what it was given."""
    with Connection(fd) as connection:
        connection.send(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "parent": os.getppid(),
                    "variable": os.environ.get(variable),
                    "cwd": os.getcwd(),
                    "preloaded": [m for m in (*zygote.PRELOAD, "mlflow") if m in sys.modules],
                }
            )
        )


def _spawn_report(monkeypatch_env: dict[str, str] | None = None, **kwargs) -> dict:
    ours, theirs = Pipe()
    child = zygote.shared().spawn(
        "tests.tuning.test_zygote:report", [theirs.fileno()], ("HYPERFLOW_PROBE",), **kwargs
    )
    theirs.close()
    assert ours.poll(120), "the forked child sent nothing"
    seen = json.loads(ours.recv())
    assert child.wait(timeout=30) == 0
    return seen


def test_a_child_has_the_preloads_and_the_callers_current_settings(tmp_path, monkeypatch):
    shared = zygote.shared()
    # Set after the zygote started: the child must still see them.
    monkeypatch.setenv("HYPERFLOW_PROBE", "from-the-parent")
    monkeypatch.chdir(tmp_path)

    seen = _spawn_report()

    assert seen["parent"] == shared.pid != os.getpid()
    assert seen["variable"] == "from-the-parent"
    assert seen["cwd"] == str(tmp_path)
    assert seen["preloaded"] == [*zygote.PRELOAD, "mlflow"]


def test_extra_environment_applies_to_that_child_only(monkeypatch):
    monkeypatch.setenv("HYPERFLOW_PROBE", "base")
    assert _spawn_report(env={"HYPERFLOW_PROBE": "gpu-1"})["variable"] == "gpu-1"
    assert _spawn_report()["variable"] == "base"


def test_exit_codes_of_return_exit_error_and_kill():
    shared = zygote.shared()
    assert shared.spawn("os:getpid", []).wait(timeout=30) == 0
    assert shared.spawn("sys:exit", [], (3,)).wait(timeout=30) == 3
    assert shared.spawn("no_such_module:f", []).wait(timeout=30) == 1
    sleeper = shared.spawn("time:sleep", [], (60,))
    assert sleeper.poll() is None
    sleeper.kill()
    assert sleeper.wait(timeout=30) == -signal.SIGKILL
    with pytest.raises(subprocess.TimeoutExpired):
        shared.spawn("time:sleep", [], (60,)).wait(timeout=0.2)


def test_a_dead_zygote_is_replaced_and_its_children_can_still_be_killed():
    old = zygote.shared()
    orphan = old.spawn("time:sleep", [], (60,))
    os.kill(old.pid, signal.SIGKILL)
    old._process.wait(timeout=30)

    new = zygote.shared()
    assert new.pid != old.pid
    assert new.spawn("os:getpid", []).wait(timeout=120) == 0
    # Its zygote is gone, so the orphan is killed by pid and reported as killed.
    orphan.kill()
    assert orphan.wait(timeout=30) == -signal.SIGKILL


def test_the_zygote_ends_when_its_parent_closes_it():
    own = zygote.Zygote()
    own.close()
    assert own._process.poll() is not None
    assert not own.alive
