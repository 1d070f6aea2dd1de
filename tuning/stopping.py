"""Rules that end a search once it is done, in the spirit of Keras's ``EarlyStopping``.

A rule looks at the scores of the trials that completed, in the order they
completed, and says why the search should end, or nothing. The search engine
asks its rules each time a trial completes; once one answers, no new trial
starts and the search ends cleanly when the running ones have finished. Rules
compose with ``max_trials`` and ``max_time``: whichever comes first ends the
search.

Example:
    >>> rule = NoImprovement(patience=2, min_delta=0.01)
    >>> rule.reason([0.5, 0.3, 0.295, 0.31], "min")
    'no improvement of the objective by 0.01 for 2 completed trials'
    >>> TargetReached(0.3).reason([0.5, 0.3], "min")
    'the objective reached its target 0.3'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

__all__ = ["NoImprovement", "StopRule", "TargetReached", "as_rules"]


class StopRule:
    """A reason to end a search; subclass it and implement ``reason``."""

    def reason(self, scores: Sequence[float], direction: str) -> str | None:
        """Why the search should end now, or None to go on.

        Called after each completed trial, in the search's process.

        Args:
            scores: The completed trials' scores, oldest first (NaN skipped).
            direction: ``"min"`` or ``"max"``.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({arguments})"


class NoImprovement(StopRule):
    """Ends a search whose best score has not improved for ``patience`` completed trials.

    A trial improves on the best so far when it beats it by more than
    ``min_delta``; a trial that beats it by less counts as no improvement
    (and does not move the best), as in Keras's ``EarlyStopping``.

    Args:
        patience: Completed trials without improvement before the search ends.
        min_delta: The least change that counts as an improvement (>= 0).

    Raises:
        ValueError: ``patience`` is not a positive integer, or ``min_delta`` is negative.
    """

    def __init__(self, patience: int, min_delta: float = 0.0) -> None:
        if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
            raise ValueError(
                f"NoImprovement: patience must be a positive integer, got {patience!r}."
            )
        if not _is_number(min_delta) or min_delta < 0:
            raise ValueError(f"NoImprovement: min_delta must be a number >= 0, got {min_delta!r}.")
        self.patience = int(patience)
        self.min_delta = float(min_delta)

    def reason(self, scores: Sequence[float], direction: str) -> str | None:
        sign = 1.0 if direction == "min" else -1.0
        best, since = math.inf, 0
        for score in scores:
            value = sign * score
            if value < best - self.min_delta:
                best, since = value, 0
            else:
                since += 1
        if since >= self.patience:
            return (
                f"no improvement of the objective by {self.min_delta:g} "
                f"for {self.patience} completed trials"
            )
        return None


class TargetReached(StopRule):
    """Ends a search once a completed trial's score reaches ``value`` (or beats it).

    Args:
        value: The target score, in the objective's units.

    Raises:
        ValueError: ``value`` is not a finite number.
    """

    def __init__(self, value: float) -> None:
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(f"TargetReached: value must be a finite number, got {value!r}.")
        self.value = float(value)

    def reason(self, scores: Sequence[float], direction: str) -> str | None:
        reached = any(s <= self.value if direction == "min" else s >= self.value for s in scores)
        return f"the objective reached its target {self.value:g}" if reached else None


def as_rules(stop_when: StopRule | Sequence[StopRule] | None) -> list[StopRule]:
    """``stop_when`` as a list of rules: one rule, several, or none.

    Raises:
        TypeError: Something in it is not a ``StopRule``; names ``stop_when``.
    """
    if stop_when is None:
        return []
    rules = [stop_when] if isinstance(stop_when, StopRule) else stop_when
    if not isinstance(rules, (list, tuple)) or not all(isinstance(r, StopRule) for r in rules):
        raise TypeError(
            "stop_when must be a stopping rule (such as kt.stopping.NoImprovement(patience=5)) "
            f"or a list of them, got {stop_when!r}."
        )
    return list(rules)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
