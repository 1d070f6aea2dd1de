"""The search flow: one flow run per search, four tasks per trial.

The flow owns the oracle (one writer). It keeps up to
``max_concurrent_trials`` trials in flight, asks for a new trial the moment a
slot frees up, and records each trial as soon as it ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prefect import Task, flow
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.console import quiet_prefect_console
from tasks import evaluate_trial, sample_trial, sessions, train_trial, update_oracle
from tuning.devices import visible_gpus
from tuning.session import SearchSession

if TYPE_CHECKING:
    from tuning.tuners import Tuner

__all__ = ["run_search", "search_flow"]


@flow(
    name="hyperflow-search",
    flow_run_name="{project_name}",
    persist_result=False,
    validate_parameters=False,
)
def search_flow(project_name: str, session_key: str) -> dict[str, Any]:
    """Runs a hyperparameter search until its oracle has no more trials.

    Args:
        project_name: The project (the MLflow experiment) searched.
        session_key: The in-process search session holding the tuner and data.

    Returns:
        A summary: the number of trials, the best trial and score, a leaderboard.
    """
    session = sessions.get(session_key)
    session.prepare()
    session.display.search_begin()
    objective = session.oracle.objective.get_config()
    free_slots = [str(i) for i in range(session.tuner.max_concurrent_trials)]
    in_flight: dict[Any, tuple[Any, str]] = {}
    with _cluster_payload(session) as (payload, resources):
        on_gpu = bool(resources) if payload is not None else bool(visible_gpus())
        train = _train_task(on_gpu)
        while True:
            while free_slots and session.fatal is None:
                spec = sample_trial(session_key, free_slots[0])
                if not spec.runnable:  # IDLE (wait for a running trial) or STOPPED
                    break
                slot = free_slots.pop(0)
                with dask_annotations(resources):
                    trained = train.submit(session_key, spec, payload)
                in_flight[trained] = (spec, slot)
            if not in_flight:
                break
            trained = next(as_completed(list(in_flight)))
            trained.wait()  # as_completed's future may carry a state older than the result
            spec, slot = in_flight.pop(trained)
            # Scored here, in the flow's thread, once training is done: a task submitted
            # with a future argument costs a thread hand-off (~0.1 s) per trial.
            evaluated = evaluate_trial(trained, objective, return_state=True)
            update_oracle(session_key, spec, _outcome(session, spec, evaluated, trained))
            free_slots.append(slot)
    summary = session.finish()
    if summary["leaderboard"]:
        create_table_artifact(
            key=f"{_slug(project_name)}-leaderboard",
            table=summary["leaderboard"],
            description=f"Best trials of {project_name}, best first.",
        )
    if session.fatal is not None:
        raise session.fatal
    return summary


def _train_task(on_gpu: bool) -> Task:
    """``train-trial``, tagged ``gpu`` when its trials train on GPUs.

    The tag lets ``prefect concurrency-limit create gpu N`` cap the GPU trials of
    every search that shares a Prefect server. It is left off on CPUs: Prefect
    asks its API for a concurrency slot for each tagged task run, which cost
    ~140 ms a trial on a 2-core machine (benchmarks/overhead.py).
    """
    return train_trial.with_options(tags=["gpu"]) if on_gpu else train_trial


def _outcome(session: SearchSession, spec: Any, evaluated: Any, trained: Any) -> Any:
    """The evaluated outcome, or an INVALID one when the machinery around the trial broke.

    Args:
        session: The search's session.
        spec: The trial's spec.
        evaluated: The final state of its ``evaluate-trial`` task run.
        trained: The future of its ``train-trial`` task run.
    """
    if evaluated.is_completed():
        return evaluated.result()
    failed = trained if not trained.state.is_completed() else evaluated
    error = failed.result(raise_on_failure=False)
    return session.crashed(spec, error)


@contextlib.contextmanager
def _cluster_payload(session: SearchSession) -> Iterator[tuple[Any, dict[str, int] | None]]:
    """On a Dask task runner: ships the payload to every worker once, for the whole search.

    Yields:
        The scattered payload (a Dask future that Dask resolves to the bytes
        in the train tasks) and the Dask resources a train task asks for (one
        GPU when the cluster's workers advertise ``GPU``); ``(None, None)``
        on any other task runner.
    """
    runner = FlowRunContext.get().task_runner
    if type(runner).__module__.split(".")[0] != "prefect_dask":
        yield None, None
        return
    client = runner.client  # the runner's own distributed.Client, connected on first use
    payload = client.scatter(session.payload_bytes(), broadcast=True)
    session.payload_key = payload.key
    workers = client.scheduler_info()["workers"].values()
    has_gpus = any(w.get("resources", {}).get("GPU") for w in workers)
    try:
        yield payload, ({"GPU": 1} if has_gpus else None)
    finally:
        from tasks.remote import close_workers

        client.run(close_workers, payload.key)
        session.payload_key = ""
        payload.release()


@contextlib.contextmanager
def dask_annotations(resources: dict[str, int] | None) -> Iterator[None]:
    """Asks Dask for ``resources`` for the tasks submitted inside (nothing when None)."""
    if resources is None:
        yield
        return
    import dask

    with dask.annotate(resources=resources):
        yield


def _task_runner(tuner: Tuner) -> Any:
    if tuner.task_runner is not None:
        return tuner.task_runner
    if tuner.dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=tuner.dask_address)
    # Only train tasks go to the pool (the flow's thread scores and records trials).
    return ThreadPoolTaskRunner(max_workers=tuner.max_concurrent_trials)


def _slug(name: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "search"


def run_search(tuner: Tuner, fit_args: tuple, fit_kwargs: dict) -> dict[str, Any]:
    """Runs ``tuner``'s search as a flow run, with the data kept in this process.

    Args:
        tuner: The tuner, its search already opened in the store.
        fit_args: Positional arguments for ``fit``.
        fit_kwargs: Keyword arguments for ``fit``.

    Returns:
        The flow's summary.
    """
    if not os.environ.get("PREFECT_API_URL"):
        # Prefect's temporary local server is ours to start: no telemetry from it
        # (this machine may have no network), unless the user asked for it.
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    session = SearchSession(uuid.uuid4().hex, tuner, fit_args, fit_kwargs)
    sessions.register(session)
    try:
        with quiet_prefect_console():
            return search_flow.with_options(task_runner=_task_runner(tuner))(
                project_name=tuner.project_name, session_key=session.key
            )
    finally:
        sessions.unregister(session.key)
        session.close()
