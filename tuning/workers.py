"""Trials in child processes: memory returns when they end, and a stuck trial can be killed.

A search writes its payload (the tuner and the data for ``fit``) to a file
once; each ``TrialWorker`` starts a child process that loads it once and then
trains the trials it is sent. With ``trials_per_process=1`` every trial gets a
fresh process (``isolation="process"``); with None the process lives for the
whole search (``isolation="worker"``).

The child is started with ``python -m tuning.workers`` rather than through
``multiprocessing``'s spawn, which would re-run the user's script in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from typing import Any

import cloudpickle

from tuning.trial import TrialStatus
from tuning.trial_spec import TrialResult, TrialSpec

__all__ = [
    "PAYLOAD_FILE",
    "TrialWorker",
    "payload_bytes",
    "write_payload_bytes",
]

PAYLOAD_FILE = "payload.pkl"


def payload_bytes(tuner: Any, fit_args: tuple, fit_kwargs: dict) -> bytes:
    """What a worker process needs: the tuner and the data for ``fit``, pickled."""
    return cloudpickle.dumps((tuner, fit_args, fit_kwargs))


def write_payload_bytes(payload: bytes, folder: str) -> str:
    """Writes a payload into ``folder``; returns the file's path."""
    path = os.path.join(folder, PAYLOAD_FILE)
    with open(path, "wb") as file:
        file.write(payload)
    return path


class TrialWorker:
    """One child process that trains trials sent to it, restarted when needed.

    Args:
        payload_path: What ``write_payload`` returned.
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
        self._process: subprocess.Popen | None = None
        self._connection: Connection | None = None
        self._trials_run = 0

    @property
    def pid(self) -> int | None:
        """The child's process id, or None while none runs."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        ours, theirs = Pipe()
        # The parent's import path, absolute: the child must find the modules that
        # pickled classes live in even if the working directory changes later.
        path = os.pathsep.join(os.path.abspath(p) if p else os.getcwd() for p in sys.path)
        env = {**os.environ, **self.env, "PYTHONPATH": path}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tuning.workers", str(theirs.fileno()), self.payload_path],
            env=env,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        self._connection = ours
        self._trials_run = 0

    def start(self) -> None:
        """Starts a child process unless one runs, without waiting for it to load.

        The child starts Python and loads the payload while the caller goes on.
        TensorFlow itself is imported at the child's first build, inside its first
        trial: importing it ahead of time measured no faster here.
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
        self.start()
        assert self._connection is not None
        self._connection.send(spec.to_dict())
        message, timed_out = None, False
        try:
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
            return TrialResult(
                trial_id=spec.trial_id,
                run_id=spec.run_id,
                status=TrialStatus.INVALID.value,
                hyperparameters=spec.hyperparameters,
                message=reason,
                duration_s=time.monotonic() - started,
            )
        self._trials_run += 1
        if self.trials_per_process is not None and self._trials_run >= self.trials_per_process:
            self._restart()
        return TrialResult(**message)

    def _restart(self) -> None:
        self.close()
        self.start()

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


def _serve(fd: int, payload_path: str) -> None:
    """The child's loop: load the payload once, then train each trial sent."""
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
        result = tuner.execute_trial(TrialSpec(**message), fit_args, fit_kwargs)
        connection.send(result.to_dict())


if __name__ == "__main__":
    _serve(int(sys.argv[1]), sys.argv[2])
