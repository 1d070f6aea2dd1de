"""A ``HyperModel`` subclass with its own constructor, searched with several executions per trial.

Follows seed 002 (the Keras Tuner overview), section "2.3 使用方法": a
``HyperModel`` taking ``num_classes``, tuning ``units``, a ``dropout`` rate
(``hp.Float`` with a step and a default) and a ``learning_rate`` choice; a
``RandomSearch`` with ``executions_per_trial=3``; ``search_space_summary``; a
silent search (``verbose=0``) on ``validation_split=0.2``; and the best values
printed.

Changes from the seed: ``import tuning`` instead of ``kerastuner``; the seed's
undefined ``load_data()`` is scikit-learn's digits (one-hot labels, for the
categorical cross-entropy); the results go under ``directory`` (project
``helloworld_mlp``, so as not to resume ``getting_started``'s ``helloworld``)
instead of ``test_dir``; 10 trials x 30 epochs become 4 x 3 by default.

    python examples/hypermodel_subclass.py
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from tuning import HyperModel, HyperParameters, RandomSearch


class MyHyperModel(HyperModel):
    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def build(self, hp: HyperParameters) -> tf.keras.Model:
        model = tf.keras.Sequential(
            [
                tf.keras.layers.Flatten(),
                tf.keras.layers.Dense(
                    units=hp.Int("units", min_value=32, max_value=512, step=32),
                    activation="relu",
                ),
                tf.keras.layers.Dropout(
                    rate=hp.Float("dropout", min_value=0.0, max_value=0.5, default=0.2, step=0.1)
                ),
                tf.keras.layers.Dense(units=self.num_classes, activation="softmax"),
            ]
        )

        model.compile(
            optimizer=tf.keras.optimizers.Adam(
                hp.Choice("learning_rate", values=[1e-2, 1e-3, 1e-4])
            ),
            loss="categorical_crossentropy",
            metrics=["accuracy"],
        )

        return model


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as ``train_data, test_data, train_labels, test_labels`` (one-hot labels)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")
    y = tf.keras.utils.to_categorical(digits.target, 10)
    return train_test_split(x, y, test_size=0.2, random_state=0)


def main(
    max_trials: int = 4,
    epochs: int = 3,
    executions_per_trial: int = 3,
    directory: str = "hyperflow_results",
) -> RandomSearch:
    """Runs the seed's search and prints the best values.

    Args:
        max_trials: Trials the random search runs (the seed's 10).
        epochs: Epochs per model (the seed's 30).
        executions_per_trial: Models trained per trial (the seed's 3).
        directory: Where the MLflow store of the search goes.

    Returns:
        The tuner, its search finished.
    """
    train_data, test_data, train_labels, test_labels = load_data()  # load the data

    tuner = RandomSearch(
        hypermodel=MyHyperModel(num_classes=10),
        objective="val_accuracy",
        max_trials=max_trials,
        executions_per_trial=executions_per_trial,
        directory=directory,
        project_name="helloworld_mlp",
    )

    tuner.search_space_summary()  # print a summary of the search space

    # search the hyperparameter combinations
    tuner.search(x=train_data, y=train_labels, epochs=epochs, validation_split=0.2, verbose=0)

    best_hps = tuner.get_best_hyperparameters()[0]  # the best combination found

    print(
        f"""
The hyperparameter search is complete. The optimal number of units in the first dense layer is {best_hps.values["units"]},
the dropout rate is {best_hps.values["dropout"]}, and the learning rate is {best_hps.values["learning_rate"]}."""  # noqa: E501
    )
    return tuner


if __name__ == "__main__":
    main()
