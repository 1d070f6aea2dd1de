"""Tests for ``tuning.metrics_tracking``: observations, histories and the tracker."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tuning.metrics_tracking import (
    MetricHistory,
    MetricObservation,
    MetricsTracker,
    infer_metric_direction,
)


def test_an_observation_holds_one_value_per_execution():
    observation = MetricObservation(0.5, step=3)
    observation.append(1.5)
    observation.append([2.5, 3.5])

    assert observation.value == [0.5, 1.5, 2.5, 3.5]
    assert observation.step == 3
    assert observation.mean() == 2.0
    assert repr(MetricObservation(0.5, step=0)) == "MetricObservation(value=[0.5], step=0)"
    assert MetricObservation(0.5, 0) == MetricObservation([0.5], 0)
    assert MetricObservation(0.5, 0) != MetricObservation(0.5, 1)
    assert MetricObservation(0.5, 0) != (0, 0.5)
    assert MetricObservation.from_config(observation.get_config()) == observation


def test_values_at_one_step_from_several_executions_are_averaged():
    tracker = MetricsTracker()
    for step, value in [(0, 0.4), (0, 0.6), (1, 0.2), (1, 0.3), (1, 0.4)]:
        tracker.update("loss", value, step=step)

    assert tracker.get_history("loss") == [
        MetricObservation([0.4, 0.6], 0),
        MetricObservation([0.2, 0.3, 0.4], 1),
    ]
    assert tracker.get_curve("loss") == {0: pytest.approx(0.5), 1: pytest.approx(0.3)}
    assert tracker.get_value_at("loss", 1) == pytest.approx(0.3)
    assert tracker.get_value_at("loss", 7) is None
    assert tracker.get_curve("missing") == {} and tracker.get_value_at("missing", 0) is None
    assert tracker.get_last_value("loss") == pytest.approx(0.3)


def test_history_is_in_step_order_whatever_the_arrival_order():
    history = MetricHistory()
    for step, value in [(2, 0.2), (0, 0.9), (1, 0.5)]:
        history.update(value, step)

    assert [o.step for o in history.get_history()] == [0, 1, 2]
    assert history.get_curve() == {0: 0.9, 1: 0.5, 2: 0.2}
    assert history.get_last_value() == 0.2


@pytest.mark.parametrize(("direction", "best"), [("min", (2, 0.1)), ("max", (1, 0.9))])
def test_best_step_and_value_follow_the_direction(direction, best):
    history = MetricHistory(direction)
    for step, value in enumerate([0.5, 0.9, 0.1, 0.4, 0.1, 0.9]):
        history.update(value, step)

    assert (history.get_best_step(), history.get_best_value()) == best


def test_nan_is_ignored_when_looking_for_the_best():
    for direction, expected in [("min", (1, 0.3)), ("max", (3, 0.7))]:
        history = MetricHistory(direction)
        for step, value in enumerate([math.nan, 0.3, math.nan, 0.7]):
            history.update(value, step)
        assert (history.get_best_step(), history.get_best_value()) == expected

    only_nan = MetricHistory()
    only_nan.update(math.nan, 0)
    assert only_nan.get_best_value() is None and only_nan.get_best_step() is None
    empty = MetricHistory()
    assert empty.get_best_value() is None and empty.get_best_step() is None
    assert empty.get_last_value() is None and empty.get_statistics() == {}


def test_set_history_adds_observations_and_statistics_summarise_the_steps():
    tracker = MetricsTracker()
    tracker.register("score", "max")
    tracker.set_history("score", [MetricObservation(v, s) for s, v in enumerate([3.0, 1.0, 2.0])])
    tracker.set_history("latency", [MetricObservation([4.0, 6.0], 0), MetricObservation(1.0, 1)])

    assert tracker.get_best_value("score") == 3.0 and tracker.get_best_step("score") == 0
    assert tracker.get_best_value("latency") == 1.0  # registered by set_history, minimised
    assert tracker.get_statistics("score") == {
        "min": 1.0,
        "max": 3.0,
        "mean": 2.0,
        "median": 2.0,
        "var": pytest.approx(2 / 3),
        "std": pytest.approx(np.sqrt(2 / 3)),
    }
    assert tracker.get_statistics("latency")["mean"] == 3.0  # of the steps' means 5 and 1


def test_tracker_infers_a_direction_from_the_name_unless_registered():
    tracker = MetricsTracker()
    for step, (loss, accuracy, other) in enumerate([(0.9, 0.5, 3.0), (0.4, 0.8, 1.0)]):
        tracker.update("val_loss", loss, step)
        tracker.update("val_accuracy", accuracy, step)
        tracker.update("throughput", other, step)
    tracker.register("speed", "max")
    tracker.update("speed", 1.0)
    tracker.update("speed", 9.0, step=1)

    assert tracker.get_best_value("val_loss") == 0.4
    assert tracker.get_best_value("val_accuracy") == 0.8
    assert tracker.get_best_value("throughput") == 1.0  # unknown name: minimised
    assert tracker.get_best_value("speed") == 9.0
    assert tracker.exists("speed") and not tracker.exists("missing")


@pytest.mark.parametrize(
    "read",
    [
        MetricsTracker.get_history,
        MetricsTracker.get_best_value,
        MetricsTracker.get_best_step,
        MetricsTracker.get_last_value,
        MetricsTracker.get_statistics,
    ],
)
def test_reading_an_unknown_metric_names_the_known_ones(read):
    tracker = MetricsTracker()
    tracker.update("loss", 0.1)

    with pytest.raises(ValueError, match=r"Unknown metric: 'val_loss'.*\['loss'\]"):
        read(tracker, "val_loss")


def test_a_registered_metric_without_values_has_no_best_or_last_value():
    tracker = MetricsTracker()
    tracker.register("val_loss", "min")

    assert tracker.get_best_step("val_loss") is None
    assert tracker.get_best_value("val_loss") is None
    assert tracker.get_last_value("val_loss") is None


def test_a_direction_must_be_min_or_max():
    tracker = MetricsTracker()

    with pytest.raises(ValueError, match=r"Metric 'score': `direction` should be one of"):
        tracker.register("score", direction="up")
    with pytest.raises(ValueError, match="`direction` should be one of.*'wrong'"):
        MetricHistory("wrong")
    assert not tracker.exists("score")


def test_a_metric_is_registered_once():
    tracker = MetricsTracker()
    tracker.update("latency", 1.0, 0)

    with pytest.raises(ValueError, match="Metric already exists: 'latency'"):
        tracker.register("latency", "max")
    assert tracker.metrics["latency"].direction == "min"
    assert tracker.get_history("latency") == [MetricObservation(1.0, 0)]


def test_metrics_given_to_the_tracker_are_registered_under_their_names():
    def top_5_accuracy(y_true, y_pred):
        return y_pred

    class Latency:
        name = "latency"

    tracker = MetricsTracker(metrics=["val_auc", top_5_accuracy, Latency()])

    assert {name: h.direction for name, h in tracker.metrics.items()} == {
        "val_auc": "max",
        "top_5_accuracy": "max",
        "latency": "min",
    }
    with pytest.raises(TypeError, match="metric name.*got 3"):
        MetricsTracker(metrics=[3])


def test_directions_of_keras_metrics_losses_and_functions():
    keras = pytest.importorskip("keras")
    metrics, losses = keras.metrics, keras.losses

    class MyMetric(metrics.Metric):
        def update_state(self, y_true, y_pred):
            return None

        def result(self):
            return 1.0

    assert infer_metric_direction(metrics.FalsePositives()) == "min"
    assert infer_metric_direction(losses.CategoricalCrossentropy()) == "min"
    assert infer_metric_direction(losses.hinge) == "min"
    assert infer_metric_direction(metrics.Precision()) == "max"
    assert infer_metric_direction(metrics.categorical_accuracy) == "max"
    assert infer_metric_direction(MyMetric()) is None
    tracker = MetricsTracker(metrics=[metrics.CategoricalAccuracy(), metrics.MeanSquaredError()])
    assert {name: h.direction for name, h in tracker.metrics.items()} == {
        "categorical_accuracy": "max",
        "mean_squared_error": "min",
    }


def test_tracker_round_trips_through_json():
    tracker = MetricsTracker()
    tracker.register("score", "max")
    tracker.update("score", 10, step=1)
    tracker.update("score", 20, step=1)
    tracker.update("score", 30, step=2)
    tracker.update("val_loss", 0.5, step=0)

    config = json.loads(json.dumps(tracker.get_config()))
    restored = MetricsTracker.from_config(config)

    assert restored.get_config() == tracker.get_config()
    assert restored.metrics["score"].direction == "max"
    assert restored.get_history("score") == [
        MetricObservation([10, 20], 1),
        MetricObservation(30, 2),
    ]
