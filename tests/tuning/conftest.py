"""Tests of ``tuning`` that reach a store choose it themselves."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_tracking_uri_env(no_tracking_uri):
    """Every test here runs without the caller's ``MLFLOW_TRACKING_URI``."""


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """One BLAS thread where ``threadpoolctl`` allows, for tests of the Gaussian process.

    Its matrices are tiny; on a busy machine OpenBLAS's threads spend far
    longer waiting for each other than computing (ten times longer, measured).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1):
        yield
