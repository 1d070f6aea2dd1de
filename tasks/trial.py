"""The four steps of a trial, one Prefect task each.

``sample_trial`` and ``update_oracle`` change the oracle, so the flow calls
them in its own thread; ``train_trial`` and ``evaluate_trial`` are submitted to
the task runner.
"""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import sessions
from tuning.objective import create_objective
from tuning.session import evaluate
from tuning.trial_spec import TrialOutcome, TrialResult, TrialSpec

__all__ = ["evaluate_trial", "sample_trial", "train_trial", "update_oracle"]

# Trial inputs are never hashed for a cache key nor stored as results.
_NOT_CACHED = {"cache_policy": NO_CACHE, "persist_result": False}

# Faults of the machinery around a trial, worth a retry; the user's own errors
# never reach Prefect (train_trial returns them as a FAILED or INVALID result).
_INFRASTRUCTURE_FAULTS = (ConnectionError, TimeoutError, OSError)


def _is_infrastructure_fault(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook
    try:
        state.result()
    except _INFRASTRUCTURE_FAULTS:
        return True
    except BaseException:
        return False
    return False


@task(name="sample-trial", task_run_name="sample-trial-{slot}", **_NOT_CACHED)
def sample_trial(session_key: str, slot: str) -> TrialSpec:
    """Asks the oracle for the next trial and opens its MLflow run.

    Args:
        session_key: The search's session.
        slot: Which of the ``max_concurrent_trials`` slots asks.
    """
    return sessions.get(session_key).sample(slot)


@task(
    name="train-trial",
    task_run_name="train-trial-{spec.trial_id}",
    retries=2,
    retry_delay_seconds=2,
    retry_condition_fn=_is_infrastructure_fault,
    **_NOT_CACHED,
)
def train_trial(session_key: str, spec: TrialSpec, payload: bytes | None = None) -> TrialResult:
    """Builds and trains the trial's models, streaming each epoch to MLflow.

    The search flow tags it ``gpu`` when trials train on GPUs.
    In the search's process the session trains it; on a Dask worker (no
    session there) a child process of the worker does.

    Args:
        session_key: The search's session.
        spec: The trial to train.
        payload: On a Dask cluster, the search's pickled tuner and data
            (scattered once per search; Dask hands each worker its copy).
    """
    session = sessions.find(session_key)
    if session is not None:
        return session.train(spec)
    from tasks.remote import train_on_worker

    return train_on_worker(spec, payload)


@task(name="evaluate-trial", task_run_name="evaluate-trial-{result.trial_id}", **_NOT_CACHED)
def evaluate_trial(result: TrialResult, objective: dict) -> TrialOutcome:
    """Scores the trial at its best step, averaged over its executions.

    Args:
        result: What training gave.
        objective: The search's ``Objective.get_config()``.
    """
    return evaluate(result, create_objective(objective))


@task(name="update-oracle", task_run_name="update-oracle-{spec.trial_id}", **_NOT_CACHED)
def update_oracle(session_key: str, spec: TrialSpec, outcome: TrialOutcome) -> str:
    """Tells the oracle the result, ends the trial's run and saves the search state."""
    return sessions.get(session_key).record(spec, outcome)
