"""The trial store on MLflow: searches, trials, their metrics, artifacts and the search state.

This is the one module of Hyperflow that talks to MLflow. A search is a parent
run tagged ``hyperflow.kind = "search"``; each trial is a nested child run
(``mlflow.parentRunId``) tagged ``hyperflow.kind = "trial"`` with its active
hyperparameter values as params, its per-epoch metrics with steps, its status
and error as tags, and its full record as the JSON artifact ``trial.json``.
The oracle's state is a versioned JSON artifact of the parent run, committed
by moving one tag (see ``TrialStore.save_state``). Nothing is pickled.

Where the store lives (``resolve_tracking_uri``): an explicit ``tracking_uri``,
else ``MLFLOW_TRACKING_URI``, else an SQLite database ``mlflow.db`` under
``directory``, always as an absolute URI. With a local SQLite store the
artifacts go to ``directory/mlartifacts``; with a tracking server the server
decides.

Operational notes:

* **Create before fan-out.** ``TrialStore.connect()`` creates the database
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
  ``_LOCK_RETRIES`` times with jittered exponential backoff (about 10 s in
  all). MLflow's own ERROR log of such a retried attempt is filtered out.
  Keep the SQLite file on a local disk: WAL needs shared memory, and no SQLite
  mode is safe on a network file system. Use a tracking server for that.
* **Telemetry.** MLflow 3 sends anonymous usage telemetry from background
  threads: they start at ``import mlflow``, and each tracked client call is
  checked again. ``connect()`` sets ``MLFLOW_DISABLE_TELEMETRY=true`` with
  ``os.environ.setdefault`` *before* it imports MLflow (this module does not
  import it at import time), so nothing leaves the machine. If something else
  imported MLflow first, later calls still stop recording. Export
  ``MLFLOW_DISABLE_TELEMETRY=false`` to keep MLflow's default;
  ``DO_NOT_TRACK=true`` also works.
* **Quiet.** ``connect()`` lowers the ``mlflow`` and ``alembic`` loggers to
  WARNING (unless ``MLFLOW_LOGGING_LEVEL`` is set), so the migration and INFO
  lines stay off the console. It also sets
  ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false`` by ``setdefault``, so downloads
  show no tqdm bar (export ``true`` to keep it). Against an HTTP tracking
  server, MLflow prints a "View run" link when a run ends; set
  ``MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true`` to hide it.
* **Params.** Keys are made MLflow-safe: characters outside ``[/\\w.\\- :]``
  become ``_``, nested mappings become ``outer/inner``, and keys that stay
  invalid or exceed 250 characters are skipped. Values are stringified and
  truncated to MLflow's 6000-character limit. The exact values always survive
  in ``trial.json`` and in the state.

Nothing happens at import time: MLflow itself is imported on first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import posixpath
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = ["TrialStore", "configure_mlflow", "resolve_tracking_uri"]

_logger = logging.getLogger(__name__)

T = TypeVar("T")

# Tags (namespaced, see STYLE.md).
TAG_KIND = "hyperflow.kind"
TAG_PROJECT = "hyperflow.project"
TAG_TUNER = "hyperflow.tuner"
TAG_STATE = "hyperflow.state"
TAG_BEST_TRIAL_ID = "hyperflow.best_trial_id"
TAG_TRIAL_ID = "hyperflow.trial_id"
TAG_ATTEMPT = "hyperflow.attempt"
TAG_STATUS = "hyperflow.status"
TAG_ERROR = "hyperflow.error"
TAG_MODEL_URI = "hyperflow.model_uri"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
_MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # a logged model's registered versions
KIND_SEARCH = "search"
KIND_TRIAL = "trial"

# Artifact names.
SEARCH_SPACE_FILE = "search_space.json"
LEADERBOARD_FILE = "leaderboard.json"
TRIAL_RECORD_FILE = "trial.json"
ERROR_FILE = "error.txt"
STATE_DIR = "state"
_STATE_FILE_RE = re.compile(r"^state-(\d+)\.json$")

# MLflow's limits (mlflow.utils.validation, MLflow >= 2.x).
_MAX_KEY_LENGTH = 250
_MAX_PARAM_VALUE_LENGTH = 6000
_MAX_TAG_VALUE_LENGTH = 8000
_ERROR_TAG_LENGTH = 500
_VALID_KEY = re.compile(r"^[/\w.\- :]*$")
_INVALID_KEY_CHARS = re.compile(r"[^/\w.\- :]")

# Trial status -> the MLflow run status that ends its run.
_TRIAL_RUN_STATUS = {
    "COMPLETED": "FINISHED",
    "STOPPED": "FINISHED",
    "FAILED": "FAILED",
    "INVALID": "FAILED",
}
_SEARCH_RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")

# "database is locked" retries: attempts and first back-off (doubling, jittered).
_LOCK_RETRIES = 8
_LOCK_BACKOFF_S = 0.05
_LOCK_BACKOFF_MAX_S = 3.0
_LOCK_MESSAGES = ("database is locked", "database table is locked", "sqlite_busy")

_SEARCH_PAGE_SIZE = 1000


# Where the store lives ----------------------------------------------------------------------


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


def _sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI, or None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].partition("?")[0]
    return None if not path or path == ":memory:" else Path(path)


# Small helpers ----------------------------------------------------------------------------


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json_default(value: Any) -> Any:
    """Converts numpy scalars and arrays (what Keras metrics often are) for JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")


def _to_json(data: Any) -> str:
    return json.dumps(data, indent=1, default=_json_default)


def _is_finite_number(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _safe_key(key: Any) -> str | None:
    """An MLflow-valid param/metric/tag key for ``key``, or None if none can be made."""
    key = _INVALID_KEY_CHARS.sub("_", str(key))
    key = re.sub(r"/{2,}", "/", key).strip("/")
    if not key or len(key) > _MAX_KEY_LENGTH or not _VALID_KEY.match(key):
        return None
    normalized = posixpath.normpath(key)
    if normalized != key or normalized == "." or normalized.startswith(".."):
        return None
    return key


def _param_value(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else (
            json.dumps(value, default=str) if isinstance(value, (list, tuple, dict)) else str(value)
        )
    )
    return text[:_MAX_PARAM_VALUE_LENGTH]


def _flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as ``("outer/inner", value)`` pairs; empty mappings are dropped."""
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{name}/")
        elif not (isinstance(value, Mapping) and not value):
            yield name, value


def _params(values: Mapping[str, Any]) -> list[Any]:
    """MLflow ``Param`` entities for ``values`` (flattened, safe keys, first key wins)."""
    from mlflow.entities import Param

    params: dict[str, str] = {}
    for name, value in _flatten(values):
        key = _safe_key(name)
        if key is None:
            _logger.warning("Hyperflow: param %r has no valid MLflow key; not logged.", name)
            continue
        params.setdefault(key, _param_value(value))
    return [Param(k, v) for k, v in params.items()]


def _tags(tags: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import RunTag

    return [RunTag(k, str(v)[:_MAX_TAG_VALUE_LENGTH]) for k, v in tags.items()]


def _is_locked_error(error: BaseException) -> bool:
    text = str(error).lower()
    return any(message in text for message in _LOCK_MESSAGES)


class _DropLockedErrors(logging.Filter):
    """Hides MLflow's ERROR log of a "database is locked" attempt that is retried here."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not _is_locked_error(Exception(record.getMessage()))
        except Exception:  # a broken record is not ours to judge
            return True


_DROP_LOCKED_ERRORS = _DropLockedErrors()


def configure_mlflow() -> None:
    """Process-wide settings made by ``connect()`` (and by the zygote), never at import.

    Telemetry is switched off before MLflow is first imported here (MLflow
    starts its telemetry thread at import and checks the variable again on
    every tracked call); the loggers are lowered after the import, because
    importing MLflow sets its logger to INFO.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow  # noqa: F401

    if not os.environ.get("MLFLOW_LOGGING_LEVEL"):
        for name in ("mlflow", "alembic"):
            log = logging.getLogger(name)
            if log.getEffectiveLevel() < logging.WARNING:
                log.setLevel(logging.WARNING)
    db_log = logging.getLogger("mlflow.store.db.utils")
    if _DROP_LOCKED_ERRORS not in db_log.filters:
        db_log.addFilter(_DROP_LOCKED_ERRORS)


def _use_wal(db_path: Path) -> None:
    """Switches an SQLite database to write-ahead logging (persistent, best-effort).

    WAL lets readers and one writer work at once (parallel trials) and
    roughly halves MLflow's schema migration and per-commit cost. Done before
    MLflow opens a new database, under the init lock.
    """
    import sqlite3

    try:
        connection = sqlite3.connect(db_path, timeout=30)
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
        finally:
            connection.close()
    except sqlite3.Error as error:
        _logger.debug("Hyperflow: %s keeps its journal mode: %s", db_path, error)


@contextlib.contextmanager
def _init_lock(db_path: Path | None) -> Iterator[None]:
    """An inter-process lock around first use of an SQLite store (POSIX; no-op elsewhere)."""
    try:
        import fcntl
    except ImportError:  # Windows: rely on connect() being called before fan-out.
        yield
        return
    if db_path is None:
        yield
        return
    digest = hashlib.sha256(str(db_path).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"hyperflow-mlflow-init-{digest}.lock"
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_RUN_ID = re.compile(r"^[\w\-]+$")


def _run_id_literal(run_id: str) -> str:
    """``run_id`` quoted for an MLflow filter string (run ids are hex, nothing to escape)."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ValueError(f"Not an MLflow run id: {run_id!r}.")
    return f"'{run_id}'"


def _trial_sort_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    trial_id = str(row.get("trial_id") or "")
    number = int(trial_id) if trial_id.isdigit() else math.inf
    return (number, trial_id, row.get("attempt") or 0, row.get("start_time") or 0)


# The store -----------------------------------------------------------------------------------


class TrialStore:
    """A project's searches and trials in MLflow: one experiment, a parent run per search.

    The constructor only stores configuration; ``connect()`` (called
    implicitly by the first method that needs the experiment) does the I/O.
    A ``TrialStore`` pickles as its configuration alone, so a worker process
    can receive one and reconnect; pass run ids, not runs, between processes.

    Args:
        project_name: The experiment's name (KerasTuner's ``project_name``).
        directory: Where the default SQLite store and its artifacts live.
        tracking_uri: An MLflow tracking URI that overrides
            ``MLFLOW_TRACKING_URI`` and the default store.

    Attributes:
        tracking_uri: The resolved, absolute tracking URI.
        artifact_root: ``file://`` URI of ``directory/mlartifacts`` for a local
            SQLite store, None when a tracking server decides.

    Example:
        >>> store = TrialStore("mnist", directory="/tmp/runs")
        >>> search_id = store.start_search("RandomSearch", {"max_trials": 3}, {"space": []})
        >>> run_id = store.start_trial(search_id, "00", {"units": 32})
        >>> store.log_metrics(run_id, {"loss": 0.5}, step=0)
        >>> store.end_trial(run_id, {"trial_id": "00"}, "COMPLETED", 0.5, 3.2)
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
        # The state file this store last committed, per search run: the search's one
        # writer then finds its previous version without a get_run per trial.
        self._committed_states: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(
            _client_=None, _experiment_id=None, _artifact_uris={}, _repos={}, _committed_states={}
        )
        return state

    def __repr__(self) -> str:
        return f"TrialStore(project_name={self.project_name!r}, tracking_uri={self.tracking_uri!r})"

    # Connection ----------------------------------------------------------------------------

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
        from mlflow.entities import LifecycleStage

        db_path = _sqlite_path(self.tracking_uri)
        if db_path is not None:
            db_path.parent.mkdir(parents=True, exist_ok=True)
        with _init_lock(db_path):
            if db_path is not None:
                _use_wal(db_path)
            client = self._client_ or MlflowClient(tracking_uri=self.tracking_uri)
            experiment = self._retry(client.get_experiment_by_name, self.project_name)
            if experiment is None:
                try:
                    experiment_id = self._retry(
                        client.create_experiment,
                        self.project_name,
                        artifact_location=self.artifact_root,
                    )
                except Exception:  # created meanwhile by another process (e.g. a server)
                    experiment = self._retry(client.get_experiment_by_name, self.project_name)
                    if experiment is None:
                        raise
                    experiment_id = experiment.experiment_id
            else:
                experiment_id = experiment.experiment_id
                if experiment.lifecycle_stage == LifecycleStage.DELETED:
                    self._retry(client.restore_experiment, experiment_id)
        self._client_ = client
        self._experiment_id = str(experiment_id)
        return self._experiment_id

    def exists(self) -> bool:
        """Whether the project has an experiment in the store; creates nothing.

        For readers (``hyperflow summary``) that must not leave an empty
        experiment behind when asked about a project that never ran.
        """
        if self._experiment_id is not None:
            return True
        db_path = _sqlite_path(self.tracking_uri)
        if db_path is not None and not db_path.exists():
            return False
        configure_mlflow()
        from mlflow import MlflowClient
        from mlflow.entities import LifecycleStage

        client = self._client_ or MlflowClient(tracking_uri=self.tracking_uri)
        experiment = self._retry(client.get_experiment_by_name, self.project_name)
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
    def _retry(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Calls ``fn``, retrying with jittered backoff while SQLite says it is locked."""
        for attempt in range(_LOCK_RETRIES):
            try:
                return fn(*args, **kwargs)
            except Exception as error:
                if attempt == _LOCK_RETRIES - 1 or not _is_locked_error(error):
                    raise
                delay = min(_LOCK_BACKOFF_MAX_S, _LOCK_BACKOFF_S * 2**attempt)
                time.sleep(delay * (0.5 + random.random()))
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``MlflowClient.<method>(*args, **kwargs)`` with the lock retry."""
        return self._retry(getattr(self._client, method), *args, **kwargs)

    def _create_run(self, run_name: str, tags: Mapping[str, str]) -> str:
        run = self._call(
            "create_run",
            self.experiment_id,
            start_time=_now_ms(),
            tags=dict(tags),
            run_name=run_name,
        )
        self._artifact_uris[run.info.run_id] = run.info.artifact_uri
        return run.info.run_id

    def _log_batch(
        self,
        run_id: str,
        metrics: Sequence[Any] = (),
        params: Sequence[Any] = (),
        tags: Sequence[Any] = (),
    ) -> None:
        if metrics or params or tags:
            self._call(
                "log_batch",
                run_id,
                metrics=list(metrics),
                params=list(params),
                tags=list(tags),
                synchronous=True,
            )

    def artifact_uri(self, run_id: str) -> str:
        """Where the run's artifacts live (asked of MLflow once per run, then cached)."""
        if run_id not in self._artifact_uris:
            self._artifact_uris[run_id] = self._call("get_run", run_id).info.artifact_uri
        return self._artifact_uris[run_id]

    def note_artifact_uri(self, run_id: str, uri: str) -> None:
        """Caches a run's artifact location learnt elsewhere (a trial's spec), sparing a lookup."""
        self._artifact_uris[run_id] = uri

    def _repo(self, run_id: str) -> Any:
        """The run's ``ArtifactRepository`` (cached; built from the URI ``create_run`` gave)."""
        if run_id not in self._repos:
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            self._repos[run_id] = get_artifact_repository(
                self.artifact_uri(run_id), tracking_uri=self.tracking_uri
            )
        return self._repos[run_id]

    def _log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Writes ``text`` as the artifact ``artifact_file`` (overwriting it)."""
        folder, name = posixpath.split(artifact_file)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            local = Path(tmp) / name
            local.write_text(text, encoding="utf-8")
            self._retry(self._repo(run_id).log_artifact, str(local), folder or None)

    def _log_json(self, run_id: str, data: Any, artifact_file: str) -> None:
        self._log_text(run_id, _to_json(data), artifact_file)

    def _read_json(self, run_id: str, artifact_path: str) -> Any:
        """Reads a JSON artifact without a download progress bar or a copy when local."""
        from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

        repo = self._repo(run_id)
        if isinstance(repo, LocalArtifactRepository):
            with open(repo.download_artifacts(artifact_path), encoding="utf-8") as handle:
                return json.load(handle)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            local = os.path.join(tmp, posixpath.basename(artifact_path))
            # The one-file download every ArtifactRepository implements.
            self._retry(repo._download_file, remote_file_path=artifact_path, local_path=local)
            with open(local, encoding="utf-8") as handle:
                return json.load(handle)

    def _search(
        self, filter_string: str, order_by: list[str] | None = None, max_results: int | None = None
    ) -> list[Run]:
        """All active runs of the experiment matching ``filter_string`` (paged)."""
        runs: list[Run] = []
        token = None
        while True:
            page_size = (
                _SEARCH_PAGE_SIZE
                if max_results is None
                else min(_SEARCH_PAGE_SIZE, max_results - len(runs))
            )
            page = self._call(
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

    # Searches ------------------------------------------------------------------------------

    def latest_search(self) -> str | None:
        """The run id of the project's newest search (any status), or None.

        Called by ``overwrite=False`` to find the search to resume.
        """
        runs = self._search(
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
                MLflow's limit (see the module notes).
            search_space: The search space config, stored as the artifact
                ``search_space.json``.

        Returns:
            The search's (parent) run id.
        """
        run_id = self._create_run(
            f"{tuner_name}-search",
            {TAG_KIND: KIND_SEARCH, TAG_PROJECT: self.project_name, TAG_TUNER: tuner_name},
        )
        self._log_batch(run_id, params=_params(params))
        self._log_json(run_id, dict(search_space), SEARCH_SPACE_FILE)
        return run_id

    def reopen_search(self, run_id: str) -> None:
        """Marks a resumed search RUNNING again (its trials and state are kept)."""
        self._call("update_run", run_id, status="RUNNING")

    def save_state(self, run_id: str, state: Mapping[str, Any]) -> None:
        """Saves the oracle's state atomically, as a new version.

        Three steps: write ``state/state-<seq>.json`` (a new file, so the
        committed one is never touched), move the tag ``hyperflow.state`` to
        it (one database write: the commit point), then delete older versions
        best-effort, keeping the new one and its predecessor (so a reader that
        saw the previous tag can still read it). A process killed at any moment
        leaves ``load_state`` returning the last committed state.

        Called by the single writer of the search state (the search flow)
        after each trial ends. The store remembers the version it committed, so
        it reads the tag only on its first save of a search.

        Args:
            run_id: The search's run id.
            state: ``Oracle.get_state()``, JSON-safe.
        """
        previous = self._committed_states.get(run_id) or self._committed_state_path(run_id)
        seq = self._state_seq(previous) + 1 if previous else 1
        path = self._write_state_file(run_id, state, seq)
        self._commit_state(run_id, path)
        self._committed_states[run_id] = path
        self._prune_states(run_id, keep={path, previous})

    def load_state(self, run_id: str) -> dict[str, Any] | None:
        """The search's last committed state, or None if it never saved one.

        Raises:
            mlflow.exceptions.MlflowException: The committed state file is missing.
        """
        for attempt in range(2):
            path = self._committed_state_path(run_id)
            if path is None:
                return None
            try:
                return self._read_json(run_id, path)
            except Exception:
                # A newer commit may have pruned the version just read from the tag.
                if attempt == 1 or self._committed_state_path(run_id) == path:
                    raise
        return None  # pragma: no cover

    def end_search(
        self,
        run_id: str,
        status: str,
        best_score: float | None,
        best_trial_id: str | None,
        leaderboard: list[Mapping[str, Any]],
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

        Raises:
            ValueError: ``status`` is not one of the three.
        """
        status = str(getattr(status, "value", status)).upper()
        if status not in _SEARCH_RUN_STATUSES:
            raise ValueError(
                f"status must be one of {', '.join(_SEARCH_RUN_STATUSES)}, got {status!r}."
            )
        from mlflow.entities import Metric

        self._log_json(run_id, [dict(row) for row in leaderboard], LEADERBOARD_FILE)
        metrics = (
            [Metric("best_score", float(best_score), _now_ms(), 0)]
            if _is_finite_number(best_score)
            else []
        )
        tags = {TAG_STATUS: status}
        if best_trial_id is not None:
            tags[TAG_BEST_TRIAL_ID] = str(best_trial_id)
        self._log_batch(run_id, metrics=metrics, tags=_tags(tags))
        self._call("set_terminated", run_id, status=status)

    # State internals (separate steps, so that tests can interrupt between them) ------------

    def _committed_state_path(self, run_id: str) -> str | None:
        return self._call("get_run", run_id).data.tags.get(TAG_STATE) or None

    @staticmethod
    def _state_seq(path: str) -> int:
        match = _STATE_FILE_RE.match(posixpath.basename(path))
        return int(match.group(1)) if match else 0

    def _write_state_file(self, run_id: str, state: Mapping[str, Any], seq: int) -> str:
        path = f"{STATE_DIR}/state-{seq:06d}.json"
        # Compact: the state grows with every trial and only machines read it;
        # json's C encoder (not used with indent) is 5-7x faster.
        self._log_text(run_id, json.dumps(dict(state), default=_json_default), path)
        return path

    def _commit_state(self, run_id: str, path: str) -> None:
        self._call("set_tag", run_id, TAG_STATE, path)

    def _prune_states(self, run_id: str, keep: set[str | None]) -> None:
        """Deletes state versions other than ``keep``; best-effort (some stores cannot)."""
        try:
            repo = self._repo(run_id)
            for info in repo.list_artifacts(STATE_DIR):
                if (
                    not info.is_dir
                    and info.path not in keep
                    and _STATE_FILE_RE.match(posixpath.basename(info.path))
                ):
                    repo.delete_artifacts(info.path)
        except Exception as error:  # NotImplementedError, MlflowException, OSError, ...
            _logger.debug("Hyperflow: old state versions of run %s kept: %s", run_id, error)

    # Trials --------------------------------------------------------------------------------

    def start_trial(
        self, search_run_id: str, trial_id: str, values: Mapping[str, Any], attempt: int = 0
    ) -> str:
        """Opens a trial: a RUNNING child run of the search.

        The run is created with its tags (``mlflow.parentRunId``,
        ``hyperflow.kind``, ``hyperflow.trial_id``, ``hyperflow.attempt``,
        ``hyperflow.status = RUNNING``) in one call, so it is never visible
        without them; the values follow as params in one ``log_batch``.

        Args:
            search_run_id: The search's run id.
            trial_id: The trial's id, e.g. ``"03"``.
            values: The trial's active hyperparameter values.
            attempt: 0 for the first run of the trial, n for its n-th retry
                (the run is then named ``"trial-<id>-retry<n>"``).

        Returns:
            The trial's run id.
        """
        name = f"trial-{trial_id}" + (f"-retry{attempt}" if attempt else "")
        run_id = self._create_run(
            name,
            {
                TAG_PARENT_RUN_ID: search_run_id,
                TAG_KIND: KIND_TRIAL,
                TAG_PROJECT: self.project_name,
                TAG_TRIAL_ID: str(trial_id),
                TAG_ATTEMPT: str(int(attempt)),
                TAG_STATUS: "RUNNING",
            },
        )
        self._log_batch(run_id, params=_params(values))
        return run_id

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int) -> None:
        """Logs one step's metrics (e.g. an epoch's logs) in one ``log_batch``.

        NaN and infinite values are kept (MLflow stores them). Values that are
        not numbers and keys that cannot be made MLflow-valid are skipped.

        Args:
            run_id: The trial's run id.
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
        self._log_batch(run_id, metrics=list(batch.values()))

    def log_file(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Uploads a file (or a directory's contents) to the run's artifacts.

        Args:
            run_id: The run's id.
            local_path: A file, or a directory whose contents are uploaded.
            artifact_path: The artifact folder to put it in; None for the root.

        Returns:
            The artifact URI of the uploaded file (or folder).
        """
        local_path = Path(local_path)
        repo = self._repo(run_id)
        if local_path.is_dir():
            self._retry(repo.log_artifacts, str(local_path), artifact_path)
            relative = artifact_path or ""
        else:
            self._retry(repo.log_artifact, str(local_path), artifact_path)
            relative = posixpath.join(artifact_path or "", local_path.name)
        base = self.artifact_uri(run_id).rstrip("/")
        return f"{base}/{relative}" if relative else base

    def log_dict(
        self, run_id: str, data: Mapping[str, Any] | list[Any], artifact_file: str
    ) -> None:
        """Writes ``data`` as the JSON artifact ``artifact_file`` (overwriting it)."""
        self._log_json(run_id, data, artifact_file)

    def end_trial(
        self,
        run_id: str,
        record: Mapping[str, Any],
        status: str,
        score: float | None,
        duration_s: float,
        error: str | None = None,
    ) -> None:
        """Ends a trial's run with its outcome.

        Artifacts first (``trial.json``, and ``error.txt`` with the full
        traceback), then in one ``log_batch`` the metrics ``score`` (when
        finite) and ``duration_s`` and the tags ``hyperflow.status`` and
        ``hyperflow.error`` (its first 500 characters), then the run is
        terminated: FINISHED for COMPLETED and STOPPED, FAILED for FAILED and
        INVALID. A trial whose run is terminated therefore always has its record.

        Args:
            run_id: The trial's run id.
            record: ``Trial.get_state()``, JSON-safe.
            status: The trial's ``TrialStatus`` (or its name).
            score: The objective's score, or None.
            duration_s: Wall time of the trial, in seconds.
            error: The traceback of a crashed trial, or None.

        Raises:
            ValueError: ``status`` is not a finished trial status.
        """
        status = str(getattr(status, "value", status)).upper()
        if status not in _TRIAL_RUN_STATUS:
            raise ValueError(
                f"status must be one of {', '.join(_TRIAL_RUN_STATUS)}, got {status!r}."
            )
        from mlflow.entities import Metric

        self._log_json(run_id, dict(record), TRIAL_RECORD_FILE)
        if error:
            self._log_text(run_id, str(error), ERROR_FILE)
        timestamp = _now_ms()
        step = record.get("best_step")
        step = int(step) if isinstance(step, int) and not isinstance(step, bool) else 0
        metrics = [Metric("duration_s", float(duration_s), timestamp, 0)]
        if _is_finite_number(score):
            metrics.append(Metric("score", float(score), timestamp, step))
        tags = {TAG_STATUS: status}
        if error:
            tags[TAG_ERROR] = str(error)[:_ERROR_TAG_LENGTH]
        self._log_batch(run_id, metrics=metrics, tags=_tags(tags))
        self._call("set_terminated", run_id, status=_TRIAL_RUN_STATUS[status])

    def kill_unfinished_trials(self, search_run_id: str) -> list[str]:
        """Marks the search's trials whose runs are still RUNNING as KILLED.

        Called when a search resumes: those trials died with the previous
        process and will be run again.

        Returns:
            The trial ids of the runs killed, in trial order.
        """
        runs = self._search(
            f"tags.`{TAG_PARENT_RUN_ID}` = {_run_id_literal(search_run_id)}"
            " and attributes.status = 'RUNNING'"
        )
        rows = sorted((self._row(run) for run in runs), key=_trial_sort_key)
        for row in rows:
            self._log_batch(row["run_id"], tags=_tags({TAG_STATUS: "KILLED"}))
            self._call("set_terminated", row["run_id"], status="KILLED")
        return [row["trial_id"] for row in rows]

    def trial_runs(self, search_run_id: str) -> list[dict[str, Any]]:
        """One summary per trial run of the search, ordered by trial id then attempt.

        Returns:
            Dicts with ``run_id``, ``trial_id``, ``attempt`` (int), ``status``
            (the ``hyperflow.status`` tag), ``run_status`` (MLflow's),
            ``score`` (None when not logged), ``start_time`` and ``end_time``
            (ms since the epoch).
        """
        runs = self._search(f"tags.`{TAG_PARENT_RUN_ID}` = {_run_id_literal(search_run_id)}")
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
        run = self._call("get_run", run_id)
        if run.info.status in ("RUNNING", "SCHEDULED"):
            return None
        try:
            return self._read_json(run_id, TRIAL_RECORD_FILE)
        except Exception as error:
            _logger.debug("Hyperflow: no %s in run %s: %s", TRIAL_RECORD_FILE, run_id, error)
            return None

    def download(self, run_id: str, artifact_path: str, dst_dir: str | None = None) -> str:
        """Downloads an artifact (file or folder) and returns its local path.

        Args:
            run_id: The run's id.
            artifact_path: The artifact's path in the run.
            dst_dir: A local folder (created if missing); None for a new
                temporary folder, which the caller owns.
        """
        if dst_dir is not None:
            os.makedirs(dst_dir, exist_ok=True)
        return self._call("download_artifacts", run_id, artifact_path, dst_dir)

    def has_artifact(self, run_id: str, artifact_path: str) -> bool:
        """Whether the run holds the artifact file ``artifact_path``."""
        folder = posixpath.dirname(artifact_path) or None
        listed = self._call("list_artifacts", run_id, folder)
        return any(item.path == artifact_path for item in listed)

    # Models --------------------------------------------------------------------------------

    def log_sklearn_model(self, run_id: str, model: Any, name: str = "model") -> str:
        """Logs a fitted scikit-learn estimator as an MLflow model of the run (``sklearn`` flavor).

        The model is a logged model of the project's experiment (its files under
        ``models/m-<id>/`` of the experiment's artifact location), recorded as
        an output of the run, with pinned pip requirements (nothing inferred)
        and, where MLflow supports it, serialized with skops, trusting the
        estimator's own types. Its URI is also the run's tag
        ``hyperflow.model_uri``. It goes through this store's client:
        ``mlflow.sklearn.log_model`` would read MLflow's global tracking URI
        and active experiment instead.

        Args:
            run_id: The run (a trial's) the model belongs to.
            model: A fitted estimator.
            name: The logged model's name.

        Returns:
            The model's URI, ``models:/<model_id>``.
        """
        import mlflow.sklearn
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model

        logged = self._call(
            "create_logged_model", self.experiment_id, name=name, source_run_id=run_id
        )
        try:
            with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
                path = os.path.join(tmp, "model")
                mlflow.sklearn.save_model(
                    model,
                    path,
                    mlflow_model=Model(
                        artifact_path=logged.artifact_location,
                        run_id=run_id,
                        model_uuid=logged.model_id,
                        model_id=logged.model_id,
                    ),
                    **_sklearn_save_options(model),
                )
                self._call("log_model_artifacts", logged.model_id, path)
            self._call("log_outputs", run_id, [LoggedModelOutput(logged.model_id, step=0)])
        except Exception:
            self._call("finalize_logged_model", logged.model_id, LoggedModelStatus.FAILED)
            raise
        self._call("finalize_logged_model", logged.model_id, LoggedModelStatus.READY)
        uri = f"models:/{logged.model_id}"
        self._log_batch(run_id, tags=_tags({TAG_MODEL_URI: uri}))
        return uri

    def load_sklearn_model(self, run_id_or_uri: str) -> Any:
        """Loads a scikit-learn estimator that ``log_sklearn_model`` logged.

        Args:
            run_id_or_uri: The run's id (its tag ``hyperflow.model_uri`` names
                the model) or the ``models:/<model_id>`` URI that
                ``log_sklearn_model`` returned.

        Returns:
            The fitted estimator.

        Raises:
            ValueError: The run has no such model, or the URI is of another kind.
        """
        import mlflow.sklearn
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        uri = run_id_or_uri
        if ":" not in uri:  # a run id
            uri = self._call("get_run", uri).data.tags.get(TAG_MODEL_URI) or ""
            if not uri:
                raise ValueError(f"Run {run_id_or_uri!r} has no model from log_sklearn_model.")
        model_id = uri.removeprefix("models:/")
        if model_id == uri or not model_id or "/" in model_id or "@" in model_id:
            raise ValueError(
                f"run_id_or_uri must be a run id or a models:/<model_id> URI, got {uri!r}."
            )
        # Asked of this store: MLflow resolves models:/ URIs with its global tracking URI.
        location = self._call("get_logged_model", model_id).artifact_location
        repo = get_artifact_repository(location, tracking_uri=self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            return mlflow.sklearn.load_model(self._retry(repo.download_artifacts, "", tmp))

    # Pipeline: specs, earlier searches, retrain runs, Keras models, the registry, plots ------
    # What flows/retrain.py, flows/nightly.py and the CLI need from MLflow, and nothing more.

    @staticmethod
    def project_of(
        run_id: str, directory: str | os.PathLike[str] = ".", tracking_uri: str | None = None
    ) -> str:
        """The project (experiment name) a run belongs to, found without opening a project.

        Args:
            run_id: A run of the store (a search's parent run, say).
            directory: As for ``TrialStore``.
            tracking_uri: As for ``TrialStore``.

        Raises:
            mlflow.exceptions.MlflowException: No such run.
        """
        configure_mlflow()
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=resolve_tracking_uri(directory, tracking_uri))
        run = TrialStore._retry(client.get_run, run_id)
        project = run.data.tags.get(TAG_PROJECT)
        return project or TrialStore._retry(client.get_experiment, run.info.experiment_id).name

    def read_dict(self, run_id: str, artifact_file: str) -> Any:
        """Reads the JSON artifact ``artifact_file`` of a run (``log_dict``'s inverse).

        Raises:
            mlflow.exceptions.MlflowException: The run has no such artifact.
            OSError: The artifact cannot be read.
        """
        return self._read_json(run_id, artifact_file)

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
        runs = self._search(
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

    def start_run(
        self,
        name: str,
        kind: str,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """Opens a RUNNING top-level run of the project that is not a search (a retrain, say).

        Args:
            name: The run's name.
            kind: Its ``hyperflow.kind`` tag, e.g. ``"retrain"``.
            tags: More tags (link it to its search with ``hyperflow.search_run_id``).
            params: Params, flattened and made MLflow-safe as ``start_search`` does.

        Returns:
            The run's id.
        """
        all_tags = {TAG_KIND: kind, TAG_PROJECT: self.project_name}
        all_tags.update({k: str(v)[:_MAX_TAG_VALUE_LENGTH] for k, v in (tags or {}).items()})
        run_id = self._create_run(name, all_tags)
        self._log_batch(run_id, params=_params(params or {}))
        return run_id

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Sets tags on a run, in one call."""
        self._log_batch(run_id, tags=_tags(tags))

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        """Ends a run that ``start_run`` opened: ``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``."""
        self._call("set_terminated", run_id, status=status)

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
                    self._retry(self._repo(run_id).log_artifact, local, folder)
                    written.append(posixpath.join(folder, name))
                except Exception as error:
                    _logger.warning(
                        "Hyperflow: plot %s not saved to run %s: %s", name, run_id, error
                    )
        return written

    def log_keras_model(
        self, run_id: str, model: Any, input_example: Any, name: str = "model"
    ) -> str:
        """Logs a Keras model as an MLflow model of the run (``keras`` flavor), with a signature.

        The signature is inferred from ``input_example`` and the model's
        prediction on it. The files go to the experiment's artifact location
        (``models/m-<id>/``), pip requirements are pinned to the installed
        Keras and TensorFlow (nothing inferred), and the model is recorded as
        the run's output. It goes through this store's client:
        ``mlflow.keras.log_model`` would use MLflow's global tracking URI.

        Args:
            run_id: The run the model belongs to.
            model: A built ``keras.Model``.
            input_example: A small batch of inputs (a numpy array).
            name: The logged model's name.

        Returns:
            The model's URI, ``models:/<model_id>``.
        """
        import mlflow.keras
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model, infer_signature

        signature = infer_signature(input_example, model.predict(input_example, verbose=0))
        logged = self._call(
            "create_logged_model", self.experiment_id, name=name, source_run_id=run_id
        )
        try:
            with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
                path = os.path.join(tmp, "model")
                mlflow.keras.save_model(
                    model,
                    path,
                    mlflow_model=Model(
                        artifact_path=logged.artifact_location,
                        run_id=run_id,
                        model_uuid=logged.model_id,
                        model_id=logged.model_id,
                    ),
                    signature=signature,
                    pip_requirements=_keras_requirements(),
                )
                self._call("log_model_artifacts", logged.model_id, path)
            self._call("log_outputs", run_id, [LoggedModelOutput(logged.model_id, step=0)])
        except Exception:
            self._call("finalize_logged_model", logged.model_id, LoggedModelStatus.FAILED)
            raise
        self._call("finalize_logged_model", logged.model_id, LoggedModelStatus.READY)
        uri = f"models:/{logged.model_id}"
        self._log_batch(run_id, tags=_tags({TAG_MODEL_URI: uri}))
        return uri

    def load_keras_model(self, model_uri: str) -> Any:
        """Loads a Keras model by ``models:/`` URI, resolved through this store.

        Args:
            model_uri: ``models:/<model_id>``, ``models:/<name>@<alias>`` or
                ``models:/<name>/<version>``.

        Raises:
            ValueError: Not a ``models:/`` URI.
            mlflow.exceptions.MlflowException: No such model, version or alias.
        """
        import mlflow.keras
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        location = self._model_location(model_uri)
        repo = get_artifact_repository(location, tracking_uri=self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            return mlflow.keras.load_model(self._retry(repo.download_artifacts, "", tmp))

    def _model_location(self, model_uri: str) -> str:
        """Where a ``models:/`` URI's files are (registry URIs asked of this store)."""
        rest = model_uri.removeprefix("models:/")
        if rest == model_uri or not rest:
            raise ValueError(f"Not a models:/ URI: {model_uri!r}.")
        if "@" in rest:
            name, alias = rest.split("@", 1)
            version = self._call("get_model_version_by_alias", name, alias)
        elif "/" in rest:
            name, number = rest.rsplit("/", 1)
            version = self._call("get_model_version", name, number)
        else:
            return self._call("get_logged_model", rest).artifact_location
        if version.source.startswith("models:/"):  # registered by another client
            return self._model_location(version.source)
        return version.source

    def register_model(
        self, name: str, model_uri: str, run_id: str, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Registers a logged model as a new version of the registered model ``name``.

        The registered model is created on first use. Nothing is printed (MLflow's
        ``register_model`` prints to stderr).

        Args:
            name: The registered model's name (Hyperflow uses the project name).
            model_uri: ``models:/<model_id>``, as ``log_keras_model`` returned.
            run_id: The run that produced the model.
            tags: Tags of the new version (its held-out scores, say).

        Returns:
            The new version's number, as a string (``"1"``).
        """
        from mlflow.exceptions import MlflowException

        try:
            self._call("create_registered_model", name)
        except MlflowException as error:
            if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        # The model's files, not its models:/ URI: a registry on SQLite would resolve
        # that URI with MLflow's global tracking URI rather than this store's.
        model_id = model_uri.removeprefix("models:/")
        version = self._call(
            "create_model_version",
            name,
            source=self._model_location(model_uri),
            run_id=run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
            model_id=model_id,
        )
        # What mlflow.register_model adds: the logged model's page lists its versions.
        logged = self._call("get_logged_model", model_id)
        versions = json.loads(logged.tags.get(_MODEL_VERSIONS_TAG) or "[]")
        versions.append({"name": name, "version": str(version.version)})
        self._call("set_logged_model_tags", model_id, {_MODEL_VERSIONS_TAG: json.dumps(versions)})
        return str(version.version)

    def model_version(self, name: str, alias: str = "champion") -> dict[str, Any] | None:
        """The version of ``name`` that holds ``alias``, or None when none does.

        Returns:
            A dict with ``version``, ``model_uri`` (``models:/<name>/<version>``),
            ``run_id`` and ``tags``.
        """
        from mlflow.exceptions import MlflowException

        try:
            version = self._call("get_model_version_by_alias", name, alias)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return {
            "version": str(version.version),
            "model_uri": f"models:/{name}/{version.version}",
            "run_id": version.run_id,
            "tags": dict(version.tags or {}),
        }

    def set_model_alias(self, name: str, alias: str, version: str) -> None:
        """Points ``alias`` (``"champion"``) of the registered model ``name`` at ``version``."""
        self._call("set_registered_model_alias", name, alias, str(version))

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


def _keras_requirements() -> list[str]:
    """Pinned requirements of a logged Keras model (MLflow would spend seconds inferring them)."""
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("keras", "tensorflow"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return requirements


def _sklearn_save_options(model: Any) -> dict[str, Any]:
    """``mlflow.sklearn.save_model`` options: pinned requirements and, with skops, trusted types.

    skops (MLflow's safe default format) refuses to load types it does not
    know, a random forest's trees among them; the estimator was trained by
    this process, so its own types are trusted.
    """
    import inspect

    import mlflow.sklearn

    if "skops_trusted_types" not in inspect.signature(mlflow.sklearn.save_model).parameters:
        return {"pip_requirements": mlflow.sklearn.get_default_pip_requirements(True)}
    import skops.io

    return {
        "serialization_format": "skops",
        "skops_trusted_types": skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        "pip_requirements": mlflow.sklearn.get_default_pip_requirements(include_skops=True),
    }
