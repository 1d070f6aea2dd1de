"""The four steps of a trial, one Prefect task each, bound to one search.

``bind_trial_tasks`` builds the tasks over the search's engine and runner, so a
task reads nothing from a process-wide registry: ``sample-trial`` and
``update-oracle`` change the engine (the flow calls them in its own thread),
``train-trial`` hands its spec to the runner (in a thread of this process or
on a Dask worker), ``evaluate-trial`` is a pure function of its inputs. What
crosses each task boundary is a small frozen value: a slot name, a
``TrialSpec``, a ``TrialResult``, a ``TrialOutcome``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from tuning.objective import create_objective
from tuning.runners import TrialRunner
from tuning.search_engine import SearchEngine, evaluate
from tuning.trial_spec import TrialOutcome, TrialResult, TrialSpec

__all__ = ["TrialTasks", "bind_trial_tasks", "evaluate_trial"]

# Trial inputs are never hashed for a cache key nor stored as results.
_NOT_CACHED = {"cache_policy": NO_CACHE, "persist_result": False}

# Faults of the machinery around a trial, worth a retry; the user's own errors
# never reach Prefect (the runner returns them as a FAILED or INVALID result).
_INFRASTRUCTURE_FAULTS = (ConnectionError, TimeoutError, OSError)


def _is_infrastructure_fault(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except _INFRASTRUCTURE_FAULTS:
        return True
    except BaseException:
        return False
    return False


@task(name="evaluate-trial", task_run_name="evaluate-trial-{result.trial_id}", **_NOT_CACHED)
def evaluate_trial(result: TrialResult, objective: dict) -> TrialOutcome:
    """Scores the trial at its best step, averaged over its executions.

    Args:
        result: What training gave.
        objective: The search's ``Objective.get_config()``.
    """
    return evaluate(result, create_objective(objective))


@dataclass(frozen=True)
class TrialTasks:
    """One search's tasks: ``sample``, ``train``, ``evaluate`` and ``update``."""

    sample: Task
    train: Task
    evaluate: Task
    update: Task


def bind_trial_tasks(engine: SearchEngine, runner: TrialRunner, on_gpu: bool) -> TrialTasks:
    """The four tasks of a trial, bound to one search's engine and runner.

    Args:
        engine: The search's engine (sampling and recording).
        runner: Where trials train; carried to the cluster with ``train-trial``
            on a Dask task runner, so it must be small and picklable there.
        on_gpu: Whether trials train on GPUs: ``train-trial`` is then tagged
            ``gpu``, so that ``prefect concurrency-limit create gpu N`` caps
            the GPU trials of every search sharing a Prefect server. Left off
            on CPUs: Prefect asks its API for a concurrency slot for each
            tagged task run (~140 ms a trial on a 2-core machine).
    """

    @task(name="sample-trial", task_run_name="sample-trial-{slot}", **_NOT_CACHED)
    def sample_trial(slot: str) -> TrialSpec:
        """Asks the oracle for the next trial and opens its MLflow run.

        Args:
            slot: Which of the ``max_concurrent_trials`` slots asks.
        """
        return engine.sample(slot)

    @task(
        name="train-trial",
        task_run_name="train-trial-{spec.trial_id}",
        retries=2,
        retry_delay_seconds=2,
        retry_condition_fn=_is_infrastructure_fault,
        tags=["gpu"] if on_gpu else None,
        **_NOT_CACHED,
    )
    def train_trial(spec: TrialSpec) -> TrialResult:
        """Builds and trains the trial's models, streaming each epoch to MLflow.

        Args:
            spec: The trial to train.
        """
        return runner.train(spec)

    @task(name="update-oracle", task_run_name="update-oracle-{spec.trial_id}", **_NOT_CACHED)
    def update_oracle(spec: TrialSpec, outcome: TrialOutcome) -> str:
        """Tells the oracle the result; the trial's run ends once the next trial has started.

        The search state that records the result is saved by the next
        ``sample-trial``, and the run's end written by the flow once the
        free slots have their next trials (``SearchEngine.flush``).

        Args:
            spec: The trial's spec.
            outcome: Its result and evaluation.
        """
        return engine.record(spec, outcome, flush=False)

    return TrialTasks(sample_trial, train_trial, evaluate_trial, update_oracle)
