"""``HyperParameter``, the base of the five kinds, and what they share."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tuning.hyperparameters.conditions import Condition


def declaration(kind: str, name: str) -> str:
    """How error messages name a hyperparameter: ``HyperParameters.Int(name='units')``."""
    return f"HyperParameters.{kind}(name={name!r})"


def grid_index(prob: float, size: int) -> int:
    """The bucket of ``prob`` among ``size`` equal buckets of [0, 1)."""
    return min(max(int(math.floor(prob * size)), 0), size - 1)


def bucket_centre(index: int, size: int) -> float:
    """The probability at the centre of bucket ``index`` among ``size``."""
    return (index + 0.5) / size


class HyperParameter:
    """One named dimension of a search space.

    Subclasses map a probability ``p`` in [0, 1) to a value and back, which is
    all the oracles need to sample, encode and decode values.

    Args:
        name: The hyperparameter's name.
        default: The value returned before the oracle sets one.
        conditions: Conditions that must all hold for it to be active.

    Raises:
        TypeError: ``name`` is not a non-empty string.
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
        """The value returned before the oracle sets one."""
        return self._default

    @property
    def values(self) -> list[Any]:
        """The values this hyperparameter takes: all of them, or a sample of a continuous range."""
        raise NotImplementedError(f"{type(self).__name__} does not list its values.")

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one this hyperparameter can take."""
        return value in self.values

    def random_sample(self, seed: int | np.random.Generator | None = None) -> Any:
        """Draws a value uniformly in probability space.

        Args:
            seed: An int for a reproducible draw, a numpy ``Generator`` to draw
                from (as the oracles do), or None for an unpredictable draw.

        Returns:
            A value this hyperparameter can take.
        """
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        return self.prob_to_value(float(rng.random()))

    def prob_to_value(self, prob: float) -> Any:
        """The value at cumulative probability ``prob`` in [0, 1)."""
        raise NotImplementedError(f"{type(self).__name__} does not map probabilities to values.")

    def value_to_prob(self, value: Any) -> float:
        """The cumulative probability in [0, 1) of ``value``; ``prob_to_value``'s inverse."""
        raise NotImplementedError(f"{type(self).__name__} does not map values to probabilities.")

    def get_config(self) -> dict[str, Any]:
        """A JSON-safe description, the inverse of ``from_config``."""
        return {
            "name": self.name,
            "default": self.default,
            "conditions": [c.get_config() for c in self.conditions],
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> HyperParameter:
        """Rebuilds a hyperparameter from ``get_config``'s output."""
        config = dict(config)
        config["conditions"] = [Condition.from_config(c) for c in config.get("conditions", [])]
        return cls(**config)

    def __repr__(self) -> str:
        config = self.get_config()
        args = ", ".join(f"{k}: {v!r}" for k, v in config.items() if k != "conditions")
        return f"{type(self).__name__}({args})"
