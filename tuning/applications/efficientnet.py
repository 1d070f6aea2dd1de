"""``HyperEfficientNet``: EfficientNet B0 to B7 with KerasTuner's search space."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tuning.applications import _common
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters

__all__ = ["HyperEfficientNet"]

_VERSIONS = tuple(f"B{index}" for index in range(8))
# The smallest height and width that keras.applications accepts for EfficientNet.
_MIN_SIZE = 32
# KerasTuner compiles every EfficientNet with SGD and this momentum.
_SGD_MOMENTUM = 0.1


class HyperEfficientNet(HyperModel):
    """An EfficientNet image classifier whose version (B0 to B7) is tuned.

    The search space is KerasTuner's. The backbone is
    ``keras.applications.EfficientNet<version>(include_top=False)``, built at
    the given input size (no resizing to each version's native resolution),
    followed by global pooling, a dropout layer and a softmax layer of
    ``classes`` units; the model is compiled with SGD (momentum 0.1),
    categorical cross-entropy and accuracy. The backbones start with a
    ``Rescaling(1/255)`` layer, so feed pixel values in [0, 255].

    Unlike KerasTuner, nothing is downloaded: by default (``weights=None``) the
    backbone is randomly initialised and trained from scratch. To start from
    pretrained weights, pass the path of a local weights file saved from the
    same backbone, e.g. ``EfficientNetB0(include_top=False).save_weights(
    "b0_notop.weights.h5")``. A file fits one version (and one number of input
    channels), so fix ``version`` to it: ``hp.Fixed("version", "B0")`` in the
    ``hyperparameters`` given to the tuner.

    Hyperparameters declared by ``build``, in this order:

    - Those of ``augmentation_model`` when it is a ``HyperModel``.
    - ``version``: ``"B0"`` ... ``"B7"``; default ``"B0"``.
    - ``pooling``: ``"avg"`` or ``"max"``, the global pooling after the
      backbone; default ``"avg"``.
    - ``top_dropout_rate``: 0.2 to 0.8 (step 0.2), the dropout before the
      softmax layer; default 0.2.
    - ``learning_rate``: 0.1, 0.01 or 0.001; default 0.01.

    Args:
        input_shape: ``(height, width, channels)`` of the images, at least
            32x32. One of ``input_shape`` and ``input_tensor`` is required.
        input_tensor: A Keras tensor (e.g. ``keras.Input(...)``) to build on.
        classes: The number of classes (required).
        augmentation_model: Applied to the inputs before the network: a
            ``HyperModel`` (built with the trial's hyperparameters, e.g.
            ``HyperImageAugment``) or a Keras model (used as is).
        weights: None (random initialisation) or the path of a local weights
            file for the backbone (a ``.weights.h5``, ``.h5`` or ``.keras``
            file that ``keras.Model.load_weights`` reads), resolved to an
            absolute path now and read by ``build``. ``"imagenet"`` is refused:
            it would be downloaded.
        **kwargs: Passed to ``HyperModel`` (``name``, ``tunable``).

    Raises:
        ValueError: ``weights`` is ``"imagenet"`` or not a path, ``classes``
            is missing, neither ``input_shape`` nor ``input_tensor`` is given,
            ``input_shape`` is smaller than 32x32, or ``augmentation_model``
            is neither a ``HyperModel`` nor callable.

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
        weights: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.weights = _weights_path(owner, weights)
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

        Called once per trial; imports Keras on first use and reads the
        ``weights`` file, if any.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            A ``keras.Model`` compiled with SGD, categorical cross-entropy and accuracy.

        Raises:
            FileNotFoundError: The ``weights`` file does not exist.
            ValueError: The ``weights`` file cannot be loaded into this
                trial's backbone (another version, say).
        """
        import keras

        owner = type(self).__name__
        if self.weights is not None and not os.path.exists(self.weights):
            raise FileNotFoundError(f"{owner}: the weights file {self.weights!r} does not exist.")
        inputs, x = _common.model_inputs(self.input_shape, self.input_tensor)
        augmentation = self.augmentation_model
        if isinstance(augmentation, HyperModel):
            augmentation = augmentation.build(hp)
        if augmentation is not None:
            x = augmentation(x)

        version = hp.Choice("version", list(_VERSIONS), default="B0")
        pooling = hp.Choice("pooling", ["avg", "max"], default="avg")
        backbone = getattr(keras.applications, f"EfficientNet{version}")(
            include_top=False, weights=None, input_shape=tuple(x.shape[1:]), pooling=pooling
        )
        if self.weights is not None:
            try:
                backbone.load_weights(self.weights)
            except ValueError as error:
                raise ValueError(
                    f"{owner}: the weights file {self.weights!r} does not fit "
                    f"EfficientNet{version}(include_top=False) on inputs of shape "
                    f"{tuple(x.shape[1:])}: {str(error).splitlines()[0]} A weights file fits "
                    "one version: fix `version` to it, e.g. hp.Fixed('version', 'B0')."
                ) from error
        x = backbone(x)
        top_dropout_rate = hp.Float(
            "top_dropout_rate", min_value=0.2, max_value=0.8, step=0.2, default=0.2
        )
        x = keras.layers.Dropout(top_dropout_rate, name="top_dropout")(x)
        outputs = keras.layers.Dense(self.classes, activation="softmax", name="predictions")(x)
        model = keras.Model(inputs, outputs, name=f"efficientnet_{version.lower()}")

        learning_rate = hp.Choice("learning_rate", list(_common.LEARNING_RATES), default=0.01)
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=_SGD_MOMENTUM)
        return _common.compile_classifier(model, optimizer)


def _weights_path(owner: str, weights: str | os.PathLike[str] | None) -> str | None:
    """Checks ``weights`` and returns it as an absolute path (None stays None)."""
    if weights is None:
        return None
    if weights == "imagenet":
        raise ValueError(
            f"{owner}: weights='imagenet' is not supported: pretrained weights cannot be "
            "downloaded here. Use weights=None to train the network from scratch, or the "
            "path of a local weights file."
        )
    if not isinstance(weights, (str, os.PathLike)) or not os.fspath(weights):
        raise ValueError(
            f"{owner}: `weights` must be None or the path of a local weights file "
            f"(e.g. 'b0_notop.weights.h5'), got {weights!r}."
        )
    return str(Path(weights).expanduser().resolve())
