"""Training a trial on a Dask worker, far from the search's process.

The search's payload (tuner and data) was scattered to the cluster once and
reaches the task as bytes; a worker writes it to its local folder the first
time one of its trials needs it. Each trial trains in a child process that
sees only the GPU it holds.
"""

from __future__ import annotations

import os
import threading

from tuning.devices import visible_gpus
from tuning.trial_spec import TrialResult, TrialSpec
from tuning.workers import TrialWorker, write_payload_bytes

__all__ = ["close_workers", "train_on_worker"]

_lock = threading.Lock()
_payload_files: dict[str, str] = {}
_free_gpus: list[str] | None = None
_workers: dict[tuple[str, str], TrialWorker] = {}


def _payload_file(key: str, payload: bytes) -> str:
    from distributed import get_worker

    with _lock:
        if key not in _payload_files:
            folder = os.path.join(get_worker().local_directory, f"hyperflow-{key}")
            os.makedirs(folder, exist_ok=True)
            _payload_files[key] = write_payload_bytes(payload, folder)
        return _payload_files[key]


def _take_gpu() -> str | None:
    global _free_gpus
    with _lock:
        if _free_gpus is None:
            _free_gpus = visible_gpus()
        return _free_gpus.pop(0) if _free_gpus else None


def _give_back(gpu: str | None) -> None:
    if gpu is not None:
        with _lock:
            _free_gpus.append(gpu)  # type: ignore[union-attr]


def train_on_worker(spec: TrialSpec, payload: bytes | None) -> TrialResult:
    """Trains ``spec``'s trial in a child process of this Dask worker.

    With ``isolation="process"`` the child trains one trial; otherwise it is
    kept for the next trial this worker thread (and GPU) trains.
    """
    if payload is None:
        raise RuntimeError(
            f"Trial {spec.trial_id} reached a process without its search's session or payload."
        )
    path = _payload_file(spec.payload_key, payload)
    gpu = _take_gpu()
    try:
        device = gpu if gpu is not None else f"cpu-{threading.get_ident()}"
        env = {"CUDA_VISIBLE_DEVICES": gpu} if gpu is not None else {"CUDA_VISIBLE_DEVICES": ""}
        with _lock:
            worker = _workers.get((spec.payload_key, device))
            if worker is None:
                per_process = 1 if spec.isolation == "process" else None
                worker = TrialWorker(path, trials_per_process=per_process, env=env)
                _workers[(spec.payload_key, device)] = worker
        return worker.run(spec, timeout=spec.max_trial_time)
    finally:
        _give_back(gpu)


def close_workers(payload_key: str) -> int:
    """Ends this Dask worker's child processes of one search (run on every worker at its end).

    Returns:
        How many child processes were ended.
    """
    with _lock:
        keys = [key for key in _workers if key[0] == payload_key]
        workers = [_workers.pop(key) for key in keys]
        _payload_files.pop(payload_key, None)
    for worker in workers:
        worker.close()
    return len(workers)
