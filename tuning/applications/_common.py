"""Argument checks and Keras plumbing shared by the built-in hypermodels.

Nothing here imports Keras at module import time: the helpers that need it
import it when they are called, which is inside a hypermodel's ``build``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

from tuning.hypermodel import HyperModel

OPTIMIZERS = ("adam", "rmsprop", "sgd")
LEARNING_RATES = (0.1, 0.01, 0.001)


def check_input(
    owner: str, input_shape: Sequence[int | None] | None, input_tensor: Any
) -> tuple[int | None, ...] | None:
    """Checks that an image input is given and returns ``input_shape`` as a tuple.

    Args:
        owner: The hypermodel's class name, for error messages.
        input_shape: ``(height, width, channels)`` or None.
        input_tensor: A Keras tensor or None.

    Returns:
        ``input_shape`` as a tuple, or None when only ``input_tensor`` is given.

    Raises:
        ValueError: Neither argument is given, or ``input_shape`` is not three
            positive integers (height and width may be None).
    """
    if input_shape is None and input_tensor is None:
        raise ValueError(
            f"{owner}: give either `input_shape` (e.g. input_shape=(32, 32, 3)) or "
            "`input_tensor` (a Keras tensor such as keras.Input(shape=(32, 32, 3)))."
        )
    if input_shape is None:
        return None
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence):
        raise ValueError(
            f"{owner}: `input_shape` must be a tuple (height, width, channels), "
            f"got {input_shape!r}."
        )
    shape = tuple(input_shape)
    spatial_ok = all(dim is None or (is_int(dim) and dim > 0) for dim in shape[:2])
    if len(shape) != 3 or not spatial_ok or not (is_int(shape[2]) and shape[2] > 0):
        raise ValueError(
            f"{owner}: `input_shape` must be (height, width, channels) with positive "
            f"integers (height and width may be None), got {input_shape!r}."
        )
    return tuple(None if dim is None else int(dim) for dim in shape)


def check_classes(owner: str, classes: int | None, required: bool, reason: str) -> int | None:
    """Checks ``classes``: a positive integer, and present when ``required``.

    Args:
        owner: The hypermodel's class name, for error messages.
        classes: The number of classes, or None.
        required: Whether ``classes`` must be given.
        reason: Why it is required, completing "required when ...".

    Returns:
        ``classes`` as an int, or None.

    Raises:
        ValueError: ``classes`` is missing while required, or not a positive integer.
    """
    if classes is None:
        if required:
            raise ValueError(
                f"{owner}: `classes` (the number of classes) is required when {reason}."
            )
        return None
    if not is_int(classes) or classes < 1:
        raise ValueError(f"{owner}: `classes` must be a positive integer, got {classes!r}.")
    return int(classes)


def model_inputs(input_shape: tuple[int | None, ...] | None, input_tensor: Any) -> tuple[Any, Any]:
    """Returns ``(inputs, x)``: the model's input(s) and the tensor to build on.

    With ``input_tensor`` the inputs are its source ``keras.Input`` tensors, so
    that the built model can be called on raw data.
    """
    import keras

    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            raise ValueError(
                "`input_tensor` must be a Keras tensor (e.g. keras.Input(shape=(32, 32, 3))), "
                f"got {type(input_tensor).__name__}."
            )
        return keras.utils.get_source_inputs(input_tensor), input_tensor
    inputs = keras.Input(shape=input_shape)
    return inputs, inputs


def make_optimizer(name: str, learning_rate: float) -> Any:
    """Returns a fresh Keras optimizer ``name`` with ``learning_rate``."""
    import keras

    classes = {
        "adam": keras.optimizers.Adam,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    if name not in classes:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {sorted(classes)}.")
    return classes[name](learning_rate=learning_rate)


def compile_classifier(model: Any, optimizer: Any) -> Any:
    """Compiles ``model`` for one-hot labels (categorical cross-entropy, accuracy)."""
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer (and not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a real number (and not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class ImageClassifier(HyperModel):
    """The arguments every built-in image classifier takes, checked once.

    Args:
        include_top: Whether to end with a softmax layer and return a compiled
            classifier; without it ``build`` returns an uncompiled feature extractor.
        input_shape: ``(height, width, channels)`` of the images. One of
            ``input_shape`` and ``input_tensor`` is required.
        input_tensor: A Keras tensor (e.g. ``keras.Input(...)``) to build on.
        classes: The number of classes; required with ``include_top``.
        **kwargs: Passed to ``HyperModel`` (``name``, ``tunable``).

    Raises:
        ValueError: ``classes`` is missing with ``include_top``, or neither
            ``input_shape`` nor ``input_tensor`` is given.
    """

    def __init__(
        self,
        include_top: bool = True,
        input_shape: Sequence[int | None] | None = None,
        input_tensor: Any = None,
        classes: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.include_top = bool(include_top)
        self.input_shape = check_input(owner, input_shape, input_tensor)
        self.input_tensor = input_tensor
        self.classes = check_classes(
            owner, classes, required=self.include_top, reason="include_top=True"
        )
