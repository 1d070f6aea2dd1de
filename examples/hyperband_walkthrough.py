"""Hyperband with early stopping, then the best epoch count, then the final model.

Follows seed 004 (the Fashion-MNIST walkthrough): normalise the images, build
a hypermodel tuning ``units`` and ``learning_rate``, search with
``kt.Hyperband(objective="val_accuracy", max_epochs=...)`` and an
``EarlyStopping`` callback on 20% of the training set, print the best values,
train the best model for 30 epochs to find its best epoch, retrain it for that
many epochs and evaluate it on the test set.

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
Fashion-MNIST (28x28, 0..255) replaced by scikit-learn's digits (8x8, 0..16,
the last 297 images as the test set), so ``Flatten(input_shape=(8, 8))``;
``max_epochs`` is 6 by default instead of 10 (10 trials instead of 30);
``directory``/``project_name`` are given (the seed writes to the current
directory); the seed's steps 4 and 5 name the training data
``img_train``/``label_train``, undefined there, which are ``train_img``/
``train_label`` here.

    python examples/hyperband_walkthrough.py
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from tensorflow import keras

import tuning as kt


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Digits shaped like ``keras.datasets.fashion_mnist.load_data()``: 8x8 images, 0..16."""
    digits = load_digits()
    x, y = digits.images.astype("uint8"), digits.target
    return (x[:-297], y[:-297]), (x[-297:], y[-297:])


def model_builder(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential()
    model.add(keras.layers.Flatten(input_shape=(8, 8)))
    units = hp.Int("units", min_value=16, max_value=256, step=32)
    model.add(keras.layers.Dense(units=units, activation="relu"))
    model.add(keras.layers.Dense(10))
    learning_rate = hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main(
    max_epochs: int = 6, epochs: int = 30, directory: str = "hyperflow_results"
) -> tuple[kt.Tuner, keras.Model, int]:
    """Runs the walkthrough.

    Args:
        max_epochs: Hyperband's ``max_epochs`` (the seed's 10), also ``search``'s epochs.
        epochs: Epochs of the run that finds the best epoch (the seed's 30).
        directory: Where the MLflow store of the search goes.

    Returns:
        The tuner, the final model and the best epoch count.
    """
    # 1. Get the data and normalise it.
    (train_img, train_label), (test_img, test_label) = load_data()
    train_img = train_img.astype("float32") / 16.0
    test_img = test_img.astype("float32") / 16.0

    # 3. Instantiate the tuner and tune.
    tuner = kt.Hyperband(
        model_builder,
        objective="val_accuracy",
        max_epochs=max_epochs,
        directory=directory,
        project_name="hyperband_walkthrough",
    )
    stop_early = tf.keras.callbacks.EarlyStopping(monitor="val_loss", patience=3)
    tuner.search(
        train_img, train_label, epochs=max_epochs, validation_split=0.2, callbacks=[stop_early]
    )
    best_hps = tuner.get_best_hyperparameters(num_trials=1)[0]
    print(
        f"""超调结束， 第一层全连接层的神经元个数建议选为 {best_hps.get("units")} ，"""
        f"""优化器学习率建议选为 {best_hps.get("learning_rate")}."""
    )

    # 4. Train the model to find the best epoch.
    model = tuner.hypermodel.build(best_hps)
    history = model.fit(train_img, train_label, epochs=epochs, validation_split=0.2)
    val_acc_per_epoch = history.history["val_accuracy"]
    best_epoch = val_acc_per_epoch.index(max(val_acc_per_epoch)) + 1
    print("产生最好的 val_accuracy 是在第 %d 个 epoch " % (best_epoch,))  # noqa: UP031

    # 5. Train and evaluate the model with the best hyperparameters.
    best_model = tuner.hypermodel.build(best_hps)
    best_model.fit(train_img, train_label, epochs=best_epoch, validation_split=0.2)

    eval_result = best_model.evaluate(test_img, test_label)
    print("测试集损失值 %f , 测试集准确率为 %f" % (eval_result[0], eval_result[1]))  # noqa: UP031
    return tuner, best_model, best_epoch


if __name__ == "__main__":
    main()
