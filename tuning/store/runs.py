"""Searches, trials and other runs of a project, as MLflow runs.

A search is a parent run tagged ``hyperflow.kind = "search"``; each trial is a
nested child run (``mlflow.parentRunId``) tagged ``hyperflow.kind = "trial"``
with its active hyperparameter values as params, its per-epoch metrics with
steps, its status and error as tags, and its full record as the JSON artifact
``trial.json``.
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuning.store._values import (
    KIND_SEARCH,
    LEADERBOARD_FILE,
    MAX_TAG_VALUE_LENGTH,
    SEARCH_SPACE_FILE,
    TAG_BEST_TRIAL_ID,
    TAG_KIND,
    TAG_PARENT_RUN_ID,
    TAG_PARETO,
    TAG_PROJECT,
    TAG_PRUNING_REFERENCE,
    TAG_STATUS,
    TAG_STOP_REASON,
    TAG_TUNER,
    _is_finite_number,
    _now_ms,
    _params,
    _safe_key,
    _status_name,
    _tags,
)

if TYPE_CHECKING:
    from tuning.store.connection import MlflowConnection

__all__ = ["RunStore"]

_logger = logging.getLogger(__name__)

_SEARCH_RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")


class RunStore:
    """The project's runs: searches, other top-level runs (retrains), their metrics and files.

    A search's trials are in ``TrialRuns``. Holds nothing but its connection, so
    it pickles as configuration.

    Args:
        connection: The project's (shared) connection.

    Example:
        >>> runs = RunStore(MlflowConnection("mnist", directory="/tmp/runs"))
        >>> search_id = runs.start_search("RandomSearch", {"max_trials": 3}, {"space": []})
        >>> runs.log_metrics(search_id, {"loss": 0.5}, step=0)
    """

    def __init__(self, connection: MlflowConnection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"RunStore({self.connection!r})"

    # Searches ------------------------------------------------------------------------------

    def latest_search(self) -> str | None:
        """The run id of the project's newest search (any status), or None.

        Called by ``overwrite=False`` to find the search to resume.
        """
        runs = self.connection.search_runs(
            f"tags.`{TAG_KIND}` = '{KIND_SEARCH}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0].info.run_id if runs else None

    def start_search(
        self, tuner_name: str, params: Mapping[str, Any], search_space: Mapping[str, Any]
    ) -> str:
        """Opens a new search: a RUNNING parent run ``"<tuner_name>-search"``.

        Args:
            tuner_name: The tuner's class name, e.g. ``"RandomSearch"``.
            params: The search's settings; nested mappings are flattened to
                ``"outer/inner"`` keys, values stringified and truncated to
                MLflow's limit (see ``tuning.store.connection``).
            search_space: The search space config, stored as the artifact
                ``search_space.json``.

        Returns:
            The search's (parent) run id.
        """
        connection = self.connection
        run_id = connection.create_run(
            f"{tuner_name}-search",
            {TAG_KIND: KIND_SEARCH, TAG_PROJECT: connection.project_name, TAG_TUNER: tuner_name},
        )
        connection.log_batch(run_id, params=_params(params))
        connection.log_json(run_id, dict(search_space), SEARCH_SPACE_FILE)
        return run_id

    def reopen_search(self, run_id: str) -> None:
        """Marks a resumed search RUNNING again (its trials and state are kept)."""
        self.connection.call("update_run", run_id, status="RUNNING")

    def end_search(
        self,
        run_id: str,
        status: str,
        best_score: float | None,
        best_trial_id: str | None,
        leaderboard: list[Mapping[str, Any]],
        stop_reason: str | None = None,
    ) -> None:
        """Ends a search run with its summary.

        Writes ``leaderboard.json`` (a JSON list of rows, in the order given,
        replacing an earlier one when a resumed search ends again), then in one
        ``log_batch`` the metric ``best_score`` (when finite) and the tags
        ``hyperflow.status`` and ``hyperflow.best_trial_id``, then terminates
        the run with ``status``.

        Args:
            run_id: The search's run id.
            status: ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``.
            best_score: The best trial's score, or None.
            best_trial_id: The best trial's id, or None.
            leaderboard: One JSON-safe dict per trial.
            stop_reason: Why the search ended before its budget (the tag
                ``hyperflow.stop_reason``), or None.

        Raises:
            ValueError: ``status`` is not one of the three.
        """
        status = _status_name(status, _SEARCH_RUN_STATUSES)
        from mlflow.entities import Metric

        self.connection.log_json(run_id, [dict(row) for row in leaderboard], LEADERBOARD_FILE)
        metrics = (
            [Metric("best_score", float(best_score), _now_ms(), 0)]
            if _is_finite_number(best_score)
            else []
        )
        tags = {TAG_STATUS: status}
        if best_trial_id is not None:
            tags[TAG_BEST_TRIAL_ID] = str(best_trial_id)
        if stop_reason is not None:
            tags[TAG_STOP_REASON] = stop_reason
        self.connection.log_batch(run_id, metrics=metrics, tags=_tags(tags))
        self.connection.end_run(run_id, status=status)

    def tag_pareto_front(self, run_id: str, front_runs: Mapping[str, str]) -> None:
        """Tags a search's Pareto front: each front trial's run, and the search's run.

        Each trial run in ``front_runs`` gets ``hyperflow.pareto_front = "true"``
        (filter with ``tags.`hyperflow.pareto_front` = 'true'`` in the MLflow
        UI); the search's run gets the same tag holding the front's trial ids,
        comma-separated.

        Args:
            run_id: The search's run id.
            front_runs: The front's trial ids to their runs' ids, in trial order.
        """
        for trial_run_id in front_runs.values():
            self.connection.set_tags(trial_run_id, {TAG_PARETO: "true"})
        self.connection.set_tags(run_id, {TAG_PARETO: ",".join(front_runs)})

    def searches(self, statuses: Sequence[str] | None = ("FINISHED",)) -> list[dict[str, Any]]:
        """The project's searches, newest first.

        Args:
            statuses: MLflow run statuses to keep (``"FINISHED"``, ``"FAILED"``,
                ``"RUNNING"``, ``"KILLED"``); None keeps all.

        Returns:
            Dicts with ``run_id``, ``status`` (MLflow's), ``tuner``,
            ``best_trial_id``, ``best_score`` (None when not logged) and
            ``start_time`` (ms since the epoch).
        """
        runs = self.connection.search_runs(
            f"tags.`{TAG_KIND}` = '{KIND_SEARCH}'", order_by=["attributes.start_time DESC"]
        )
        return [
            {
                "run_id": run.info.run_id,
                "status": run.info.status,
                "tuner": run.data.tags.get(TAG_TUNER),
                "best_trial_id": run.data.tags.get(TAG_BEST_TRIAL_ID),
                "best_score": run.data.metrics.get("best_score"),
                "start_time": run.info.start_time,
            }
            for run in runs
            if statuses is None or run.info.status in statuses
        ]

    def publish_pruning_reference(self, search_run_id: str, reference: Mapping[int, float]) -> None:
        """Publishes the pruning rule's ``{step: median}`` on the search's run, for running trials.

        Kept as the tag ``hyperflow.pruning_reference`` (JSON), which a trial
        reads at each epoch in one request. Steps that do not fit MLflow's tag
        size (about 300) are left out, the last ones first.
        """
        steps = sorted(reference)
        text = json.dumps({str(step): reference[step] for step in steps})
        while len(text) > MAX_TAG_VALUE_LENGTH:
            steps = steps[: len(steps) * 3 // 4]
            text = json.dumps({str(step): reference[step] for step in steps})
        self.connection.set_tags(search_run_id, {TAG_PRUNING_REFERENCE: text})

    def pruning_reference(self, search_run_id: str) -> dict[int, float] | None:
        """The reference ``publish_pruning_reference`` last published, or None before any."""
        run = self.connection.call("get_run", search_run_id)
        text = run.data.tags.get(TAG_PRUNING_REFERENCE)
        return None if text is None else {int(k): float(v) for k, v in json.loads(text).items()}

    def parent_run_id(self, run_id: str) -> str | None:
        """The run a run is nested in (a trial's search), or None."""
        return self.connection.call("get_run", run_id).data.tags.get(TAG_PARENT_RUN_ID)

    # Other runs and their files ------------------------------------------------------------

    def start_run(
        self,
        name: str,
        kind: str,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Opens a RUNNING top-level run of the project that is not a search (a retrain, say).

        End it with ``MlflowConnection.end_run``.

        Args:
            name: The run's name.
            kind: Its ``hyperflow.kind`` tag, e.g. ``"retrain"``.
            tags: More tags (link it to its search with ``hyperflow.search_run_id``).
            params: Params, flattened and made MLflow-safe as ``start_search`` does.

        Returns:
            The run's id.
        """
        all_tags = {TAG_KIND: kind, TAG_PROJECT: self.connection.project_name}
        all_tags.update({k: str(v)[:MAX_TAG_VALUE_LENGTH] for k, v in (tags or {}).items()})
        run_id = self.connection.create_run(name, all_tags)
        self.connection.log_batch(run_id, params=_params(params or {}))
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Logs one step's metrics (e.g. an epoch's logs) in one ``log_batch``.

        NaN and infinite values are kept (MLflow stores them). Values that are
        not numbers and keys that cannot be made MLflow-valid are skipped.

        Args:
            run_id: The run's id (a trial's, a retrain's).
            metrics: Metric names and values.
            step: The step (epoch) they belong to.
        """
        from mlflow.entities import Metric

        timestamp = _now_ms()
        batch: dict[str, Any] = {}
        for name, value in metrics.items():
            key = _safe_key(name)
            try:
                number = float(value)
            except (TypeError, ValueError):
                key = None
            if key is None:
                _logger.debug("Hyperflow: metric %r=%r not logged.", name, value)
                continue
            batch.setdefault(key, Metric(key, number, timestamp, int(step)))
        self.connection.log_batch(run_id, metrics=list(batch.values()))

    def log_dict(
        self, run_id: str, data: Mapping[str, Any] | list[Any], artifact_file: str
    ) -> None:
        """Writes ``data`` as the JSON artifact ``artifact_file`` (overwriting it)."""
        self.connection.log_json(run_id, data, artifact_file)

    def read_dict(self, run_id: str, artifact_file: str) -> Any:
        """Reads the JSON artifact ``artifact_file`` of a run (``log_dict``'s inverse).

        Raises:
            mlflow.exceptions.MlflowException: The run has no such artifact.
            OSError: The artifact cannot be read.
        """
        return self.connection.read_json(run_id, artifact_file)

    def log_figures(
        self, run_id: str, figures: Mapping[str, Any], folder: str = "plots"
    ) -> list[str]:
        """Saves matplotlib figures as PNG artifacts of a run; best-effort.

        Args:
            run_id: The run's id.
            figures: File names (``"history.png"``) to ``Figure`` objects.
            folder: The artifact folder.

        Returns:
            The artifact paths written; a figure that fails is logged and skipped.
        """
        written = []
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            for name, figure in figures.items():
                try:
                    local = os.path.join(tmp, name)
                    figure.savefig(local, format="png")
                    self.connection.log_file(run_id, local, folder)
                    written.append(posixpath.join(folder, name))
                except Exception as error:
                    _logger.warning(
                        "Hyperflow: plot %s not saved to run %s: %s", name, run_id, error
                    )
        return written
