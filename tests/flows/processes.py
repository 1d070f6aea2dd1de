"""A process's descendants and whether they still run, read from /proc (Linux)."""

from __future__ import annotations

import os
import time


def _stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as file:
            return file.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(pid: int) -> dict[int, str]:
    """``{pid: start time}`` of every process below ``pid`` (the start time tells reused pids)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))
            starts[int(entry)] = fields[19]
    found: dict[int, str] = {}
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found[child] = starts[child]
        todo.extend(children.get(child, []))
    return found


def start_time(pid: int) -> str:
    """When ``pid`` started (in clock ticks since boot), to tell it from a later one of that id."""
    fields = _stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return fields[19]


def running(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs (a zombie does not)."""
    fields = _stat(pid)
    return fields is not None and fields[19] == start and fields[0] != "Z"


def wait_gone(processes: dict[int, str], timeout: float) -> dict[int, str]:
    """Waits until none of ``processes`` runs; returns those still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: start for pid, start in processes.items() if running(pid, start)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
