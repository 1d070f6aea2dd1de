"""The search flow: one flow run per search, four tasks per trial.

The flow owns the oracle (one writer). It keeps up to
``max_concurrent_trials`` trials in flight, asks for a new trial the moment a
slot frees up, and records each trial as soon as it ends.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from prefect import flow
from prefect.artifacts import create_table_artifact
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from flows.logging import quiet_prefect_console
from tasks import evaluate_trial, sample_trial, sessions, train_trial, update_oracle
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
    started = time.monotonic()
    session.display.search_begin()
    free_slots = [str(i) for i in range(session.tuner.max_concurrent_trials)]
    in_flight: dict[Any, tuple[Any, str]] = {}
    while True:
        while free_slots and session.fatal is None:
            spec = sample_trial(session_key, free_slots[0])
            if not spec.runnable:  # IDLE (wait for a running trial) or STOPPED
                break
            slot = free_slots.pop(0)
            trained = train_trial.submit(session_key, spec)
            in_flight[evaluate_trial.submit(session_key, trained)] = (spec, slot)
        if not in_flight:
            break
        done = next(as_completed(list(in_flight)))
        done.wait()  # as_completed's future may carry a state older than the result
        spec, slot = in_flight.pop(done)
        update_oracle(session_key, spec, done.result())
        free_slots.append(slot)
    summary = session.finish(started)
    if summary["leaderboard"]:
        create_table_artifact(
            key=f"{_slug(project_name)}-leaderboard",
            table=summary["leaderboard"],
            description=f"Best trials of {project_name}, best first.",
        )
    if session.fatal is not None:
        raise session.fatal
    return summary


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
    session = SearchSession(uuid.uuid4().hex, tuner, fit_args, fit_kwargs)
    sessions.register(session)
    # Each trial holds a train and an evaluate task in the pool at once.
    runner = ThreadPoolTaskRunner(max_workers=2 * tuner.max_concurrent_trials + 1)
    try:
        with quiet_prefect_console():
            return search_flow.with_options(task_runner=runner)(
                project_name=tuner.project_name, session_key=session.key
            )
    finally:
        sessions.unregister(session.key)
