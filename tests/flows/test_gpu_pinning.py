"""One trial per GPU, tested without a GPU: ``CUDA_VISIBLE_DEVICES`` and Dask resources, faked."""

from __future__ import annotations

import os
import time

import pytest
from prefect.settings import PREFECT_API_URL

import tuning as kt


class WhichGpu(kt.RandomSearch):
    """Reports the GPUs its process may see, its process, that process's grandparent, and when."""

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        began = time.time()
        time.sleep(0.5)
        with open(f"/proc/{os.getppid()}/stat", encoding="utf-8") as file:
            grandparent = int(file.read().rsplit(")", 1)[1].split()[1])
        return {
            "loss": x**2,
            "gpu": float(os.environ["CUDA_VISIBLE_DEVICES"] or -1),
            "pid": os.getpid(),
            "grandparent": grandparent,
            "began": began,
            "ended": time.time(),
        }


def _search(directory, **kwargs) -> WhichGpu:
    tuner = WhichGpu(objective="loss", seed=1, directory=directory, **kwargs)
    tuner.search()
    return tuner


def _reported(tuner) -> list[dict[str, float]]:
    names = ("gpu", "pid", "grandparent", "began", "ended")
    return [
        {name: trial.metrics.get_last_value(name) for name in names}
        for trial in tuner.oracle.trials.values()
    ]


def _overlapping(reports):
    return [
        (a, b)
        for i, a in enumerate(reports)
        for b in reports[i + 1 :]
        if a["began"] < b["ended"] and b["began"] < a["ended"]
    ]


def test_concurrent_trials_train_on_gpus_round_robin(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    tuner = _search(tmp_path, max_trials=4, max_concurrent_trials=2, isolation="worker")

    reports = _reported(tuner)
    assert {r["gpu"] for r in reports} == {0.0, 1.0}
    for pid in {r["pid"] for r in reports}:  # one child process per GPU
        assert len({r["gpu"] for r in reports if r["pid"] == pid}) == 1
    pairs = _overlapping(reports)
    assert pairs, "no two trials trained at once"
    assert all({a["gpu"], b["gpu"]} == {0.0, 1.0} for a, b in pairs)


def test_on_a_dask_cluster_with_gpus_two_trials_never_share_a_worker(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # each worker's one GPU
    # Two threads per worker and four trials in flight: only the train tasks' request
    # for one GPU keeps two trials off one worker.
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        resources={"GPU": 1},
        dashboard_address=None,
    ) as cluster:
        with distributed.Client(cluster) as client:
            tuner = _search(
                tmp_path,
                max_trials=6,
                max_concurrent_trials=4,
                dask_address=cluster.scheduler_address,
            )
            workers = set(client.run(os.getpid).values())

    reports = _reported(tuner)
    assert {int(r["grandparent"]) for r in reports} <= workers
    # A second trial on a busy worker would train on its CPU slot, seeing no GPU.
    assert all(r["gpu"] == 0.0 for r in reports)
    assert all(a["grandparent"] != b["grandparent"] for a, b in _overlapping(reports))
