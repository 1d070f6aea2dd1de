"""Getting started: tune a model's architecture with ``RandomSearch``.

Follows seed 001 (``KerasTuner 入门``), section "tune 模型架构": defining the
search space (``hp.Int``/``hp.Choice``/``hp.Boolean``/``hp.Float`` with log
sampling, hyperparameters declared ahead of existing Keras code, conditional
``units_{i}`` under ``num_layers``), the search (``executions_per_trial``,
``overwrite``, ``directory``/``project_name``, ``search_space_summary``),
querying the results (``get_best_models``, ``results_summary``) and retraining
the best model on all the data.

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
MNIST (28x28) replaced by scikit-learn's digits (8x8, values 0..16); the
results go under ``directory`` (default ``hyperflow_results``) instead of
``my_dir``; ``best_model.build`` is given the shape the model was trained on,
``(None, 8, 8, 1)``, because Keras 3 refuses to rebuild a built ``Sequential``
with another shape.

    python examples/getting_started.py
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from tensorflow import keras
from tensorflow.keras import layers

import tuning as kt

# Define the search space ---------------------------------------------------------------


def build_model_units(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(
        layers.Dense(
            # Define the hyperparameter.
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


def build_model_more_hyperparameters(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(
        layers.Dense(
            # Tune number of units.
            units=hp.Int("units", min_value=32, max_value=512, step=32),
            # Tune the activation function to use.
            activation=hp.Choice("activation", ["relu", "tanh"]),
        )
    )
    # Tune whether to use dropout.
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    # Define the optimizer learning rate as a hyperparameter.
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def call_existing_code(units: int, activation: str, dropout: bool, lr: float) -> keras.Model:
    model = keras.Sequential()
    model.add(layers.Flatten())
    model.add(layers.Dense(units=units, activation=activation))
    if dropout:
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=lr),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_model_existing_code(hp: kt.HyperParameters) -> keras.Model:
    units = hp.Int("units", min_value=32, max_value=512, step=32)
    activation = hp.Choice("activation", ["relu", "tanh"])
    dropout = hp.Boolean("dropout")
    lr = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    # call existing model-building code with the hyperparameter values.
    model = call_existing_code(units=units, activation=activation, dropout=dropout, lr=lr)
    return model


def build_model(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def load_data() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Digits shaped like ``keras.datasets.mnist.load_data()``: 8x8 images, 0..16."""
    digits = load_digits()
    x, y = digits.images.astype("uint8"), digits.target
    return (x[:-297], y[:-297]), (x[-297:], y[-297:])


def main(
    max_trials: int = 3,
    epochs: int = 2,
    executions_per_trial: int = 2,
    directory: str = "hyperflow_results",
) -> kt.Tuner:
    """Runs the seed's getting-started search and retrains the best model.

    Args:
        max_trials: Trials the random search runs (the seed's 3).
        epochs: Epochs per model (the seed's 2).
        executions_per_trial: Models trained per trial (the seed's 2).
        directory: Where the MLflow store of the search goes.

    Returns:
        The tuner, its search finished.
    """
    # Quick checks that the model builds with the default values.
    print(build_model_units(kt.HyperParameters()))
    print(build_model_more_hyperparameters(kt.HyperParameters()))
    hp = kt.HyperParameters()
    print(hp.Int("units", min_value=32, max_value=512, step=32))
    print(build_model_existing_code(kt.HyperParameters()))
    print(build_model(kt.HyperParameters()))

    # Start the search.
    tuner = kt.RandomSearch(
        hypermodel=build_model,
        objective="val_accuracy",
        max_trials=max_trials,
        executions_per_trial=executions_per_trial,
        overwrite=True,
        directory=directory,
        project_name="helloworld",
    )
    tuner.search_space_summary()

    (x, y), (x_test, y_test) = load_data()

    x_train = x[:-300]
    x_val = x[-300:]
    y_train = y[:-300]
    y_val = y[-300:]

    x_train = np.expand_dims(x_train, -1).astype("float32") / 16.0
    x_val = np.expand_dims(x_val, -1).astype("float32") / 16.0
    x_test = np.expand_dims(x_test, -1).astype("float32") / 16.0

    num_classes = 10
    y_train = keras.utils.to_categorical(y_train, num_classes)
    y_val = keras.utils.to_categorical(y_val, num_classes)
    y_test = keras.utils.to_categorical(y_test, num_classes)

    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))

    # Query the results.
    # Get the top 2 models.
    models = tuner.get_best_models(num_models=2)
    best_model = models[0]
    # Build the model.
    # Needed for `Sequential` without specified `input_shape`.
    best_model.build(input_shape=(None, 8, 8, 1))
    best_model.summary()

    tuner.results_summary()

    # Retrain the model.
    # Get the top 2 hyperparameters.
    best_hps = tuner.get_best_hyperparameters(5)
    # Build the model with the best hp.
    model = build_model(best_hps[0])
    # Fit with the entire dataset.
    x_all = np.concatenate((x_train, x_val))
    y_all = np.concatenate((y_train, y_val))
    model.fit(x=x_all, y=y_all, epochs=1)
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"Test accuracy of the retrained model: {accuracy:.4f}")
    return tuner


if __name__ == "__main__":
    main()
