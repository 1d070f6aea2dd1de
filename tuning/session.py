"""One running search: the four steps of a trial, as plain methods the flow's tasks call.

``sample`` and ``record`` change the oracle and run in the flow's own thread
(one writer); ``train`` and ``evaluate`` may run anywhere.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

import numpy as np

from tuning import errors, zygote
from tuning.devices import visible_gpus
from tuning.display import Display
from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective
from tuning.plots import search_figures
from tuning.results import Evaluation, Execution, aggregate
from tuning.trial import TrialStatus
from tuning.trial_spec import TrialOutcome, TrialResult, TrialSpec
from tuning.workers import PAYLOAD_FILE, TrialWorker, payload_bytes, write_payload_bytes

if TYPE_CHECKING:
    from tuning.tuners import Tuner

__all__ = ["SearchSession", "evaluate"]


class SearchSession:
    """The state of one ``search()`` call that the flow's tasks share.

    Args:
        key: The session's name in the in-process registry.
        tuner: The tuner that searches.
        fit_args: Positional arguments for ``fit``.
        fit_kwargs: Keyword arguments for ``fit``.
    """

    def __init__(self, key: str, tuner: Tuner, fit_args: tuple, fit_kwargs: dict) -> None:
        self.key = key
        self.tuner = tuner
        self.fit_args = fit_args
        self.fit_kwargs = fit_kwargs
        self.oracle = tuner.oracle
        self.store = tuner.store
        self.display = Display(self.oracle.objective.name, verbose=fit_kwargs.get("verbose", 1))
        self.fatal: BaseException | None = None
        self.started = time.monotonic()
        self.payload_key = ""
        self._payload_dir: str | None = None
        self._workers: dict[str, TrialWorker] = {}
        # The last attempt number of each trial that ran before (a resumed search).
        self._attempts: dict[str, int] = {}
        for run in self.store.trial_runs(tuner.search_run_id):
            self._attempts[run["trial_id"]] = max(
                run["attempt"], self._attempts.get(run["trial_id"], 0)
            )
        self._lock = threading.Lock()

    @property
    def project_name(self) -> str:
        return self.tuner.project_name

    # sample-trial ---------------------------------------------------------------------

    def sample(self, slot: str) -> TrialSpec:
        """Asks the oracle for the next trial and opens its MLflow run."""
        if self.fatal is not None or self.time_spent:
            return TrialSpec(status=TrialStatus.STOPPED.value)
        with self._lock:
            trial = self.oracle.create_trial(f"{self.tuner.tuner_id}-{slot}")
        if trial.status != TrialStatus.RUNNING:
            return TrialSpec(status=trial.status.value)
        attempt = self._attempts.get(trial.trial_id, -1) + 1
        self._attempts[trial.trial_id] = attempt
        run_id = self.store.start_trial(
            self.tuner.search_run_id, trial.trial_id, trial.values, attempt=attempt
        )
        self.tuner.trial_run_ids[trial.trial_id] = run_id
        # Saved before the trial can end: a search killed after the trial's run
        # ended then replays it on resume instead of running it again.
        self.store.save_state(self.tuner.search_run_id, self.oracle.get_state())
        parent = trial.values.get("tuner/trial_id")
        best = self.oracle.get_best_trials(1)
        self.display.trial_begin(trial, best[0].hyperparameters if best else None)
        return TrialSpec(
            status=TrialStatus.RUNNING.value,
            session_key=self.key,
            trial_id=trial.trial_id,
            attempt=attempt,
            hyperparameters=trial.hyperparameters.get_config(),
            run_id=run_id,
            artifact_uri=self.store.artifact_uri(run_id),
            search_run_id=self.tuner.search_run_id or "",
            tracking_uri=self.store.tracking_uri,
            seed=self._trial_seed(trial.trial_id, attempt),
            parent_run_id=self.tuner.trial_run_ids.get(parent) if parent else None,
            pruning_reference=self.oracle.pruning_reference(),
            slot=slot,
            payload_key=self.payload_key,
            isolation=self.tuner.isolation,
            max_trial_time=self.tuner.max_trial_time,
        )

    @property
    def time_spent(self) -> bool:
        """Whether the search's ``max_time`` has run out."""
        limit = self.tuner.max_time
        return limit is not None and time.monotonic() - self.started >= limit

    def _trial_seed(self, trial_id: str, attempt: int) -> int:
        number = int(trial_id) if trial_id.isdigit() else len(self.oracle.trials)
        sequence = np.random.SeedSequence([self.oracle.seed, number, attempt])
        return int(sequence.generate_state(1)[0] % (2**31 - 1))

    # train-trial ------------------------------------------------------------------------

    def train(self, spec: TrialSpec) -> TrialResult:
        """Trains the trial where the tuner's ``isolation`` says: here, or in a child process."""
        if self.tuner.isolation == "none":
            return self.tuner.execute_trial(spec, self.fit_args, self.fit_kwargs)
        return self._worker(spec.slot).run(spec, timeout=self.tuner.max_trial_time)

    def prepare(self) -> None:
        """Before any trial: checks that trials can be shipped where they will train.

        With worker processes on this machine, starts the zygote they fork
        from, so that it imports TensorFlow while the flow samples the first
        trials.

        Raises:
            FatalTypeError: ``isolation`` sends trials to other processes but the
                tuner, hypermodel or ``fit`` arguments cannot be pickled.
        """
        if self.tuner.isolation == "none" and not self.tuner.dask_address:
            return
        try:
            self.payload()
        except Exception as error:
            raise errors.FatalTypeError(
                f"With isolation={self.tuner.isolation!r} trials train in other processes, so "
                "the tuner, its hypermodel and the arguments of search() must be picklable "
                f"(by cloudpickle); pickling failed: {error}. Use isolation='none' to train "
                "in this process."
            ) from error
        if not self.tuner.dask_address and self.tuner.task_runner is None:
            zygote.shared()  # its imports overlap the flow's first steps

    def crashed(self, spec: TrialSpec, error: BaseException | Any) -> TrialOutcome:
        """An INVALID outcome for a trial whose task failed outside the user's code."""
        message = (
            "".join(traceback.format_exception(error))
            if isinstance(error, BaseException)
            else str(error)
        )
        result = TrialResult(
            trial_id=spec.trial_id,
            run_id=spec.run_id,
            status=TrialStatus.INVALID.value,
            hyperparameters=spec.hyperparameters,
            message=f"The trial's task failed: {message}",
        )
        return TrialOutcome(result=result, evaluation=None)

    def payload(self) -> str:
        """The payload file child processes load (written on first use, once per search)."""
        with self._lock:
            if self._payload_dir is None:
                self._payload_dir = tempfile.mkdtemp(prefix="hyperflow-search-")
                write_payload_bytes(self.payload_bytes(), self._payload_dir)
        return os.path.join(self._payload_dir, PAYLOAD_FILE)

    def payload_bytes(self) -> bytes:
        """The tuner and the data for ``fit``, pickled for another process."""
        return payload_bytes(self.tuner, self.fit_args, self.fit_kwargs)

    def _worker(self, slot: str) -> TrialWorker:
        path = self.payload()
        with self._lock:
            if slot not in self._workers:
                gpus = visible_gpus()
                # One GPU per slot, round robin, so that one trial holds one GPU.
                env = {"CUDA_VISIBLE_DEVICES": gpus[int(slot) % len(gpus)]} if gpus else {}
                per_process = 1 if self.tuner.isolation == "process" else None
                self._workers[slot] = TrialWorker(path, trials_per_process=per_process, env=env)
            return self._workers[slot]

    def close(self) -> None:
        """Stops the worker processes and removes the payload."""
        for worker in self._workers.values():
            worker.close()
        self._workers.clear()
        if self._payload_dir is not None:
            shutil.rmtree(self._payload_dir, ignore_errors=True)
            self._payload_dir = None

    # update-oracle ----------------------------------------------------------------------

    def record(self, spec: TrialSpec, outcome: TrialOutcome) -> str:
        """Tells the oracle how the trial ended, closes its run, saves the search state.

        Returns:
            The trial's status after the oracle's decision (a crashed trial
            may be INVALID and queued for a retry, or FAILED).
        """
        result, evaluation = outcome.result, outcome.evaluation
        trial = self.oracle.trials[result.trial_id]
        trial.hyperparameters = HyperParameters.from_config(result.hyperparameters)
        try:
            self.oracle.update_space(trial.hyperparameters)
        except RuntimeError as error:  # new entries with allow_new_entries=False
            result = _with_error(result, errors.FatalRuntimeError(str(error)))
        if evaluation is not None:
            self._record_curve(result.trial_id, evaluation)
            trial.score, trial.best_step = evaluation.score, evaluation.best_step
        trial.status, trial.message = TrialStatus(result.status), result.message
        self.store.end_trial(
            result.run_id,
            trial.get_state(),
            trial.status.value,
            trial.score,
            result.duration_s,
            error=result.message,
        )
        try:
            self.oracle.end_trial(trial)
        except errors.FatalError as error:
            self.fatal = error
        if result.error_type and self.fatal is None:
            self.fatal = _error_class(result.error_type)(result.message or result.error_type)
        self.store.save_state(self.tuner.search_run_id, self.oracle.get_state())
        best = self.oracle.get_best_trials(1)
        self.display.trial_end(trial, best[0].score if best else None)
        self.tuner.on_trial_end(trial)
        return trial.status.value

    def _record_curve(self, trial_id: str, evaluation: Evaluation) -> None:
        for step, metrics in evaluation.curve.items():
            finite = {k: v for k, v in metrics.items() if not math.isnan(v)}
            self.oracle.update_trial(trial_id, finite, step=int(step), prune=False)

    def finish(self) -> dict[str, Any]:
        """Closes the search's run with the best trial and a leaderboard."""
        leaderboard = self.leaderboard()
        best = self.oracle.get_best_trials(1)
        self.store.log_figures(self.tuner.search_run_id, search_figures(self.oracle))
        self.store.end_search(
            self.tuner.search_run_id,
            "FAILED" if self.fatal is not None else "FINISHED",
            best[0].score if best else None,
            best[0].trial_id if best else None,
            leaderboard,
        )
        return {
            "project_name": self.project_name,
            "trials": len(self.oracle.trials),
            "best_trial_id": best[0].trial_id if best else None,
            "best_score": best[0].score if best else None,
            "elapsed_s": time.monotonic() - self.started,
            "leaderboard": leaderboard,
        }

    def leaderboard(self, limit: int = 50) -> list[dict[str, Any]]:
        """The best completed trials as table rows, best first."""
        rows = []
        for rank, trial in enumerate(self.oracle.get_best_trials(limit), start=1):
            rows.append(
                {
                    "rank": rank,
                    "trial_id": trial.trial_id,
                    "score": trial.score,
                    "best_step": trial.best_step,
                    **{k: v for k, v in trial.values.items()},
                }
            )
        return rows


def evaluate(result: TrialResult, objective: Objective) -> TrialOutcome:
    """Scores a trial's executions; an objective it did not report fails the search.

    A pure function of small values, so it can run on any worker.
    """
    if result.status not in (TrialStatus.COMPLETED.value, TrialStatus.STOPPED.value):
        return TrialOutcome(result=result, evaluation=None)
    executions = [Execution.from_dict(e) for e in result.executions]
    try:
        evaluation = aggregate(executions, objective)
    except errors.FatalError as error:
        return TrialOutcome(result=_with_error(result, error), evaluation=None)
    return TrialOutcome(result=result, evaluation=evaluation)


def _error_class(name: str) -> type[errors.FatalError]:
    cls = getattr(errors, name, None)
    return (
        cls if isinstance(cls, type) and issubclass(cls, errors.FatalError) else errors.FatalError
    )


def _with_error(result: TrialResult, error: errors.FatalError) -> TrialResult:
    return TrialResult(
        **{
            **result.to_dict(),
            "status": TrialStatus.FAILED.value,
            "message": str(error),
            "error_type": type(error).__name__,
        }
    )
