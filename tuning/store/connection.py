"""The one connection of a project to MLflow: its store, its experiment and its artifacts.

Where the store lives (``resolve_tracking_uri``): an explicit ``tracking_uri``,
else ``MLFLOW_TRACKING_URI``, else an SQLite database ``mlflow.db`` under
``directory``, always as an absolute URI. With a local SQLite store the
artifacts go to ``directory/mlartifacts``; with a tracking server the server
decides.

Operational notes:

* **Create before fan-out.** ``MlflowConnection.connect()`` creates the database
  (MLflow's schema migration, several seconds on SQLite) and the experiment,
  under an inter-process file lock for SQLite. Call it once in the process that
  owns the search before trials run in parallel; workers then only open it.
* **Concurrent SQLite writers.** ``connect()`` switches the database to
  write-ahead logging (``PRAGMA journal_mode=WAL``, persistent in the file,
  before MLflow's migration), so readers never block the writer. MLflow
  itself sets ``PRAGMA busy_timeout = 20000`` on each SQLite session, so a
  writer waits up to 20 s for another. SQLite can still answer "database is
  locked" at once when two deferred transactions would deadlock, so every
  MLflow call made here is retried, for that error only, up to
  ``LOCK_RETRIES`` times with jittered exponential backoff (about 10 s in
  all). MLflow's own ERROR log of such a retried attempt is filtered out.
  Keep the SQLite file on a local disk: WAL needs shared memory, and no SQLite
  mode is safe on a network file system. Use a tracking server for that.
* **Telemetry.** MLflow 3 sends anonymous usage telemetry from background
  threads: they start at ``import mlflow``, and each tracked client call is
  checked again. ``connect()`` sets ``MLFLOW_DISABLE_TELEMETRY=true`` with
  ``os.environ.setdefault`` *before* it imports MLflow (this package does not
  import it at import time), so nothing leaves the machine. If something else
  imported MLflow first, later calls still stop recording. Export
  ``MLFLOW_DISABLE_TELEMETRY=false`` to keep MLflow's default;
  ``DO_NOT_TRACK=true`` also works.
* **Quiet.** ``connect()`` lowers the ``mlflow`` and ``alembic`` loggers to
  WARNING (unless ``MLFLOW_LOGGING_LEVEL`` is set), so the migration and INFO
  lines stay off the console. It also sets, by ``setdefault``,
  ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false``, so downloads show no tqdm bar
  (export ``true`` to keep it), and ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true``:
  against an HTTP tracking server MLflow prints "View run" and "View experiment"
  links to stdout whenever a run ends (``MlflowClient.set_terminated`` does it
  too, not only ``mlflow.end_run``), twice per trial in a search's console
  output (export ``false`` to keep them).
* **Experiment kind.** The experiment carries the tag
  ``mlflow.experimentKind = "custom_model_development"``, so that MLflow 3's
  UI opens it on its runs table rather than as a GenAI experiment (traces).
  ``connect()`` creates it with the tag and adds the tag to an experiment
  created without it (by an older Hyperflow, say); a kind already set is kept.
* **Params.** Keys are made MLflow-safe: characters outside ``[/\\w.\\- :]``
  become ``_``, nested mappings become ``outer/inner``, and keys that stay
  invalid or exceed 250 characters are skipped. Values are stringified and
  truncated to MLflow's 6000-character limit. The exact values always survive
  in ``trial.json`` and in the state.

Nothing happens at import time: MLflow itself is imported on first use.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tuning.store import _sqlite
from tuning.store._artifacts import ArtifactsMixin
from tuning.store._values import (
    EXPERIMENT_KIND,
    TAG_EXPERIMENT_KIND,
    TAG_PROJECT,
    _now_ms,
    _tags,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = ["MlflowConnection", "configure_mlflow", "resolve_tracking_uri"]

T = TypeVar("T")

_SEARCH_PAGE_SIZE = 1000


def resolve_tracking_uri(
    directory: str | os.PathLike[str] = ".", tracking_uri: str | None = None
) -> str:
    """Finds the MLflow tracking URI of a project, as an absolute URI.

    Precedence: ``tracking_uri``, then the ``MLFLOW_TRACKING_URI`` environment
    variable, then an SQLite database ``mlflow.db`` in ``directory``. A
    relative SQLite path or local path given explicitly is made absolute once,
    here; the default never depends on the current directory except through a
    relative ``directory``, which is resolved now.

    Args:
        directory: The project's directory (KerasTuner's ``directory``).
        tracking_uri: An explicit tracking URI; empty means unset.

    Returns:
        The tracking URI, e.g. ``"sqlite:////home/me/runs/mlflow.db"`` or
        ``"http://127.0.0.1:5000"``.

    Example:
        >>> resolve_tracking_uri("/tmp/proj")
        'sqlite:////tmp/proj/mlflow.db'
    """
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    uri = uri.strip()
    if not uri:
        db = Path(directory).expanduser().resolve() / "mlflow.db"
        return f"sqlite:///{db.as_posix()}"
    return _absolute_uri(uri)


def _absolute_uri(uri: str) -> str:
    """Makes a local (SQLite, file or bare path) URI absolute; others pass through."""
    if uri.startswith("sqlite:///"):
        rest = uri[len("sqlite:///") :]
        path, sep, query = rest.partition("?")
        if path and path != ":memory:" and not path.startswith("/"):
            path = Path(path).expanduser().resolve().as_posix()
            return f"sqlite:///{path}{sep}{query}"
        return uri
    if "://" not in uri and not uri.startswith("file:") and ":" not in uri.split("/")[0]:
        return Path(uri).expanduser().resolve().as_uri()
    return uri


def configure_mlflow() -> None:
    """Process-wide settings made by ``connect()`` (and by the zygote), never at import.

    Telemetry is switched off before MLflow is first imported here (MLflow
    starts its telemetry thread at import and checks the variable again on
    every tracked call); the loggers are lowered after the import, because
    importing MLflow sets its logger to INFO. The environment variables are
    set by ``setdefault`` (see the module's "Quiet" note), so an exported value wins.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    import mlflow  # noqa: F401

    if not os.environ.get("MLFLOW_LOGGING_LEVEL"):
        for name in ("mlflow", "alembic"):
            log = logging.getLogger(name)
            if log.getEffectiveLevel() < logging.WARNING:
                log.setLevel(logging.WARNING)
    db_log = logging.getLogger("mlflow.store.db.utils")
    if _sqlite.DROP_LOCKED_ERRORS not in db_log.filters:
        db_log.addFilter(_sqlite.DROP_LOCKED_ERRORS)


class MlflowConnection(ArtifactsMixin):
    """A project's experiment in an MLflow store, and the calls every part of the store makes.

    The constructor only stores configuration; ``connect()`` (called
    implicitly by the first method that needs the experiment) does the I/O.
    It pickles as its configuration alone (client and caches dropped), so a
    worker process can receive one and reconnect; pass run ids, not runs,
    between processes. Every MLflow call goes through ``retry``; the artifact
    methods (``log_text``, ``read_json``, ``log_file``, ``download``, ...) come
    from ``ArtifactsMixin``.

    Args:
        project_name: The experiment's name (KerasTuner's ``project_name``).
        directory: Where the default SQLite store and its artifacts live.
        tracking_uri: An MLflow tracking URI that overrides
            ``MLFLOW_TRACKING_URI`` and the default store.

    Attributes:
        project_name: The experiment's name.
        directory: ``directory``, resolved to an absolute path.
        tracking_uri: The resolved, absolute tracking URI.
        artifact_root: ``file://`` URI of ``directory/mlartifacts`` for a local
            SQLite store, None when a tracking server decides.

    Raises:
        ValueError: ``project_name`` is empty.
    """

    def __init__(
        self,
        project_name: str,
        directory: str | os.PathLike[str] = ".",
        tracking_uri: str | None = None,
    ) -> None:
        if not isinstance(project_name, str) or not project_name.strip():
            raise ValueError(f"project_name must be a non-empty string, got {project_name!r}.")
        self.project_name = project_name
        self.directory = Path(directory).expanduser().resolve()
        self.tracking_uri = resolve_tracking_uri(self.directory, tracking_uri)
        self.artifact_root: str | None = (
            (self.directory / "mlartifacts").as_uri()
            if self.tracking_uri.startswith("sqlite:")
            else None
        )
        self._client_: MlflowClient | None = None
        self._experiment_id: str | None = None
        # Per-run caches, so that hot paths need no get_run: each run's
        # artifact URI (as create_run returned it) and artifact repository.
        self._artifact_uris: dict[str, str] = {}
        self._repos: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_client_=None, _experiment_id=None, _artifact_uris={}, _repos={})
        return state

    def __repr__(self) -> str:
        return (
            f"MlflowConnection(project_name={self.project_name!r}, "
            f"tracking_uri={self.tracking_uri!r})"
        )

    def connect(self) -> str:
        """Opens the store: creates the directory, the database and the experiment if missing.

        Idempotent and safe when another process did (or does) it first. Call it
        once before trials run in parallel: on SQLite the first use migrates
        the schema, which must not happen in several processes at once.

        Returns:
            The experiment id of ``project_name``.

        Raises:
            mlflow.exceptions.MlflowException: The store cannot be reached or
                the schema cannot be created.
        """
        if self._experiment_id is not None:
            return self._experiment_id
        configure_mlflow()
        from mlflow import MlflowClient

        db_path = _sqlite.sqlite_path(self.tracking_uri)
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        with _sqlite.init_lock(db_path):
            if db_path is not None:
                _sqlite.use_wal(db_path)
            client = self._client_ or MlflowClient(tracking_uri=self.tracking_uri)
            experiment_id = self._open_experiment(client)
        self._client_ = client
        self._experiment_id = str(experiment_id)
        return self._experiment_id

    def _open_experiment(self, client: MlflowClient) -> str:
        """The project's experiment id: created with its kind, or restored and given its kind.

        A deleted experiment is restored; one without ``mlflow.experimentKind``
        gets ``custom_model_development``; one with another kind keeps it.
        """
        from mlflow.entities import LifecycleStage

        experiment = self.retry(client.get_experiment_by_name, self.project_name)
        if experiment is None:
            try:
                return self.retry(
                    client.create_experiment,
                    self.project_name,
                    artifact_location=self.artifact_root,
                    tags={TAG_EXPERIMENT_KIND: EXPERIMENT_KIND},
                )
            except Exception:  # created meanwhile by another process (e.g. a server)
                experiment = self.retry(client.get_experiment_by_name, self.project_name)
                if experiment is None:
                    raise
        if experiment.lifecycle_stage == LifecycleStage.DELETED:
            self.retry(client.restore_experiment, experiment.experiment_id)
        if TAG_EXPERIMENT_KIND not in experiment.tags:
            self.retry(
                client.set_experiment_tag,
                experiment.experiment_id,
                TAG_EXPERIMENT_KIND,
                EXPERIMENT_KIND,
            )
        return experiment.experiment_id

    def exists(self) -> bool:
        """Whether the project has an experiment in the store; creates nothing.

        For readers (``hyperflow summary``) that must not leave an empty
        experiment behind when asked about a project that never ran.
        """
        if self._experiment_id is not None:
            return True
        db_path = _sqlite.sqlite_path(self.tracking_uri)
        if db_path is not None and not db_path.exists():
            return False
        configure_mlflow()
        from mlflow import MlflowClient
        from mlflow.entities import LifecycleStage

        # Making a client migrates a database another process may be creating: one at a time.
        with _sqlite.init_lock(db_path):
            client = self._client_ or MlflowClient(tracking_uri=self.tracking_uri)
        experiment = self.retry(client.get_experiment_by_name, self.project_name)
        return experiment is not None and experiment.lifecycle_stage != LifecycleStage.DELETED

    @property
    def experiment_id(self) -> str:
        """The project's experiment id (connects on first use)."""
        return self.connect()

    @property
    def _client(self) -> MlflowClient:
        if self._client_ is None or self._experiment_id is None:
            self.connect()
        assert self._client_ is not None
        return self._client_

    @staticmethod
    def retry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls ``fn``, retrying with jittered backoff while SQLite says it is locked.

        Any other error is raised at once; "database is locked" is raised after
        ``LOCK_RETRIES`` attempts.
        """
        for attempt in range(_sqlite.LOCK_RETRIES):
            try:
                return fn(*args, **kwargs)
            except Exception as error:
                if attempt == _sqlite.LOCK_RETRIES - 1 or not _sqlite.is_locked_error(error):
                    raise
                delay = min(_sqlite.LOCK_BACKOFF_MAX_S, _sqlite.LOCK_BACKOFF_S * 2**attempt)
                time.sleep(delay * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method_name: str, *args: Any, **kwargs: Any) -> Any:
        """``MlflowClient.<method_name>(*args, **kwargs)`` on this store, with the lock retry."""
        return self.retry(getattr(self._client, method_name), *args, **kwargs)

    # Runs ----------------------------------------------------------------------------------

    def create_run(self, name: str, tags: Mapping[str, str]) -> str:
        """Creates a RUNNING run of the experiment with all its ``tags`` in one call.

        Returns:
            The run's id (its artifact URI is cached).
        """
        run = self.call(
            "create_run", self.experiment_id, start_time=_now_ms(), tags=dict(tags), run_name=name
        )
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run.info.run_id

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Any] = (),
        params: Sequence[Any] = (),
        tags: Sequence[Any] = (),
    ) -> None:
        """Logs MLflow ``Metric``, ``Param`` and ``RunTag`` entities in one call (none: no call)."""
        if metrics or params or tags:
            self.call(
                "log_batch",
                run_id,
                metrics=list(metrics),
                params=list(params),
                tags=list(tags),
                synchronous=True,
            )

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Sets tags on a run, in one call (values stringified and truncated)."""
        self.log_batch(run_id, tags=_tags(tags))

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Ends a run: ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``."""
        self.call("set_terminated", run_id, status=status)

    def search_runs(
        self, filter_string: str, order_by: list[str] | None = None, max_results: int | None = None
    ) -> list[Run]:
        """All active runs of the experiment matching ``filter_string``, fetched page by page.

        Args:
            filter_string: An MLflow search filter.
            order_by: MLflow order-by clauses.
            max_results: At most this many runs; None for all.
        """
        runs: list[Run] = []
        token = None
        while True:
            page_size = (
                _SEARCH_PAGE_SIZE
                if max_results is None
                else min(_SEARCH_PAGE_SIZE, max_results - len(runs))
            )
            page = self.call(
                "search_runs",
                [self.experiment_id],
                filter_string=filter_string,
                max_results=page_size,
                order_by=order_by,
                page_token=token,
            )
            runs.extend(page)
            token = page.token
            if not token or (max_results is not None and len(runs) >= max_results):
                return runs

    def run_url(self, run_id: str, ui_url: str | None = None) -> str:
        """The MLflow UI's page of a run.

        Args:
            run_id: The run's id.
            ui_url: The UI's address; the tracking server itself when the store
                is one (``http(s)://``), else ``http://127.0.0.1:5000`` (where
                ``mlflow ui`` and ``hyperflow ui`` serve a local store).
        """
        if ui_url is None:
            is_server = self.tracking_uri.startswith(("http://", "https://"))
            ui_url = self.tracking_uri if is_server else "http://127.0.0.1:5000"
        return f"{ui_url.rstrip('/')}/#/experiments/{self.experiment_id}/runs/{run_id}"

    @staticmethod
    def project_of(
        run_id: str, directory: str | os.PathLike[str] = ".", tracking_uri: str | None = None
    ) -> str:
        """The project (experiment name) a run belongs to, found without opening a project.

        Args:
            run_id: A run of the store (a search's parent run, say).
            directory: As for ``MlflowConnection``.
            tracking_uri: As for ``MlflowConnection``.

        Raises:
            mlflow.exceptions.MlflowException: No such run.
        """
        configure_mlflow()
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=resolve_tracking_uri(directory, tracking_uri))
        run = MlflowConnection.retry(client.get_run, run_id)
        project = run.data.tags.get(TAG_PROJECT)
        return project or MlflowConnection.retry(client.get_experiment, run.info.experiment_id).name
