"""``HyperModel``: how to build (and optionally fit) a model for a point of the space.

Example:
    >>> class MyHyperModel(HyperModel):
    ...     def build(self, hp):
    ...         import keras
    ...         model = keras.Sequential([keras.layers.Dense(hp.Int("units", 8, 64))])
    ...         model.compile(loss="mse")
    ...         return model
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuning.hyperparameters import HyperParameters

__all__ = ["HyperModel", "get_hypermodel"]


class HyperModel:
    """Builds a model from hyperparameters; subclass it and override ``build``.

    Args:
        name: A name for the hypermodel (shown in summaries).
        tunable: Whether its hyperparameters are tuned. A hypermodel with
            ``tunable=False`` declares its hyperparameters as fixed defaults.
    """

    def __init__(self, name: str | None = None, tunable: bool = True) -> None:
        self.name = name
        self.tunable = tunable

    def build(self, hp: HyperParameters) -> Any:
        """Builds and compiles a model.

        Called once per trial (and per execution) with the trial's values; the
        ``hp.Int``/``hp.Choice``/... calls inside declare the search space.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            A compiled model (usually a ``keras.Model``).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement build(hp).")

    def declare_hyperparameters(self, hp: HyperParameters) -> None:
        """Declares hyperparameters that ``build`` would not reach on its own.

        Called once before the search starts. The default declares nothing.
        """

    def fit(self, hp: HyperParameters, model: Any, *args: Any, **kwargs: Any) -> Any:
        """Trains ``model``; override it to tune training (batch size, preprocessing).

        Args:
            hp: The trial's hyperparameters; ``hp.get(name)`` reads values
                declared in ``build``.
            model: What ``build`` returned.
            *args: Positional arguments given to ``search``.
            **kwargs: Keyword arguments given to ``search`` (``callbacks``
                includes the tuner's own).

        Returns:
            A Keras ``History``, a number (minimised, unless an objective says
            otherwise) or a dict of metric names to numbers.
        """
        return model.fit(*args, **kwargs)


class _FunctionHyperModel(HyperModel):
    """Wraps a plain ``build_model(hp)`` function."""

    def __init__(self, build_fn: Callable[[HyperParameters], Any]) -> None:
        super().__init__(name=getattr(build_fn, "__name__", None))
        self._build_fn = build_fn

    def build(self, hp: HyperParameters) -> Any:
        return self._build_fn(hp)


def get_hypermodel(hypermodel: HyperModel | Callable[..., Any] | None) -> HyperModel | None:
    """Returns ``hypermodel`` as a ``HyperModel`` (or None when there is none).

    Raises:
        TypeError: ``hypermodel`` is neither a ``HyperModel`` nor callable.
    """
    if hypermodel is None or isinstance(hypermodel, HyperModel):
        return hypermodel
    if callable(hypermodel):
        return _FunctionHyperModel(hypermodel)
    raise TypeError(
        "hypermodel must be a HyperModel instance or a function build_model(hp), "
        f"got {type(hypermodel).__name__}."
    )
