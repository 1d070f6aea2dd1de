"""``Int`` and ``Float``: numbers in a range, on a step grid or continuous."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tuning.hyperparameters._hyperparameter import (
    HyperParameter,
    bucket_centre,
    declaration,
    grid_index,
)
from tuning.hyperparameters.conditions import Condition

_SAMPLINGS = ("linear", "log", "reverse_log")
# How many values ``values`` lists for a range without a step.
_SAMPLE_SIZE = 10
# Slack for floating-point rounding when counting and matching grid values.
_REL_TOL = 1e-9


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_numbers(
    kind: str, name: str, integral: bool, min_value: Any, max_value: Any, step: Any, default: Any
) -> None:
    """Raises unless the arguments are numbers (whole ones if ``integral``).

    ``step`` and ``default`` may be None.
    """
    arguments = {"min_value": min_value, "max_value": max_value, "step": step, "default": default}
    noun = "an integer" if integral else "a number"
    for arg, value in arguments.items():
        if value is None and arg in ("step", "default"):
            continue
        message = f"For {declaration(kind, name)}, {arg} must be {noun}, got {value!r}."
        if not _is_number(value):
            raise TypeError(message)
        if integral and not float(value).is_integer():
            raise ValueError(message)


class _Numerical(HyperParameter):
    """Shared range, step and sampling logic of ``Int`` and ``Float``.

    With a step the values form a grid, value ``i`` being ``min_value + i * step``
    (linear), ``min_value * step**i`` (log) or
    ``max_value + min_value - min_value * step**i`` (reverse_log: the grid
    starts at ``max_value`` and spreads out towards ``min_value``). The grid is
    computed index by index, never listed, so huge ranges cost nothing until
    ``values`` is asked for.
    """

    _cast: type = float

    def __init__(
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str | None = "linear",
        default: float | None = None,
        conditions: Sequence[Condition] | None = None,
    ) -> None:
        super().__init__(name, default, conditions)
        where = f"For {declaration(type(self).__name__, name)}"
        sampling = "linear" if sampling is None else str(sampling).lower()
        if sampling not in _SAMPLINGS:
            raise ValueError(f"{where}, sampling must be one of {_SAMPLINGS}, got {sampling!r}.")
        if min_value > max_value:
            raise ValueError(
                f"{where}, min_value {min_value} is greater than the max_value {max_value}."
            )
        if step is not None and step <= 0:
            raise ValueError(f"{where}, step must be positive, got {step}.")
        if sampling != "linear":
            if min_value <= 0:
                raise ValueError(
                    f"{where}, sampling={sampling!r} does not support negative values or zero: "
                    f"min_value must be > 0, got {min_value}."
                )
            if step is not None and step <= 1:
                raise ValueError(
                    f"{where}, expected step > 1 with sampling={sampling!r} (the step is a "
                    f"multiplier), got {step}."
                )
        self.min_value = min_value
        self.max_value = max_value
        self.step = step
        self.sampling = sampling
        # min_value is the implicit default, so it is allowed even where a
        # reverse_log grid does not reach it.
        if default is not None and default != min_value and not self.contains(default):
            raise ValueError(
                f"{where}, default {default!r} is not an allowed value of "
                f"[{min_value}, {max_value}]"
                + (f" with step {step} ({sampling})." if step is not None else ".")
            )

    @property
    def default(self) -> Any:
        return self.min_value if self._default is None else self._default

    @property
    def values(self) -> list[Any]:
        """The step grid; without a step, the values at the centres of ten equal buckets."""
        if self.step is None:
            centres = (bucket_centre(i, _SAMPLE_SIZE) for i in range(_SAMPLE_SIZE))
            return list(dict.fromkeys(self.prob_to_value(p) for p in centres))
        size = self._grid_size()
        return [self._grid_value(index) for index in range(size)]

    def _same(self, a: float, b: float) -> bool:
        if self._cast is int:
            return a == b
        return math.isclose(a, b, rel_tol=_REL_TOL, abs_tol=_REL_TOL)

    def contains(self, value: Any) -> bool:
        lo, hi = self.min_value, self.max_value
        if not (lo <= value <= hi or self._same(value, lo) or self._same(value, hi)):
            return False
        if self.step is None:
            return True
        return self._same(self._grid_value(self._nearest_index(value, self._grid_size())), value)

    def _grid_size(self) -> int:
        """How many values the step grid holds (``step`` is set)."""
        if self.sampling == "linear":
            steps = (self.max_value - self.min_value) / self.step
        else:
            steps = math.log(self.max_value / self.min_value) / math.log(self.step)
        return int(math.floor(steps + _REL_TOL)) + 1

    def _grid_value(self, index: int) -> Any:
        lo, hi, step = self.min_value, self.max_value, self.step
        if self.sampling == "linear":
            value = lo + index * step
        elif self.sampling == "log":
            value = lo * step**index
        else:
            value = hi + lo - lo * step**index
        # Rounding may push the last value a hair past the bounds.
        value = min(max(value, lo), hi)
        if self._cast is float:
            # Drop rounding noise: 0 + 3 * 0.1 is 0.3, not 0.30000000000000004.
            return float(f"{value:.15g}")
        return int(value)

    def _nearest_index(self, value: float, size: int) -> int:
        lo, hi, step = self.min_value, self.max_value, self.step
        value = min(max(value, lo), hi)
        if self.sampling == "linear":
            position = (value - lo) / step
        elif self.sampling == "log":
            position = math.log(value / lo) / math.log(step)
        else:
            position = math.log((hi + lo - value) / lo) / math.log(step)
        return min(max(round(position), 0), size - 1)

    def _continuous(self, prob: float) -> float:
        lo, hi = self.min_value, self.max_value
        if self.sampling == "linear":
            return lo + prob * (hi - lo)
        if self.sampling == "log":
            return lo * (hi / lo) ** prob
        return hi + lo - lo * (hi / lo) ** (1 - prob)

    def _continuous_prob(self, value: float) -> float:
        lo, hi = self.min_value, self.max_value
        if hi == lo:
            return 0.5
        value = min(max(value, lo), hi)
        if self.sampling == "linear":
            return (value - lo) / (hi - lo)
        if self.sampling == "log":
            return math.log(value / lo) / math.log(hi / lo)
        return 1 - math.log((hi + lo - value) / lo) / math.log(hi / lo)

    def prob_to_value(self, prob: float) -> Any:
        if self.step is not None:
            return self._grid_value(grid_index(prob, self._grid_size()))
        return self._cast(self._continuous(prob))

    def value_to_prob(self, value: Any) -> float:
        if self.step is not None:
            size = self._grid_size()
            return bucket_centre(self._nearest_index(value, size), size)
        return float(self._continuous_prob(value))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "min_value": self.min_value,
            "max_value": self.max_value,
            "step": self.step,
            "sampling": self.sampling,
        }


class Int(_Numerical):
    """An integer in ``[min_value, max_value]`` (both inclusive).

    Linear sampling without a step uses step 1. With log sampling and no step,
    values are drawn on a log scale and rounded.

    Args:
        name: The hyperparameter's name.
        min_value: The smallest value.
        max_value: The largest value (inclusive).
        step: Distance between values (a multiplier with log sampling).
        sampling: ``"linear"``, ``"log"`` or ``"reverse_log"``.
        default: The first value returned; ``min_value`` if None.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        TypeError: A bound, the step or the default is not a number.
        ValueError: One of them is not a whole number, or the range, step,
            sampling or default is not allowed.
    """

    _cast = int

    def __init__(
        self,
        name: str,
        min_value: int,
        max_value: int,
        step: int | None = None,
        sampling: str | None = "linear",
        default: int | None = None,
        conditions: Sequence[Condition] | None = None,
    ) -> None:
        _check_numbers("Int", name, True, min_value, max_value, step, default)
        if step is None and (sampling is None or str(sampling).lower() == "linear"):
            step = 1
        super().__init__(
            name,
            int(min_value),
            int(max_value),
            None if step is None else int(step),
            sampling,
            None if default is None else int(default),
            conditions,
        )

    def prob_to_value(self, prob: float) -> int:
        if self.step is None:
            return int(min(max(round(self._continuous(prob)), self.min_value), self.max_value))
        return super().prob_to_value(prob)

    def get_config(self) -> dict[str, Any]:
        # The default as given (None when not given), as KerasTuner's Int reports it.
        return {**super().get_config(), "default": self._default}


class Float(_Numerical):
    """A float in ``[min_value, max_value]``; stepped when ``step`` is given.

    Args:
        name: The hyperparameter's name.
        min_value: The smallest value.
        max_value: The largest value (inclusive).
        step: Distance between values (a multiplier with log sampling).
        sampling: ``"linear"``, ``"log"`` or ``"reverse_log"``.
        default: The first value returned; ``min_value`` if None.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        TypeError: A bound, the step or the default is not a number.
        ValueError: The range, step, sampling or default is not allowed.
    """

    def __init__(
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str | None = "linear",
        default: float | None = None,
        conditions: Sequence[Condition] | None = None,
    ) -> None:
        _check_numbers("Float", name, False, min_value, max_value, step, default)
        super().__init__(
            name,
            float(min_value),
            float(max_value),
            None if step is None else float(step),
            sampling,
            None if default is None else float(default),
            conditions,
        )
