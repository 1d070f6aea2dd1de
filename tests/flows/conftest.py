"""Every flow test runs against the session's temporary Prefect server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_server):
    yield


@pytest.fixture(scope="session")
def dask_cluster(prefect_server) -> Iterator[Any]:
    """One local Dask cluster of two single-thread worker processes, for the session's Dask tests.

    Each Dask worker imports TensorFlow once, in its zygote, when its first
    search reaches it: sharing the cluster pays that once, not once per test.
    Each search registers (and removes) its own worker plugin, so searches on
    it do not see each other. Its workers report to the session's server.
    """
    distributed = pytest.importorskip("distributed")
    from prefect.settings import PREFECT_API_URL

    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        env={"PREFECT_API_URL": PREFECT_API_URL.value()},  # workers run Prefect's task engine
    ) as cluster:
        yield cluster
