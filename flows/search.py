"""The search flow: one flow run per search, four tasks per trial.

The flow is one driver of a ``tuning.search_engine.SearchEngine``: it keeps up to
``max_concurrent_trials`` trials in flight, asks for a new trial the moment a
slot frees up, and records each trial as soon as it ends. What a slot's next
trial need not wait for is done after it has started: the ended trial's run
is closed in MLflow (``SearchEngine.flush``) while the next one trains. The
engine and the runner are bound into the flow and its tasks when
``run_search`` builds them; the flow run's parameters are plain values that
name the search.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

from prefect import Flow, flow
from prefect.artifacts import create_table_artifact
from prefect.context import FlowRunContext, SettingsContext, get_settings_context
from prefect.settings import PREFECT_API_URL
from prefect.task_runners import ThreadPoolTaskRunner

from flows.console import quiet_prefect_console
from tasks import TrialTasks, bind_trial_tasks
from tuning import heap
from tuning.runners import TrialRunner
from tuning.search_engine import SearchEngine, crashed
from tuning.trial import TrialStatus
from tuning.trial_spec import TrialOutcome, TrialSpec

__all__ = ["run_search", "search_flow"]

_IDLE_WAIT_S = 0.05

#: Environment variables that set the flow-run heartbeat (the second one is its legacy name).
_HEARTBEAT_VARIABLES = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


def search_flow(engine: SearchEngine, runner: TrialRunner) -> Flow:
    """The ``hyperflow-search`` flow, bound to one search's engine and runner.

    Args:
        engine: The search, opened in the store.
        runner: Where its trials train.
    """

    @flow(
        name="hyperflow-search",
        flow_run_name="{project_name}",
        persist_result=False,
        validate_parameters=False,
    )
    def hyperflow_search(
        project_name: str, search_run_id: str, max_concurrent_trials: int
    ) -> dict[str, Any]:
        """Runs a hyperparameter search until its oracle has no more trials.

        Args:
            project_name: The project (the MLflow experiment) searched.
            search_run_id: The search's MLflow run.
            max_concurrent_trials: How many trials train at once.

        Returns:
            A summary: the number of trials, the best trial and score, a leaderboard.
        """
        runner.start(FlowRunContext.get().task_runner, max_concurrent_trials)
        try:
            tasks = bind_trial_tasks(engine, runner, on_gpu=runner.on_gpu)
            _run_trials(engine, tasks, runner.resources, max_concurrent_trials)
        finally:
            runner.close()
            engine.flush()  # interrupted too: the trials already recorded keep their runs' ends
        summary = engine.finish()
        if summary["leaderboard"]:
            create_table_artifact(
                key=f"{_slug(project_name)}-leaderboard",
                table=summary["leaderboard"],
                description=f"Best trials of {project_name}, best first.",
            )
        if engine.fatal is not None:
            raise engine.fatal
        return summary

    return hyperflow_search


def _run_trials(
    engine: SearchEngine,
    tasks: TrialTasks,
    resources: dict[str, int] | None,
    max_concurrent_trials: int,
) -> None:
    """Samples, trains, evaluates and records trials until the engine stops sampling.

    Each pass starts a trial in every free slot, then makes the store writes
    that can wait (the runs of the trials just recorded end while the new
    ones start), then waits for a trial to end and records every trial that
    has ended by then.
    """
    objective = engine.oracle.objective.get_config()
    free_slots = [str(i) for i in range(max_concurrent_trials)]
    in_flight: dict[Any, TrialSpec] = {}
    ended: queue.SimpleQueue = queue.SimpleQueue()
    while True:
        idle = False
        while free_slots and engine.fatal is None:
            spec = tasks.sample(free_slots[0])
            if not spec.runnable:
                idle = spec.status == TrialStatus.IDLE.value
                break
            free_slots.pop(0)
            with _dask_annotations(resources):
                trained = tasks.train.submit(spec)
            in_flight[trained] = spec
            trained.add_done_callback(ended.put)
        engine.flush(wait=False)
        if not in_flight:
            if idle:  # the oracle is not ready yet, and no trial will wake it: ask again
                time.sleep(_IDLE_WAIT_S)
                continue
            return
        for trained in _drain(ended):
            trained.wait()  # its state may be older than its result until waited for
            spec = in_flight.pop(trained)
            # Scored here, in the flow's thread, once training is done: a task submitted
            # with a future argument costs a thread hand-off (~0.1 s) per trial.
            evaluated = tasks.evaluate(trained, objective, return_state=True)
            tasks.update(spec, _outcome(spec, evaluated, trained))
            free_slots.append(spec.slot)


def _drain(ended: queue.SimpleQueue) -> list[Any]:
    """The futures of the trials that ended: waits for one, then takes all there are."""
    futures = [ended.get()]
    with contextlib.suppress(queue.Empty):
        while True:
            futures.append(ended.get_nowait())
    return futures


def _outcome(spec: TrialSpec, evaluated: Any, trained: Any) -> TrialOutcome:
    """The evaluated outcome, or an INVALID one when the machinery around the trial broke.

    Args:
        spec: The trial's spec.
        evaluated: The final state of its ``evaluate-trial`` task run.
        trained: The future of its ``train-trial`` task run.
    """
    if evaluated.is_completed():
        return evaluated.result()
    failed = trained if not trained.state.is_completed() else evaluated
    return crashed(spec, failed.result(raise_on_failure=False))


@contextlib.contextmanager
def _dask_annotations(resources: dict[str, int] | None) -> Iterator[None]:
    """Asks Dask for ``resources`` for the tasks submitted inside (nothing when None)."""
    if resources is None:
        yield
        return
    import dask

    with dask.annotate(resources=resources):
        yield


def _task_runner(task_runner: Any, dask_address: str | None, max_concurrent_trials: int) -> Any:
    if task_runner is not None:
        return task_runner
    if dask_address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=dask_address)
    # Only train tasks go to the pool (the flow's thread scores and records trials).
    return ThreadPoolTaskRunner(max_workers=max_concurrent_trials)


@contextlib.contextmanager
def _heartbeats_where_heard() -> Iterator[None]:
    """No flow-run heartbeats on Prefect's temporary local server, unless the user set them.

    Heartbeats let a Prefect server mark the flow run of a process that died
    as crashed; the temporary server is this process's child and dies with
    it, so there they tell nobody. They still cost every search up to a second
    at its end: Prefect joins the heartbeat thread between its one-second sleeps.
    """
    user_set = any(name in os.environ for name in _HEARTBEAT_VARIABLES)
    if user_set or PREFECT_API_URL.value():
        yield
        return
    # A copy of the current settings with one field changed: ``temporary_settings``
    # would rebuild them from the environment and profile (~0.3 s per search).
    context = get_settings_context()
    settings = context.settings
    flows = settings.flows.model_copy(update={"heartbeat_frequency": None})
    with SettingsContext(
        profile=context.profile, settings=settings.model_copy(update={"flows": flows})
    ):
        yield


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the search runs, SIGTERM ends it as Ctrl-C does (``KeyboardInterrupt``).

    A cluster scheduler or ``systemctl stop`` sends SIGTERM, whose default
    ends the process at once: no ``finally`` and no ``atexit`` run, so the
    trials' processes, the zygote and Prefect's temporary server (~200 MB)
    would be left running. A second SIGTERM ends the process at once. Left
    alone where the process already handles SIGTERM, or off the main thread
    (where no handler can be set).
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _slug(name: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "search"


def run_search(
    engine: SearchEngine,
    runner: TrialRunner,
    max_concurrent_trials: int = 1,
    task_runner: Any = None,
    dask_address: str | None = None,
) -> dict[str, Any]:
    """Runs an opened search as a ``hyperflow-search`` flow run.

    Args:
        engine: The search, opened in the store (``SearchEngine.open``).
        runner: Where its trials train.
        max_concurrent_trials: How many trials train at once.
        task_runner: A Prefect task runner for the train tasks; by default a
            Dask one for ``dask_address``, else a thread pool.
        dask_address: A Dask scheduler to train the trials on.

    Returns:
        The flow's summary.
    """
    if not os.environ.get("PREFECT_API_URL"):
        # Prefect's temporary local server is ours to start: no telemetry from it
        # (this machine may have no network), unless the user asked for it.
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    runs_on = _task_runner(task_runner, dask_address, max_concurrent_trials)
    with quiet_prefect_console(), _heartbeats_where_heard(), heap.frozen_while_searching():
        try:
            with _sigterm_as_interrupt():
                return search_flow(engine, runner).with_options(task_runner=runs_on)(
                    project_name=engine.store.project_name,
                    search_run_id=engine.search_run_id,
                    max_concurrent_trials=max_concurrent_trials,
                )
        except KeyboardInterrupt:
            # The flow's own cleanup has ended the trials' processes; the process's
            # exit ends the zygote and Prefect's temporary server.
            engine.interrupt("interrupted (Ctrl-C or SIGTERM)")
            raise
