"""The search engine: one search's state, changed in one place, free of Prefect.

``SearchEngine`` opens or resumes a search in the trial store, samples the
next trial, records a finished one and finishes the search. It is the only
code that calls the oracle's mutating methods and the only code that saves
the search state, so the order of those calls, which resume depends on, is
written down once, here. Any driver can run a search over it: the Prefect
flow in ``flows/search.py`` is one (it records a trial with ``flush=False``
and calls ``flush(wait=False)`` once the next trials have started, so that a
trial's run is closed in the background); a plain loop is another::

    engine.open("RandomSearch", params, overwrite=True)
    engine.begin()
    while (spec := engine.sample("0")).runnable:
        engine.record(spec, evaluate(runner.train(spec), engine.oracle.objective))
    summary = engine.finish()
"""

from __future__ import annotations

import functools
import math
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from tuning import errors
from tuning.display import Display
from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective
from tuning.oracles.base import Oracle
from tuning.plots import search_figures
from tuning.results import Evaluation, Execution, aggregate
from tuning.stopping import StopRule
from tuning.trial import Trial, TrialStatus
from tuning.trial_spec import TrialOutcome, TrialResult, TrialSpec

__all__ = ["SearchEngine", "crashed", "evaluate", "trial_seed"]

_ENDED = {s.value for s in TrialStatus if s.is_finished}


class SearchEngine:
    """One search: its oracle, its runs in the trial store, its progress on the console.

    Sampling and recording must happen in one thread (the driver's); training
    and evaluation may happen anywhere.

    Args:
        oracle: The search algorithm.
        store: The trial store (``TrialStore``) the search lives in.
        tuner_id: The tuner's name; a trial is asked for as ``<tuner_id>-<slot>``.
        max_time: Seconds after ``begin`` when no new trial starts, or None.
        stop_when: Rules asked after each completed trial (``tuning.stopping``);
            once one gives a reason, no new trial starts.
        on_trial_end: Called with each trial once the oracle recorded it
            (``Tuner.on_trial_end``).
        max_checkpoints: Keep the weights of the best k completed trials
            only; None keeps all.
    """

    def __init__(
        self,
        oracle: Oracle,
        store: Any,
        tuner_id: str = "tuner0",
        max_time: float | None = None,
        on_trial_end: Callable[[Trial], None] | None = None,
        max_checkpoints: int | None = None,
        stop_when: Sequence[StopRule] = (),
    ) -> None:
        self.oracle = oracle
        self.store = store
        self.tuner_id = tuner_id
        self.max_time = max_time
        self.on_trial_end = on_trial_end
        self.max_checkpoints = max_checkpoints
        self.stop_when = list(stop_when)
        self.stop_reason: str | None = None
        self.search_run_id: str | None = None
        self.trial_run_ids: dict[str, str] = {}
        self.fatal: BaseException | None = None
        self.display = Display(oracle.objective.name)
        self._attempts: dict[str, int] = {}
        # trial id -> (run id, saved progress) of the trials a resume continues in their runs
        self._resumable: dict[str, tuple[str, dict[str, Any]]] = {}
        self._weights_removed: set[str] = set()
        self._opened = False
        self.warm_started_names: set[str] = set()
        self._started = time.monotonic()
        self._lock = threading.Lock()
        # Store writes that ``flush`` makes, in order, and whether the state changed since saved.
        self._pending: list[Callable[[], None]] = []
        self._unsaved = False
        # Runs' params and ends written in the background, in order (``flush(wait=False)``).
        self._writer: ThreadPoolExecutor | None = None
        self._writing: list[Future[None]] = []

    def __reduce__(self) -> tuple[Any, tuple[str | None]]:
        """An engine never leaves its search's process: pickled, it becomes a stub.

        Prefect sends a flow run's context, the flow bound to its engine
        included, to Dask workers with each task; the search stays here.
        """
        return (_DetachedEngine, (self.search_run_id,))

    # Before the search ---------------------------------------------------------------

    def declare(self, hp: HyperParameters) -> None:
        """Adds the hyperparameters a build declared to the search space.

        Raises:
            RuntimeError: New hyperparameters with ``allow_new_entries=False``.
        """
        self.oracle.update_space(hp)

    def warm_start(self, trials: Sequence[Trial], best_k: int = 5) -> int:
        """Seeds the oracle with earlier searches' trials (see ``Oracle.warm_start``).

        Their hyperparameters' names are remembered as the model's own
        (``warm_started_names``), declared or not yet in this search.

        Returns:
            How many trials the oracle used.
        """
        self.warm_started_names |= {name for trial in trials for name in trial.values}
        return self.oracle.warm_start(trials, best_k=best_k)

    def open(self, tuner_name: str, params: dict[str, Any], overwrite: bool) -> str:
        """Opens the search in the store: resumes the project's last one or starts anew.

        Resuming restores the oracle's saved state, replays the end of any
        trial whose run ended after that state was saved, puts the trials that
        were running back at the head of the queue, and saves the state. A
        trial that was running continues from the progress it saved, in its
        same run; the runs of the others are marked KILLED and their trials
        start again in new runs. Idempotent.

        Args:
            tuner_name: The tuner's class name (the search run's name and tag).
            params: The search's settings, logged as the search run's params.
            overwrite: True starts a new search even when one exists.

        Returns:
            The search's run id.
        """
        if self._opened:
            return self.search_run_id  # type: ignore[return-value]
        self.store.connect()
        runs, trials = self.store.runs, self.store.trials
        run_id = None if overwrite else runs.latest_search()
        state = self.store.state.load(run_id) if run_id else None
        if state is None:
            self.search_run_id = runs.start_search(
                tuner_name, params, self.oracle.hyperparameters.get_config()
            )
            self.save()
            self._opened = True
            return self.search_run_id
        self._check_same_search(state)
        self.search_run_id = run_id
        self.oracle.set_state(state)
        trial_runs = trials.trial_runs(run_id)
        self.trial_run_ids = {r["trial_id"]: r["run_id"] for r in trial_runs}
        for run in trial_runs:
            self._attempts[run["trial_id"]] = max(
                run["attempt"], self._attempts.get(run["trial_id"], 0)
            )
        ongoing = {t.trial_id for t in self.oracle.ongoing_trials.values()}
        for run in trial_runs:
            trial = self.oracle.trials.get(run["trial_id"])
            if run["trial_id"] in ongoing and run["status"] in _ENDED:
                # Its run ended after the last saved state: replay the end, do not rerun it.
                record = trials.finished_trial_record(run["run_id"])
                if record is not None:
                    self.oracle.end_trial(Trial.from_state(record))
            elif (
                trial is not None
                and trial.trial_id not in ongoing
                and trial.status.is_finished
                and run["run_status"] == "RUNNING"
                and self.trial_run_ids[trial.trial_id] == run["run_id"]
            ):
                # The saved state has its end, its run does not yet (``record(flush=False)``).
                self._end_run(run["run_id"], trial, duration_s=None)
        self.oracle.requeue_ongoing()
        for run in trial_runs:
            trial_id = run["trial_id"]
            trial = self.oracle.trials.get(trial_id)
            # RUNNING: requeued now, or by an earlier resume that died before it sampled it.
            if (
                trial is not None
                and trial.status == TrialStatus.RUNNING
                and run["run_status"] == "RUNNING"
                and self.trial_run_ids[trial_id] == run["run_id"]
                and (progress := trials.progress(run["run_id"])) is not None
            ):
                self._resumable[trial_id] = (run["run_id"], progress)
        trials.kill_unfinished_trials(run_id, keep={r for r, _ in self._resumable.values()})
        runs.reopen_search(run_id)
        self.save()
        self._opened = True
        return run_id

    def load_latest(self, force: bool = False) -> bool:
        """Reads the project's last search into the oracle, to report on it; changes no run.

        For a process that ran no search (a tuner constructed on an existing
        project, ``get_best_models`` after a restart).

        Args:
            force: Read it again even if this engine already holds a search.

        Returns:
            Whether a search with a saved state was found.

        Raises:
            ValueError: That search had another oracle or another objective.
        """
        if not force and (self.search_run_id is not None or self.oracle.trials):
            return True
        self.store.connect()
        run_id = self.store.runs.latest_search()
        state = self.store.state.load(run_id) if run_id else None
        if state is None:
            return False
        self._check_same_search(state)
        self.search_run_id = run_id
        self.oracle.set_state(state)
        self.trial_run_ids = {
            r["trial_id"]: r["run_id"] for r in self.store.trials.trial_runs(run_id)
        }
        return True

    def save(self) -> None:
        """Saves the oracle's state to the search's run (a no-op before ``open``)."""
        if self.search_run_id is not None:
            self.store.state.save(self.search_run_id, self.oracle.get_state())
            self._unsaved = False

    def flush(self, wait: bool = True) -> None:
        """Makes the writes ``sample`` and ``record(flush=False)`` left for later.

        In order: the new trials' hyperparameter values (their runs' params),
        the recorded trials' run ends, then the search state if a recorded
        trial changed it since it was last saved. A driver calls it with
        ``wait=False`` once it has started the trials it could: the runs'
        writes are then made by one background thread, in the order they
        were left, while the flow waits for a trial to end. The state is
        saved in the calling thread, its one writer; ``open`` accepts a run's
        end and the state that holds it landing in either order.

        Args:
            wait: Return once every write, earlier background ones included,
                has been made.

        Raises:
            Exception: A background write failed (raised by the next ``flush``).
        """
        if self._pending and not wait:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(1, thread_name_prefix="hyperflow-store")
            self._writing += [self._writer.submit(write) for write in self._pending]
            self._pending.clear()
        while self._pending:
            self._pending.pop(0)()
        self._collect_writes(wait)
        if self._unsaved:
            self.save()

    def _collect_writes(self, wait: bool) -> None:
        """Forgets the background writes that are done (all when ``wait``); raises a failed one."""
        done = self._writing if wait else [write for write in self._writing if write.done()]
        self._writing = [write for write in self._writing if write not in done]
        for write in done:
            write.result()

    def _check_same_search(self, state: dict[str, Any]) -> None:
        """Refuses to continue a saved search under another oracle or objective.

        Its scores would be re-ranked under the new direction, or its state
        would not fit the oracle.

        Raises:
            ValueError: Naming what differs, and how to start anew.
        """
        saved_oracle = state.get("class_name")
        saved_objective = state.get("config", {}).get("objective")
        objective = self.oracle.objective.get_config()
        if saved_oracle != type(self.oracle).__name__:
            differs = f"the oracle {saved_oracle}, not {type(self.oracle).__name__}"
        elif saved_objective is not None and saved_objective != objective:
            differs = f"the objective {saved_objective}, not {objective}"
        else:
            return
        raise ValueError(
            f"Project {self.store.project_name!r} was searched with {differs}. Pass "
            "overwrite=True to start a new search, or use another project_name."
        )

    def begin(self, verbose: int = 1) -> None:
        """Starts the clock of ``max_time`` and the console's progress.

        A resumed search that a ``stop_when`` rule had ended starts no trial.
        """
        self._started = time.monotonic()
        self.display = Display(self.oracle.objective.name, verbose=verbose)
        self.display.search_begin()
        self._ask_stop_rules()

    # One trial ------------------------------------------------------------------------

    @property
    def time_spent(self) -> bool:
        """Whether ``max_time`` has run out."""
        return self.max_time is not None and time.monotonic() - self._started >= self.max_time

    def sample(self, slot: str) -> TrialSpec:
        """Asks the oracle for the next trial and opens its MLflow run.

        The state is saved once the run exists, before the trial can start (and
        so end): a search killed after the trial's run ended then replays that
        end on resume instead of running the trial again. That save also holds
        the trials recorded since the last one. The run's params (the trial's
        values) are logged by the next ``flush``, after the trial has started.

        Args:
            slot: Which of the concurrent slots asks.

        Returns:
            A RUNNING spec to train, or one that carries no trial: IDLE (ask
            again once a running trial ends) or STOPPED (the search is over).
        """
        if self.time_spent and self.stop_reason is None:
            self._stop(f"max_time ({self.max_time:g} s) ran out")
        if self.fatal is not None or self.stop_reason is not None:
            return TrialSpec(status=TrialStatus.STOPPED.value)
        with self._lock:
            trial = self.oracle.create_trial(f"{self.tuner_id}-{slot}")
        status = TrialStatus(trial.status)  # a user's oracle may set a plain string
        if status != TrialStatus.RUNNING:
            return TrialSpec(status=status.value)
        trials = self.store.trials
        run_id, progress = self._resumable.pop(trial.trial_id, (None, {}))
        if run_id is None:
            attempt = self._attempts.get(trial.trial_id, -1) + 1
            self._attempts[trial.trial_id] = attempt
            run_id = trials.start_trial(self.search_run_id, trial.trial_id, {}, attempt=attempt)
        else:  # continued in its run, as the same attempt
            attempt = self._attempts.get(trial.trial_id, 0)
        self._pending.append(functools.partial(trials.log_values, run_id, dict(trial.values)))
        self.trial_run_ids[trial.trial_id] = run_id
        self.save()
        parent = trial.values.get("tuner/trial_id")
        best = self.oracle.get_best_trials(1)
        self.display.trial_begin(trial, best[0].hyperparameters if best else None)
        return TrialSpec(
            status=TrialStatus.RUNNING.value,
            trial_id=trial.trial_id,
            hyperparameters=trial.hyperparameters.get_config(),
            run_id=run_id,
            artifact_uri=self.store.connection.artifact_uri(run_id),
            seed=trial_seed(self.oracle.seed, trial.trial_id, attempt),
            parent_run_id=self.trial_run_ids.get(parent) if parent else None,
            pruning_reference=self.oracle.pruning_reference(),
            slot=slot,
            resume=progress,
        )

    def record(self, spec: TrialSpec, outcome: TrialOutcome, flush: bool = True) -> str:
        """Tells the oracle how the trial ended, ends its run, saves the search state.

        The one place a trial is finished, however it was driven. The run's
        end (``trial.json`` with the trial as it ended, the score, the status)
        and the saved state may land in either order: ``open`` replays a
        run's end that the saved state lacks, and ends a run from the saved
        state that holds its end.

        Args:
            spec: The trial's spec, as ``sample`` made it.
            outcome: Its result and evaluation.
            flush: Write the run's end, then the state, now. False leaves the
                state to the next ``sample`` and the run's end to ``flush``,
                so that a driver starts the next trial first.

        Returns:
            The trial's status after the oracle's decision (a crashed trial
            may be INVALID and queued for a retry, or FAILED).
        """
        result, evaluation = outcome.result, outcome.evaluation
        trial = self.oracle.trials[spec.trial_id]
        trial.hyperparameters = HyperParameters.from_config(result.hyperparameters)
        try:
            self.oracle.update_space(trial.hyperparameters)
        except RuntimeError as error:  # new entries with allow_new_entries=False
            result = result.failed_by(errors.FatalRuntimeError(str(error)))
        if evaluation is not None:
            self._record_curve(spec.trial_id, evaluation)
            trial.score, trial.best_step = evaluation.score, evaluation.best_step
        trial.status, trial.message = TrialStatus(result.status), result.message
        # The run keeps the trial as it ended, before the oracle's decision, which a
        # resumed search then replays from it.
        self._end_run(spec.run_id, trial, result.duration_s, pending=True)
        try:
            self.oracle.end_trial(trial)
        except errors.FatalError as error:
            self.fatal = error
        if self.oracle.pruning is not None and trial.status == TrialStatus.COMPLETED:
            # Trials still training read it at their next epoch.
            self._pending.append(
                functools.partial(
                    self.store.runs.publish_pruning_reference,
                    self.search_run_id,
                    self.oracle.pruning_reference(),
                )
            )
        if result.error_type and self.fatal is None:
            self.fatal = _error_class(result.error_type)(result.message or result.error_type)
        for run_id in self._weights_to_remove():
            self._pending.append(functools.partial(self.store.trials.delete_weights, run_id))
        self._unsaved = True
        if flush:
            self.flush()
        best = self.oracle.get_best_trials(1)
        self.display.trial_end(trial, best[0].score if best else None)
        if self.on_trial_end is not None:
            self.on_trial_end(trial)
        if trial.status == TrialStatus.COMPLETED:
            self._ask_stop_rules()
        return trial.status.value

    def completed_scores(self) -> list[float]:
        """The completed trials' finite scores, in the order the trials were created."""
        return [
            float(t.score)
            for t in self.oracle.trials.values()
            if t.status == TrialStatus.COMPLETED and t.score is not None and math.isfinite(t.score)
        ]

    def _ask_stop_rules(self) -> None:
        """Ends the search (no new trial) when a ``stop_when`` rule gives a reason."""
        if self.stop_reason is not None or not self.stop_when:
            return
        scores = self.completed_scores()
        for rule in self.stop_when:
            reason = rule.reason(scores, self.oracle.objective.direction)
            if reason is not None:
                self._stop(f"{reason} ({rule!r})")
                return

    def _stop(self, reason: str) -> None:
        self.stop_reason = reason
        self.display.search_stopped(reason)

    def _end_run(
        self, run_id: str, trial: Trial, duration_s: float | None, pending: bool = False
    ) -> None:
        """Ends a trial's run with the trial's record and status, now or at the next ``flush``."""
        end = functools.partial(
            self.store.trials.end_trial,
            run_id,
            trial.get_state(),
            trial.status.value,
            trial.score,
            duration_s,
            error=trial.message,
            values=dict(trial.values),
        )
        if pending:
            self._pending.append(end)
        else:
            end()

    def _weights_to_remove(self) -> list[str]:
        """The runs of ended trials that fell out of the best ``max_checkpoints``, each once.

        Decided here, in the recording thread; the removal is a store write left for ``flush``.
        """
        if self.max_checkpoints is None:
            return []
        keep = {t.trial_id for t in self.oracle.get_best_trials(self.max_checkpoints)}
        fallen = [
            trial.trial_id
            for trial in self.oracle.trials.values()
            if trial.status.is_finished
            and trial.trial_id not in keep
            and trial.trial_id not in self._weights_removed
            and trial.trial_id in self.trial_run_ids
        ]
        self._weights_removed.update(fallen)
        return [self.trial_run_ids[trial_id] for trial_id in fallen]

    def _record_curve(self, trial_id: str, evaluation: Evaluation) -> None:
        for step, metrics in evaluation.curve.items():
            finite = {k: v for k, v in metrics.items() if not math.isnan(v)}
            self.oracle.update_trial(trial_id, finite, step=int(step), prune=False)

    # After the search -----------------------------------------------------------------

    def finish(self) -> dict[str, Any]:
        """Ends the search's run with the best trial, a leaderboard and plots.

        First makes the writes left for later (``flush``).

        Returns:
            A summary: ``project_name``, ``trials``, ``best_trial_id``,
            ``best_score``, ``stop_reason`` (why the search ended before its
            oracle's budget, or None), ``elapsed_s`` and ``leaderboard`` (rows, best first).
        """
        self.flush()
        if self._writer is not None:
            self._writer.shutdown()
            self._writer = None
        leaderboard = self.leaderboard()
        best = self.oracle.get_best_trials(1)
        self.store.runs.log_figures(self.search_run_id, search_figures(self.oracle))
        front = self._pareto_front()
        if front is not None:
            self.store.runs.tag_pareto_front(
                self.search_run_id,
                {t.trial_id: self.trial_run_ids[t.trial_id] for t in front},
            )
        self.store.runs.end_search(
            self.search_run_id,
            "FAILED" if self.fatal is not None else "FINISHED",
            best[0].score if best else None,
            best[0].trial_id if best else None,
            leaderboard,
            stop_reason=self.stop_reason,
        )
        return {
            "project_name": self.store.project_name,
            "trials": len(self.oracle.trials),
            "best_trial_id": best[0].trial_id if best else None,
            "best_score": best[0].score if best else None,
            "stop_reason": self.stop_reason,
            "elapsed_s": time.monotonic() - self._started,
            "leaderboard": leaderboard,
            "pareto_trial_ids": None if front is None else [t.trial_id for t in front],
        }

    def interrupt(self, reason: str) -> None:
        """Ends a search that was interrupted (Ctrl-C, SIGTERM) in the store, without waiting.

        Makes the writes left for later, marks the runs of the trials still
        running KILLED (a resumed search runs them again), except those that
        saved their progress (a resumed search continues them in their runs,
        as after SIGKILL), and ends the search's run KILLED with ``reason`` as
        its ``hyperflow.stop_reason``.
        """
        self.flush()
        running = [
            self.trial_run_ids[trial.trial_id]
            for trial in self.oracle.ongoing_trials.values()
            if trial.trial_id in self.trial_run_ids
        ]
        resumable = {run_id for run_id in running if self.store.trials.progress(run_id)}
        self.store.trials.kill_unfinished_trials(self.search_run_id, keep=resumable)
        best = self.oracle.get_best_trials(1)
        self.store.runs.end_search(
            self.search_run_id,
            "KILLED",
            best[0].score if best else None,
            best[0].trial_id if best else None,
            self.leaderboard(),
            stop_reason=reason,
        )

    def _pareto_front(self) -> list[Trial] | None:
        """The Pareto front's trials with several objectives, else None."""
        if len(self.oracle.objective.names) < 2:
            return None
        return self.oracle.get_pareto_trials()

    def leaderboard(self, limit: int = 50) -> list[dict[str, Any]]:
        """The best completed trials as table rows, best first.

        With several objectives each row also holds every objective's value
        and ``pareto_front`` (whether the trial is on the front); every front
        trial is listed, even past ``limit``.
        """
        front = self._pareto_front()
        trials = self.oracle.get_best_trials(limit)
        if front is None:
            return [_row(rank, t) for rank, t in enumerate(trials, start=1)]
        on_front = {t.trial_id for t in front}
        listed = {t.trial_id for t in trials}
        trials += [
            t
            for t in self.oracle.get_best_trials(len(self.oracle.trials))
            if t.trial_id in on_front - listed
        ]
        names = self.oracle.objective.names
        return [
            {
                **_row(rank, t),
                **dict(zip(names, self.oracle.objective_values(t), strict=True)),
                "pareto_front": t.trial_id in on_front,
            }
            for rank, t in enumerate(trials, start=1)
        ]


def _row(rank: int, trial: Trial) -> dict[str, Any]:
    return {
        "rank": rank,
        "trial_id": trial.trial_id,
        "score": trial.score,
        "best_step": trial.best_step,
        **trial.values,
    }


class _DetachedEngine:
    """What a pickled ``SearchEngine`` becomes elsewhere: a name, and an error on use."""

    def __init__(self, search_run_id: str | None) -> None:
        self.search_run_id = search_run_id

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # pickle's and copy's probes
            raise AttributeError(name)
        raise RuntimeError(
            f"The engine of search {self.__dict__.get('search_run_id')} works in its search's "
            f"process only; {name!r} was asked of a copy sent elsewhere."
        )


def trial_seed(search_seed: int, trial_id: str, attempt: int) -> int:
    """The seed of one attempt of a trial, derived from the search's seed.

    ``SeedSequence`` rather than ``hash()``, which is salted per process. A
    retrain of the trial derives the same seed.
    """
    number = int(trial_id) if trial_id.isdigit() else 0
    sequence = np.random.SeedSequence([int(search_seed), number, int(attempt)])
    return int(sequence.generate_state(1)[0] % (2**31 - 1))


def evaluate(result: TrialResult, objective: Objective) -> TrialOutcome:
    """Scores a trial's executions; an objective it did not report fails the search.

    A pure function of small values, so it can run anywhere.
    """
    if result.status not in (TrialStatus.COMPLETED.value, TrialStatus.STOPPED.value):
        return TrialOutcome(result=result, evaluation=None)
    executions = [Execution.from_dict(e) for e in result.executions]
    try:
        evaluation = aggregate(executions, objective)
    except errors.FatalError as error:
        return TrialOutcome(result=result.failed_by(error), evaluation=None)
    return TrialOutcome(result=result, evaluation=evaluation)


def crashed(spec: TrialSpec, error: BaseException | Any) -> TrialOutcome:
    """An INVALID outcome for a trial whose task failed outside the user's code."""
    message = (
        "".join(traceback.format_exception(error))
        if isinstance(error, BaseException)
        else str(error)
    )
    return TrialOutcome(result=TrialResult.invalid(spec, f"The trial's task failed: {message}"))


def _error_class(name: str) -> type[errors.FatalError]:
    cls = getattr(errors, name, None)
    return (
        cls if isinstance(cls, type) and issubclass(cls, errors.FatalError) else errors.FatalError
    )
