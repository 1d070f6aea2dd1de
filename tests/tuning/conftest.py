"""Fixtures of the tests that reach a real MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _no_tracking_uri_env(monkeypatch):
    """Each test picks its store; a tracking URI exported by the caller must not decide."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def directory(tmp_path_factory) -> Path:
    """One SQLite store per test module (its migration takes seconds); a project per test."""
    from tuning.store import TrialStore

    path = tmp_path_factory.mktemp("store")
    TrialStore("warm-up", path).connect()
    return path
