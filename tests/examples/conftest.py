"""Every example test runs its searches against the session's temporary Prefect server."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server):
    yield
