"""Trials in child processes: memory returns when they end, and a stuck trial can be killed.

A search writes its payload (the tuner and the data for ``fit``) to a file
once; each ``TrialWorker`` has a child process that loads it once and then
trains the trials it is sent. With ``trials_per_process=1`` every trial gets a
fresh process (``isolation="process"``); with None the process lives for the
whole search (``isolation="worker"``).

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
import subprocess
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from tuning import errors, heap, zygote
from tuning.trial_spec import TrialResult, TrialSpec

__all__ = ["PAYLOAD_FILE", "TrialWorker", "pickle_payload", "serve", "write_payload"]

PAYLOAD_FILE = "payload.pkl"


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


class TrialWorker:
    """One child process that trains trials sent to it, restarted when needed.

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
        self._process: zygote.ForkedProcess | None = None
        self._connection: Connection | None = None
        self._trials_run = 0

    @property
    def pid(self) -> int | None:
        """The child's process id, or None while none runs."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        ours, theirs = Pipe()
        try:
            self._process = zygote.shared().spawn(
                "tuning.workers:serve", [theirs.fileno()], (self.payload_path,), self.env
            )
        finally:
            theirs.close()
        self._connection = ours
        self._trials_run = 0

    def start(self) -> None:
        """Starts a child process unless one runs, without waiting for it to load.

        The child loads the payload while the caller goes on. The first call of
        a process waits for its zygote to import TensorFlow.

        Raises:
            OSError: The zygote died (the next call starts a new one).
        """
        if self._process is None or self._process.poll() is not None:
            self._start()

    def run(self, spec: TrialSpec, timeout: float | None = None) -> TrialResult:
        """Trains ``spec``'s trial in the child process.

        Never raises for a failure of the trial or the child: a child that died
        or ran past ``timeout`` seconds gives an INVALID result (retried while
        ``max_retries_per_trial`` allows). A child that is done, by failure or
        because it trained ``trials_per_process`` trials, is replaced at once,
        so that its successor starts while the flow records this trial.
        """
        started = time.monotonic()
        try:
            self.start()
        except OSError as error:
            return TrialResult.invalid(
                spec, f"No worker process could be started: {error}", time.monotonic() - started
            )
        assert self._connection is not None
        message, timed_out = None, False
        try:
            self._connection.send(spec.to_dict())
            if self._connection.poll(timeout):
                message = self._connection.recv()
            else:
                timed_out = True
        except (EOFError, OSError):  # the child died
            message = None
        if message is None:
            reason = self._failure_reason(timeout if timed_out else None)
            assert self._process is not None
            self._process.kill()  # stuck past its timeout; a no-op for a child that died
            self._restart()
            return TrialResult.invalid(spec, reason, time.monotonic() - started)
        self._trials_run += 1
        if self.trials_per_process is not None and self._trials_run >= self.trials_per_process:
            self._restart()
        return TrialResult(**message)

    def _restart(self) -> None:
        """Replaces the child at once, so that its successor loads while the flow records."""
        self.close()
        try:
            self.start()
        except OSError:
            pass  # run() starts one (or reports why it cannot) when the next trial comes

    def _failure_reason(self, timeout: float | None) -> str:
        """Why no result came back: the trial timed out, or the child died."""
        assert self._process is not None
        if timeout is not None:
            return f"The trial ran past max_trial_time ({timeout} s) and was stopped."
        try:
            code = self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return f"The worker process died (exit code {code}) while training the trial."

    def close(self) -> None:
        """Ends the child process.

        A child that served trials is asked to stop (and killed if it does not
        within seconds); one that never finished a trial (still loading, stuck
        or dead) is killed at once.
        """
        if self._process is not None and self._trials_run == 0:
            self._process.kill()
        if self._connection is not None:
            try:
                self._connection.send(None)
            except (OSError, ValueError):
                pass
            self._connection.close()
            self._connection = None
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def serve(fd: int, payload_path: str) -> None:
    """A worker process's loop: loads the payload once, then trains each trial sent.

    Args:
        fd: The worker's end of the pipe to its ``TrialWorker``.
        payload_path: The payload file ``write_payload`` wrote.
    """
    connection = Connection(fd)
    with open(payload_path, "rb") as file:
        tuner, fit_args, fit_kwargs = cloudpickle.load(file)
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        result = tuner.executor.execute(TrialSpec(**message), fit_args, fit_kwargs)
        connection.send(result.to_dict())
        # What outlives a trial is here for good now: freeze it at the next build.
        heap.adopt()
