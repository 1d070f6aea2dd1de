"""Keep Keras code separate: tune unchanged model code from ``Tuner.run_trial``.

Follows seed 001 (``KerasTuner 入门``), section "Tune end-to-end workflows" /
"Keep Keras code separate": ``keras_code(units, optimizer, saving_path)``
builds, trains, saves and evaluates a model; a ``RandomSearch`` subclass calls
it with the trial's values and saves each trial's model under a path made from
``trial.trial_id``; the best values retrain the model at the end.

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
the results go under ``directory`` instead of ``my_dir``; the models are saved
as ``<directory>/keep_code_separate/<trial_id>.keras`` (the tuner's
``project_dir``; and ``best_model.keras``) instead of ``/tmp/<trial_id>``, because Keras 3's
``model.save`` needs a ``.keras`` (or ``.h5``) extension.

    python examples/keep_keras_code_separate.py
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from tensorflow import keras
from tensorflow.keras import layers

import tuning as kt


def keras_code(units: int, optimizer: str, saving_path: str) -> float:
    # Build model
    model = keras.Sequential(
        [
            layers.Dense(units=units, activation="relu"),
            layers.Dense(units=1),
        ]
    )
    model.compile(
        optimizer=optimizer,
        loss="mean_squared_error",
    )

    # Prepare data
    x_train = np.random.rand(100, 10)
    y_train = np.random.rand(100, 1)
    x_val = np.random.rand(20, 10)
    y_val = np.random.rand(20, 1)

    # Train & eval model
    model.fit(x_train, y_train)

    # Save model
    model.save(saving_path)

    # Return a single float as the objective value.
    # You may also return a dictionary
    # of {metric_name: metric_value}.
    y_pred = model.predict(x_val)
    return np.mean(np.abs(y_pred - y_val))


class MyTuner(kt.RandomSearch):
    def run_trial(self, trial: kt.Trial, **kwargs: Any) -> float:
        hp = trial.hyperparameters
        return keras_code(
            units=hp.Int("units", 32, 128, 32),
            optimizer=hp.Choice("optimizer", ["adam", "adadelta"]),
            saving_path=os.path.join(self.project_dir, f"{trial.trial_id}.keras"),
        )


def main(max_trials: int = 3, directory: str = "hyperflow_results") -> MyTuner:
    """Tunes ``keras_code``'s ``units`` and ``optimizer``, then retrains with the best.

    Args:
        max_trials: Trials the random search runs (the seed's 3).
        directory: Where the MLflow store and the saved models go.

    Returns:
        The tuner, its search finished.
    """
    tuner = MyTuner(
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="keep_code_separate",
    )
    os.makedirs(tuner.project_dir, exist_ok=True)
    tuner.search()
    # Retraining the model
    best_hp = tuner.get_best_hyperparameters()[0]
    print(
        keras_code(
            **best_hp.values, saving_path=os.path.join(tuner.project_dir, "best_model.keras")
        )
    )
    return tuner


if __name__ == "__main__":
    main()
