"""The digits example for search specs: a data loader and a hypermodel, by import path.

``deployments/specs/digits.yaml`` names them as ``examples/digits.py:load`` and
``examples/digits.py:build_model``; the CLI, the deployed flows and this
script's ``main`` all run the same spec. Importing this module is cheap (Keras
and scikit-learn are imported inside the functions), so validating a spec is
quick.

    hyperflow search deployments/specs/digits.yaml
    python examples/digits.py --max-trials 3 --epochs 2
"""

from __future__ import annotations

import argparse
from typing import Any

import tuning as kt

__all__ = ["build_model", "load", "main"]


def load() -> tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]:
    """scikit-learn's 8x8 digits, split 60/20/20 into train, validation and held-out test.

    Returns:
        ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``, pixels
        scaled to [0, 1] as float32; the same split on every call.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=0.25, random_state=0, stratify=y_rest
    )
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def build_model(hp: kt.HyperParameters) -> Any:
    """A small dense classifier for the 64 pixels; tunes width, depth, dropout and learning rate."""
    import keras

    model = keras.Sequential([keras.Input(shape=(64,))])
    for i in range(hp.Int("num_layers", 1, 2)):
        model.add(keras.layers.Dense(hp.Int(f"units_{i}", 16, 128, step=16), activation="relu"))
    if hp.Boolean("dropout"):
        model.add(keras.layers.Dropout(0.2))
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(
    max_trials: int = 5,
    epochs: int = 3,
    directory: str = "hyperflow_results",
    project_name: str = "digits",
) -> dict[str, Any]:
    """Runs the digits spec as ``hyperflow search`` would, then retrains the best model.

    Args:
        max_trials: Trials of the Bayesian search.
        epochs: Epochs per trial.
        directory: Where the MLflow store goes.
        project_name: The project (MLflow experiment and registered model).

    Returns:
        The retrain flow's result: the registered version and whether it is champion.
    """
    from pathlib import Path

    from flows.retrain import retrain_flow
    from flows.spec import SearchSpec, search_spec_flow

    here = Path(__file__).resolve()
    spec = SearchSpec(
        project_name=project_name,
        hypermodel=f"{here}:build_model",
        data=f"{here}:load",
        tuner="BayesianOptimization",
        max_trials=max_trials,
        epochs=epochs,
        directory=directory,
        verbose=0,
    )
    summary = search_spec_flow(spec)
    print(f"Best trial {summary['best_trial_id']}: val_accuracy {summary['best_score']:.4f}")
    result = retrain_flow(project_name=project_name, directory=directory)
    print(
        f"Registered {project_name} version {result['version']}: test {result['metric']} "
        f"{result['score']:.4f}; champion: version {result['champion_version']}"
    )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-trials", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--directory", default="hyperflow_results")
    parser.add_argument("--project-name", default="digits")
    args = parser.parse_args()
    main(args.max_trials, args.epochs, args.directory, args.project_name)
