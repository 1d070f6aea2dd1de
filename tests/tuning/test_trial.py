"""Tests for ``tuning.trial``: metric tracking and the trial's JSON state."""

from __future__ import annotations

import json
import math

import pytest

from tuning.hyperparameters import HyperParameters
from tuning.trial import MetricHistory, MetricsTracker, Trial, TrialStatus


def test_values_at_one_step_from_several_executions_are_averaged():
    tracker = MetricsTracker()
    tracker.update("loss", 0.4, step=0)
    tracker.update("loss", 0.6, step=0)
    tracker.update("loss", 0.2, step=1)
    tracker.update("loss", 0.3, step=1)
    tracker.update("loss", 0.4, step=1)

    steps, means = zip(*tracker.get_history("loss"), strict=True)
    assert steps == (0, 1)
    assert means == pytest.approx((0.5, 0.3))
    assert tracker.get_value_at("loss", 1) == pytest.approx(0.3)
    assert tracker.get_value_at("loss", 7) is None
    assert tracker.get_last_value("loss") == pytest.approx(0.3)


def test_history_is_in_step_order_whatever_the_arrival_order():
    history = MetricHistory()
    for step, value in [(2, 0.2), (0, 0.9), (1, 0.5)]:
        history.update(value, step)

    assert history.get_history() == [(0, 0.9), (1, 0.5), (2, 0.2)]
    assert history.last_value() == 0.2


@pytest.mark.parametrize(
    ("direction", "best"),
    [("min", (2, 0.1)), ("max", (1, 0.9))],
)
def test_best_step_and_value_follow_the_direction(direction, best):
    history = MetricHistory(direction)
    for step, value in enumerate([0.5, 0.9, 0.1, 0.4]):
        history.update(value, step)

    assert history.best() == best
    assert history.best_value() == best[1]


def test_nan_is_ignored_when_looking_for_the_best():
    for direction, expected in [("min", 0.3), ("max", 0.7)]:
        history = MetricHistory(direction)
        for step, value in enumerate([math.nan, 0.3, math.nan, 0.7]):
            history.update(value, step)
        assert history.best_value() == expected

    only_nan = MetricHistory()
    only_nan.update(math.nan, 0)
    assert only_nan.best() is None
    assert MetricHistory().best() is None
    assert MetricHistory().last_value() is None


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
    assert tracker.get_best_value("missing") is None
    assert tracker.exists("speed") and not tracker.exists("missing")
    assert tracker.get_history("missing") == []


def test_register_after_values_changes_only_the_direction():
    tracker = MetricsTracker()
    tracker.update("score", 1.0, 0)
    tracker.update("score", 2.0, 1)

    tracker.register("score", "min")

    assert tracker.get_best_value("score") == 1.0
    assert tracker.get_history("score") == [(0, 1.0), (1, 2.0)]


def test_trial_state_round_trips_through_json():
    hp = HyperParameters()
    hp.Int("units", 8, 64, step=8)
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "cnn"):
        hp.Int("filters", 8, 32)
    hp.values = {"units": 24, "model": "mlp"}
    trial = Trial(hp, trial_id="03", status=TrialStatus.COMPLETED, message="ok")
    trial.metrics.register("val_loss", "min")
    for step, value in [(0, 0.9), (0, 0.7), (1, 0.5), (2, math.nan)]:
        trial.metrics.update("val_loss", value, step)
    trial.metrics.update("val_accuracy", 0.6, 1)
    trial.score, trial.best_step = 0.5, 1

    state = json.loads(json.dumps(trial.get_state()))
    restored = Trial.from_state(state)

    assert restored.trial_id == "03"
    assert restored.status is TrialStatus.COMPLETED
    assert restored.message == "ok"
    assert (restored.score, restored.best_step) == (0.5, 1)
    assert restored.values == {"units": 24, "model": "mlp"}
    assert restored.hyperparameters.get_config() == hp.get_config()
    assert restored.metrics.get_value_at("val_loss", 0) == pytest.approx(0.8)
    assert restored.metrics.get_value_at("val_loss", 1) == pytest.approx(0.5)
    assert math.isnan(restored.metrics.get_value_at("val_loss", 2))
    assert restored.metrics.get_best_value("val_loss") == 0.5
    assert restored.metrics.get_best_value("val_accuracy") == 0.6
    assert restored.get_state() == trial.get_state() | {"metrics": state["metrics"]}
    assert json.dumps(restored.get_state(), sort_keys=True) == json.dumps(
        trial.get_state(), sort_keys=True
    )


def test_a_new_trial_is_running_and_unscored():
    trial = Trial(HyperParameters(), trial_id="00")

    assert trial.status is TrialStatus.RUNNING
    assert trial.score is None and trial.best_step is None
    assert trial.values == {}


def test_status_accepts_its_string_value():
    trial = Trial(HyperParameters(), status="FAILED")

    assert trial.status is TrialStatus.FAILED
    assert str(TrialStatus.IDLE) == "IDLE"
    assert TrialStatus.INVALID.is_finished and not TrialStatus.RUNNING.is_finished
    with pytest.raises(ValueError):
        Trial(HyperParameters(), status="DONE")


def test_summary_lists_values_and_score():
    hp = HyperParameters()
    hp.Int("units", 8, 64, default=16)
    trial = Trial(hp, trial_id="05")
    trial.score = 0.25

    assert trial.summary() == "Trial 05 summary\nHyperparameters:\nunits: 16\nScore: 0.25"
