"""The building blocks: Tuners, HyperModel, HyperParameters and Trials, one example each.

Follows seed 000 (``Hyperparameter tuning(调优)``), its four module examples:
"1. Tuners - 随机搜索示例" (``RandomSearch`` with a search space declared in
advance, best model and hyperparameters), "2. HyperModel - 自定义模型结构示例"
(a ``HyperModel`` subclass with a constructor argument, its ``build`` passed to
the tuner), "3. HyperParameters - 定义超参数空间示例" (a model built and trained
from a bare ``HyperParameters``, no tuner) and "4. Trials - 跟踪搜索结果和配置示例"
(reading every trial's values and metrics back).

Changes from the seed: ``import tuning as kt`` / ``from tuning import ...``
instead of ``kerastuner``; ``kerastuner.engine.hyperparameters.HyperParameters``
is ``kt.HyperParameters``; MNIST replaced by scikit-learn's digits (flattened
to 64 features); the results go under ``directory`` instead of ``my_dir``, and
example 2 uses the project ``my_hypermodel_project`` so that it does not resume
example 1's ``my_project``. Example 4 uses the same project as example 1, so its
tuner resumes that finished search (``overwrite=False``) and ``search`` returns
at once. The seed's example 4 reads ``tuner.oracle.get_state().trials``, which
fails in KerasTuner too (``get_state()`` returns a dict): the trials are
``tuner.oracle.trials``, a dict from trial id to ``Trial``.

    python examples/building_blocks.py
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits
from tensorflow import keras

import tuning as kt
from tuning import HyperModel, HyperParameters, RandomSearch


# 1. Tuners: random search ----------------------------------------------------------------
# Define the model-building function.
def build_model(hp: HyperParameters) -> keras.Model:
    model = keras.Sequential()
    model.add(
        keras.layers.Dense(
            units=hp.Int("units", min_value=32, max_value=512, step=32), activation="relu"
        )
    )
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def tuners_example(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    max_trials: int,
    epochs: int,
    directory: str,
) -> RandomSearch:
    # Define the search space.
    hyperparameters = kt.HyperParameters()
    hyperparameters.Int("units", min_value=32, max_value=512, step=32)

    # Define the random search tuner.
    tuner = RandomSearch(
        build_model,
        objective="val_accuracy",
        max_trials=max_trials,
        hyperparameters=hyperparameters,
        directory=directory,  # optional: where the search results are saved
        project_name="my_project",  # optional: the name of the search project
    )

    # Run the search.
    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))

    # Get the best model and hyperparameters found.
    best_model = tuner.get_best_models(num_models=1)[0]
    best_hyperparameters = tuner.get_best_hyperparameters(num_trials=1)[0]

    # Print the best model and hyperparameters.
    print("Best Model:")
    print(best_model.summary())
    print("Best Hyperparameters:")
    print(best_hyperparameters.values)
    return tuner


# 2. HyperModel: a custom model class -------------------------------------------------------
# Define a custom HyperModel class.
class MyHyperModel(HyperModel):
    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes

    def build(self, hp: HyperParameters) -> keras.Model:
        model = keras.Sequential()
        model.add(
            keras.layers.Dense(
                units=hp.Int("units", min_value=32, max_value=512, step=32), activation="relu"
            )
        )
        model.add(keras.layers.Dense(self.num_classes, activation="softmax"))
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model


def hypermodel_example(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    max_trials: int,
    epochs: int,
    directory: str,
) -> RandomSearch:
    # Create the custom HyperModel.
    hypermodel = MyHyperModel(num_classes=10)

    # Define the random search tuner with the custom HyperModel.
    tuner = RandomSearch(
        hypermodel.build,
        objective="val_accuracy",
        max_trials=max_trials,
        directory=directory,
        project_name="my_hypermodel_project",
    )

    # Run the search.
    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))

    # Get the best model and hyperparameters found.
    best_model = tuner.get_best_models(num_models=1)[0]
    best_hyperparameters = tuner.get_best_hyperparameters(num_trials=1)[0]

    # Print the best model and hyperparameters.
    print("Best Model:")
    print(best_model.summary())
    print("Best Hyperparameters:")
    print(best_hyperparameters.values)
    return tuner


# 3. HyperParameters: define a search space --------------------------------------------------
def hyperparameters_example(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, epochs: int
) -> keras.Model:
    # Define the search space.
    hyperparameters = HyperParameters()
    hyperparameters.Int("units", min_value=32, max_value=512, step=32)

    # Build a model with the search space.
    model = keras.Sequential()
    model.add(
        keras.layers.Dense(
            units=hyperparameters.Int("units", min_value=32, max_value=512, step=32),
            activation="relu",
        )
    )
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    # Train the model.
    model.fit(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))
    return model


# 4. Trials: follow the search's results and configurations ----------------------------------
def trials_example(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    max_trials: int,
    epochs: int,
    directory: str,
) -> RandomSearch:
    # Create the random search tuner.
    tuner = RandomSearch(
        build_model,
        objective="val_accuracy",
        max_trials=max_trials,
        directory=directory,
        project_name="my_project",
    )

    # Run the search.
    tuner.search(x_train, y_train, epochs=epochs, validation_data=(x_val, y_val))

    # Get the trials found by the search, to follow their results and configurations.
    trials = tuner.oracle.trials

    # Print each trial's hyperparameters and results.
    for trial in trials.values():
        print("Trial ID:", trial.trial_id)
        print("Hyperparameters:", trial.hyperparameters.values)
        print("Metrics:", trial.metrics)
        print("---")
    return tuner


def main(
    max_trials: int = 3, epochs: int = 3, directory: str = "hyperflow_results"
) -> dict[str, object]:
    """Runs the seed's four building-block examples in turn.

    Args:
        max_trials: Trials each random search runs (the seed's 10).
        epochs: Epochs per model (the seed's 10).
        directory: Where the MLflow store of the searches goes.

    Returns:
        ``tuners``, ``hypermodel``, ``hyperparameters`` and ``trials``: what
        each example made (three tuners and a trained model).
    """
    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    y = digits.target
    x_train, y_train, x_val, y_val = x[:-400], y[:-400], x[-400:], y[-400:]
    data = (x_train, y_train, x_val, y_val)
    return {
        "tuners": tuners_example(*data, max_trials, epochs, directory),
        "hypermodel": hypermodel_example(*data, max_trials, epochs, directory),
        "hyperparameters": hyperparameters_example(*data, epochs),
        "trials": trials_example(*data, max_trials, epochs, directory),
    }


if __name__ == "__main__":
    main()
