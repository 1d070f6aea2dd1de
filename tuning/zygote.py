"""A template process that imports TensorFlow once and forks worker processes from itself.

A trial's worker process started from scratch spends about 10 s importing
TensorFlow (and 2 s more on MLflow) before it trains anything; with
``isolation="process"`` that is paid by every trial. The zygote pays it once
per search process: it imports Keras, TensorFlow, MLflow and this package, then
waits. Asked for a worker, it forks, and the child is ready at once, sharing
the imported modules' memory with the zygote until it writes to it.

Forking is safe here because the zygote imports but runs nothing: no
TensorFlow op, so no TensorFlow runtime, thread pool or CUDA context exists
to be copied. Each child creates its own at its first op, after it has taken
its environment (``CUDA_VISIBLE_DEVICES`` included) from the request. The few
threads the import starts are idle; a fork keeps only the forking thread.

The zygote is a ``subprocess`` (``python -m tuning.zygote``), not a
``multiprocessing`` start method, which would re-run the user's script in it.
It talks to its parent over a socket pair: the parent sends requests (pickled
tuples, the worker's end of a pipe passed as a file descriptor), the zygote
answers each at once. It reaps its children itself, so the parent asks it for
their exit codes. It ends when its parent closes the socket or dies.

Example:
    >>> from tuning import zygote
    >>> child = zygote.shared().spawn("os:getpid", fds=[], args=())
    >>> child.wait(timeout=60)
    0
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import warnings
from multiprocessing import Pipe, reduction
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["ForkedProcess", "Zygote", "shared"]

#: What the zygote imports before it serves (after MLflow, through ``tuning.store``),
#: MLflow's SQL store included: its import (SQLAlchemy, Alembic, the table models;
#: ~1 s) would otherwise delay every worker's connection to a database store.
#: A module that fails to import is skipped.
PRELOAD = ("keras", "tuning.tuners", "tuning.workers", "mlflow.store.tracking.sqlalchemy_store")


class Zygote:
    """The parent's handle on a zygote process; safe to share between threads.

    The process starts in the constructor without waiting for its imports;
    the first ``spawn`` waits for them.
    """

    def __init__(self) -> None:
        ours, theirs = Pipe()
        # The parent's import path, absolute: the children must find the modules
        # that pickled classes live in even if the working directory changes later.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(_absolute_path())}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tuning.zygote", str(theirs.fileno())],
            env=env,
            pass_fds=[theirs.fileno()],
        )
        theirs.close()
        self._connection = ours
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The zygote's process id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the zygote still runs and can be asked for children."""
        return self._process.poll() is None and not self._connection.closed

    def spawn(
        self,
        target: str,
        fds: list[int],
        args: tuple = (),
        env: dict[str, str] | None = None,
    ) -> ForkedProcess:
        """Forks a child that calls ``target(*fds, *args)`` and exits.

        The child runs with this process's current environment (updated with
        ``env``), import path and working directory; ``fds`` are duplicated
        into it, so the caller may close its copies once this returns.

        Args:
            target: ``"module:function"``, imported in the child.
            fds: File descriptors the child receives, as its first arguments.
            args: Further picklable arguments.
            env: Variables set in the child's environment on top of this one's.

        Returns:
            The child, to poll, wait for or kill.

        Raises:
            OSError: The zygote died (its successor starts on the next ``shared()``).
        """
        request = (
            "spawn",
            target,
            len(fds),
            args,
            {**os.environ, **(env or {})},
            _absolute_path(),
            os.getcwd(),
        )
        with self._lock:
            self._send(request)
            for fd in fds:
                reduction.send_handle(self._connection, fd, self.pid)
            pid = self._receive()
        return ForkedProcess(self, pid)

    def exit_code(self, pid: int) -> int | None:
        """A child's exit code (negative: killed by that signal), or None while it runs."""
        with self._lock:
            self._send(("poll", pid))
            return self._receive()

    def kill(self, pid: int) -> None:
        """Kills a child with SIGKILL; a no-op for one that has ended."""
        with self._lock:
            self._send(("kill", pid))
            self._receive()

    def close(self) -> None:
        """Ends the zygote (its children run on until their own ends)."""
        with self._lock:
            if not self._connection.closed:
                self._connection.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def _send(self, request: tuple) -> None:
        try:
            self._connection.send(request)
        except (OSError, ValueError) as error:
            raise OSError(f"The zygote process ({self.pid}) is gone: {error}") from error

    def _receive(self) -> Any:
        try:
            return self._connection.recv()
        except (EOFError, OSError) as error:
            self._connection.close()
            raise OSError(f"The zygote process ({self.pid}) died: {error!r}") from error


class ForkedProcess:
    """A child of the zygote, with the part of ``subprocess.Popen``'s API workers use."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote = zygote
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code, or None while the child runs.

        A child whose zygote died is reported as killed (-9) once it has ended:
        its real exit code went with the zygote.
        """
        if self.returncode is None:
            try:
                self.returncode = self.zygote.exit_code(self.pid)
            except OSError:
                # The zygote died and reaped nothing more: ask the kernel.
                if not _exists(self.pid):
                    self.returncode = -signal.SIGKILL
        return self.returncode

    @property
    def ended(self) -> bool:
        """Whether the child has ended (a zombie not yet reaped counts), asked of the kernel.

        No round trip to the zygote, which may be busy forking; the exit code
        is ``poll``'s. The child's memory has been returned once it is ended.
        """
        return self.returncode is not None or not _exists(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        """Waits for the child to end and returns its exit code.

        Raises:
            subprocess.TimeoutExpired: It still runs after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout)  # type: ignore[arg-type]
            time.sleep(0.02)
        return code

    def kill(self) -> None:
        """Kills the child with SIGKILL; a no-op for one that has ended."""
        if self.returncode is not None:
            return
        try:
            self.zygote.kill(self.pid)
        except OSError:
            if _exists(self.pid):
                os.kill(self.pid, signal.SIGKILL)


_shared: Zygote | None = None
_shared_lock = threading.Lock()


def shared() -> Zygote:
    """This process's zygote, started on first use and again if it died."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.alive:
            if _shared is None:
                atexit.register(_close_shared)
            _shared = Zygote()
        return _shared


def _close_shared() -> None:
    if _shared is not None:
        _shared.close()


def _absolute_path() -> list[str]:
    return [os.path.abspath(p) if p else os.getcwd() for p in sys.path]


def _exists(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: not every init reaps orphans promptly)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
            return file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


# The zygote's side -----------------------------------------------------------------------


def _preload() -> None:
    try:
        from tuning.store import configure_mlflow

        # Imports MLflow as trials will, before PRELOAD does: telemetry off, quiet loggers.
        configure_mlflow()
    except Exception:  # noqa: BLE001 - the child reports the error when it needs MLflow
        pass
    for module in PRELOAD:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the child reports the error when it needs the module
            continue
    # Keep the imported objects out of the children's collections, so that the
    # collector never writes to (and so copies) the pages they share.
    gc.collect()
    gc.freeze()


def _serve(fd: int) -> None:
    """The zygote's loop: answer each request of the parent until it goes away."""
    connection = Connection(fd)
    # Ctrl-C in a terminal reaches the whole process group; the zygote ends with
    # its parent instead, and its children take the default back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _preload()
    # Python 3.12+ warns that forking a process with threads may deadlock: the
    # threads here are the import's idle ones, which hold no lock (see the top).
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*fork.*")
    running: set[int] = set()
    ended: dict[int, int] = {}
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        for pid in list(running):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                running.discard(pid)
                ended[pid] = os.waitstatus_to_exitcode(status)
        kind, *rest = request
        if kind == "spawn":
            target, count, args, env, path, cwd = rest
            fds = [reduction.recv_handle(connection) for _ in range(count)]
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                connection.close()
                _child(target, fds, args, env, path, cwd)
            for child_fd in fds:
                os.close(child_fd)
            running.add(pid)
            connection.send(pid)
        elif kind == "poll":
            (pid,) = rest
            connection.send(ended.pop(pid, None) if pid not in running else None)
        elif kind == "kill":
            (pid,) = rest
            if pid in running:  # not reaped yet, so the pid is still this child's
                os.kill(pid, signal.SIGKILL)
            connection.send(None)


def _child(target: str, fds: list[int], args: tuple, env: dict, path: list, cwd: str) -> None:
    """Runs in a forked child: takes the request's settings, calls ``target``, exits."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(env)
        sys.path[:] = path
        os.chdir(cwd)
        module, name = target.split(":")
        getattr(importlib.import_module(module), name)(*fds, *args)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:  # noqa: BLE001 - the child must never return into the zygote's loop
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
