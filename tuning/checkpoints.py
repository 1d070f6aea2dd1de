"""Where a trial's weights live in its run, and when a training trial saves its progress.

A trial's ``checkpoints/`` artifacts hold its best-epoch weights
(``best.weights.h5``) and, while it trains, its progress (``last/``): the
latest weights with the optimizer's state and ``progress.json``, the epochs
recorded so far. A search resumed after its process died continues such a
trial from its last saved epoch, in the same run. Free of Keras.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = [
    "CHECKPOINTS_FOLDER",
    "PROGRESS_FILE",
    "PROGRESS_FOLDER",
    "CheckpointPolicy",
    "check_checkpoint_every",
]

CHECKPOINTS_FOLDER = "checkpoints"
PROGRESS_FOLDER = f"{CHECKPOINTS_FOLDER}/last"
PROGRESS_FILE = f"{PROGRESS_FOLDER}/progress.json"

# The share of a trial's time that ``checkpoint_every="auto"`` may spend saving progress:
# 4 %, so that a save slower than the last one still leaves the cost under 5 %.
AUTO_BUDGET = 0.04


def check_checkpoint_every(value: Any) -> None:
    """Raises ``ValueError`` unless ``value`` is ``"auto"``, a positive integer or None."""
    if value is None or value == "auto":
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f'checkpoint_every must be "auto", a positive number of epochs or None, got {value!r}.'
        )


class CheckpointPolicy:
    """Says at which epochs' ends one trial saves its progress.

    Args:
        every: ``"auto"`` saves at an epoch's end whenever the saves so far,
            and one more as long as the last, cost at most 4 % of the time
            since the trial began (the first epoch's end always saves); n
            saves every n epochs; None never.
    """

    def __init__(self, every: int | str | None = "auto") -> None:
        check_checkpoint_every(every)
        self.every = every
        self._started = time.monotonic()
        self._spent = 0.0
        self._last = 0.0

    def due(self, epoch: int) -> bool:
        """Whether the end of ``epoch`` (0-based) saves the trial's progress."""
        if self.every is None:
            return False
        if self.every == "auto":
            elapsed = time.monotonic() - self._started
            return self._spent + self._last <= AUTO_BUDGET * elapsed
        return (epoch + 1) % int(self.every) == 0

    def saved(self, seconds: float) -> None:
        """Notes that a save took ``seconds``."""
        self._spent += seconds
        self._last = seconds
