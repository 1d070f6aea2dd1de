"""The built-in tunable applications: ``HyperResNet`` and ``HyperXception``.

Follows seed 001 (``KerasTuner 入门``), section "KerasTuner 内置的可调应用：
HyperResNet 和 HyperXception": a ready-made computer-vision hypermodel,
compiled with ``loss="categorical_crossentropy"`` and ``metrics=["accuracy"]``,
searched by ``RandomSearch`` for two trials of one epoch on 100 images. The
seed shows the code for ``HyperResNet`` only; ``HyperXception`` is used the
same way and runs second.

Changes from the seed: ``import tuning as kt`` / ``from tuning.applications
import ...`` instead of ``keras_tuner``; MNIST (28x28x1) replaced by
scikit-learn's digits (8x8x1, one-hot labels), so ``input_shape=(8, 8, 1)``;
the results go under ``directory`` instead of ``my_dir`` (the Xception search
in the project ``built_in_hypermodel_xception``); one trial per hypermodel by
default instead of two (see ``main``).

    python examples/builtin_hypermodels.py
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.datasets import load_digits
from tensorflow import keras

import tuning as kt
from tuning.applications import HyperResNet, HyperXception


def load_data(
    num_classes: int = 10,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as ``x_train, y_train, x_val, y_val``: 8x8x1 images, one-hot labels."""
    digits = load_digits()
    x = np.expand_dims(digits.images, -1).astype("float32") / 16.0
    y = keras.utils.to_categorical(digits.target, num_classes)
    return x[:-300], y[:-300], x[-300:], y[-300:]


def main(
    max_trials: int = 1,
    epochs: int = 1,
    directory: str = "hyperflow_results",
    num_samples: int = 100,
    hypermodels: Sequence[str] = ("resnet", "xception"),
    hyperparameters: Mapping[str, kt.HyperParameters] | None = None,
) -> dict[str, kt.Tuner]:
    """Searches each built-in hypermodel on a few digits.

    On a 2-core CPU one epoch of a ResNet takes about a minute at ResNet-50
    depth (``conv4_depth=6``) and about three at ResNet-152 depth
    (``conv4_depth=36``), mostly spent compiling the graph; hence one trial
    per hypermodel by default. ``hyperparameters`` narrows a hypermodel's
    search space the KerasTuner way ("tailor the search space"): values
    declared there override the hypermodel's own, e.g.
    ``hp.Choice("conv4_depth", [6])`` for the shallowest ResNet.

    Args:
        max_trials: Trials per search (the seed's 2).
        epochs: Epochs per model (the seed's 1).
        directory: Where the MLflow store of the searches goes.
        num_samples: Training and validation images used (the seed's 100).
        hypermodels: Which of ``"resnet"`` and ``"xception"`` to search.
        hyperparameters: Per hypermodel name, a ``HyperParameters`` passed
            to the tuner as ``hyperparameters=``.

    Returns:
        The tuners by hypermodel name, their searches finished.
    """
    x_train, y_train, x_val, y_val = load_data()
    tuners: dict[str, kt.Tuner] = {}
    hyperparameters = hyperparameters or {}

    if "resnet" in hypermodels:
        hypermodel = HyperResNet(input_shape=(8, 8, 1), classes=10)

        tuner = kt.RandomSearch(
            hypermodel,
            objective="val_accuracy",
            max_trials=max_trials,
            hyperparameters=hyperparameters.get("resnet"),
            overwrite=True,
            directory=directory,
            project_name="built_in_hypermodel",
        )

        tuner.search(
            x_train[:num_samples],
            y_train[:num_samples],
            epochs=epochs,
            validation_data=(x_val[:num_samples], y_val[:num_samples]),
        )
        tuners["resnet"] = tuner

    if "xception" in hypermodels:
        hypermodel = HyperXception(input_shape=(8, 8, 1), classes=10)

        tuner = kt.RandomSearch(
            hypermodel,
            objective="val_accuracy",
            max_trials=max_trials,
            hyperparameters=hyperparameters.get("xception"),
            overwrite=True,
            directory=directory,
            project_name="built_in_hypermodel_xception",
        )

        tuner.search(
            x_train[:num_samples],
            y_train[:num_samples],
            epochs=epochs,
            validation_data=(x_val[:num_samples], y_val[:num_samples]),
        )
        tuners["xception"] = tuner
    return tuners


if __name__ == "__main__":
    main()
