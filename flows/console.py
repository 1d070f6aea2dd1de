"""Keeps Prefect's per-run console lines out of a search's KerasTuner-style output.

Only the console handler is raised to WARNING: the records still reach
Prefect's API handler, so the UI shows every flow and task run log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from prefect.logging.handlers import PrefectConsoleHandler

__all__ = ["quiet_prefect_console"]


@contextlib.contextmanager
def quiet_prefect_console(level: int = logging.WARNING) -> Iterator[None]:
    """Raises Prefect's console handlers to ``level`` for the duration of the block."""
    handlers = [
        handler
        for logger in (logging.getLogger(), logging.getLogger("prefect"))
        for handler in logger.handlers
        if isinstance(handler, PrefectConsoleHandler)
    ]
    previous = [handler.level for handler in handlers]
    for handler in handlers:
        handler.setLevel(max(level, handler.level))
    try:
        yield
    finally:
        for handler, old in zip(handlers, previous, strict=True):
            handler.setLevel(old)
