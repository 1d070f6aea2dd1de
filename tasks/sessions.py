"""The searches running in this process, by key.

A task receives a session's key (a small string) rather than the session, so
that nothing large or unpicklable crosses a task boundary.
"""

from __future__ import annotations

import threading

from tuning.session import SearchSession

__all__ = ["find", "get", "register", "unregister"]

_sessions: dict[str, SearchSession] = {}
_lock = threading.Lock()


def register(session: SearchSession) -> None:
    with _lock:
        _sessions[session.key] = session


def unregister(key: str) -> None:
    with _lock:
        _sessions.pop(key, None)


def get(key: str) -> SearchSession:
    """The session ``key`` names.

    Raises:
        KeyError: No search with that key runs in this process.
    """
    with _lock:
        return _sessions[key]


def find(key: str) -> SearchSession | None:
    """The session ``key`` names, or None when it runs in another process."""
    with _lock:
        return _sessions.get(key)
