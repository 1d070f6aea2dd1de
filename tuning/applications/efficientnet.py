"""``HyperEfficientNet``: EfficientNet B0 to B7, trained from scratch, tuned."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tuning.applications import _common
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters

__all__ = ["HyperEfficientNet"]

_VERSIONS = tuple(f"B{index}" for index in range(8))
# The smallest height and width that keras.applications accepts for EfficientNet.
_MIN_SIZE = 32


class HyperEfficientNet(HyperModel):
    """An EfficientNet image classifier whose version (B0 to B7) is tuned.

    The backbones are ``keras.applications.EfficientNetB0`` ...
    ``EfficientNetB7`` with ``weights=None`` and ``pooling="avg"``: randomly
    initialised, trained from scratch at the given input size (no resizing to
    each version's native resolution), and nothing is downloaded. A dropout
    layer and a softmax layer of ``classes`` units follow the backbone. The
    Keras backbones start with a ``Rescaling(1/255)`` layer, so feed pixel
    values in [0, 255].

    Hyperparameters declared by ``build``:

    - ``version``: ``"B0"`` ... ``"B7"``.
    - ``top_dropout_rate``: 0.1 to 0.5 (step 0.1), the dropout before the
      softmax layer.
    - ``learning_rate``: 0.1, 0.01 or 0.001.
    - ``optimizer``: ``"adam"``, ``"rmsprop"`` or ``"sgd"``.
    - Those of ``augmentation_model`` when it is a ``HyperModel``.

    Args:
        input_shape: ``(height, width, channels)`` of the images, at least
            32x32. One of ``input_shape`` and ``input_tensor`` is required.
        input_tensor: A Keras tensor (e.g. ``keras.Input(...)``) to build on.
        classes: The number of classes (required).
        augmentation_model: Applied to the inputs before the network: a
            ``HyperModel`` (built with the trial's hyperparameters, e.g.
            ``HyperImageAugment``) or a Keras model (used as is).
        weights: Must be None. Pretrained weights cannot be downloaded here.
        **kwargs: Passed to ``HyperModel`` (``name``, ``tunable``).

    Raises:
        ValueError: ``weights`` is not None, ``classes`` is missing, neither
            ``input_shape`` nor ``input_tensor`` is given, ``input_shape`` is
            smaller than 32x32, or
            ``augmentation_model`` is neither a ``HyperModel`` nor callable.

    Example:
        >>> hypermodel = HyperEfficientNet(input_shape=(32, 32, 3), classes=10)
        >>> model = hypermodel.build(HyperParameters())  # doctest: +SKIP
    """

    def __init__(
        self,
        input_shape: Sequence[int | None] | None = None,
        input_tensor: Any = None,
        classes: int | None = None,
        augmentation_model: HyperModel | Any = None,
        weights: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if weights is not None:
            raise ValueError(
                f"{owner}: weights={weights!r} is not supported: pretrained weights cannot be "
                "downloaded here. Use weights=None to train the network from scratch."
            )
        self.weights = None
        self.input_shape = _common.check_input(owner, input_shape, input_tensor)
        if self.input_shape is not None and any(
            dim is not None and dim < _MIN_SIZE for dim in self.input_shape[:2]
        ):
            raise ValueError(
                f"{owner}: `input_shape` must be at least {_MIN_SIZE}x{_MIN_SIZE} pixels, "
                f"got {input_shape!r}."
            )
        self.input_tensor = input_tensor
        self.classes = _common.check_classes(
            owner, classes, required=True, reason="building a classifier"
        )
        if augmentation_model is not None and not (
            isinstance(augmentation_model, HyperModel) or callable(augmentation_model)
        ):
            raise ValueError(
                f"{owner}: `augmentation_model` must be a HyperModel, a Keras model or None, "
                f"got {type(augmentation_model).__name__}."
            )
        self.augmentation_model = augmentation_model

    def build(self, hp: HyperParameters) -> Any:
        """Builds the EfficientNet for the trial's values.

        Called once per trial; imports Keras on first use.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            A ``keras.Model`` compiled with categorical cross-entropy and accuracy.
        """
        import keras

        inputs, x = _common.model_inputs(self.input_shape, self.input_tensor)
        augmentation = self.augmentation_model
        if isinstance(augmentation, HyperModel):
            augmentation = augmentation.build(hp)
        if augmentation is not None:
            x = augmentation(x)

        version = hp.Choice("version", list(_VERSIONS), default="B0")
        top_dropout_rate = hp.Float("top_dropout_rate", 0.1, 0.5, step=0.1, default=0.2)
        backbone = getattr(keras.applications, f"EfficientNet{version}")(
            include_top=False,
            weights=None,
            input_shape=tuple(x.shape[1:]),
            pooling="avg",
        )
        x = backbone(x)
        x = keras.layers.Dropout(top_dropout_rate, name="top_dropout")(x)
        outputs = keras.layers.Dense(self.classes, activation="softmax", name="predictions")(x)
        model = keras.Model(inputs, outputs, name=f"efficientnet_{version.lower()}")

        learning_rate = hp.Choice("learning_rate", list(_common.LEARNING_RATES), default=0.01)
        optimizer = hp.Choice("optimizer", list(_common.OPTIMIZERS), default="adam")
        return _common.compile_classifier(model, _common.make_optimizer(optimizer, learning_rate))
