"""A run's artifact files, through one cached ``ArtifactRepository`` per run.

Part of ``MlflowConnection`` (a mixin, so that the connection's module stays
short); it relies on the connection's ``call``, ``retry``, ``tracking_uri`` and
its two per-run caches.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuning.store._values import _to_json


class ArtifactsMixin:
    """Artifact I/O of ``MlflowConnection``: write, read, upload, download, list."""

    tracking_uri: str
    _artifact_uris: dict[str, str]
    _repos: dict[str, Any]
    retry: Callable[..., Any]
    call: Callable[..., Any]

    def artifact_uri(self, run_id: str) -> str:
        """Where the run's artifacts live (asked of MLflow once per run, then cached)."""
        if run_id not in self._artifact_uris:
            self._artifact_uris[run_id] = self.call("get_run", run_id).info.artifact_uri
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

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Writes ``text`` as the artifact ``artifact_file`` (overwriting it)."""
        folder, name = posixpath.split(artifact_file)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            local = Path(tmp) / name
            local.write_text(text, encoding="utf-8")
            self.retry(self._repo(run_id).log_artifact, str(local), folder or None)

    def log_json(self, run_id: str, data: Any, artifact_file: str) -> None:
        """Writes ``data`` as the indented JSON artifact ``artifact_file`` (numpy values too)."""
        self.log_text(run_id, _to_json(data), artifact_file)

    def read_json(self, run_id: str, artifact_path: str) -> Any:
        """Reads a JSON artifact without a download progress bar or a copy when local.

        Raises:
            mlflow.exceptions.MlflowException: The run has no such artifact.
            OSError: The artifact cannot be read.
        """
        from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

        repo = self._repo(run_id)
        if isinstance(repo, LocalArtifactRepository):
            with open(repo.download_artifacts(artifact_path), encoding="utf-8") as handle:
                return json.load(handle)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            local = os.path.join(tmp, posixpath.basename(artifact_path))
            # The one-file download every ArtifactRepository implements.
            self.retry(repo._download_file, remote_file_path=artifact_path, local_path=local)
            with open(local, encoding="utf-8") as handle:
                return json.load(handle)

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
            self.retry(repo.log_artifacts, str(local_path), artifact_path)
            relative = artifact_path or ""
        else:
            self.retry(repo.log_artifact, str(local_path), artifact_path)
            relative = posixpath.join(artifact_path or "", local_path.name)
        base = self.artifact_uri(run_id).rstrip("/")
        return f"{base}/{relative}" if relative else base

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
        return self.call("download_artifacts", run_id, artifact_path, dst_dir)

    def has_artifact(self, run_id: str, artifact_path: str) -> bool:
        """Whether the run holds the artifact file ``artifact_path``."""
        folder = posixpath.dirname(artifact_path) or None
        listed = self.call("list_artifacts", run_id, folder)
        return any(item.path == artifact_path for item in listed)

    def delete_artifact(self, run_id: str, artifact_path: str) -> bool:
        """Deletes an artifact file or folder of the run (nothing if it is absent).

        MLflow's client has no delete; its artifact repositories do, where the
        store allows it (local folders, ``mlflow-artifacts:``, S3, GCS, Azure, ...).

        Returns:
            False when the run's artifact repository cannot delete.
        """
        from mlflow.store.artifact.artifact_repo import ArtifactRepository

        repo = self._repo(run_id)
        if type(repo).delete_artifacts is ArtifactRepository.delete_artifacts:
            return False
        try:
            self.retry(repo.delete_artifacts, artifact_path)
        except NotImplementedError:
            return False
        return True
