"""Stopping bad trials early from their intermediate results.

The rule is a pure function of small values (a trial's curve and the curves of
completed trials), so it gives the same answer in the oracle and inside a
training process that only received a snapshot of the reference curves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["MedianStoppingRule"]


class MedianStoppingRule:
    """Stops a trial whose best value by step s is worse than the median at step s.

    The median is taken over completed trials' best-so-far values at step s.
    In completed trials' curves NaN values count as no value; a running trial
    whose latest value is NaN is stopped once past the warm-up (it diverged),
    whatever other trials did and however few have completed.

    Args:
        min_trials: Completed trials needed before anything is stopped.
        warmup_steps: Steps (epochs) every trial is allowed before it can be stopped.

    Example:
        >>> rule = MedianStoppingRule(min_trials=2)
        >>> reference = rule.reference([{0: 0.5, 1: 0.3}, {0: 0.6, 1: 0.4}], "min")
        >>> rule.should_stop({0: 0.9, 1: 0.8}, reference, "min")
        True
    """

    def __init__(self, min_trials: int = 3, warmup_steps: int = 1) -> None:
        if min_trials < 1:
            raise ValueError(f"MedianStoppingRule: min_trials must be >= 1, got {min_trials}.")
        if warmup_steps < 0:
            raise ValueError(f"MedianStoppingRule: warmup_steps must be >= 0, got {warmup_steps}.")
        self.min_trials = min_trials
        self.warmup_steps = warmup_steps

    def reference(
        self, completed_curves: Sequence[Mapping[int, float]], direction: str
    ) -> dict[int, float]:
        """The median best-so-far value at each step over completed trials' curves.

        Args:
            completed_curves: One ``{step: value}`` per completed trial.
            direction: ``"min"`` or ``"max"``.

        Returns:
            ``{step: median}`` for the steps that ``min_trials`` curves reach.
        """
        sign = 1.0 if direction == "min" else -1.0
        per_step: dict[int, list[float]] = {}
        for curve in completed_curves:
            best = math.inf
            for step in sorted(curve):
                value = sign * float(curve[step])
                if not math.isnan(value):
                    best = min(best, value)
                per_step.setdefault(int(step), []).append(best)
        return {
            step: sign * float(np.median(values))
            for step, values in per_step.items()
            if len(values) >= self.min_trials
        }

    def should_stop(
        self, curve: Mapping[int, float], reference: Mapping[int, float], direction: str
    ) -> bool:
        """Whether a running trial with ``curve`` should stop now.

        Args:
            curve: The running trial's ``{step: value}`` so far.
            reference: What ``reference`` returned.
            direction: ``"min"`` or ``"max"``.

        Returns:
            True when the trial is past ``warmup_steps`` and its latest value
            is NaN, or its best value so far is worse than the reference
            median at its latest step.
        """
        if not curve:
            return False
        step = max(curve)
        if step < self.warmup_steps:
            return False
        if math.isnan(float(curve[step])):
            return True
        if step not in reference:
            return False
        values = [float(v) for v in curve.values() if not math.isnan(float(v))]
        best = min(values) if direction == "min" else max(values)
        median = reference[step]
        return best > median if direction == "min" else best < median

    def get_config(self) -> dict[str, int]:
        return {"min_trials": self.min_trials, "warmup_steps": self.warmup_steps}
