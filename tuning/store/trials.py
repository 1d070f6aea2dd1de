"""A search's trials as nested runs: open, end, list, kill.

Each trial is a child run (``mlflow.parentRunId``) of its search, tagged
``hyperflow.kind = "trial"``, with its active hyperparameter values as params,
its per-epoch metrics with steps, its status and error as tags, and its full
record as the JSON artifact ``trial.json``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from tuning.checkpoints import CHECKPOINTS_FOLDER, PROGRESS_FILE
from tuning.store._values import (
    ERROR_FILE,
    ERROR_TAG_LENGTH,
    KIND_TRIAL,
    TAG_ATTEMPT,
    TAG_ERROR,
    TAG_KIND,
    TAG_PARENT_RUN_ID,
    TAG_PROJECT,
    TAG_STATUS,
    TAG_TRIAL_ID,
    TRIAL_RECORD_FILE,
    _is_finite_number,
    _now_ms,
    _params,
    _run_id_literal,
    _safe_key,
    _status_name,
    _tags,
)

if TYPE_CHECKING:
    from mlflow.entities import Run

    from tuning.store.connection import MlflowConnection

_logger = logging.getLogger(__name__)

# Trial status -> the MLflow run status that ends its run.
_TRIAL_RUN_STATUS = {
    "COMPLETED": "FINISHED",
    "STOPPED": "FINISHED",
    "FAILED": "FAILED",
    "INVALID": "FAILED",
}


def _trial_sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    trial_id = str(row.get("trial_id") or "")
    number = int(trial_id) if trial_id.isdigit() else math.inf
    return (number, trial_id, row.get("attempt") or 0, row.get("start_time") or 0)


class TrialRuns:
    """The trials of a project's searches, one nested MLflow run per attempt.

    Holds nothing but its connection, so it pickles as configuration.

    Args:
        connection: The project's (shared) connection.

    Example:
        >>> trials = TrialRuns(MlflowConnection("mnist", directory="/tmp/runs"))
        >>> run_id = trials.start_trial(search_run_id, "00", {"units": 32})
        >>> trials.end_trial(run_id, {"trial_id": "00"}, "COMPLETED", 0.5, 3.2)
    """

    def __init__(self, connection: MlflowConnection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"TrialRuns({self.connection!r})"

    def start_trial(
        self, search_run_id: str, trial_id: str, values: Mapping[str, Any], attempt: int = 0
    ) -> str:
        """Opens a trial: a RUNNING child run of the search.

        The run is created with its tags (``mlflow.parentRunId``,
        ``hyperflow.kind``, ``hyperflow.trial_id``, ``hyperflow.attempt``,
        ``hyperflow.status = RUNNING``) in one call, so it is never visible
        without them; the values follow as params (``log_values``).

        Args:
            search_run_id: The search's run id.
            trial_id: The trial's id, e.g. ``"03"``.
            values: The trial's active hyperparameter values; empty to log
                them later with ``log_values``.
            attempt: 0 for the first run of the trial, n for its n-th retry
                (the run is then named ``"trial-<id>-retry<n>"``).

        Returns:
            The trial's run id.
        """
        name = f"trial-{trial_id}" + (f"-retry{attempt}" if attempt else "")
        run_id = self.connection.create_run(
            name,
            {
                TAG_PARENT_RUN_ID: search_run_id,
                TAG_KIND: KIND_TRIAL,
                TAG_PROJECT: self.connection.project_name,
                TAG_TRIAL_ID: str(trial_id),
                TAG_ATTEMPT: str(int(attempt)),
                TAG_STATUS: "RUNNING",
            },
        )
        self.log_values(run_id, values)
        return run_id

    def log_values(self, run_id: str, values: Mapping[str, Any]) -> None:
        """Logs a trial's hyperparameter values as its run's params, in one ``log_batch``.

        Nothing is written for no values. A value logged again must be the same.
        """
        self.connection.log_batch(run_id, params=_params(values))

    def end_trial(
        self,
        run_id: str,
        record: Mapping[str, Any],
        status: str,
        score: float | None,
        duration_s: float | None,
        error: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> None:
        """Ends a trial's run with its outcome.

        Artifacts first (``trial.json``, and ``error.txt`` with the full
        traceback), then in one ``log_batch`` the metrics ``score`` (when
        finite) and ``duration_s`` (when known), the tags ``hyperflow.status`` and
        ``hyperflow.error`` (its first 500 characters) and the values the
        trial used as params (those it declared while running join the ones
        ``start_trial`` logged), then the run is terminated: FINISHED for
        COMPLETED and STOPPED, FAILED for FAILED and INVALID. A trial whose
        run is terminated therefore always has its record.

        Args:
            run_id: The trial's run id.
            record: ``Trial.get_state()``, JSON-safe.
            status: The trial's ``TrialStatus`` (or its name).
            score: The objective's score, or None.
            duration_s: Wall time of the trial, in seconds; None when unknown (a
                run ended on resume from the search state).
            error: The traceback of a crashed trial, or None.
            values: The hyperparameter values the trial used, or None.

        Raises:
            ValueError: ``status`` is not a finished trial status.
        """
        status = _status_name(status, _TRIAL_RUN_STATUS)
        from mlflow.entities import Metric

        self.connection.log_json(run_id, dict(record), TRIAL_RECORD_FILE)
        if error:
            self.connection.log_text(run_id, str(error), ERROR_FILE)
        timestamp = _now_ms()
        step = record.get("best_step")
        step = int(step) if isinstance(step, int) and not isinstance(step, bool) else 0
        metrics = []
        if duration_s is not None:
            metrics.append(Metric("duration_s", float(duration_s), timestamp, 0))
        if _is_finite_number(score):
            metrics.append(Metric("score", float(score), timestamp, step))
        tags = {TAG_STATUS: status}
        if error:
            tags[TAG_ERROR] = str(error)[:ERROR_TAG_LENGTH]
        self.connection.log_batch(
            run_id, metrics=metrics, params=_params(values or {}), tags=_tags(tags)
        )
        self.connection.end_run(run_id, status=_TRIAL_RUN_STATUS[status])

    def kill_unfinished_trials(self, search_run_id: str, keep: Collection[str] = ()) -> list[str]:
        """Marks the search's trials whose runs are still RUNNING as KILLED.

        Called when a search resumes: those trials died with the previous
        process and will be run again.

        Args:
            search_run_id: The search's run id.
            keep: Runs left RUNNING: their trials continue in them (``progress``).

        Returns:
            The trial ids of the runs killed, in trial order.
        """
        runs = self.connection.search_runs(
            f"tags.`{TAG_PARENT_RUN_ID}` = {_run_id_literal(search_run_id)}"
            " and attributes.status = 'RUNNING'"
        )
        rows = sorted((self._row(run) for run in runs), key=_trial_sort_key)
        for row in rows:
            if row["run_id"] in keep:
                continue
            self.connection.set_tags(row["run_id"], {TAG_STATUS: "KILLED"})
            self.connection.end_run(row["run_id"], status="KILLED")
        return [row["trial_id"] for row in rows]

    def progress(self, run_id: str) -> dict[str, Any] | None:
        """The progress a trial saved while it trained, to continue it from; None if none.

        ``checkpoints/last/progress.json`` (see ``TrialRecorder``), with
        ``logged``: per execution, the last step MLflow holds of its metrics
        (epochs after the saved one may have been logged before the search died).
        """
        if not self.connection.has_artifact(run_id, PROGRESS_FILE):
            return None
        progress = self.connection.read_json(run_id, PROGRESS_FILE)
        logged = {}
        for execution, key in progress.get("keys", {}).items():
            if (safe := _safe_key(key)) is not None:
                history = self.connection.call("get_metric_history", run_id, safe)
                logged[execution] = max((m.step for m in history), default=-1)
        return {**progress, "logged": logged}

    def delete_weights(self, run_id: str) -> bool:
        """Removes a trial's weights (``checkpoints/``); its metrics, params and record stay.

        Returns:
            False when the run's artifact store cannot delete.
        """
        return self.connection.delete_artifact(run_id, CHECKPOINTS_FOLDER)

    def trial_runs(self, search_run_id: str) -> list[dict[str, Any]]:
        """One summary per trial run of the search, ordered by trial id then attempt.

        Returns:
            Dicts with ``run_id``, ``trial_id``, ``attempt`` (int), ``status``
            (the ``hyperflow.status`` tag), ``run_status`` (MLflow's),
            ``score`` (None when not logged), ``start_time`` and ``end_time``
            (ms since the epoch).
        """
        runs = self.connection.search_runs(
            f"tags.`{TAG_PARENT_RUN_ID}` = {_run_id_literal(search_run_id)}"
        )
        return sorted((self._row(run) for run in runs), key=_trial_sort_key)

    @staticmethod
    def _row(run: Run) -> dict[str, Any]:
        tags = run.data.tags
        try:
            attempt = int(tags.get(TAG_ATTEMPT, 0))
        except ValueError:
            attempt = 0
        return {
            "run_id": run.info.run_id,
            "trial_id": tags.get(TAG_TRIAL_ID),
            "attempt": attempt,
            "status": tags.get(TAG_STATUS),
            "run_status": run.info.status,
            "score": run.data.metrics.get("score"),
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
        }

    def finished_trial_record(self, run_id: str) -> dict[str, Any] | None:
        """The ``trial.json`` of a trial whose run has ended, or None.

        None when the run is still RUNNING (or was never ended) or has no record.
        """
        run = self.connection.call("get_run", run_id)
        if run.info.status in ("RUNNING", "SCHEDULED"):
            return None
        try:
            return self.connection.read_json(run_id, TRIAL_RECORD_FILE)
        except Exception as error:
            _logger.debug("Hyperflow: no %s in run %s: %s", TRIAL_RECORD_FILE, run_id, error)
            return None
