"""Tiny data and models shared by the flow tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np


def digits(n: int = 240) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A small slice of scikit-learn's digits: ``(x_train, y_train), (x_val, y_val)``."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data[:n] / 16.0).astype("float32")
    y = data.target[:n]
    split = n * 3 // 4
    return (x[:split], y[:split]), (x[split:], y[split:])


def build_dense(hp):
    """A one-hidden-layer classifier for 8x8 digits."""
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8), activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 3e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def store_client(directory):
    """An MLflow client of a search's SQLite store in ``directory``, safe beside the search.

    MLflow creates a new database's tables when a client is made, and two
    processes doing it at once fail ("table ... already exists"), the search
    included. The client is made under the store's own init lock, as the
    search's is.
    """
    from mlflow.tracking import MlflowClient

    from tuning.store._sqlite import init_lock, sqlite_path
    from tuning.store.connection import resolve_tracking_uri

    uri = resolve_tracking_uri(directory)
    with init_lock(sqlite_path(uri)):  # the client creates the tables as it is made
        return MlflowClient(tracking_uri=uri)


def start_script(script: Path, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """Runs ``script`` in a new interpreter with its output in ``log`` (see ``ended_early``)."""
    with open(log, "wb") as output:
        return subprocess.Popen(
            [sys.executable, str(script), *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def ended_early(process: subprocess.Popen, log: Path) -> str:
    """What a script that should still be running left in its log, for an assertion message."""
    return f"the script ended (exit {process.returncode}) early:\n{log.read_text()[-3000:]}"
