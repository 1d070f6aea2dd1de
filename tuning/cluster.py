"""Trials on a Dask cluster: the search's payload as a worker plugin, trials in its children.

``TrialPoolPlugin`` is registered on the cluster once per search: Dask sends
it, with the payload, to every worker (and to workers that join later). On
each worker it writes the payload to the worker's local folder and keeps a
``WorkerPool`` whose children train the trials; unregistering it ends them.
``ClusterRunner.train`` runs on a Dask worker and finds the plugin there by
name. Imported only when a search runs on Dask.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable
from typing import Any

from distributed import get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.worker import thread_state

from tuning.devices import visible_gpus
from tuning.runners import WorkerPool
from tuning.trial_spec import TrialResult, TrialSpec
from tuning.workers import write_payload

__all__ = ["ClusterRunner", "TrialPoolPlugin"]


class TrialPoolPlugin(WorkerPlugin):
    """A search's worker pool on each Dask worker.

    Each of the worker's threads that trains a trial takes a free device of
    the worker: a GPU while one is free (one trial holds one GPU), else a CPU
    slot. The child processes of the first ``slots`` devices start as soon as
    the plugin reaches the worker, ahead of their trials.

    Args:
        name: The plugin's name, unique per search.
        payload: What ``tuning.workers.pickle_payload`` returned.
        isolation: ``"worker"`` or ``"process"``.
        max_trial_time: Seconds after which a trial's process is killed, or None.
        slots: How many trials the search trains at once (``max_concurrent_trials``).
    """

    def __init__(
        self,
        name: str,
        payload: bytes,
        isolation: str,
        max_trial_time: float | None,
        slots: int = 1,
    ) -> None:
        self.name = name
        self.payload = payload
        self.isolation = isolation
        self.max_trial_time = max_trial_time
        self.slots = slots
        self._folder: str | None = None
        self._pool: WorkerPool | None = None
        self._free: list[tuple[str, str | None]] = []
        self._lock: threading.Lock | None = None  # made on the worker: locks do not pickle

    def setup(self, worker: Any) -> None:
        """Writes the payload into the worker's local folder and starts the first children.

        The worker's devices are its GPUs, then a CPU slot for each of its
        threads beyond them.
        """
        self._folder = os.path.join(worker.local_directory, self.name)
        os.makedirs(self._folder, exist_ok=True)
        path = write_payload(self.payload, self._folder)
        self._pool = WorkerPool(path, self.isolation, self.max_trial_time)
        gpus = visible_gpus()
        cpus = max(0, worker.state.nthreads - len(gpus))
        devices = [(gpu, gpu) for gpu in gpus] + [(f"cpu-{k}", None) for k in range(cpus)]
        self._free = devices[::-1]  # a stack: the devices in use stay among the first ones
        self._lock = threading.Lock()
        self._pool.prepare(devices[: self.slots])

    def teardown(self, worker: Any) -> None:
        """Ends the search's child processes on this worker and removes the payload."""
        self._end(kill=False)

    def _end(self, kill: bool) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close(kill=kill)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    def run(self, spec: TrialSpec) -> TrialResult:
        """Trains ``spec`` in a child process of this worker, on a device of its own.

        While it trains, the train task is watched: once Dask has cancelled
        it (its search's client is gone: the search died), the search's
        children on this worker are killed, the training one included.
        """
        pool = self._pool
        assert pool is not None and self._lock is not None, "the plugin was not set up"
        with self._lock:
            device, gpu = self._free.pop()
        done = threading.Event()
        _watch_task(done, lambda: self._end(kill=True))
        try:
            return pool.run(spec, device=device, gpu=gpu)
        finally:
            done.set()
            with self._lock:
                self._free.append((device, gpu))


#: Seconds between two looks at the state of a train task on its Dask worker.
_TASK_POLL_S = 0.5


def _watch_task(done: threading.Event, on_cancel: Callable[[], None]) -> None:
    """Calls ``on_cancel`` if the Dask task this thread runs is cancelled before ``done`` is set.

    Dask cannot stop a task that runs; it marks it cancelled when no client
    wants its result any more (the client that submitted it has gone). A
    thread that runs no Dask task watches nothing.
    """
    key = getattr(thread_state, "key", None)
    if key is None:
        return
    worker = get_worker()

    def watch() -> None:
        while not done.wait(_TASK_POLL_S):
            task = worker.state.tasks.get(key)
            if task is None or task.state in ("cancelled", "released", "forgotten"):
                on_cancel()
                return

    threading.Thread(target=watch, name="hyperflow-task-watch", daemon=True).start()


class ClusterRunner:
    """Trains trials on the Dask worker that runs the train task.

    The train task carries the runner to the cluster; it pickles as the
    plugin's name alone (the payload travels once, with the plugin).

    Args:
        payload: What ``tuning.workers.pickle_payload`` returned.
        isolation: ``"worker"`` or ``"process"``.
        max_trial_time: Seconds after which a trial's process is killed, or None.
    """

    def __init__(self, payload: bytes, isolation: str, max_trial_time: float | None) -> None:
        self.plugin_name = f"hyperflow-{uuid.uuid4().hex}"
        self.resources: dict[str, int] | None = None
        self.on_gpu = False
        self._settings: tuple[bytes, str, float | None] | None = (
            payload,
            isolation,
            max_trial_time,
        )
        self._client: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_settings": None, "_client": None}

    def start(self, task_runner: Any, slots: int) -> None:
        """Registers the search's plugin on the cluster of ``task_runner`` (a Dask runner).

        A train task then asks for one GPU when the cluster's workers advertise ``GPU``.

        Args:
            task_runner: The flow's ``DaskTaskRunner``.
            slots: How many trials train at once: each worker starts that many
                children (at most one per device) ahead of its first trial.
        """
        assert self._settings is not None, "a runner sent to the cluster does not start"
        plugin = TrialPoolPlugin(self.plugin_name, *self._settings, slots=slots)
        self._client = task_runner.client  # the runner's distributed.Client
        self._client.register_plugin(plugin, name=self.plugin_name)
        workers = self._client.scheduler_info()["workers"].values()
        self.on_gpu = any(w.get("resources", {}).get("GPU") for w in workers)
        self.resources = {"GPU": 1} if self.on_gpu else None

    def train(self, spec: TrialSpec) -> TrialResult:
        plugin = get_worker().plugins.get(self.plugin_name)
        if plugin is None:
            raise RuntimeError(
                f"Trial {spec.trial_id} reached a Dask worker without its search's plugin "
                f"{self.plugin_name!r}."
            )
        return plugin.run(spec)

    def close(self) -> None:
        """Unregisters the plugin, which ends the search's processes on every worker."""
        if self._client is not None:
            self._client.unregister_worker_plugin(self.plugin_name)
            self._client = None
