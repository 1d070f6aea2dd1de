"""Copies of a freshly created SQLite store, so that tests skip its migration (seconds each)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_store(template_dir: Path, directory: Path) -> Path:
    """A copy of the template's database in ``directory`` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(template_dir / "mlflow.db")
    target = sqlite3.connect(directory / "mlflow.db")
    try:
        source.backup(target)  # consistent even with a WAL file beside the source
    finally:
        source.close()
        target.close()
    return directory
