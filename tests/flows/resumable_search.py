"""A Keras search of one 6-epoch trial that a test runs as a subprocess and kills mid-trial.

``python resumable_search.py DIR`` trains until the trial begins its fourth
epoch (its first three saved), then waits there to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import keras

import tuning as kt
from tests.flows.helpers import build_dense, digits

EPOCHS = 6


class EpochLog(keras.callbacks.Callback):
    """Appends each epoch the model begins to train to a file; may wait at one, forever."""

    def __init__(self, path: str, wait_at: int | None = None) -> None:
        super().__init__()
        self.path, self.wait_at = path, wait_at

    def on_epoch_begin(self, epoch, logs=None):
        with open(self.path, "a") as file:
            file.write(f"{epoch}\n")
        if epoch == self.wait_at:
            time.sleep(3600)


def make_tuner(directory: str) -> kt.Tuner:
    return kt.RandomSearch(
        build_dense,
        objective="val_accuracy",
        max_trials=1,
        seed=5,
        directory=directory,
        project_name="resumed",
        checkpoint_every=1,
    )


def search(tuner: kt.Tuner, log: EpochLog) -> None:
    (x, y), validation = digits()
    tuner.search(x, y, epochs=EPOCHS, validation_data=validation, callbacks=[log], verbose=0)


def epochs_trained(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


if __name__ == "__main__":
    directory = sys.argv[1]
    search(make_tuner(directory), EpochLog(str(Path(directory) / "first.txt"), wait_at=3))
