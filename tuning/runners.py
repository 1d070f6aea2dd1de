"""Where a trial trains: one interface, three places.

A runner's ``train(spec)`` turns a ``TrialSpec`` into a ``TrialResult`` and
never raises for a failure of the trial:

* ``InProcessRunner``: in the search's own process (``isolation="none"``).
* ``LocalWorkersRunner``: in child processes of this machine, forked from the
  zygote, one per slot (``isolation="worker"`` or ``"process"``).
* ``ClusterRunner`` (``tuning.cluster``): on a Dask worker, in child processes
  of that worker.

The two process-based runners share ``WorkerPool``. What a child process
receives once per search is the payload: the tuner (its hypermodel, hooks and
arguments, without the oracle's history) and the arguments of ``fit``.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from tuning.devices import visible_gpus
from tuning.trial_spec import TrialResult, TrialSpec
from tuning.workers import EXIT_TIMEOUT_S, TrialWorker, write_payload

__all__ = [
    "InProcessRunner",
    "LocalWorkersRunner",
    "TrialRunner",
    "WorkerPool",
]


class TrialRunner(Protocol):
    """What the search flow needs of a place where trials train."""

    resources: dict[str, int] | None
    """Dask resources a train task asks for (one GPU), or None."""

    on_gpu: bool
    """Whether trials train on GPUs."""

    def start(self, task_runner: Any, slots: int) -> None:
        """Prepares before the first trial: starts what takes long to start.

        Args:
            task_runner: The flow's Prefect task runner (a Dask runner holds
                the cluster's client).
            slots: How many trials will train at once (``max_concurrent_trials``).
        """

    def train(self, spec: TrialSpec) -> TrialResult:
        """Trains one trial; a failure of the trial is a result, not an exception."""

    def close(self) -> None:
        """Ends what ``start`` and ``train`` started."""


class InProcessRunner:
    """Trains each trial in this process, as KerasTuner does.

    Args:
        executor: The tuner's ``TrialExecutor``.
        fit_args: Positional arguments for ``fit``.
        fit_kwargs: Keyword arguments for ``fit``.
    """

    resources = None

    def __init__(self, executor: Any, fit_args: tuple, fit_kwargs: dict) -> None:
        self.executor = executor
        self.fit_args = fit_args
        self.fit_kwargs = fit_kwargs
        self.on_gpu = bool(visible_gpus())

    def start(self, task_runner: Any, slots: int) -> None:
        """Nothing to prepare."""

    def train(self, spec: TrialSpec) -> TrialResult:
        return self.executor.execute(spec, self.fit_args, self.fit_kwargs)

    def close(self) -> None:
        """Nothing to end."""


class WorkerPool:
    """Child processes that train trials, one per device (a GPU, or a slot on CPUs).

    Args:
        payload_path: The payload file the children load.
        isolation: ``"worker"`` keeps a child for the whole search;
            ``"process"`` gives every trial a fresh one.
        max_trial_time: Seconds after which a trial's child is killed, or None.
    """

    def __init__(self, payload_path: str, isolation: str, max_trial_time: float | None) -> None:
        self.payload_path = payload_path
        self.isolation = isolation
        self.max_trial_time = max_trial_time
        self._workers: dict[str, TrialWorker] = {}
        self._lock = threading.Lock()
        self._preparing: threading.Thread | None = None

    def _worker(self, device: str, gpu: str | None) -> TrialWorker:
        """The worker of ``device``, made on first use."""
        with self._lock:
            worker = self._workers.get(device)
            if worker is None:
                per_process = 1 if self.isolation == "process" else None
                env = {"CUDA_VISIBLE_DEVICES": gpu if gpu is not None else ""}
                worker = TrialWorker(self.payload_path, trials_per_process=per_process, env=env)
                self._workers[device] = worker
            return worker

    def prepare(self, devices: Sequence[tuple[str, str | None]]) -> None:
        """Starts the child process of each device in a background thread, ahead of its trials.

        The children load the payload and connect to the trial store while the
        search samples its first trials; a trial sent meanwhile waits for its
        child to be started. The first start in a process waits for its
        zygote to import TensorFlow.

        Args:
            devices: ``(device, gpu)`` pairs, as ``run`` will be called with them.
        """

        def start_all() -> None:
            for device, gpu in devices:
                try:
                    self._worker(device, gpu).start()
                except OSError:
                    return  # the zygote died: run() starts it again, or reports why not

        self._preparing = threading.Thread(target=start_all, name="hyperflow-workers", daemon=True)
        self._preparing.start()

    def run(self, spec: TrialSpec, device: str, gpu: str | None) -> TrialResult:
        """Trains ``spec`` in the child process of ``device``, started on first use.

        Args:
            spec: The trial.
            device: Which child: one per device.
            gpu: The GPU the child may see, or None for none.
        """
        return self._worker(device, gpu).run(spec, timeout=self.max_trial_time)

    def close(self, kill: bool = False) -> int:
        """Ends every child process: asks them all to stop, then waits for them.

        Args:
            kill: Kill them at once instead, trials in flight included (their
                search is gone).

        Returns:
            How many workers were ended.
        """
        if self._preparing is not None:
            self._preparing.join()
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        children = [child for worker in workers for child in worker.stop()]
        for child in children:
            if kill:
                child.discard()
            else:
                child.join(timeout=EXIT_TIMEOUT_S)
        return len(workers)


class LocalWorkersRunner:
    """Trains trials in child processes of this machine, one per concurrent slot.

    With GPUs, slot ``i`` trains on GPU ``i mod n``, so that one trial holds one GPU.

    Args:
        payload: What ``tuning.workers.pickle_payload`` returned.
        isolation: ``"worker"`` or ``"process"``.
        max_trial_time: Seconds after which a trial's process is killed, or None.
    """

    resources = None

    def __init__(self, payload: bytes, isolation: str, max_trial_time: float | None) -> None:
        self.payload = payload
        self.isolation = isolation
        self.max_trial_time = max_trial_time
        self._folder: str | None = None
        self._pool: WorkerPool | None = None
        self._gpus = visible_gpus()
        self.on_gpu = bool(self._gpus)

    def start(self, task_runner: Any, slots: int) -> None:
        """Writes the payload and starts a worker process per slot, in the background.

        The zygote's imports (on the first search of a process) and the
        workers' loading overlap the flow's start and its first samples.
        """
        self._folder = tempfile.mkdtemp(prefix="hyperflow-search-")
        path = write_payload(self.payload, self._folder)
        self._pool = WorkerPool(path, self.isolation, self.max_trial_time)
        self._pool.prepare([(f"slot-{slot}", self._gpu(slot)) for slot in range(slots)])

    def train(self, spec: TrialSpec) -> TrialResult:
        assert self._pool is not None, "start() first"
        slot = int(spec.slot)
        return self._pool.run(spec, device=f"slot-{slot}", gpu=self._gpu(slot))

    def _gpu(self, slot: int) -> str | None:
        """The GPU of a slot (slot ``i`` trains on GPU ``i mod n``), or None without GPUs."""
        return self._gpus[slot % len(self._gpus)] if self._gpus else None

    def close(self) -> None:
        """Stops the worker processes and removes the payload."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
