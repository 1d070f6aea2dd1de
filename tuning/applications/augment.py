"""``HyperImageAugment``: a tuned stack of image augmentation layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuning.applications import _common
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters

__all__ = ["HyperImageAugment"]

# The transforms in the order they are applied without RandAugment-style layers.
_TRANSFORMS = ("rotate", "translate_x", "translate_y", "contrast")


class HyperImageAugment(HyperModel):
    """Searches for the strength and number of image augmentation layers.

    ``build`` returns an uncompiled ``keras.Model`` that maps images to
    images of the same shape. Its layers (``RandomRotation``,
    ``RandomTranslation``, ``RandomContrast``) only transform while training;
    at inference the model is the identity. Use it on its own in front of a
    network, or as the ``augmentation_model`` of ``HyperEfficientNet``.

    Each enabled transform ``T`` gets a hyperparameter ``factor_T``, a Float
    in its range: the most rotation (fraction of a full turn), horizontal or
    vertical shift (fraction of the width or height), or contrast change
    applied to a sample. A factor of 0 leaves the transform out.

    - With ``augment_layers`` 0, every enabled transform is applied once, in
      the order rotate, translate_x, translate_y, contrast.
    - Otherwise (a simple RandAugment) ``augment_layers`` is an Int
      hyperparameter, the number of augmentation layers, and each layer
      ``i`` picks its transform with a Choice ``augment_layer_i`` (active
      only when ``augment_layers > i``).

    Args:
        input_shape: ``(height, width, channels)`` of the images. One of
            ``input_shape`` and ``input_tensor`` is required.
        input_tensor: A Keras tensor (e.g. ``keras.Input(...)``) to build on.
        rotate: Search range of ``factor_rotate``: a number ``m`` for
            [0, m], a pair ``(min, max)``, or None (or 0) to turn rotation off.
        translate_x: Search range of ``factor_translate_x``, as ``rotate``.
        translate_y: Search range of ``factor_translate_y``, as ``rotate``.
        contrast: Search range of ``factor_contrast``, as ``rotate``.
        augment_layers: 0 to apply every transform once; an int ``n`` to tune
            the number of layers in [0, n]; or a pair ``(min, max)``.
        **kwargs: Passed to ``HyperModel`` (``name``, ``tunable``).

    Raises:
        ValueError: Neither ``input_shape`` nor ``input_tensor`` is given, a
            factor range is not within [0, 1], or ``augment_layers`` is not a
            non-negative int or a pair of them.

    Example:
        >>> augment = HyperImageAugment(input_shape=(32, 32, 3), contrast=None)
        >>> model = augment.build(HyperParameters())  # doctest: +SKIP
    """

    def __init__(
        self,
        input_shape: Sequence[int | None] | None = None,
        input_tensor: Any = None,
        rotate: float | Sequence[float] | None = 0.5,
        translate_x: float | Sequence[float] | None = 0.4,
        translate_y: float | Sequence[float] | None = 0.4,
        contrast: float | Sequence[float] | None = 0.3,
        augment_layers: int | Sequence[int] = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.input_shape = _common.check_input(owner, input_shape, input_tensor)
        self.input_tensor = input_tensor
        given = {
            "rotate": rotate,
            "translate_x": translate_x,
            "translate_y": translate_y,
            "contrast": contrast,
        }
        # name -> (min, max) of its factor, for the enabled transforms only.
        self.transforms: dict[str, tuple[float, float]] = {}
        for name in _TRANSFORMS:
            factor_range = _factor_range(owner, name, given[name])
            if factor_range is not None:
                self.transforms[name] = factor_range
        self.augment_layers = _layers_range(owner, augment_layers)

    def build(self, hp: HyperParameters) -> Any:
        """Builds the augmentation model for the trial's values.

        Called once per trial; imports Keras on first use.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            An uncompiled ``keras.Model`` whose output has the input's shape.
        """
        import keras

        inputs, x = _common.model_inputs(self.input_shape, self.input_tensor)
        factors = {
            name: hp.Float(f"factor_{name}", low, high, default=low)
            for name, (low, high) in self.transforms.items()
        }

        chosen = list(self.transforms)
        if self.augment_layers[1] > 0 and self.transforms:
            chosen = self._choose_layers(hp)

        for index, name in enumerate(chosen):
            if factors[name] > 0:
                x = _transform_layer(name, factors[name], f"augment_{index}_{name}")(x)
        return keras.Model(inputs, x, name="image_augment")

    def _choose_layers(self, hp: HyperParameters) -> list[str]:
        """Declares ``augment_layers`` and one Choice per layer; returns the chosen transforms."""
        low, high = self.augment_layers
        count = hp.Int("augment_layers", low, high, default=low)
        chosen = []
        for index in range(high):
            # Declared for every possible layer, active only while it is in use.
            with hp.conditional_scope("augment_layers", list(range(index + 1, high + 1))):
                transform = hp.Choice(f"augment_layer_{index}", list(self.transforms))
            if index < count:
                chosen.append(transform)
        return chosen


def _transform_layer(name: str, factor: float, layer_name: str) -> Any:
    from keras import layers

    if name == "rotate":
        return layers.RandomRotation(factor, name=layer_name)
    if name == "translate_x":
        return layers.RandomTranslation(0.0, factor, name=layer_name)
    if name == "translate_y":
        return layers.RandomTranslation(factor, 0.0, name=layer_name)
    return layers.RandomContrast(factor, name=layer_name)


def _factor_range(owner: str, name: str, value: Any) -> tuple[float, float] | None:
    """``value`` as a ``(min, max)`` search range, or None when the transform is off."""
    if value is None:
        return None
    if _common.is_number(value):
        if value == 0:
            return None
        low, high = 0.0, float(value)
    elif (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and len(value) == 2
        and all(_common.is_number(v) for v in value)
    ):
        low, high = float(value[0]), float(value[1])
    else:
        raise ValueError(
            f"{owner}: `{name}` must be a number, a pair (min, max) of numbers or None, "
            f"got {value!r}."
        )
    if not 0 <= low <= high <= 1:
        raise ValueError(
            f"{owner}: `{name}` must lie within [0, 1] with min <= max, got {value!r}."
        )
    if high == 0:
        return None
    return low, high


def _layers_range(owner: str, value: Any) -> tuple[int, int]:
    """``augment_layers`` as a ``(min, max)`` pair of non-negative ints."""
    if _common.is_int(value):
        pair = (0, int(value))
    elif (
        isinstance(value, Sequence)
        and not isinstance(value, (str, bytes))
        and len(value) == 2
        and all(_common.is_int(v) for v in value)
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        pair = None
    if pair is None or not 0 <= pair[0] <= pair[1]:
        raise ValueError(
            f"{owner}: `augment_layers` must be a non-negative int or a pair (min, max) of "
            f"them with min <= max, got {value!r}."
        )
    return pair
