"""Conditions that make a hyperparameter active only for some values of another.

``HyperParameters.conditional_scope`` and the ``parent_name``/``parent_values``
arguments create them; a hyperparameter is active while all of its conditions
hold. KerasTuner calls this condition ``Parent``
(``keras_tuner.engine.conditions.Parent``), and so may users of ``tuning``.

Example:
    >>> condition = Parent("model", ["cnn"])
    >>> condition.is_met({"model": "cnn"}), condition.is_met({"model": "mlp"})
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tuning.hyperparameters._values import plain, plain_type

__all__ = ["Condition", "Parent"]


class Condition:
    """Active while the hyperparameter ``name`` has one of ``values``.

    Args:
        name: The parent hyperparameter's full name.
        values: The parent values under which the child is active: one value
            or a list, each an int, float, str or bool.

    Raises:
        TypeError: A parent value is not an int, float, str or bool.
        ValueError: ``values`` is empty.
    """

    def __init__(self, name: str, values: Sequence[Any] | Any) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            values = [values]
        values = [plain(v) for v in values]
        if not values:
            raise ValueError(f"The condition on {name!r} needs at least one parent value.")
        for value in values:
            if plain_type(value) is None:
                raise TypeError(
                    f"Condition on {name!r}: Can contain only `int`, `float`, `str` or `bool` "
                    f"parent values, got {value!r} ({type(value).__name__})."
                )
        self.name = name
        self.values = values

    def is_met(self, values: Mapping[str, Any]) -> bool:
        """Whether the parent's value in ``values`` is one of the allowed ones."""
        return self.name in values and values[self.name] in self.values

    def get_config(self) -> dict[str, Any]:
        """A JSON-safe description, the inverse of ``from_config``."""
        return {"name": self.name, "values": list(self.values)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Condition:
        """Rebuilds a condition from ``get_config``'s output."""
        return cls(config["name"], config["values"])

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Condition) and self.name == other.name and self.values == other.values
        )

    def __hash__(self) -> int:
        return hash((self.name, tuple(map(repr, self.values))))

    def __repr__(self) -> str:
        return f"Condition(name={self.name!r}, values={self.values!r})"


# KerasTuner's name for the same condition: ``kt.engine.conditions.Parent(name, values)``.
Parent = Condition
