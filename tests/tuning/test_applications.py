"""The built-in hypermodels: argument checks, search spaces, and models that train.

Every network is built at 32x32x3 with 10 classes and trained for one epoch on
eight generated images. Training runs eagerly (``model.run_eagerly = True``):
tracing a ResNet-50 train step into a graph takes far longer on a small CPU
than the one eager step it would replace.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tuning.applications import (
    HyperEfficientNet,
    HyperImageAugment,
    HyperResNet,
    HyperXception,
)
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters

keras = pytest.importorskip("keras")

SHAPE = (32, 32, 3)
CLASSES = 10
CLASSIFIERS = [HyperResNet, HyperXception, HyperEfficientNet]


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(0)


def _data(shape: tuple[int, ...] = SHAPE, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(n, *shape)).astype("float32")
    labels = np.eye(CLASSES, dtype="float32")[np.arange(n) % CLASSES]
    return images, labels


def _build(hypermodel: HyperModel, values: dict | None = None) -> tuple[object, HyperParameters]:
    hp = HyperParameters()
    if values:
        hp.values = dict(values)
    return hypermodel.build(hp), hp


def _fit_one_epoch(model) -> None:
    images, labels = _data(tuple(model.input_shape[1:]))
    model.run_eagerly = True
    history = model.fit(images, labels, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert "accuracy" in history.history


def _assert_classifier(model, shape: tuple[int, ...] = SHAPE) -> None:
    assert tuple(model.input_shape) == (None, *shape)
    assert tuple(model.output_shape) == (None, CLASSES)
    assert model.compiled
    assert model.loss == "categorical_crossentropy"


def _count(model, layer_type: type) -> int:
    return sum(isinstance(layer, layer_type) for layer in model.layers)


def _names(hp: HyperParameters) -> set[str]:
    return {p.name for p in hp.space}


def _choices(hp: HyperParameters, name: str) -> list:
    return next(p for p in hp.space if p.name == name).values


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails any attempt to open a connection or to fetch a file through Keras."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(keras.utils, "get_file", refuse)
    from keras.src.utils import file_utils

    monkeypatch.setattr(file_utils, "get_file", refuse)


# Cheap import ---------------------------------------------------------------


def test_import_does_not_load_keras_or_tensorflow() -> None:
    code = (
        "import sys, tuning as kt, tuning.applications as a; "
        "assert kt.applications.HyperResNet is a.HyperResNet; "
        "a.HyperResNet(input_shape=(32, 32, 3), classes=10); "
        "a.HyperImageAugment(input_shape=(32, 32, 3)); "
        "a.HyperEfficientNet(input_shape=(32, 32, 3), classes=10, weights='b0.weights.h5'); "
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# Argument checks --------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_classes_is_required(cls) -> None:
    with pytest.raises(ValueError, match="`classes`"):
        cls(input_shape=SHAPE)


@pytest.mark.parametrize("cls", CLASSIFIERS)
def test_input_shape_or_tensor_is_required(cls) -> None:
    with pytest.raises(ValueError, match="`input_shape`.*`input_tensor`"):
        cls(classes=CLASSES)


@pytest.mark.parametrize("cls", CLASSIFIERS)
@pytest.mark.parametrize("classes", [0, -3, 2.5, True, "10"])
def test_classes_must_be_a_positive_int(cls, classes) -> None:
    with pytest.raises(ValueError, match="`classes`"):
        cls(input_shape=SHAPE, classes=classes)


@pytest.mark.parametrize("cls", CLASSIFIERS)
@pytest.mark.parametrize("shape", [(32, 32), (32, 32, 0), "32x32", (32, 32, 3, 1)])
def test_input_shape_must_be_three_positive_ints(cls, shape) -> None:
    with pytest.raises(ValueError, match="`input_shape`"):
        cls(input_shape=shape, classes=CLASSES)


@pytest.mark.parametrize("cls", [HyperResNet, HyperXception])
def test_classes_is_optional_without_top(cls) -> None:
    assert cls(include_top=False, input_shape=SHAPE).classes is None


def test_efficientnet_refuses_imagenet_weights() -> None:
    with pytest.raises(ValueError, match="cannot be downloaded.*weights=None.*local weights file"):
        HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights="imagenet")


@pytest.mark.parametrize("weights", ["", 1, True, b"b0.weights.h5", ["b0.weights.h5"]])
def test_efficientnet_weights_must_be_a_path(weights) -> None:
    with pytest.raises(ValueError, match="`weights` must be None or the path of a local"):
        HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights=weights)


def test_efficientnet_weights_path_is_made_absolute_once(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights="b0.weights.h5")
    assert hypermodel.weights == str(tmp_path / "b0.weights.h5")
    assert HyperEfficientNet(input_shape=SHAPE, classes=CLASSES).weights is None


def test_efficientnet_needs_at_least_32_pixels() -> None:
    with pytest.raises(ValueError, match="`input_shape` must be at least 32x32"):
        HyperEfficientNet(input_shape=(28, 28, 1), classes=CLASSES)


def test_efficientnet_refuses_a_bad_augmentation_model() -> None:
    with pytest.raises(ValueError, match="`augmentation_model`"):
        HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, augmentation_model="flip")


def test_input_tensor_must_be_a_keras_tensor() -> None:
    hypermodel = HyperXception(input_tensor=np.zeros((1, *SHAPE)), classes=CLASSES)
    with pytest.raises(ValueError, match="`input_tensor`"):
        _build(hypermodel)


def test_image_augment_needs_an_input() -> None:
    with pytest.raises(ValueError, match="`input_shape`.*`input_tensor`"):
        HyperImageAugment()


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"rotate": 1.5}, "rotate"),
        ({"translate_x": (0.3, 0.1)}, "translate_x"),
        ({"contrast": (0.1, 0.2, 0.3)}, "contrast"),
        ({"translate_y": "0.2"}, "translate_y"),
        ({"augment_layers": -1}, "augment_layers"),
        ({"augment_layers": (3, 1)}, "augment_layers"),
        ({"augment_layers": 1.5}, "augment_layers"),
    ],
)
def test_image_augment_checks_its_ranges(kwargs, argument) -> None:
    with pytest.raises(ValueError, match=f"`{argument}`"):
        HyperImageAugment(input_shape=SHAPE, **kwargs)


# HyperResNet ----------------------------------------------------------------------


def test_resnet_defaults_build_and_fit() -> None:
    model, hp = _build(HyperResNet(input_shape=SHAPE, classes=CLASSES))
    _assert_classifier(model)
    assert _names(hp) == {
        "version",
        "conv3_depth",
        "conv4_depth",
        "pooling",
        "optimizer",
        "learning_rate",
    }
    assert _choices(hp, "version") == ["v1", "v2", "next"]
    assert _choices(hp, "conv3_depth") == [4, 8]
    assert _choices(hp, "conv4_depth") == [6, 23, 36]
    assert _choices(hp, "pooling") == ["avg", "max"]
    assert _choices(hp, "optimizer") == ["adam", "rmsprop", "sgd"]
    assert _choices(hp, "learning_rate") == [0.1, 0.01, 0.001]
    assert _count(model, keras.layers.Add) == 3 + 4 + 6 + 3
    _fit_one_epoch(model)


def test_resnet_v1_deeper_with_max_pooling_and_sgd_fits() -> None:
    values = {
        "version": "v1",
        "conv3_depth": 8,
        "pooling": "max",
        "optimizer": "sgd",
        "learning_rate": 0.001,
    }
    model, _ = _build(HyperResNet(input_shape=SHAPE, classes=CLASSES), values)
    _assert_classifier(model)
    assert _count(model, keras.layers.Add) == 3 + 8 + 6 + 3
    assert _count(model, keras.layers.GlobalMaxPooling2D) == 1
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    _fit_one_epoch(model)


def test_resnet_next_uses_grouped_convolutions() -> None:
    # Forward pass only: on CPU, Keras's TensorFlow backend compiles each grouped
    # convolution (and its gradient) with XLA, which makes a first train step
    # take over a minute here. On a GPU grouped convolutions run natively.
    values = {"version": "next", "optimizer": "rmsprop"}
    model, _ = _build(HyperResNet(input_shape=SHAPE, classes=CLASSES), values)
    _assert_classifier(model)
    grouped = [layer for layer in model.layers if getattr(layer, "groups", 1) == 32]
    assert len(grouped) == 3 + 4 + 6 + 3
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    images, _ = _data(n=2)
    probabilities = np.asarray(model(images, training=False))
    assert probabilities.shape == (2, CLASSES)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_resnet_builds_for_mnist_shapes() -> None:
    model, _ = _build(HyperResNet(input_shape=(28, 28, 1), classes=CLASSES))
    _assert_classifier(model, (28, 28, 1))


def test_resnet_without_top_on_an_input_tensor_is_a_feature_extractor() -> None:
    tensor = keras.Input(shape=SHAPE)
    model, hp = _build(HyperResNet(include_top=False, input_tensor=tensor))
    assert model.inputs[0] is tensor
    assert tuple(model.output_shape) == (None, 1, 1, 2048)
    assert not model.compiled
    assert _names(hp) == {"version", "conv3_depth", "conv4_depth"}


# HyperXception -----------------------------------------------------------------------


def test_xception_defaults_build_and_fit() -> None:
    model, hp = _build(HyperXception(input_shape=SHAPE, classes=CLASSES))
    _assert_classifier(model)
    assert _names(hp) == {
        "activation",
        "conv2d_num_filters",
        "kernel_size",
        "initial_strides",
        "sep_num_filters",
        "num_residual_blocks",
        "pooling",
        "num_dense_layers",
        "dropout_rate",
        "dense_use_bn",
        "learning_rate",
    }
    assert _choices(hp, "sep_num_filters") == [128, 256, 384, 512, 640, 768]
    assert _choices(hp, "num_residual_blocks") == list(range(2, 9))
    assert _choices(hp, "num_dense_layers") == [1, 2, 3]
    assert _choices(hp, "dropout_rate") == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert _choices(hp, "learning_rate") == [0.1, 0.01, 0.001]
    _fit_one_epoch(model)


def test_xception_non_default_values_build_and_fit() -> None:
    values = {
        "activation": "selu",
        "conv2d_num_filters": 32,
        "kernel_size": 5,
        "sep_num_filters": 128,
        "num_residual_blocks": 2,
        "pooling": "flatten",
        "num_dense_layers": 3,
        "dropout_rate": 0.0,
        "dense_use_bn": False,
        "learning_rate": 0.01,
    }
    model, _ = _build(HyperXception(input_shape=SHAPE, classes=CLASSES), values)
    _assert_classifier(model)
    layers = model.layers
    assert any(isinstance(layer, keras.layers.Flatten) for layer in layers)
    assert sum(isinstance(layer, keras.layers.Dense) for layer in layers) == 3 + 1
    assert not any(isinstance(layer, keras.layers.Dropout) for layer in layers)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    _fit_one_epoch(model)


def test_xception_without_top_returns_pooled_features() -> None:
    model, hp = _build(HyperXception(include_top=False, input_shape=SHAPE), {"pooling": "max"})
    assert tuple(model.output_shape) == (None, 2 * 256)
    assert not model.compiled
    assert "num_dense_layers" not in _names(hp)


# HyperEfficientNet -------------------------------------------------------------------


# KerasTuner 1.4's HyperEfficientNet declares exactly this space, in this order.
KERAS_TUNER_EFFICIENTNET_SPACE = [
    {
        "class_name": "Choice",
        "config": {
            "name": "version",
            "default": "B0",
            "values": ["B0", "B1", "B2", "B3", "B4", "B5", "B6", "B7"],
            "ordered": False,
            "conditions": [],
        },
    },
    {
        "class_name": "Choice",
        "config": {
            "name": "pooling",
            "default": "avg",
            "values": ["avg", "max"],
            "ordered": False,
            "conditions": [],
        },
    },
    {
        "class_name": "Float",
        "config": {
            "name": "top_dropout_rate",
            "default": 0.2,
            "min_value": 0.2,
            "max_value": 0.8,
            "step": 0.2,
            "sampling": "linear",
            "conditions": [],
        },
    },
    {
        "class_name": "Choice",
        "config": {
            "name": "learning_rate",
            "default": 0.01,
            "values": [0.1, 0.01, 0.001],
            "ordered": True,
            "conditions": [],
        },
    },
]


def test_efficientnet_b0_declares_keras_tuners_space_and_fits_without_network(
    no_network,
) -> None:
    model, hp = _build(HyperEfficientNet(input_shape=SHAPE, classes=CLASSES))
    _assert_classifier(model)
    assert hp.get_config()["space"] == KERAS_TUNER_EFFICIENTNET_SPACE
    assert hp.values == {
        "version": "B0",
        "pooling": "avg",
        "top_dropout_rate": 0.2,
        "learning_rate": 0.01,
    }
    assert model.get_layer("top_dropout").rate == pytest.approx(0.2)
    assert isinstance(model.optimizer, keras.optimizers.SGD)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    assert float(model.optimizer.momentum) == pytest.approx(0.1)
    assert isinstance(
        model.get_layer("efficientnetb0").layers[-1], keras.layers.GlobalAveragePooling2D
    )
    _fit_one_epoch(model)


@pytest.fixture(scope="module")
def b0_weights(tmp_path_factory) -> tuple[str, object]:
    """A local weights file of an EfficientNetB0 backbone whose stem kernel is all 0.5."""
    source = keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=SHAPE)
    stem = source.get_layer("stem_conv").kernel
    stem.assign(np.full(stem.shape, 0.5, dtype="float32"))
    path = tmp_path_factory.mktemp("weights") / "b0_notop.weights.h5"
    source.save_weights(path)
    return str(path), source


def test_efficientnet_loads_a_local_weights_file(b0_weights, no_network) -> None:
    path, source = b0_weights
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights=Path(path))
    model, hp = _build(hypermodel, {"pooling": "max"})
    _assert_classifier(model)
    backbone = model.get_layer("efficientnetb0")
    assert np.all(backbone.get_layer("stem_conv").kernel.numpy() == 0.5)
    for loaded, saved in zip(backbone.weights, source.weights, strict=True):
        np.testing.assert_array_equal(loaded.numpy(), saved.numpy())
    assert isinstance(backbone.layers[-1], keras.layers.GlobalMaxPooling2D)


@pytest.mark.filterwarnings("ignore:Skipping nested container:UserWarning")
def test_efficientnet_weights_of_another_version_give_a_clear_error(b0_weights) -> None:
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights=b0_weights[0])
    with pytest.raises(ValueError, match="does not fit EfficientNetB1.*fix `version`"):
        _build(hypermodel, {"version": "B1"})


def test_efficientnet_missing_weights_file_fails_the_build(tmp_path) -> None:
    missing = tmp_path / "missing.weights.h5"
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, weights=missing)
    with pytest.raises(FileNotFoundError, match="missing.weights.h5.*does not exist"):
        _build(hypermodel)


def test_efficientnet_with_a_hyper_augmentation_model_fits(no_network) -> None:
    augment = HyperImageAugment(input_shape=SHAPE, augment_layers=2)
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, augmentation_model=augment)
    values = {
        "augment_layers": 1,
        "augment_layer_0": "rotate",
        "factor_rotate": 0.2,
        "top_dropout_rate": 0.4,
        "learning_rate": 0.001,
    }
    model, hp = _build(hypermodel, values)
    _assert_classifier(model)
    assert {"augment_layers", "augment_layer_0", "factor_rotate", "version"} <= _names(hp)
    assert _count(model.get_layer("image_augment"), keras.layers.RandomRotation) == 1
    assert model.get_layer("top_dropout").rate == pytest.approx(0.4)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.001)
    _fit_one_epoch(model)


def test_efficientnet_with_a_keras_augmentation_model() -> None:
    flip = keras.Sequential([keras.layers.RandomFlip("horizontal")])
    hypermodel = HyperEfficientNet(input_shape=SHAPE, classes=CLASSES, augmentation_model=flip)
    model, _ = _build(hypermodel)
    _assert_classifier(model)


# HyperImageAugment ---------------------------------------------------------------------


def _augment_layers(model) -> list:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_image_augment_defaults() -> None:
    model, hp = _build(HyperImageAugment(input_shape=SHAPE))
    assert tuple(model.output_shape) == tuple(model.input_shape) == (None, *SHAPE)
    assert not model.compiled
    assert _names(hp) == {
        "factor_rotate",
        "factor_translate_x",
        "factor_translate_y",
        "factor_contrast",
        "augment_layers",
        "augment_layer_0",
        "augment_layer_1",
        "augment_layer_2",
    }
    layers = {p.name: p for p in hp.space}
    assert (layers["augment_layers"].min_value, layers["augment_layers"].max_value) == (0, 3)
    assert layers["factor_rotate"].max_value == 0.5
    assert layers["factor_contrast"].max_value == 0.3
    assert layers["augment_layer_0"].values == ["rotate", "translate_x", "translate_y", "contrast"]
    # augment_layers starts at 0: no augmentation, and the per-layer choices are inactive.
    assert _augment_layers(model) == []
    assert "augment_layer_0" not in hp.values


def test_image_augment_random_layers_follow_the_choices() -> None:
    values = {
        "augment_layers": 2,
        "augment_layer_0": "translate_x",
        "augment_layer_1": "contrast",
        "factor_translate_x": 0.3,
        "factor_contrast": 0.2,
    }
    model, hp = _build(HyperImageAugment(input_shape=SHAPE), values)
    layers = _augment_layers(model)
    assert [type(layer) for layer in layers] == [
        keras.layers.RandomTranslation,
        keras.layers.RandomContrast,
    ]
    assert tuple(model.output_shape) == (None, *SHAPE)
    assert "augment_layer_1" in hp.values and "augment_layer_2" not in hp.values

    images, _ = _data()
    assert np.allclose(model(images, training=False), images)
    augmented = np.asarray(model(images, training=True))
    assert augmented.shape == images.shape
    assert not np.allclose(augmented, images)


def test_image_augment_fixed_mode_applies_each_enabled_transform() -> None:
    hypermodel = HyperImageAugment(
        input_shape=SHAPE, rotate=(0.1, 0.3), translate_y=None, contrast=0, augment_layers=0
    )
    values = {"factor_rotate": 0.2, "factor_translate_x": 0.1}
    model, hp = _build(hypermodel, values)
    assert _names(hp) == {"factor_rotate", "factor_translate_x"}
    rotate = next(p for p in hp.space if p.name == "factor_rotate")
    assert (rotate.min_value, rotate.max_value) == (0.1, 0.3)
    assert [type(layer) for layer in _augment_layers(model)] == [
        keras.layers.RandomRotation,
        keras.layers.RandomTranslation,
    ]
    assert tuple(model.output_shape) == (None, *SHAPE)


def test_image_augment_zero_factor_skips_the_layer() -> None:
    hypermodel = HyperImageAugment(input_shape=SHAPE, augment_layers=(1, 1))
    values = {"augment_layers": 1, "augment_layer_0": "rotate", "factor_rotate": 0.0}
    model, _ = _build(hypermodel, values)
    assert _augment_layers(model) == []


def test_image_augment_with_every_transform_off_is_the_identity() -> None:
    hypermodel = HyperImageAugment(
        input_shape=SHAPE, rotate=None, translate_x=0, translate_y=None, contrast=None
    )
    model, hp = _build(hypermodel)
    assert hp.space == []
    assert _augment_layers(model) == []


def test_image_augment_on_an_input_tensor() -> None:
    tensor = keras.Input(shape=(16, 16, 1))
    model, _ = _build(HyperImageAugment(input_tensor=tensor, augment_layers=0))
    assert tuple(model.output_shape) == (None, 16, 16, 1)
