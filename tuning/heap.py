"""Garbage collection between trials, cheap in a process full of long-lived objects.

A process that has imported Prefect, MLflow and TensorFlow holds about 800,000
objects that live as long as it does; one full ``gc.collect()`` walks them all
(~0.4 s on a 2-core machine), before every trial's build. ``collect`` freezes
what survives its first collection (``gc.freeze``), so that later collections
walk only what trials allocated since. Reference counting still frees frozen
objects; only reference cycles among them wait for ``thaw``.

A trial worker forked from the zygote starts with the zygote's imports
frozen, so ``collect`` would leave its heap alone; after its first trial it
``adopt``s the heap, and what it has loaded by then (the tuner, the data,
MLflow's client, TensorFlow's runtime) is frozen at the next collection.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["adopt", "collect", "frozen_while_searching", "thaw"]

_lock = threading.Lock()
_frozen_here = False
_adopted = False


def adopt() -> None:
    """Declares this process's heap ours, though its parent froze part of it.

    For a process that only trains trials: the next ``collect`` freezes what
    survives it, on top of what the parent froze.
    """
    global _adopted
    with _lock:
        _adopted = True


def collect() -> None:
    """Collects garbage; the first call also freezes the objects that survive it.

    Leaves the heap alone where someone else already froze it (``gc.freeze``
    is process-wide), unless the process ``adopt``ed it.
    """
    global _frozen_here
    gc.collect()
    with _lock:
        if gc.get_freeze_count() == 0 or (_adopted and not _frozen_here):
            gc.freeze()
            _frozen_here = True


def thaw() -> None:
    """Returns the objects ``collect`` froze to the collector (at a search's end)."""
    global _frozen_here
    with _lock:
        if _frozen_here:
            gc.unfreeze()
            _frozen_here = False


@contextlib.contextmanager
def frozen_while_searching() -> Iterator[None]:
    """Keeps Python's cyclic collector off the objects that were alive before a search.

    A process that has imported Prefect and MLflow holds ~600,000 objects that
    outlive any search; Python's full collection walks them all (0.4-0.7 s on
    2 cores) whenever ~150,000 new objects have outlived two younger
    collections, which the flow's own bookkeeping does every 15-20 trials:
    every slot stalls meanwhile. They are frozen (``gc.freeze``, no
    collection) while the search runs, and a trial that builds a model in
    this process still collects, and freezes what the build left, as a worker
    process does (``adopt``). Afterwards the process's heap is as it was.
    Left as it is where something froze objects already.
    """
    global _adopted, _frozen_here
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    with _lock:
        adopted_before, _adopted = _adopted, True
    try:
        yield
    finally:
        with _lock:
            gc.unfreeze()
            _adopted, _frozen_here = adopted_before, False
