"""``HyperXception``: an Xception-style network of separable convolutions, tuned."""

from __future__ import annotations

from typing import Any

from tuning.applications import _common
from tuning.hyperparameters import HyperParameters

__all__ = ["HyperXception"]


class HyperXception(_common.ImageClassifier):
    """An Xception-style image classifier with a tuned width, depth and head.

    The network is an entry convolution (strided), a tuned number of residual
    blocks of three separable convolutions at constant width, one strided exit
    block that doubles the width, global pooling and a dense head.

    Hyperparameters declared by ``build``:

    - ``activation``: ``"relu"`` or ``"selu"``.
    - ``conv2d_num_filters``: 32, 64 or 128 filters in the entry convolutions.
    - ``kernel_size``: 3 or 5, the entry convolutions' kernel.
    - ``initial_strides``: the entry convolution's stride (2).
    - ``sep_num_filters``: 128 to 768 (step 128), the separable convolutions' width.
    - ``num_residual_blocks``: 2 to 8 residual blocks.
    - ``pooling``: ``"avg"``, ``"flatten"`` or ``"max"``.
    - With ``include_top``: ``num_dense_layers`` (1 to 3 hidden dense layers
      of ``sep_num_filters`` units), ``dropout_rate`` (0 to 0.6, step 0.1),
      ``dense_use_bn`` (batch normalisation in the dense layers) and
      ``learning_rate`` (0.1, 0.01 or 0.001, for Adam).

    Args:
        include_top, input_shape, input_tensor, classes, **kwargs: As for every
            built-in image classifier (``_common.ImageClassifier``).

    Example:
        >>> hypermodel = HyperXception(input_shape=(32, 32, 3), classes=10)
        >>> model = hypermodel.build(HyperParameters())  # doctest: +SKIP
    """

    def build(self, hp: HyperParameters) -> Any:
        """Builds the network for the trial's values.

        Called once per trial; imports Keras on first use.

        Args:
            hp: The trial's hyperparameters.

        Returns:
            A ``keras.Model``: compiled (Adam, categorical cross-entropy,
            accuracy) when ``include_top``, otherwise an uncompiled feature
            extractor.
        """
        import keras
        from keras import layers

        activation = hp.Choice("activation", ["relu", "selu"], default="relu")
        conv2d_num_filters = hp.Choice("conv2d_num_filters", [32, 64, 128], default=64)
        kernel_size = hp.Choice("kernel_size", [3, 5], default=3)
        initial_strides = hp.Choice("initial_strides", [2], default=2)
        sep_num_filters = hp.Int("sep_num_filters", 128, 768, step=128, default=256)
        num_residual_blocks = hp.Int("num_residual_blocks", 2, 8, default=4)

        inputs, x = _common.model_inputs(self.input_shape, self.input_tensor)

        # Entry: a strided convolution and a plain one, each with BN and the activation.
        for index, stride in enumerate((initial_strides, 1), start=1):
            x = layers.Conv2D(
                conv2d_num_filters,
                kernel_size,
                strides=stride,
                padding="same",
                use_bias=False,
                name=f"entry_conv{index}",
            )(x)
            x = layers.BatchNormalization(name=f"entry_bn{index}")(x)
            x = layers.Activation(activation, name=f"entry_act{index}")(x)

        # Middle: residual blocks of three separable convolutions at one width.
        for block in range(1, num_residual_blocks + 1):
            x = _middle_block(x, sep_num_filters, activation, name=f"middle{block}")

        # Exit: two separable convolutions to twice the width, pooled by 2.
        x = _exit_block(x, 2 * sep_num_filters, activation, name="exit")

        pooling = hp.Choice("pooling", ["avg", "flatten", "max"], default="avg")
        if pooling == "avg":
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif pooling == "max":
            x = layers.GlobalMaxPooling2D(name="max_pool")(x)
        else:
            x = layers.Flatten(name="flatten")(x)

        if not self.include_top:
            return keras.Model(inputs, x, name="xception")

        num_dense_layers = hp.Int("num_dense_layers", 1, 3, default=1)
        dropout_rate = hp.Float("dropout_rate", 0.0, 0.6, step=0.1, default=0.5)
        dense_use_bn = hp.Boolean("dense_use_bn", default=True)
        for index in range(1, num_dense_layers + 1):
            x = layers.Dense(sep_num_filters, use_bias=not dense_use_bn, name=f"dense{index}")(x)
            if dense_use_bn:
                x = layers.BatchNormalization(name=f"dense{index}_bn")(x)
            x = layers.Activation(activation, name=f"dense{index}_act")(x)
            if dropout_rate > 0:
                x = layers.Dropout(dropout_rate, name=f"dense{index}_dropout")(x)
        outputs = layers.Dense(self.classes, activation="softmax", name="predictions")(x)
        model = keras.Model(inputs, outputs, name="xception")

        learning_rate = hp.Choice("learning_rate", [1e-1, 1e-2, 1e-3], default=1e-3)
        return _common.compile_classifier(model, _common.make_optimizer("adam", learning_rate))


def _sep_conv_bn(x: Any, filters: int, activation: str, name: str) -> Any:
    """Activation, then a 3x3 separable convolution and batch normalisation."""
    from keras import layers

    x = layers.Activation(activation, name=f"{name}_act")(x)
    x = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_sep")(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def _middle_block(x: Any, filters: int, activation: str, name: str) -> Any:
    """Three separable convolutions with a residual connection.

    The shortcut is the identity when the width already matches, otherwise a
    1x1 projection (only the first block after the entry needs one).
    """
    from keras import layers

    shortcut = x
    if x.shape[-1] != filters:
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(x)
        shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    for index in range(1, 4):
        x = _sep_conv_bn(x, filters, activation, name=f"{name}_{index}")
    return layers.Add(name=f"{name}_add")([shortcut, x])


def _exit_block(x: Any, filters: int, activation: str, name: str) -> Any:
    """Two separable convolutions and a strided max pooling, with a strided projection."""
    from keras import layers

    shortcut = layers.Conv2D(
        filters, 1, strides=2, padding="same", use_bias=False, name=f"{name}_proj"
    )(x)
    shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    for index in range(1, 3):
        x = _sep_conv_bn(x, filters, activation, name=f"{name}_{index}")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{name}_pool")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation(activation, name=f"{name}_act")(x)
