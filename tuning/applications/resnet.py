"""``HyperResNet``: a ResNet (v1, v2 or ResNeXt) with tuned depth, built from scratch.

The network is written here from Keras layers, so the depth of the third and
fourth stages can be tuned and no pretrained weights are ever fetched.
"""

from __future__ import annotations

from typing import Any

from tuning.applications import _common
from tuning.hyperparameters import HyperParameters

__all__ = ["HyperResNet"]

_VERSIONS = ("v1", "v2", "next")
# Bottleneck width of the four stages; a block's output has 4x as many channels.
_STAGE_FILTERS = (64, 128, 256, 512)
# ResNeXt blocks split their 3x3 convolution into this many groups (the "32x4d" design).
_CARDINALITY = 32


class HyperResNet(_common.ImageClassifier):
    """A ResNet image classifier whose version and depth are tuned.

    The four stages hold 3, ``conv3_depth``, ``conv4_depth`` and 3 bottleneck
    blocks (ResNet-50 is 3-4-6-3, ResNet-101 3-4-23-3, ResNet-152 3-8-36-3).

    Hyperparameters declared by ``build``:

    - ``version``: ``"v1"`` (post-activation bottlenecks), ``"v2"``
      (pre-activation bottlenecks) or ``"next"`` (ResNeXt bottlenecks with a
      grouped 3x3 convolution of cardinality 32).
    - ``conv3_depth``: 4 or 8 blocks in the second stage.
    - ``conv4_depth``: 6, 23 or 36 blocks in the third stage.
    - With ``include_top``: ``pooling`` (``"avg"`` or ``"max"``), ``optimizer``
      (``"adam"``, ``"rmsprop"`` or ``"sgd"``) and ``learning_rate`` (0.1, 0.01
      or 0.001).

    Args:
        include_top, input_shape, input_tensor, classes, **kwargs: As for every
            built-in image classifier (``_common.ImageClassifier``).

    Example:
        >>> hypermodel = HyperResNet(input_shape=(32, 32, 3), classes=10)
        >>> model = hypermodel.build(HyperParameters())  # doctest: +SKIP
    """

    def build(self, hp: HyperParameters) -> Any:
        """Builds the ResNet for the trial's values.

        Called once per trial; imports Keras on first use.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            A ``keras.Model``: compiled with categorical cross-entropy and
            accuracy when ``include_top``, otherwise an uncompiled feature
            extractor.
        """
        from keras import layers

        version = hp.Choice("version", list(_VERSIONS), default="v2")
        conv3_depth = hp.Choice("conv3_depth", [4, 8], default=4)
        conv4_depth = hp.Choice("conv4_depth", [6, 23, 36], default=6)
        block = {"v1": _block_v1, "v2": _block_v2, "next": _block_next}[version]
        preact = version == "v2"

        inputs, x = _common.model_inputs(self.input_shape, self.input_tensor)
        # Stem: a strided 7x7 convolution, then a strided 3x3 max pooling.
        x = layers.Conv2D(64, 7, strides=2, padding="same", use_bias=preact, name="stem_conv")(x)
        if not preact:
            x = layers.BatchNormalization(name="stem_bn")(x)
            x = layers.Activation("relu", name="stem_relu")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)

        depths = (3, conv3_depth, conv4_depth, 3)
        for stage, (filters, depth) in enumerate(zip(_STAGE_FILTERS, depths, strict=True), start=1):
            for index in range(depth):
                first = index == 0
                x = block(
                    x,
                    filters,
                    stride=2 if first and stage > 1 else 1,
                    project=first,
                    name=f"stage{stage}_block{index + 1}",
                )
        if preact:
            # Pre-activation blocks leave their sum un-normalised: finish it here.
            x = layers.BatchNormalization(name="post_bn")(x)
            x = layers.Activation("relu", name="post_relu")(x)

        if not self.include_top:
            return _model(inputs, x)

        pooling = hp.Choice("pooling", ["avg", "max"], default="avg")
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        else:
            x = layers.GlobalMaxPooling2D(name="max_pool")(x)
        outputs = layers.Dense(self.classes, activation="softmax", name="predictions")(x)
        model = _model(inputs, outputs)

        optimizer = hp.Choice("optimizer", list(_common.OPTIMIZERS), default="adam")
        learning_rate = hp.Choice("learning_rate", list(_common.LEARNING_RATES), default=0.01)
        return _common.compile_classifier(model, _common.make_optimizer(optimizer, learning_rate))


def _model(inputs: Any, outputs: Any) -> Any:
    import keras

    return keras.Model(inputs, outputs, name="resnet")


def _conv_bn(x: Any, filters: int, kernel: int, stride: int, name: str, groups: int = 1) -> Any:
    """A bias-free convolution followed by batch normalisation."""
    from keras import layers

    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        padding="same",
        groups=groups,
        use_bias=False,
        name=f"{name}_conv",
    )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _block_v1(x: Any, filters: int, stride: int, project: bool, name: str) -> Any:
    """Post-activation bottleneck: 1x1 (strided), 3x3, 1x1 to 4x ``filters``."""
    from keras import layers

    shortcut = _conv_bn(x, 4 * filters, 1, stride, f"{name}_proj") if project else x
    y = _conv_bn(x, filters, 1, stride, f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = _conv_bn(y, 4 * filters, 1, 1, f"{name}_3")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def _block_v2(x: Any, filters: int, stride: int, project: bool, name: str) -> Any:
    """Pre-activation bottleneck: BN-ReLU before each convolution, identity sum."""
    from keras import layers

    pre = layers.BatchNormalization(name=f"{name}_pre_bn")(x)
    pre = layers.Activation("relu", name=f"{name}_pre_relu")(pre)
    if project:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_proj_conv")(pre)
    else:
        shortcut = x
    y = _conv_bn(pre, filters, 1, 1, f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 3, stride, f"{name}_2")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(y)
    return layers.Add(name=f"{name}_add")([shortcut, y])


def _block_next(x: Any, filters: int, stride: int, project: bool, name: str) -> Any:
    """ResNeXt bottleneck: a wide 3x3 convolution split into 32 groups."""
    from keras import layers

    width = 2 * filters
    shortcut = _conv_bn(x, 4 * filters, 1, stride, f"{name}_proj") if project else x
    y = _conv_bn(x, width, 1, 1, f"{name}_1")
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, width, 3, stride, f"{name}_2", groups=_CARDINALITY)
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = _conv_bn(y, 4 * filters, 1, 1, f"{name}_3")
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)
