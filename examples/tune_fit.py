"""Tune training and preprocessing: override ``HyperModel.fit``.

Follows seed 001 (``KerasTuner 入门``), sections "Tune 模型训练" (tune
``shuffle`` in ``fit``), "Tune 数据预处理" (tune whether to normalise the data;
``image_size`` declared in ``build`` and read with ``hp.get`` in ``fit``) and
its "重新训练模型" (retrain the best model with the hypermodel's ``fit``).

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
MNIST (28x28) replaced by scikit-learn's digits (8x8), so ``image_size`` ranges
over 4..8 instead of 10..28 and the quick checks use 8x8 random images; the
results go under ``directory`` instead of ``my_dir``.

    python examples/tune_fit.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from tensorflow import keras
from tensorflow.keras import layers

import tuning as kt


class ShuffleHyperModel(kt.HyperModel):
    """Seed: "Tune 模型训练", tunes ``shuffle``."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(
            layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32),
                activation="relu",
            )
        )
        model.add(layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer="adam",
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> Any:
        return model.fit(
            *args,
            # Tune whether to shuffle the data in each epoch.
            shuffle=hp.Boolean("shuffle"),
            **kwargs,
        )


class NormalizeHyperModel(kt.HyperModel):
    """Seed: "Tune 数据预处理", tunes whether to normalise, with ``x`` and ``y`` explicit."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential()
        model.add(layers.Flatten())
        model.add(
            layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32),
                activation="relu",
            )
        )
        model.add(layers.Dense(10, activation="softmax"))
        model.compile(
            optimizer="adam",
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        if hp.Boolean("normalize"):
            x = layers.Normalization()(x)
        return model.fit(
            x,
            y,
            # Tune whether to shuffle the data in each epoch.
            shuffle=hp.Boolean("shuffle"),
            **kwargs,
        )


class MyHyperModel(kt.HyperModel):
    """Seed: ``image_size`` is used in ``build`` (input shape) and in ``fit`` (cropping)."""

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        image_size = hp.Int("image_size", 4, 8)
        inputs = keras.Input(shape=(image_size, image_size))
        outputs = layers.Flatten()(inputs)
        outputs = layers.Dense(
            units=hp.Int("units", min_value=32, max_value=512, step=32),
            activation="relu",
        )(outputs)
        outputs = layers.Dense(10, activation="softmax")(outputs)
        model = keras.Model(inputs, outputs)
        model.compile(
            optimizer="adam",
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )
        return model

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        x: Any,
        y: Any,
        validation_data: Any = None,
        **kwargs: Any,
    ) -> Any:
        if hp.Boolean("normalize"):
            x = layers.Normalization()(x)
        image_size = hp.get("image_size")
        cropped_x = x[:, :image_size, :image_size, :]
        if validation_data:
            x_val, y_val = validation_data
            cropped_x_val = x_val[:, :image_size, :image_size, :]
            validation_data = (cropped_x_val, y_val)
        return model.fit(
            cropped_x,
            y,
            # Tune whether to shuffle the data in each epoch.
            shuffle=hp.Boolean("shuffle"),
            validation_data=validation_data,
            **kwargs,
        )


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Digits shaped like ``keras.datasets.mnist.load_data()``: 8x8 images, 0..16."""
    digits = load_digits()
    x, y = digits.images.astype("uint8"), digits.target
    return (x[:-297], y[:-297]), (x[-297:], y[-297:])


def main(max_trials: int = 3, epochs: int = 2, directory: str = "hyperflow_results") -> kt.Tuner:
    """Checks the hypermodels quickly, tunes ``MyHyperModel`` and retrains its best.

    Args:
        max_trials: Trials the random search runs (the seed's 3).
        epochs: Epochs per model (the seed's 2).
        directory: Where the MLflow store of the search goes.

    Returns:
        The tuner, its search finished.
    """
    # Quick checks that build() and fit() work.
    hp = kt.HyperParameters()
    hypermodel = ShuffleHyperModel()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, np.random.rand(100, 8, 8), np.random.rand(100, 10))

    hp = kt.HyperParameters()
    hypermodel = NormalizeHyperModel()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, np.random.rand(100, 8, 8), np.random.rand(100, 10))

    (x, y), _ = load_data()
    x_train = np.expand_dims(x[:-300], -1).astype("float32") / 16.0
    x_val = np.expand_dims(x[-300:], -1).astype("float32") / 16.0
    y_train = keras.utils.to_categorical(y[:-300], 10)
    y_val = keras.utils.to_categorical(y[-300:], 10)

    tuner = kt.RandomSearch(
        MyHyperModel(),
        objective="val_accuracy",
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="tune_hypermodel",
    )

    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))

    # Retrain the model.
    x_all = np.concatenate((x_train, x_val))
    y_all = np.concatenate((y_train, y_val))
    hypermodel = MyHyperModel()
    best_hp = tuner.get_best_hyperparameters()[0]
    model = hypermodel.build(best_hp)
    hypermodel.fit(best_hp, model, x_all, y_all, epochs=1)
    print("Best hyperparameters:", best_hp.values)
    return tuner


if __name__ == "__main__":
    main()
