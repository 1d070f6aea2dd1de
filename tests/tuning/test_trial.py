"""Tests for ``tuning.trial``: a trial's status, JSON state and summary."""

from __future__ import annotations

import json
import math

import pytest

from tuning.hyperparameters import HyperParameters
from tuning.trial import Trial, TrialStatus


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


def test_summary_prints_values_and_score(capsys):
    hp = HyperParameters()
    hp.Int("units", 8, 64, default=16)
    trial = Trial(hp, trial_id="05")
    trial.score = 0.25

    assert trial.summary() is None
    assert capsys.readouterr().out == "Trial 05 summary\nHyperparameters:\nunits: 16\nScore: 0.25\n"


def test_summary_of_a_failed_trial_ends_with_its_error(capsys):
    error = "Traceback (most recent call last):\n  ...\nValueError: bad units\n"
    trial = Trial(HyperParameters(), trial_id="3", status=TrialStatus.FAILED, message=error)

    trial.summary()

    assert capsys.readouterr().out == (
        f"Trial 3 summary\nHyperparameters:\ndefault configuration\n{error}\n"
    )
