"""Tests of ``tuning`` that reach a store choose it themselves."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_tracking_uri_env(no_tracking_uri):
    """Every test here runs without the caller's ``MLFLOW_TRACKING_URI``."""
