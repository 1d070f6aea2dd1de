"""A tiny Keras classifier and its data, for tests that train real trials without Prefect."""

from __future__ import annotations

import numpy as np


def tiny_data(n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of 4 features, labelled by whether their sum exceeds 2."""
    rng = np.random.default_rng(0)
    x = rng.random((n, 4)).astype("float32")
    y = (x.sum(axis=1) > 2).astype("int64")
    return x, y


def build_classifier(hp, metrics: tuple[str, ...] = ("accuracy",)):
    """A one-hidden-layer classifier of ``tiny_data``, 2 or 4 units."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(hp.Int("units", 2, 4, step=2), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=list(metrics))
    return model
