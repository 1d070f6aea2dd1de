"""``Choice``, ``Boolean`` and ``Fixed``: hyperparameters with a short list of values."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tuning.hyperparameters._hyperparameter import (
    HyperParameter,
    bucket_centre,
    declaration,
    grid_index,
)
from tuning.hyperparameters._values import plain, plain_type
from tuning.hyperparameters.conditions import Condition


class Choice(HyperParameter):
    """One of a list of values, all of one type (int, float, str or bool).

    Ints and floats may be mixed: the values are then floats.

    Args:
        name: The hyperparameter's name.
        values: The candidates; the first is the default unless ``default``.
        ordered: Whether the values have an order; True for numbers, and it
            must be False for other values.
        default: The first value returned.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        TypeError: A value is not an int, float, str or bool, or the values
            mix types.
        ValueError: ``values`` is empty, ``ordered`` is True for non-numeric
            values or ``default`` is not one of the values.
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
        where = f"For {declaration('Choice', name)}"
        listed = (
            []
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable)
            else [plain(v) for v in values]
        )
        if not listed:
            raise ValueError(
                f"{where}, `values` must be provided as a non-empty list, got {values!r}."
            )
        for value in listed:
            if plain_type(value) is None:
                raise TypeError(
                    f"{where}, `values` can contain only `int`, `float`, `str` or `bool` "
                    f"values, got {value!r} ({type(value).__name__})."
                )
        kinds = {plain_type(v) for v in listed}
        if kinds == {int, float}:
            listed = [float(v) for v in listed]
            kinds = {float}
        if len(kinds) > 1:
            raise TypeError(
                f"{where}, `values` can contain only one type of value (ints and floats may "
                f"mix), got {sorted(k.__name__ for k in kinds)} in {listed}."
            )
        self._values = listed
        is_number = kinds <= {int, float}
        if ordered and not is_number:
            raise ValueError(
                f"{where}, `ordered` must be `False` for non-numeric values, got {listed}."
            )
        self.ordered = is_number if ordered is None else bool(ordered)
        if default is not None:
            default = plain(default)
            # True == 1, so a bool must not pass for a number nor a number for a bool.
            if isinstance(default, bool) != (kinds == {bool}) or default not in listed:
                raise ValueError(
                    f"{where}, the default value should be one of the values {listed}, "
                    f"got {default!r}."
                )
            self._default = listed[listed.index(default)]

    @property
    def default(self) -> Any:
        return self._values[0] if self._default is None else self._default

    @property
    def values(self) -> list[Any]:
        return list(self._values)

    def prob_to_value(self, prob: float) -> Any:
        return self._values[grid_index(prob, len(self._values))]

    def value_to_prob(self, value: Any) -> float:
        return bucket_centre(self._values.index(value), len(self._values))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "values": list(self._values), "ordered": self.ordered}


class Boolean(HyperParameter):
    """True or False.

    ``values`` lists True first, as KerasTuner does; False takes probabilities
    below 0.5 and True those above.

    Args:
        name: The hyperparameter's name.
        default: The first value returned.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        ValueError: ``default`` is not True or False.
    """

    def __init__(
        self, name: str, default: bool = False, conditions: Sequence[Condition] | None = None
    ) -> None:
        if not isinstance(default, (bool, np.bool_)):
            raise ValueError(
                f"For {declaration('Boolean', name)}, `default` must be a Python boolean "
                f"(True or False), got {default!r}."
            )
        super().__init__(name, bool(default), conditions)

    @property
    def values(self) -> list[bool]:
        return [True, False]

    def prob_to_value(self, prob: float) -> bool:
        return bool(prob >= 0.5)

    def value_to_prob(self, value: Any) -> float:
        return 0.75 if value else 0.25


class Fixed(HyperParameter):
    """A constant, recorded so that it shows among the trial's values.

    Args:
        name: The hyperparameter's name.
        value: The constant, an int, float, str or bool.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        ValueError: ``value`` is not an int, float, str or bool.
    """

    def __init__(
        self, name: str, value: Any, conditions: Sequence[Condition] | None = None
    ) -> None:
        value = plain(value)
        if plain_type(value) is None:
            raise ValueError(
                f"For {declaration('Fixed', name)}, value must be an `int`, `float`, `str` or "
                f"`bool`, got {value!r} ({type(value).__name__})."
            )
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
        config = super().get_config()
        del config["default"]
        return {**config, "value": self.value}
