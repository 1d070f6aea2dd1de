"""Choose what the search optimises: built-in and custom metrics, or ``fit``'s return value.

Follows seed 001 (``KerasTuner 入门``), section "指定 tune 目标": a built-in
metric as ``Objective("val_mean_absolute_error", direction="min")``, a custom
``keras.metrics.Metric`` as ``Objective("val_custom_metric", direction="min")``,
``HyperModel.fit`` returning a single float (minimised, no objective given) and
returning a dict of metrics with ``Objective("metric_a", "max")``.

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
the results go under ``directory`` instead of ``my_dir``; ``epochs`` is passed
to ``search`` (the seed relies on ``fit``'s default of 1). The data are the
seed's own random arrays.

    python examples/custom_objective.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers

import tuning as kt

# A built-in metric as the objective ----------------------------------------------------


def build_regressor(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential(
        [
            layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
            layers.Dense(units=1),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="mean_squared_error",
        # Objective is one of the metrics.
        metrics=[keras.metrics.MeanAbsoluteError()],
    )
    return model


# A custom metric as the objective ------------------------------------------------------


class CustomMetric(keras.metrics.Metric):
    def __init__(self, **kwargs: Any) -> None:
        # Specify the name of the metric as "custom_metric".
        super().__init__(name="custom_metric", **kwargs)
        self.sum = self.add_weight(name="sum", initializer="zeros")
        self.count = self.add_weight(name="count", dtype=tf.int32, initializer="zeros")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values = tf.math.squared_difference(y_pred, y_true)
        count = tf.shape(y_true)[0]
        if sample_weight is not None:
            sample_weight = tf.cast(sample_weight, self.dtype)
            values *= sample_weight
            count *= sample_weight
        self.sum.assign_add(tf.reduce_sum(values))
        self.count.assign_add(count)

    def result(self) -> Any:
        return self.sum / tf.cast(self.count, tf.float32)

    def reset_states(self) -> None:
        self.sum.assign(0)
        self.count.assign(0)


def build_regressor_custom_metric(hp: kt.HyperParameters) -> keras.Model:
    model = keras.Sequential(
        [
            layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
            layers.Dense(units=1),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="mean_squared_error",
        # Put custom metric into the metrics.
        metrics=[CustomMetric()],
    )
    return model


# fit() returns the objective -----------------------------------------------------------


class HyperRegressor(kt.HyperModel):
    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
                layers.Dense(units=1),
            ]
        )
        model.compile(
            optimizer="adam",
            loss="mean_squared_error",
        )
        return model

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        x: Any,
        y: Any,
        validation_data: Any,
        **kwargs: Any,
    ) -> float:
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        y_pred = model.predict(x_val)
        # Return a single float to minimize.
        return np.mean(np.abs(y_pred - y_val))


class HyperRegressorDict(kt.HyperModel):
    def build(self, hp: kt.HyperParameters) -> keras.Model:
        model = keras.Sequential(
            [
                layers.Dense(units=hp.Int("units", 32, 128, 32), activation="relu"),
                layers.Dense(units=1),
            ]
        )
        model.compile(
            optimizer="adam",
            loss="mean_squared_error",
        )
        return model

    def fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        x: Any,
        y: Any,
        validation_data: Any,
        **kwargs: Any,
    ) -> dict[str, float]:
        model.fit(x, y, **kwargs)
        x_val, y_val = validation_data
        y_pred = model.predict(x_val)
        # Return a dictionary of metrics for KerasTuner to track.
        return {
            "metric_a": -np.mean(np.abs(y_pred - y_val)),
            "metric_b": np.mean(np.square(y_pred - y_val)),
        }


def main(
    max_trials: int = 3, epochs: int = 1, directory: str = "hyperflow_results"
) -> dict[str, kt.Tuner]:
    """Runs the seed's four searches, one per way of stating the objective.

    Args:
        max_trials: Trials each random search runs (the seed's 3).
        epochs: Epochs per model (the seed's default of 1).
        directory: Where the MLflow store of the searches goes.

    Returns:
        The four tuners by project name, their searches finished.
    """
    tuners: dict[str, kt.Tuner] = {}

    tuner = kt.RandomSearch(
        hypermodel=build_regressor,
        # The objective name and direction.
        # Name is the f"val_{snake_case_metric_class_name}".
        objective=kt.Objective("val_mean_absolute_error", direction="min"),
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="built_in_metrics",
    )
    tuner.search(
        x=np.random.rand(100, 10),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(20, 10), np.random.rand(20, 1)),
        epochs=epochs,
    )
    tuner.results_summary()
    tuners["built_in_metrics"] = tuner

    tuner = kt.RandomSearch(
        hypermodel=build_regressor_custom_metric,
        # Specify the name and direction of the objective.
        objective=kt.Objective("val_custom_metric", direction="min"),
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="custom_metrics",
    )
    tuner.search(
        x=np.random.rand(100, 10),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(20, 10), np.random.rand(20, 1)),
        epochs=epochs,
    )
    tuner.results_summary()
    tuners["custom_metrics"] = tuner

    tuner = kt.RandomSearch(
        hypermodel=HyperRegressor(),
        # No objective to specify.
        # Objective is the return value of `HyperModel.fit()`.
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="custom_eval",
    )
    tuner.search(
        x=np.random.rand(100, 10),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(20, 10), np.random.rand(20, 1)),
        epochs=epochs,
    )
    tuner.results_summary()
    tuners["custom_eval"] = tuner

    tuner = kt.RandomSearch(
        hypermodel=HyperRegressorDict(),
        # Objective is one of the keys.
        # Maximize the negative MAE, equivalent to minimize MAE.
        objective=kt.Objective("metric_a", "max"),
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="custom_eval_dict",
    )
    tuner.search(
        x=np.random.rand(100, 10),
        y=np.random.rand(100, 1),
        validation_data=(np.random.rand(20, 10), np.random.rand(20, 1)),
        epochs=epochs,
    )
    tuner.results_summary()
    tuners["custom_eval_dict"] = tuner
    return tuners


if __name__ == "__main__":
    main()
