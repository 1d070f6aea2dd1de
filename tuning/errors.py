"""Exceptions a user's code may raise to steer the search.

Any other exception raised while building or training a model marks the
trial INVALID (retried while ``max_retries_per_trial`` allows) and keeps its
traceback as the trial's message.
"""

from __future__ import annotations

__all__ = [
    "FailedTrialError",
    "FatalError",
    "FatalRuntimeError",
    "FatalTypeError",
    "FatalValueError",
]


class FailedTrialError(Exception):
    """Fails the current trial for good: it is marked FAILED and never retried.

    Example:
        >>> def build_model(hp):
        ...     if hp.Int("units", 8, 64) * hp.Int("layers", 1, 8) > 256:
        ...         raise FailedTrialError("model too large")
    """


class FatalError(Exception):
    """Stops the whole search at once; completed trials are kept."""


class FatalValueError(FatalError, ValueError):
    """A fatal error that is also a ``ValueError``."""


class FatalTypeError(FatalError, TypeError):
    """A fatal error that is also a ``TypeError``."""


class FatalRuntimeError(FatalError, RuntimeError):
    """A fatal error that is also a ``RuntimeError``."""
