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

import gc
import threading

__all__ = ["adopt", "collect", "thaw"]

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
