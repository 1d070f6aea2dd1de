"""Quickstart: KerasTuner's getting-started search on scikit-learn's digits.

Runs on embedded defaults: Prefect's temporary local API and MLflow on SQLite
under ``--directory``. Then look at the trials in the MLflow UI (the command
is printed at the end).

    python examples/quickstart.py --max-trials 5 --epochs 3
"""

from __future__ import annotations

import argparse
import os

import keras
from keras import layers
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import tuning as kt


def build_model(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential([keras.Input(shape=(64,))])
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                units=hp.Int(f"units_{i}", min_value=32, max_value=256, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(
    max_trials: int = 5,
    epochs: int = 3,
    directory: str = "hyperflow_results",
    project_name: str = "quickstart",
) -> kt.Tuner:
    """Runs the quickstart search and evaluates its best model.

    Args:
        max_trials: Trials the random search runs.
        epochs: Epochs per trial.
        directory: Where the MLflow store of the search goes.
        project_name: The MLflow experiment (and Prefect flow run name).

    Returns:
        The tuner, its search finished.
    """
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = train_test_split(
        x, digits.target, test_size=0.25, random_state=0
    )

    tuner = kt.RandomSearch(
        hypermodel=build_model,
        objective="val_accuracy",
        max_trials=max_trials,
        executions_per_trial=1,
        overwrite=True,
        directory=directory,
        project_name=project_name,
        seed=1,
    )
    tuner.search_space_summary()
    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val), verbose=2)
    tuner.results_summary(num_trials=3)

    best_model = tuner.get_best_models(num_models=1)[0]
    loss, accuracy = best_model.evaluate(x_val, y_val, verbose=0)
    print(f"\nBest model's validation accuracy: {accuracy:.4f}")
    store = os.path.join(os.path.abspath(directory), "mlflow.db")
    print("\nCompare the trials in the MLflow UI:")
    print(f"  mlflow ui --backend-store-uri sqlite:///{store} --host 127.0.0.1 --port 5000")
    return tuner


def cli() -> None:
    """``python examples/quickstart.py --max-trials 5 --epochs 3``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--directory", default="hyperflow_results")
    parser.add_argument("--project-name", default="quickstart")
    args = parser.parse_args()
    main(
        max_trials=args.max_trials,
        epochs=args.epochs,
        directory=args.directory,
        project_name=args.project_name,
    )


if __name__ == "__main__":
    cli()
