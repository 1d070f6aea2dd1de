"""What a local SQLite store needs: its file, WAL, the init lock and "database is locked".

See the operational notes in ``tuning.store.connection``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

_logger = logging.getLogger(__name__)

# "database is locked" retries: attempts and first back-off (doubling, jittered).
LOCK_RETRIES = 8
LOCK_BACKOFF_S = 0.05
LOCK_BACKOFF_MAX_S = 3.0
_LOCK_MESSAGES = ("database is locked", "database table is locked", "sqlite_busy")


def sqlite_path(uri: str) -> Path | None:
    """The database file of an ``sqlite:///`` URI, or None for other stores."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].partition("?")[0]
    return None if not path or path == ":memory:" else Path(path)


def is_locked_error(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (worth a retry)."""
    text = str(error).lower()
    return any(message in text for message in _LOCK_MESSAGES)


class _DropLockedErrors(logging.Filter):
    """Hides MLflow's ERROR log of a "database is locked" attempt that is retried here."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return not is_locked_error(Exception(record.getMessage()))
        except Exception:  # a broken record is not ours to judge
            return True


DROP_LOCKED_ERRORS = _DropLockedErrors()


def use_wal(db_path: Path) -> None:
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
def init_lock(db_path: Path | None) -> Iterator[None]:
    """An inter-process lock around first use of an SQLite store (POSIX; no-op elsewhere).

    The lock file sits beside the database (``<name>-init.lock``, like SQLite's
    own ``-wal`` and ``-shm`` files), so that it goes where the store goes.
    """
    try:
        import fcntl
    except ImportError:  # Windows: rely on connect() being called before fan-out.
        yield
        return
    if db_path is None:
        yield
        return
    lock_path = db_path.with_name(f"{db_path.name}-init.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
