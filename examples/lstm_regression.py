"""A Conv1D + LSTM regressor tuned on ``val_loss`` with ``seed=42``, then retrained.

Follows seed 000 (``Hyperparameter tuning(调优)``), its last example: a
time-series model (``Conv1D`` → ``LSTM`` → ``Dense``) over windows of 12 steps,
whose filters, kernel size and units are tuned by a seeded ``RandomSearch`` on
``val_loss`` (``shuffle=False``); the best hyperparameters are printed and the
best model is recompiled and trained again on the training set.

Changes from the seed: ``from tuning import ...`` instead of ``keras_tuner`` /
``kerastuner``; the data are a generated series (two seasonal waves, a trend
and noise, scaled to [0, 1] with ``MinMaxScaler``) cut into windows of 12 with
the next value as target; ``from keras.losses import mse`` becomes
``mean_squared_error as mse`` and the unused ``from keras.metrics import MSE``
is dropped (Keras 3 removed both aliases); the seed's last line
``model.summary()`` names an undefined ``model`` and is ``best_model.summary()``
here; the results go under ``directory`` (project ``cnn_lstm``) instead of
``cnn-lstn/my_project``; 10 trials x 70 epochs become 5 x 10 by default.

    python examples/lstm_regression.py
"""

from __future__ import annotations

import numpy as np
from keras import layers
from keras.activations import leaky_relu
from keras.losses import mean_squared_error as mse
from keras.models import Model
from sklearn.preprocessing import MinMaxScaler

from tuning import HyperParameters, RandomSearch

WINDOW = 12


# The model-building function.
def build_model(hp: HyperParameters) -> Model:
    inputs = layers.Input(shape=(12, 1))
    x = layers.Conv1D(
        filters=hp.Int("units", min_value=8, max_value=32, step=8),
        kernel_size=hp.Int("kernel", min_value=2, max_value=4, step=1),
    )(inputs)
    x = layers.Dropout(0.2)(x)
    x = layers.LSTM(hp.Int("units", min_value=8, max_value=64, step=16))(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(hp.Int("units", min_value=8, max_value=32, step=8), activation=leaky_relu)(x)
    output = layers.Dense(1, activation="relu")(x)

    model = Model(inputs, output)
    model.compile(optimizer="rmsprop", loss=mse)
    return model


def make_series(n: int = 600, seed: int = 0) -> np.ndarray:
    """A positive, seasonal series with a trend and noise, scaled to [0, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype="float64")
    series = (
        10.0
        + 0.01 * t
        + 2.0 * np.sin(2 * np.pi * t / 24)
        + 1.0 * np.sin(2 * np.pi * t / 168)
        + rng.normal(0.0, 0.3, n)
    )
    return MinMaxScaler().fit_transform(series.reshape(-1, 1)).astype("float32")


def make_windows(series: np.ndarray, window: int = WINDOW) -> tuple[np.ndarray, np.ndarray]:
    """``(samples, window, 1)`` inputs and the value that follows each window."""
    data = np.stack([series[i : i + window] for i in range(len(series) - window)])
    target = series[window:]
    return data, target


def main(
    max_trials: int = 5,
    epochs: int = 10,
    directory: str = "hyperflow_results",
    n_points: int = 600,
) -> tuple[RandomSearch, Model]:
    """Tunes the regressor, prints the best values and retrains the best model.

    Args:
        max_trials: Trials the random search runs (the seed's 10).
        epochs: Epochs per trial and for the retraining (the seed's 70).
        directory: Where the MLflow store of the search goes.
        n_points: Length of the generated series.

    Returns:
        The tuner and the retrained best model.
    """
    data, target = make_windows(make_series(n_points))
    split = int(len(data) * 0.8)
    train_data, train_target = data[:split], target[:split]
    val_data, val_target = data[split:], target[split:]

    # Define the hyperparameter space.
    hp = HyperParameters()

    # Create the random search tuner.
    tuner = RandomSearch(
        build_model,
        objective="val_loss",
        max_trials=max_trials,
        hyperparameters=hp,
        directory=directory,
        project_name="cnn_lstm",
        seed=42,
    )

    # Run the search.
    tuner.search(
        train_data,
        train_target,
        epochs=epochs,
        validation_data=(val_data, val_target),
        shuffle=False,
    )

    # Get the best hyperparameters found.
    best_hyperparameters = tuner.get_best_hyperparameters()[0]
    best_units = best_hyperparameters.get("units")
    best_kernel = best_hyperparameters.get("kernel")

    print("Best Hyperparameters:")
    print("units:", best_units)
    print("kernel:", best_kernel)

    # Get the best model.
    best_model = tuner.get_best_models(num_models=1)[0]
    # Recompile the model with the best hyperparameters.
    best_model.compile(optimizer="rmsprop", loss=mse)
    # Train the model again on the whole training set.
    best_model.fit(train_data, train_target, epochs=epochs, shuffle=False)
    best_model.summary()
    return tuner, best_model


if __name__ == "__main__":
    main()
