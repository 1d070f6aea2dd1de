"""``HyperParameters``, the search space and current values, and its serialization."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tuning.hyperparameters._discrete import Boolean, Choice, Fixed
from tuning.hyperparameters._hyperparameter import HyperParameter
from tuning.hyperparameters._numerical import Float, Int
from tuning.hyperparameters.conditions import Condition


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

        Raises:
            ValueError: The parent is not defined.

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
                f"The parent hyperparameter {parent_name!r} is not defined: declare it before "
                f"the hyperparameters that depend on it."
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
                    f"Hyperparameter {full_name!r} cannot have the same name as the parent it "
                    f"is conditioned on: a child needs a name of its own."
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
        """The values of the active hyperparameters, by name: a live dict.

        Reading it drops the values of inactive hyperparameters and fills in
        the defaults of active ones never set. Writing to it sets values, as
        an oracle does: ``hp.values["units"] = 64`` is what ``hp.get("units")``
        then returns. Names not declared (yet) keep their values.
        """
        active = {}
        for hp in self._space:
            if hp.name not in active and self.is_active(hp):
                active[hp.name] = self._values.get(hp.name, hp.default)
        declared = {hp.name for hp in self._space}
        active.update((k, v) for k, v in self._values.items() if k not in declared)
        self._values.clear()
        self._values.update(active)
        return self._values

    @values.setter
    def values(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)

    def _conditions_hold(self, conditions: Sequence[Condition]) -> bool:
        # A parent without a stored value has its default, as ``get`` says.
        return all(
            self.is_active(condition.name)
            and condition.is_met({condition.name: self.get(condition.name)})
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
            KeyError: ``name`` does not exist: never declared nor given a value.
            ValueError: ``name`` is declared but currently inactive.
        """
        if not self._is_known(name):
            raise KeyError(f"Hyperparameter {name!r} does not exist.")
        if not self.is_active(name):
            raise ValueError(
                f"Hyperparameter {name!r} is currently inactive: its conditions do not hold "
                f"for the current values."
            )
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
        return {"space": [serialize(hp) for hp in self._space], "values": dict(self._values)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HyperParameters:
        """Rebuilds a container from ``get_config``'s output."""
        hps = cls()
        hps._space = [deserialize(entry) for entry in config["space"]]
        hps._values = dict(config.get("values", {}))
        return hps

    def __repr__(self) -> str:
        return f"HyperParameters(values={self.values!r})"


_CLASSES: dict[str, type[HyperParameter] | type[HyperParameters]] = {
    cls.__name__: cls
    for cls in (Int, Float, Choice, Boolean, Fixed, HyperParameter, HyperParameters)
}


def serialize(obj: HyperParameter | HyperParameters) -> dict[str, Any]:
    """A JSON-safe ``{"class_name": ..., "config": ...}`` of a hyperparameter or a container.

    Args:
        obj: A hyperparameter (``Int``, ``Choice``, ...) or a ``HyperParameters``.

    Returns:
        What ``deserialize`` turns back into an equal object.
    """
    return {"class_name": type(obj).__name__, "config": obj.get_config()}


def deserialize(config: Mapping[str, Any]) -> HyperParameter | HyperParameters:
    """Rebuilds a hyperparameter or a container from ``serialize``'s output.

    Args:
        config: ``{"class_name": ..., "config": ...}``.

    Returns:
        A new object of the named class.

    Raises:
        ValueError: The class name is not one of the hyperparameter classes.
    """
    cls = _CLASSES.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Unknown hyperparameter class {config['class_name']!r}: expected one of "
            f"{sorted(_CLASSES)}."
        )
    return cls.from_config(config["config"])
