"""Runners: a trial trains in this process or in a worker process; failures come back as results."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import pytest

import tuning as kt
from tuning.runners import InProcessRunner, LocalWorkersRunner
from tuning.search_engine import evaluate
from tuning.workers import pickle_payload

_projects = itertools.count()


class Behaves(kt.RandomSearch):
    """A trial that reports its process, sleeps, or kills its process, as its value says."""

    def run_trial(self, trial, *args, **kwargs):
        mode = trial.hyperparameters.Choice("mode", ["report", "sleep", "die"])
        if mode == "sleep":
            time.sleep(60)
        if mode == "die":
            os._exit(3)
        return {"loss": 1.0, "pid": os.getpid()}


def _spec(tuner: kt.Tuner, mode: str):
    tuner.engine.open("Behaves", {}, overwrite=True)
    tuner.oracle.enqueue_trial({"mode": mode})
    return tuner.engine.sample("0")


def _tuner(directory: Path, **kwargs) -> Behaves:
    return Behaves(
        objective="loss",
        max_trials=3,
        directory=directory,
        project_name=f"runners-{next(_projects)}",
        **kwargs,
    )


def test_in_process_runner_trains_here(directory):
    tuner = _tuner(directory)
    runner = InProcessRunner(tuner.executor, (), {})

    result = runner.train(_spec(tuner, "report"))

    assert result.status == "COMPLETED"
    assert result.executions[0]["metrics"]["pid"] == [os.getpid()]


def test_worker_runner_trains_in_a_child_and_turns_its_death_and_timeout_into_results(directory):
    tuner = _tuner(directory, isolation="worker", max_trial_time=6)
    runner = LocalWorkersRunner(
        pickle_payload(tuner, (), {}, "worker"), "worker", tuner.max_trial_time
    )
    runner.start(task_runner=None, slots=1)
    try:
        reported = runner.train(_spec(tuner, "report"))
        died = runner.train(_spec(_tuner(directory), "die"))
        timed_out = runner.train(_spec(_tuner(directory), "sleep"))
    finally:
        runner.close()

    assert reported.status == "COMPLETED"
    assert reported.executions[0]["metrics"]["pid"] != [os.getpid()]
    assert (died.status, timed_out.status) == ("INVALID", "INVALID")
    assert "died (exit code 3)" in died.message
    assert "ran past max_trial_time (6 s)" in timed_out.message


def test_an_unpicklable_tuner_is_a_clear_error_before_any_trial(directory):
    tuner = _tuner(directory, isolation="worker")
    tuner.lock = threading.Lock()

    with pytest.raises(kt.FatalTypeError, match="isolation='worker'.*must be picklable"):
        pickle_payload(tuner, (), {}, "worker")


def test_a_worker_receives_the_tuner_without_the_search_history(directory):
    import cloudpickle

    tuner = _tuner(directory)
    spec = _spec(tuner, "report")
    result = InProcessRunner(tuner.executor, (), {}).train(spec)
    tuner.engine.record(spec, evaluate(result, tuner.oracle.objective))
    assert len(tuner.oracle.trials) == 1

    tuner_there, _, _ = cloudpickle.loads(pickle_payload(tuner, (), {}, "worker"))

    assert tuner_there.engine is None and tuner_there.oracle.trials == {}
    assert tuner_there.oracle.objective == tuner.oracle.objective
    assert len(tuner.oracle.trials) == 1  # the search's own oracle is untouched
