"""Search spaces: ``HyperParameters`` and the five kinds of hyperparameter.

A model-building function declares what it tunes by calling ``hp.Int``,
``hp.Float``, ``hp.Choice``, ``hp.Boolean`` or ``hp.Fixed``. Each call
registers the hyperparameter (once) and returns its current value: the
default on a fresh container, the oracle's choice during a trial.

Example:
    >>> hp = HyperParameters()
    >>> hp.Int("units", min_value=32, max_value=512, step=32)
    32
    >>> with hp.conditional_scope("units", [32]):
    ...     hp.Boolean("dropout")
    False
    >>> hp.values
    {'units': 32, 'dropout': False}
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Boolean",
    "Choice",
    "Condition",
    "Fixed",
    "Float",
    "HyperParameter",
    "HyperParameters",
    "Int",
]

_SAMPLINGS = ("linear", "log", "reverse_log")
_CHOICE_TYPES = (bool, int, float, str)


class Condition:
    """Active while the hyperparameter ``name`` has one of ``values``.

    Args:
        name: The parent hyperparameter's full name.
        values: The parent values under which the child is active.
    """

    def __init__(self, name: str, values: Sequence[Any]) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError(f"The condition on {name!r} needs at least one parent value.")
        self.name = name
        self.values = values

    def is_met(self, values: dict[str, Any]) -> bool:
        """Whether the parent's value in ``values`` is one of the allowed ones."""
        return self.name in values and values[self.name] in self.values

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "values": list(self.values)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Condition:
        return cls(config["name"], config["values"])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Condition) and self.name == other.name and self.values == other.values
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(map(repr, self.values))))

    def __repr__(self) -> str:
        return f"Condition(name={self.name!r}, values={self.values!r})"


class HyperParameter:
    """One named dimension of a search space.

    Subclasses map a probability ``p`` in [0, 1) to a value and back, which is
    all the oracles need to sample, encode and decode values.

    Args:
        name: The hyperparameter's name.
        default: The value returned before the oracle sets one.
        conditions: Conditions that must all hold for it to be active.
    """

    def __init__(
        self, name: str, default: Any = None, conditions: Sequence[Condition] | None = None
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"A hyperparameter name must be a non-empty string, got {name!r}.")
        self.name = name
        self._default = default
        self.conditions = list(conditions or [])

    @property
    def default(self) -> Any:
        return self._default

    @property
    def values(self) -> list[Any] | None:
        """Every value this hyperparameter can take, or None when continuous."""
        return None

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this hyperparameter can take."""
        return value in (self.values or [])

    def random_sample(self, rng: np.random.Generator) -> Any:
        """Draws a value uniformly in probability space."""
        return self.prob_to_value(float(rng.random()))

    def prob_to_value(self, prob: float) -> Any:
        raise NotImplementedError

    def value_to_prob(self, value: Any) -> float:
        raise NotImplementedError

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """A JSON-safe description, the inverse of ``from_config``."""
        config = {"name": self.name, "default": self.default, **self._config()}
        config["conditions"] = [c.get_config() for c in self.conditions]
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HyperParameter:
        config = dict(config)
        config["conditions"] = [Condition.from_config(c) for c in config.get("conditions", [])]
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "conditions")
        return f"{type(self).__name__}({args})"


def _grid_index(prob: float, size: int) -> int:
    return min(max(int(math.floor(prob * size)), 0), size - 1)


def _bucket_centre(index: int, size: int) -> float:
    return (index + 0.5) / size


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _is_integral(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer()


def _check_numbers(
    kind: str, name: str, integral: bool, min_value: Any, max_value: Any, step: Any, default: Any
) -> None:
    """Raises unless the arguments are numbers (whole ones if ``integral``).

    ``step`` and ``default`` may be None.
    """
    arguments = {"min_value": min_value, "max_value": max_value, "step": step, "default": default}
    for arg, value in arguments.items():
        if value is None and arg in ("step", "default"):
            continue
        noun = "an integer" if integral else "a number"
        if not _is_number(value):
            raise TypeError(f"{kind} {name!r}: {arg} must be {noun}, got {value!r}.")
        if integral and not _is_integral(value):
            raise ValueError(f"{kind} {name!r}: {arg} must be {noun}, got {value!r}.")


# Slack for floating-point rounding when counting and matching grid values.
_REL_TOL = 1e-9


class _Numerical(HyperParameter):
    """Shared range, step and sampling logic of ``Int`` and ``Float``.

    With a step the values form a grid: ``min_value + i * step`` (linear),
    ``min_value * step**i`` (log) or the log grid mirrored towards
    ``max_value`` (reverse_log). The grid is computed index by index, never
    listed, so huge ranges cost nothing until ``values`` is asked for.
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
        kind = type(self).__name__
        sampling = "linear" if sampling is None else str(sampling).lower()
        if sampling not in _SAMPLINGS:
            raise ValueError(
                f"{kind} {name!r}: sampling must be one of {_SAMPLINGS}, got {sampling!r}."
            )
        if min_value > max_value:
            raise ValueError(
                f"{kind} {name!r}: min_value ({min_value}) must not exceed max_value ({max_value})."
            )
        if step is not None and step <= 0:
            raise ValueError(f"{kind} {name!r}: step must be positive, got {step}.")
        if sampling != "linear":
            if min_value <= 0:
                raise ValueError(
                    f"{kind} {name!r}: {sampling} sampling needs min_value > 0, got {min_value}."
                )
            if step is not None and step <= 1:
                raise ValueError(
                    f"{kind} {name!r}: with {sampling} sampling step is a multiplier and must "
                    f"be > 1, got {step}."
                )
        self.min_value = min_value
        self.max_value = max_value
        self.step = step
        self.sampling = sampling
        # min_value is the implicit default, so it is allowed even where a
        # reverse_log grid does not reach it.
        if default is not None and default != min_value and not self.contains(default):
            raise ValueError(
                f"{kind} {name!r}: default {default!r} is not an allowed value of "
                f"[{min_value}, {max_value}]"
                + (f" with step {step} ({sampling})." if step is not None else ".")
            )

    @property
    def default(self) -> Any:
        return self.min_value if self._default is None else self._default

    @property
    def values(self) -> list[Any] | None:
        if self.step is None:
            return None
        size = self._grid_size()
        return [self._grid_value(index, size) for index in range(size)]

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
        size = self._grid_size()
        return self._same(self._grid_value(self._nearest_index(value, size), size), value)

    def _grid_size(self) -> int:
        """How many values the step grid holds (``step`` is set)."""
        if self.sampling == "linear":
            steps = (self.max_value - self.min_value) / self.step
        else:
            steps = math.log(self.max_value / self.min_value) / math.log(self.step)
        return int(math.floor(steps + _REL_TOL)) + 1

    def _grid_value(self, index: int, size: int) -> Any:
        lo, hi, step = self.min_value, self.max_value, self.step
        if self.sampling == "linear":
            value = lo + index * step
        elif self.sampling == "log":
            value = lo * step**index
        else:
            value = hi + lo - lo * step ** (size - 1 - index)
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
            position = size - 1 - math.log((hi + lo - value) / lo) / math.log(step)
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
            size = self._grid_size()
            return self._grid_value(_grid_index(prob, size), size)
        return self._cast(self._continuous(prob))

    def value_to_prob(self, value: Any) -> float:
        if self.step is not None:
            size = self._grid_size()
            return _bucket_centre(self._nearest_index(value, size), size)
        return float(self._continuous_prob(value))

    def _config(self) -> dict[str, Any]:
        return {
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


class Choice(HyperParameter):
    """One of a list of values, all of one type (int, float, str or bool).

    Args:
        name: The hyperparameter's name.
        values: The candidates; the first is the default unless ``default``.
        ordered: Whether the values have an order; True for numbers.
        default: The first value returned.
        conditions: Conditions that must all hold for it to be active.
    """

    def __init__(
        self,
        name: str,
        values: Sequence[Any],
        ordered: bool | None = None,
        default: Any = None,
        conditions: Sequence[Condition] | None = None,
    ) -> None:
        super().__init__(name, default, conditions)
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise ValueError(f"Choice {name!r}: values must be a non-empty list, got {values!r}.")
        values = [_plain(v) for v in values]
        if not values:
            raise ValueError(f"Choice {name!r}: values must be a non-empty list, got {values!r}.")
        kinds = {_choice_type(name, v) for v in values}
        if kinds == {int, float}:
            values = [float(v) for v in values]
            kinds = {float}
        if len(kinds) > 1:
            raise TypeError(
                f"Choice {name!r}: values must all be of one type among int, float, str and "
                f"bool, got {sorted(k.__name__ for k in kinds)}."
            )
        self._values = list(values)
        is_number = kinds <= {int, float}
        if ordered and not is_number:
            raise ValueError(f"Choice {name!r}: ordered=True needs numeric values.")
        self.ordered = is_number if ordered is None else bool(ordered)
        if default is not None:
            default = _plain(default)
            # True == 1, so a bool must not pass for a number nor a number for a bool.
            if isinstance(default, bool) != (kinds == {bool}) or default not in self._values:
                raise ValueError(
                    f"Choice {name!r}: default {default!r} is not one of the values {self._values}."
                )
            self._default = self._values[self._values.index(default)]

    @property
    def default(self) -> Any:
        return self._values[0] if self._default is None else self._default

    @property
    def values(self) -> list[Any]:
        return list(self._values)

    def prob_to_value(self, prob: float) -> Any:
        return self._values[_grid_index(prob, len(self._values))]

    def value_to_prob(self, value: Any) -> float:
        return _bucket_centre(self._values.index(value), len(self._values))

    def _config(self) -> dict[str, Any]:
        return {"values": list(self._values), "ordered": self.ordered}


class Boolean(HyperParameter):
    """True or False.

    Args:
        name: The hyperparameter's name.
        default: The first value returned.
        conditions: Conditions that must all hold for it to be active.
    """

    def __init__(
        self, name: str, default: bool = False, conditions: Sequence[Condition] | None = None
    ) -> None:
        if not isinstance(default, (bool, np.bool_)):
            raise TypeError(f"Boolean {name!r}: default must be True or False, got {default!r}.")
        super().__init__(name, bool(default), conditions)

    @property
    def values(self) -> list[bool]:
        return [False, True]

    def prob_to_value(self, prob: float) -> bool:
        return bool(prob >= 0.5)

    def value_to_prob(self, value: Any) -> float:
        return 0.75 if value else 0.25

    def _config(self) -> dict[str, Any]:
        return {}


class Fixed(HyperParameter):
    """A constant, recorded so that it shows among the trial's values.

    Args:
        name: The hyperparameter's name.
        value: The constant, an int, float, str, bool or None.
        conditions: Conditions that must all hold for it to be active.
    """

    def __init__(
        self, name: str, value: Any, conditions: Sequence[Condition] | None = None
    ) -> None:
        if value is not None:
            value = _plain(value)
            _choice_type(name, value, kind="Fixed")
        super().__init__(name, value, conditions)
        self.value = value

    @property
    def values(self) -> list[Any]:
        return [self.value]

    def prob_to_value(self, prob: float) -> Any:
        return self.value

    def value_to_prob(self, value: Any) -> float:
        return 0.5

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "conditions": [c.get_config() for c in self.conditions],
        }


_KINDS: dict[str, type[HyperParameter]] = {
    cls.__name__: cls for cls in (Int, Float, Choice, Boolean, Fixed)
}


def _plain(value: Any) -> Any:
    """``value`` with a numpy scalar turned into the Python one."""
    return value.item() if isinstance(value, np.generic) else value


def _choice_type(name: str, value: Any, kind: str = "Choice") -> type:
    for allowed in _CHOICE_TYPES:  # bool first: bool is a subclass of int
        if isinstance(value, allowed):
            return allowed
    raise TypeError(
        f"{kind} {name!r}: values must be int, float, str or bool, got {type(value).__name__} "
        f"({value!r})."
    )


class HyperParameters:
    """A search space together with the values of one point in it.

    The same object serves the model-building code (``hp.Int(...)`` returns a
    value), the oracle (it reads ``space`` and sets ``values``) and the trial
    record (``get_config``/``from_config`` round-trip through JSON).
    """

    def __init__(self) -> None:
        self._space: list[HyperParameter] = []
        self._values: dict[str, Any] = {}
        self._conditions: list[Condition] = []
        self._scopes: list[str] = []

    # Declaration -----------------------------------------------------------

    def Int(  # noqa: N802 - KerasTuner's public name
        self,
        name: str,
        min_value: int,
        max_value: int,
        step: int | None = None,
        sampling: str | None = "linear",
        default: int | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> int | None:
        """Declares an integer hyperparameter and returns its current value."""
        conditions = self._declared_conditions(name, parent_name, parent_values)
        return self._retrieve(
            Int(self._scoped(name), min_value, max_value, step, sampling, default, conditions)
        )

    def Float(  # noqa: N802
        self,
        name: str,
        min_value: float,
        max_value: float,
        step: float | None = None,
        sampling: str | None = "linear",
        default: float | None = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> float | None:
        """Declares a float hyperparameter and returns its current value."""
        conditions = self._declared_conditions(name, parent_name, parent_values)
        return self._retrieve(
            Float(self._scoped(name), min_value, max_value, step, sampling, default, conditions)
        )

    def Choice(  # noqa: N802
        self,
        name: str,
        values: Sequence[Any],
        ordered: bool | None = None,
        default: Any = None,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> Any:
        """Declares a choice among ``values`` and returns the current one."""
        conditions = self._declared_conditions(name, parent_name, parent_values)
        return self._retrieve(Choice(self._scoped(name), values, ordered, default, conditions))

    def Boolean(  # noqa: N802
        self,
        name: str,
        default: bool = False,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> bool | None:
        """Declares a boolean hyperparameter and returns its current value."""
        conditions = self._declared_conditions(name, parent_name, parent_values)
        return self._retrieve(Boolean(self._scoped(name), default, conditions))

    def Fixed(  # noqa: N802
        self,
        name: str,
        value: Any,
        parent_name: str | None = None,
        parent_values: Sequence[Any] | None = None,
    ) -> Any:
        """Declares a constant and returns it."""
        conditions = self._declared_conditions(name, parent_name, parent_values)
        return self._retrieve(Fixed(self._scoped(name), value, conditions))

    @contextlib.contextmanager
    def conditional_scope(self, parent_name: str, parent_values: Any) -> Iterator[None]:
        """Makes hyperparameters declared inside active only for some parent values.

        Scopes nest: a hyperparameter inside two scopes needs both to hold.

        Args:
            parent_name: The parent hyperparameter, which must already exist.
            parent_values: A value or list of values of the parent.

        Example:
            >>> hp = HyperParameters()
            >>> model = hp.Choice("model", ["mlp", "cnn"])
            >>> with hp.conditional_scope("model", "cnn"):
            ...     filters = hp.Int("filters", 8, 64)
            >>> filters is None  # inactive while model is "mlp"
            True
        """
        condition = self._condition(parent_name, parent_values)
        self._conditions.append(condition)
        try:
            yield
        finally:
            self._conditions.pop()

    @contextlib.contextmanager
    def name_scope(self, name: str) -> Iterator[None]:
        """Prefixes the names declared inside with ``name/``."""
        self._scopes.append(name)
        try:
            yield
        finally:
            self._scopes.pop()

    def _scoped(self, name: str) -> str:
        return "/".join([*self._scopes, name])

    def _is_known(self, name: str) -> bool:
        """Whether ``name`` is declared or has a value (active or not)."""
        return name in self._values or any(hp.name == name for hp in self._space)

    def _condition(self, parent_name: str, parent_values: Any) -> Condition:
        scoped = self._scoped(parent_name)
        full_name = scoped if self._is_known(scoped) else parent_name
        if not self._is_known(full_name):
            raise ValueError(
                f"The parent hyperparameter {parent_name!r} is unknown: declare it before the "
                f"hyperparameters that depend on it."
            )
        return Condition(full_name, parent_values)

    def _declared_conditions(
        self, name: str, parent_name: str | None, parent_values: Any
    ) -> list[Condition]:
        conditions = list(self._conditions)
        if (parent_name is None) != (parent_values is None):
            raise ValueError(
                f"Hyperparameter {name!r}: parent_name and parent_values go together; "
                f"got parent_name={parent_name!r}, parent_values={parent_values!r}."
            )
        if parent_name is not None:
            conditions.append(self._condition(parent_name, parent_values))
        full_name = self._scoped(name)
        for condition in conditions:
            if condition.name == full_name:
                raise ValueError(
                    f"Hyperparameter {full_name!r} cannot be conditioned on itself: a child "
                    f"needs a name of its own."
                )
        return conditions

    def _retrieve(self, hp: HyperParameter) -> Any:
        existing = self._find(hp.name, hp.conditions)
        if existing is None:
            self._space.append(hp)
            existing = hp
        elif type(existing) is not type(hp) and not isinstance(existing, Fixed):
            # A Fixed declared first wins over any later declaration: KerasTuner's
            # "fix a few, tune the rest" through the tuner's hyperparameters=.
            raise TypeError(
                f"Hyperparameter {hp.name!r} is already declared as "
                f"{type(existing).__name__}, not {type(hp).__name__}."
            )
        if not self._conditions_hold(existing.conditions):
            # Not stored: another declaration of the name may become active first.
            return None
        return self._values.setdefault(existing.name, existing.default)

    def _find(self, name: str, conditions: list[Condition]) -> HyperParameter | None:
        for hp in self._space:
            if hp.name == name and hp.conditions == conditions:
                return hp
        return None

    # Reading ----------------------------------------------------------------

    @property
    def space(self) -> list[HyperParameter]:
        """The declared hyperparameters in registration order (parents first)."""
        return list(self._space)

    @property
    def values(self) -> dict[str, Any]:
        """The values of the active hyperparameters, by name."""
        active = {}
        for hp in self._space:
            if hp.name not in active and self.is_active(hp):
                active[hp.name] = self._values.get(hp.name, hp.default)
        declared = {hp.name for hp in self._space}
        for name, value in self._values.items():
            if name not in declared:
                active[name] = value
        return active

    @values.setter
    def values(self, values: dict[str, Any]) -> None:
        self._values = dict(values)

    def _conditions_hold(self, conditions: Sequence[Condition]) -> bool:
        # A parent without a stored value has its default, as ``get`` says.
        return all(
            self.is_active(condition.name) and self.get(condition.name) in condition.values
            for condition in conditions
        )

    def is_active(self, hyperparameter: HyperParameter | str) -> bool:
        """Whether a hyperparameter (object or name) is active for the current values."""
        if isinstance(hyperparameter, HyperParameter):
            return self._conditions_hold(hyperparameter.conditions)
        declared = [hp for hp in self._space if hp.name == hyperparameter]
        if not declared:
            return hyperparameter in self._values
        return any(self._conditions_hold(hp.conditions) for hp in declared)

    def get(self, name: str) -> Any:
        """The current value of an active hyperparameter.

        Raises:
            KeyError: ``name`` was never declared.
            ValueError: ``name`` is declared but inactive.
        """
        if not self._is_known(name):
            raise KeyError(f"Unknown hyperparameter {name!r}.")
        if not self.is_active(name):
            raise ValueError(f"Hyperparameter {name!r} is not active for the current values.")
        if name in self._values:
            return self._values[name]
        return next(hp.default for hp in self._space if hp.name == name and self.is_active(hp))

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        try:
            self.get(name)
        except (KeyError, ValueError):
            return False
        return True

    # Composition --------------------------------------------------------------

    def copy(self) -> HyperParameters:
        """An independent copy of the space and the values."""
        other = HyperParameters()
        other._space = [copy.deepcopy(hp) for hp in self._space]
        other._values = dict(self._values)
        return other

    def merge(
        self, hps: HyperParameters | Sequence[HyperParameter], overwrite: bool = True
    ) -> None:
        """Adds hyperparameters (and their values) from another container.

        Args:
            hps: A ``HyperParameters`` or a list of hyperparameters.
            overwrite: Whether an already declared hyperparameter takes the
                other's declaration and value.
        """
        if isinstance(hps, HyperParameters):
            space, values = hps.space, hps._values
        else:
            space, values = list(hps), {}
        for hp in space:
            existing = self._find(hp.name, hp.conditions)
            if existing is not None and not overwrite:
                continue
            if existing is not None:
                self._space[self._space.index(existing)] = copy.deepcopy(hp)
            else:
                self._space.append(copy.deepcopy(hp))
            if hp.name in values:
                if overwrite or hp.name not in self._values:
                    self._values[hp.name] = values[hp.name]
        for name, value in values.items():
            if name not in self._values or overwrite:
                if not any(hp.name == name for hp in space):
                    self._values[name] = value

    def get_config(self) -> dict[str, Any]:
        """A JSON-safe ``{"space": [...], "values": {...}}``."""
        return {
            "space": [
                {"class_name": type(hp).__name__, "config": hp.get_config()} for hp in self._space
            ],
            "values": dict(self._values),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HyperParameters:
        """Rebuilds a container from ``get_config``'s output."""
        hps = cls()
        for entry in config["space"]:
            kind = _KINDS.get(entry["class_name"])
            if kind is None:
                raise ValueError(f"Unknown hyperparameter class {entry['class_name']!r}.")
            hps._space.append(kind.from_config(entry["config"]))
        hps._values = dict(config.get("values", {}))
        return hps

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"
