"""The trial store on MLflow: searches, trials, their metrics, artifacts and the search state.

This is the one package of Hyperflow that talks to MLflow. A search is a parent
run tagged ``hyperflow.kind = "search"``; each trial is a nested child run
(``mlflow.parentRunId``) tagged ``hyperflow.kind = "trial"`` with its active
hyperparameter values as params, its per-epoch metrics with steps, its status
and error as tags, and its full record as the JSON artifact ``trial.json``.
The oracle's state is a versioned JSON artifact of the parent run, committed
by moving one tag (see ``StateStore.save``). Nothing is pickled.

One ``MlflowConnection`` (where the store lives, the experiment, retries,
artifacts; its module docstring holds the operational notes: creating the
store before fan-out, SQLite WAL and lock retries, telemetry, quiet logs,
param sanitising) is shared by four stores, each with one job: ``RunStore``
(searches and other runs), ``TrialRuns`` (the trials of a search),
``StateStore`` (the search state) and ``ModelStore`` (models and the
registry). ``TrialStore`` bundles them.

Nothing happens at import time: MLflow itself is imported on first use.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tuning.store._values import (
    KIND_SEARCH,
    KIND_TRIAL,
    LEADERBOARD_FILE,
    SEARCH_SPACE_FILE,
    TAG_ATTEMPT,
    TAG_BEST_TRIAL_ID,
    TAG_ERROR,
    TAG_KIND,
    TAG_MODEL_URI,
    TAG_PARENT_RUN_ID,
    TAG_PARETO,
    TAG_PROJECT,
    TAG_STATE,
    TAG_STATUS,
    TAG_STOP_REASON,
    TAG_TRIAL_ID,
    TAG_TUNER,
    TRIAL_RECORD_FILE,
)
from tuning.store.connection import MlflowConnection, configure_mlflow, resolve_tracking_uri
from tuning.store.models import ModelStore
from tuning.store.runs import RunStore
from tuning.store.state import StateStore
from tuning.store.trials import TrialRuns

__all__ = [
    "KIND_SEARCH",
    "KIND_TRIAL",
    "LEADERBOARD_FILE",
    "SEARCH_SPACE_FILE",
    "TAG_ATTEMPT",
    "TAG_BEST_TRIAL_ID",
    "TAG_ERROR",
    "TAG_KIND",
    "TAG_MODEL_URI",
    "TAG_PARETO",
    "TAG_PARENT_RUN_ID",
    "TAG_PROJECT",
    "TAG_STATE",
    "TAG_STATUS",
    "TAG_STOP_REASON",
    "TAG_TRIAL_ID",
    "TAG_TUNER",
    "TRIAL_RECORD_FILE",
    "MlflowConnection",
    "ModelStore",
    "RunStore",
    "StateStore",
    "TrialRuns",
    "TrialStore",
    "configure_mlflow",
    "resolve_tracking_uri",
]


class TrialStore:
    """A project's store: its runs, search state and models over one shared connection.

    The constructor only stores configuration; the first call that needs the
    experiment connects. A ``TrialStore`` pickles as its configuration alone,
    so a worker process can receive one and reconnect.

    Args:
        project_name: The experiment's name (KerasTuner's ``project_name``).
        directory: Where the default SQLite store and its artifacts live.
        tracking_uri: An MLflow tracking URI that overrides
            ``MLFLOW_TRACKING_URI`` and the default store.

    Attributes:
        connection: The shared ``MlflowConnection`` (artifacts, tags, ``run_url``).
        runs: ``RunStore``: searches, other runs, metrics, JSON files and plots.
        trials: ``TrialRuns``: each trial's run: opened, ended, listed, killed.
        state: ``StateStore``: the search state, saved and loaded atomically.
        models: ``ModelStore``: logged models and the model registry.

    Example:
        >>> store = TrialStore("mnist", directory="/tmp/runs")
        >>> search_id = store.runs.start_search("RandomSearch", {"max_trials": 3}, {})
        >>> store.state.save(search_id, {"trials": []})
    """

    def __init__(
        self,
        project_name: str,
        directory: str | os.PathLike[str] = ".",
        tracking_uri: str | None = None,
    ) -> None:
        self.connection = MlflowConnection(project_name, directory, tracking_uri)
        self.runs = RunStore(self.connection)
        self.trials = TrialRuns(self.connection)
        self.state = StateStore(self.connection)
        self.models = ModelStore(self.connection)

    def __getstate__(self) -> dict[str, Any]:
        return {"config": (self.project_name, self.directory, self.tracking_uri)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(*state["config"])

    def __repr__(self) -> str:
        return f"TrialStore(project_name={self.project_name!r}, tracking_uri={self.tracking_uri!r})"

    @property
    def project_name(self) -> str:
        """The experiment's name."""
        return self.connection.project_name

    @property
    def directory(self) -> Path:
        """The project's directory, absolute."""
        return self.connection.directory

    @property
    def tracking_uri(self) -> str:
        """The resolved, absolute tracking URI."""
        return self.connection.tracking_uri

    @property
    def experiment_id(self) -> str:
        """The project's experiment id (connects on first use)."""
        return self.connection.experiment_id

    def connect(self) -> str:
        """Opens the store (see ``MlflowConnection.connect``); returns the experiment id."""
        return self.connection.connect()

    def exists(self) -> bool:
        """Whether the project has an experiment in the store; creates nothing."""
        return self.connection.exists()
