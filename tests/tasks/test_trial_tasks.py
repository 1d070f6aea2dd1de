"""The four tasks of a trial, called as functions: what each reads, returns and carries."""

from __future__ import annotations

import itertools
import pickle

import cloudpickle
import pytest

import tuning as kt
from tasks import bind_trial_tasks, evaluate_trial
from tasks.trial import _is_infrastructure_fault
from tuning.runners import InProcessRunner
from tuning.trial_spec import TrialOutcome, TrialResult, TrialSpec

pytestmark = pytest.mark.usefixtures("no_tracking_uri")
_projects = itertools.count()


class Quadratic(kt.RandomSearch):
    def run_trial(self, trial, target):
        return (trial.hyperparameters.Float("x", -1.0, 1.0) - target) ** 2


def _bound(directory, on_gpu: bool = False):
    tuner = Quadratic(
        max_trials=2, seed=4, directory=directory, project_name=f"tasks-{next(_projects)}"
    )
    tuner.engine.open("Quadratic", {}, overwrite=True)
    tasks = bind_trial_tasks(tuner.engine, InProcessRunner(tuner.executor, (0.5,), {}), on_gpu)
    return tuner, tasks


def test_a_trial_passes_through_the_four_tasks_as_values(directory):
    tuner, tasks = _bound(directory)

    spec = tasks.sample.fn("0")
    result = tasks.train.fn(spec)
    outcome = evaluate_trial.fn(result, tuner.oracle.objective.get_config())
    status = tasks.update.fn(spec, outcome)

    assert isinstance(spec, TrialSpec) and spec.slot == "0"
    assert isinstance(result, TrialResult) and result.run_id == spec.run_id
    assert isinstance(outcome, TrialOutcome) and outcome.evaluation is not None
    x = result.hyperparameters["values"]["x"]
    assert outcome.evaluation.score == pytest.approx((x - 0.5) ** 2)
    assert status == "COMPLETED" and tuner.oracle.trials[spec.trial_id].score is not None
    for value in (spec, result, outcome):  # small frozen values, fit for any boundary
        assert pickle.loads(pickle.dumps(value)) == value


def test_train_trial_is_tagged_gpu_only_where_trials_use_gpus(directory):
    _, on_cpu = _bound(directory, on_gpu=False)
    _, on_gpu = _bound(directory, on_gpu=True)

    assert on_cpu.train.tags == set() and on_gpu.train.tags == {"gpu"}
    assert [t.name for t in (on_cpu.sample, on_cpu.train, on_cpu.evaluate, on_cpu.update)] == [
        "sample-trial",
        "train-trial",
        "evaluate-trial",
        "update-oracle",
    ]


def test_train_trial_carries_its_runner_and_nothing_of_the_search(directory):
    """On Dask the task itself travels: it must not drag the engine (the oracle's history)."""
    tuner, _ = _bound(directory)
    runner = InProcessRunner(None, (), {})  # stands in for the cluster runner, small
    tasks = bind_trial_tasks(tuner.engine, runner, on_gpu=False)

    shipped = cloudpickle.loads(cloudpickle.dumps(tasks.train))

    closure = [cell.cell_contents for cell in shipped.fn.__closure__]
    assert [type(c).__name__ for c in closure] == ["InProcessRunner"]


def test_only_infrastructure_faults_are_retried():
    class State:
        def __init__(self, error):
            self.error = error

        def result(self):
            raise self.error

    assert _is_infrastructure_fault(None, None, State(ConnectionError("reset")))
    assert _is_infrastructure_fault(None, None, State(TimeoutError()))
    assert not _is_infrastructure_fault(None, None, State(ValueError("user code")))
