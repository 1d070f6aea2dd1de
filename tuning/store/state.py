"""The oracle's state: a versioned JSON artifact of the search run, committed by one tag.

Nothing is pickled: the state is ``Oracle.get_state()``, JSON-safe.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuning.store._values import STATE_DIR, TAG_STATE, _json_default

if TYPE_CHECKING:
    from tuning.store.connection import MlflowConnection

__all__ = ["StateStore"]

_logger = logging.getLogger(__name__)

_STATE_FILE_RE = re.compile(r"^state-(\d+)\.json$")


class StateStore:
    """Saves and loads a search's state, atomically and versioned.

    It remembers, per search run, the state file it last committed, so that the
    search's one writer finds its previous version without a ``get_run`` per
    trial; that cache is dropped when it is pickled.

    Args:
        connection: The project's (shared) connection.
    """

    def __init__(self, connection: MlflowConnection) -> None:
        self.connection = connection
        self._committed: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_committed": {}}

    def __repr__(self) -> str:
        return f"StateStore({self.connection!r})"

    def save(self, run_id: str, state: Mapping[str, Any]) -> None:
        """Saves the oracle's state atomically, as a new version.

        Three steps: write ``state/state-<seq>.json`` (a new file, so the
        committed one is never touched), move the tag ``hyperflow.state`` to
        it (one database write: the commit point), then delete older versions
        best-effort, keeping the new one and its predecessor (so a reader that
        saw the previous tag can still read it). A process killed at any moment
        leaves ``load`` returning the last committed state.

        Called by the single writer of the search state (the search flow)
        after each trial starts and ends. The store remembers the version it
        committed, so it reads the tag only on its first save of a search.

        Args:
            run_id: The search's run id.
            state: ``Oracle.get_state()``, JSON-safe.
        """
        previous = self._committed.get(run_id) or self._committed_path(run_id)
        seq = self._seq(previous) + 1 if previous else 1
        path = self._write_file(run_id, state, seq)
        self._commit(run_id, path)
        self._committed[run_id] = path
        self._prune(run_id, keep={path, previous})

    def load(self, run_id: str) -> dict[str, Any] | None:
        """The search's last committed state, or None if it never saved one.

        Any process may call it (a resumed search, a reader); it reads the tag.

        Raises:
            mlflow.exceptions.MlflowException: The committed state file is missing.
        """
        for attempt in range(2):
            path = self._committed_path(run_id)
            if path is None:
                return None
            try:
                return self.connection.read_json(run_id, path)
            except Exception:
                # A newer commit may have pruned the version just read from the tag.
                if attempt == 1 or self._committed_path(run_id) == path:
                    raise
        return None  # pragma: no cover

    # The steps of save (separate, so that tests can interrupt between them) ----------------

    def _committed_path(self, run_id: str) -> str | None:
        """The state file the tag ``hyperflow.state`` names, or None."""
        return self.connection.call("get_run", run_id).data.tags.get(TAG_STATE) or None

    @staticmethod
    def _seq(path: str) -> int:
        match = _STATE_FILE_RE.match(posixpath.basename(path))
        return int(match.group(1)) if match else 0

    def _write_file(self, run_id: str, state: Mapping[str, Any], seq: int) -> str:
        """Writes version ``seq`` (not yet committed) and returns its artifact path."""
        path = f"{STATE_DIR}/state-{seq:06d}.json"
        # Compact: the state grows with every trial and only machines read it;
        # json's C encoder (not used with indent) is 5-7x faster.
        self.connection.log_text(run_id, json.dumps(dict(state), default=_json_default), path)
        return path

    def _commit(self, run_id: str, path: str) -> None:
        """The commit point: one tag write makes ``path`` the state."""
        self.connection.call("set_tag", run_id, TAG_STATE, path)

    def _prune(self, run_id: str, keep: set[str | None]) -> None:
        """Deletes state versions other than ``keep``; best-effort (some stores cannot)."""
        try:
            repo = self.connection._repo(run_id)
            for info in repo.list_artifacts(STATE_DIR):
                if (
                    not info.is_dir
                    and info.path not in keep
                    and _STATE_FILE_RE.match(posixpath.basename(info.path))
                ):
                    repo.delete_artifacts(info.path)
        except Exception as error:  # NotImplementedError, MlflowException, OSError, ...
            _logger.debug("Hyperflow: old state versions of run %s kept: %s", run_id, error)
