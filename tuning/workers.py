"""Trials in child processes: memory returns when they end, and a stuck trial can be killed.

A search writes its payload (the tuner and the data for ``fit``) to a file
once; each ``TrialWorker`` has a child process that loads it once and then
trains the trials it is sent. With ``trials_per_process=1`` every trial gets a
fresh process (``isolation="process"``), started while the trial before it
trains; with None the process lives for the whole search (``isolation="worker"``).
Either way a child is made ready (payload loaded, trial store connected) before
a trial is sent to it, so a slot's next trial starts as soon as it is sent.

The children are forked from this process's zygote (``tuning.zygote``), which
has imported TensorFlow already, so a fresh worker trains within a second
instead of after a ~10 s import.

The payload is a pickle (cloudpickle), unlike the search state, which is JSON:
it holds the user's hypermodel, hooks and data, which JSON cannot carry. This
module writes it (``pickle_payload``) and reads it (``serve``). It is written
by the search's own process, into a fresh ``mkdtemp`` folder (mode 0700) on this
machine or the Dask worker's local directory, and loaded only by that search's
child processes, never by a later or resumed search, which read JSON alone.
"""

from __future__ import annotations

import os
import select
import subprocess
import threading
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from tuning import errors, heap, zygote
from tuning.trial_spec import TrialResult, TrialSpec

__all__ = [
    "EXIT_TIMEOUT_S",
    "PAYLOAD_FILE",
    "TrialWorker",
    "pickle_payload",
    "serve",
    "write_payload",
]

PAYLOAD_FILE = "payload.pkl"

#: Seconds a child is given to end by itself before it is killed.
EXIT_TIMEOUT_S = 5.0

#: Seconds between two looks at the owner's process where ``pidfd_open`` is missing.
_OWNER_POLL_S = 0.5

#: A worker's exit code when its owner (the search's process) has ended.
_OWNER_GONE_EXIT = 3

#: Seconds between two looks at a child that is ending: it ends tens of milliseconds
#: after it returns (its address space is torn down).
_JOIN_POLL_S = 0.005


def pickle_payload(tuner: Any, fit_args: tuple, fit_kwargs: dict, isolation: str) -> bytes:
    """The payload of a search's child processes: the tuner and ``fit``'s arguments, pickled.

    Raises:
        FatalTypeError: Something cannot be pickled (by cloudpickle); names
            ``isolation`` and the way out.
    """
    try:
        return cloudpickle.dumps((tuner, fit_args, fit_kwargs))
    except Exception as error:
        raise errors.FatalTypeError(
            f"With isolation={isolation!r} trials train in other processes, so "
            "the tuner, its hypermodel and the arguments of search() must be picklable "
            f"(by cloudpickle); pickling failed: {error}. Use isolation='none' to train "
            "in this process."
        ) from error


def write_payload(payload: bytes, folder: str) -> str:
    """Writes a payload into ``folder``; returns the file's path."""
    path = os.path.join(folder, PAYLOAD_FILE)
    with open(path, "wb") as file:
        file.write(payload)
    return path


class _Child:
    """One forked worker process and this process's end of its pipe."""

    def __init__(self, payload_path: str, env: dict[str, str], trials: int | None) -> None:
        ours, theirs = Pipe()
        try:
            self.process = zygote.shared().spawn(
                "tuning.workers:serve",
                [theirs.fileno()],
                (payload_path, trials, os.getpid()),
                env,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.connection = ours
        self.trials_run = 0

    @property
    def alive(self) -> bool:
        """Whether the child still listens (a dead child's end of the pipe reads as closed).

        A local check: no round trip to the zygote.
        """
        try:
            return not self.connection.poll()
        except (OSError, ValueError):  # our end is closed
            return False

    def discard(self) -> None:
        """Kills the child (a no-op for one that has ended) and closes the pipe."""
        self.process.kill()
        self.connection.close()

    def end(self) -> None:
        """Asks a child that served trials to stop; kills one that never finished a trial.

        A child that never finished a trial may still be loading, or be stuck.
        """
        if self.trials_run == 0:
            self.process.kill()
            return
        try:
            self.connection.send(None)
        except (OSError, ValueError):  # it died meanwhile
            pass

    def join(self, timeout: float) -> None:
        """Waits until the child has ended, killing it after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.process.ended:
            if time.monotonic() > deadline:
                self.process.kill()
                break
            time.sleep(_JOIN_POLL_S)
        self.connection.close()


class TrialWorker:
    """The child process of one device (a slot or a GPU) that trains the trials sent to it.

    The child loads the payload and connects to the trial store as soon as it
    starts, so that a trial sent to it starts at once. With
    ``trials_per_process``, the successor of a child that trains its last
    trial is started as that trial is sent, and is ready when it ends; the
    child then ends by itself, and the next trial is sent once it has ended
    (so that its memory, GPU memory included, has returned).

    Args:
        payload_path: What ``write_payload`` returned: the pickled tuner and
            arguments of ``fit`` (``pickle_payload``).
        trials_per_process: Trials a process trains before it is replaced;
            None keeps it for the whole search.
        env: Extra environment variables for the child (``CUDA_VISIBLE_DEVICES``).
    """

    def __init__(
        self,
        payload_path: str,
        trials_per_process: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.payload_path = payload_path
        self.trials_per_process = trials_per_process
        self.env = dict(env or {})
        self._child: _Child | None = None
        self._successor: _Child | None = None
        self._retired: _Child | None = None  # ends by itself after its last trial
        self._stopped = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Starts a child process unless one is alive, without waiting for it to load.

        The child loads the payload while the caller goes on. The first call of
        a process waits for its zygote to import TensorFlow. Safe to call from
        another thread than ``run``'s (a worker is started ahead of its first trial).

        Raises:
            OSError: The zygote died (the next call starts a new one), or
                this worker was stopped.
        """
        with self._lock:
            if self._stopped:
                raise OSError("This trial worker was stopped.")
            if self._child is not None:
                if self._child.alive:
                    return
                self._child.discard()  # it died between trials
            child, self._successor = self._successor, None
            if child is not None and not child.alive:
                child.discard()
                child = None
            self._child = child or _Child(self.payload_path, self.env, self.trials_per_process)

    def _start_successor(self) -> None:
        """Starts the process that trains the trial after this one; best effort."""
        with self._lock:
            if self._successor is None and not self._stopped:
                try:
                    self._successor = _Child(self.payload_path, self.env, self.trials_per_process)
                except OSError:
                    pass  # run() starts one (or reports why it cannot) when the next trial comes

    def run(self, spec: TrialSpec, timeout: float | None = None) -> TrialResult:
        """Trains ``spec``'s trial in the child process.

        Never raises for a failure of the trial or the child: a child that died
        or ran past ``timeout`` seconds gives an INVALID result (retried while
        ``max_retries_per_trial`` allows) and is replaced at once. A child that
        trains its last trial (``trials_per_process``) ends while the search
        records it; the next call waits for that before it sends its trial.
        """
        started = time.monotonic()
        try:
            self.start()
        except OSError as error:
            return TrialResult.invalid(
                spec, f"No worker process could be started: {error}", time.monotonic() - started
            )
        self._join_retired()
        child = self._child
        assert child is not None
        last = self.trials_per_process is not None and (
            child.trials_run + 1 >= self.trials_per_process
        )
        message, timed_out = None, False
        try:
            child.connection.send(spec.to_dict())
            if last:
                self._start_successor()
            if child.connection.poll(timeout):
                message = child.connection.recv()
            else:
                timed_out = True
        except (EOFError, OSError):  # the child died
            message = None
        if message is None:
            reason = self._failure_reason(child, timeout if timed_out else None)
            child.discard()  # stuck past its timeout, or dead already
            self._replace(child)
            return TrialResult.invalid(spec, reason, time.monotonic() - started)
        child.trials_run += 1
        if last:
            self._retired = child
            self._replace(child)
        return TrialResult(**message)

    def _join_retired(self) -> None:
        """Waits until the child that trained its last trial has ended (within milliseconds)."""
        retired, self._retired = self._retired, None
        if retired is not None:
            retired.join(timeout=EXIT_TIMEOUT_S)

    def _replace(self, child: _Child) -> None:
        """Puts a ready process in the place of ``child``, which has ended."""
        with self._lock:
            if self._child is child:
                self._child = None
        try:
            self.start()
        except OSError:
            pass  # run() starts one (or reports why it cannot) when the next trial comes

    @staticmethod
    def _failure_reason(child: _Child, timeout: float | None) -> str:
        """Why no result came back: the trial timed out, or the child died."""
        if timeout is not None:
            return f"The trial ran past max_trial_time ({timeout} s) and was stopped."
        try:
            code = child.process.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            code = None
        return f"The worker process died (exit code {code}) while training the trial."

    def stop(self) -> list[_Child]:
        """Asks the child processes to end, without waiting; returns them for ``_Child.join``.

        A child that served trials is asked to stop (and killed if it does not
        within seconds); one that never finished a trial (a ready one, still
        loading, stuck or dead) is killed at once.
        """
        with self._lock:
            children = [c for c in (self._retired, self._child, self._successor) if c is not None]
            self._retired = self._child = self._successor = None
            self._stopped = True
        for child in children:
            child.end()
        return children


def serve(fd: int, payload_path: str, trials: int | None = None, owner: int | None = None) -> None:
    """A worker process's loop: loads the payload once, then trains each trial sent.

    Everything a trial needs but its values is made ready before the first one
    is read from the pipe: the tuner, the arguments of ``fit`` and the trial
    store's connection.

    Args:
        fd: The worker's end of the pipe to its ``TrialWorker``.
        payload_path: The payload file ``write_payload`` wrote.
        trials: How many trials to train before ending; None for as many as sent.
        owner: The process of the ``TrialWorker`` (the search, or a Dask
            worker); this process ends as soon as that one has, mid-trial too.
    """
    if owner is not None:
        _end_with(owner)
    connection = Connection(fd)
    with open(payload_path, "rb") as file:
        tuner, fit_args, fit_kwargs = cloudpickle.load(file)
    try:
        tuner.executor.prepare()
    except Exception:  # noqa: BLE001 - the first trial meets the error again and reports it
        pass
    served = 0
    while trials is None or served < trials:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        result = tuner.executor.execute(TrialSpec(**message), fit_args, fit_kwargs)
        connection.send(result.to_dict())
        served += 1
        # What outlives a trial is here for good now: freeze it at the next build.
        heap.adopt()


def _end_with(pid: int) -> None:
    """Ends this process as soon as process ``pid`` has ended, from a daemon thread.

    A trial whose search died (SIGKILL, power loss of its driver) would
    otherwise train on to its end, holding its CPU or GPU, for a result nobody
    reads: the resumed search trains it again. Ending at once keeps what the
    trial logged so far. Linux's ``pidfd_open`` names that very process (no
    pid reuse) and wakes the thread when it ends; elsewhere it is polled.
    """
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None

    def watch() -> None:
        if pidfd is not None:
            select.select([pidfd], [], [])
        else:
            while _exists(pid):
                time.sleep(_OWNER_POLL_S)
        os._exit(_OWNER_GONE_EXIT)

    threading.Thread(target=watch, name="hyperflow-owner", daemon=True).start()


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
