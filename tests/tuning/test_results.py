"""What a trial returns, made uniform, and scored the way KerasTuner scores it."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import tuning as kt
from tuning.objective import DefaultObjective, best_point
from tuning.results import (
    Execution,
    aggregate,
    convert_to_metrics_dict,
    get_best_step,
    to_executions,
    validate_trial_results,
)

LOSS = kt.Objective("val_loss", "min")


def history(values: dict[str, list[float]]) -> SimpleNamespace:
    """What ``model.fit`` returns, as far as scoring is concerned."""
    count = len(next(iter(values.values())))
    return SimpleNamespace(history=values, epoch=list(range(count)))


def test_every_kind_of_return_value_becomes_executions():
    as_history = to_executions(history({"val_loss": [0.5, 0.4]}), LOSS)
    as_dict = to_executions({"val_loss": 0.3, "acc": np.float32(0.9)}, LOSS)
    as_number = to_executions(0.2, LOSS)
    as_list = to_executions([0.2, {"val_loss": 0.1}], LOSS)

    assert as_history == [Execution([0, 1], {"val_loss": [0.5, 0.4]})]
    assert as_dict == [Execution([0], {"val_loss": [0.3], "acc": [pytest.approx(0.9)]})]
    assert as_number == [Execution([0], {"val_loss": [0.2]})]
    assert [e.metrics["val_loss"] for e in as_list] == [[0.2], [0.1]]


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (None, "returned None"),
        ([], "empty list"),
        ("0.3", "must return a number"),
        ({"val_loss": True}, "must be a number"),
    ],
)
def test_what_carries_no_metric_is_a_fatal_error(returned, message):
    with pytest.raises(kt.FatalTypeError, match=message):
        to_executions(returned, LOSS)


def test_the_score_is_the_mean_of_each_executions_best_value_and_step():
    executions = [
        Execution([0, 1, 2], {"val_loss": [0.5, 0.2, 0.3]}),  # best at step 1
        Execution([0, 1, 2], {"val_loss": [0.6, 0.5, 0.4]}),  # best at step 2
    ]

    evaluation = aggregate(executions, LOSS)

    assert evaluation.score == pytest.approx(0.3)
    assert evaluation.best_step == 1  # the mean 1.5, truncated as KerasTuner does
    assert evaluation.curve[1] == {"val_loss": pytest.approx(0.35)}


def test_nan_values_are_skipped_and_an_all_nan_execution_scores_nan():
    partly = aggregate([Execution([0, 1], {"val_loss": [math.nan, 0.7]})], LOSS)
    wholly = aggregate([Execution([0, 1], {"val_loss": [math.nan, math.nan]})], LOSS)

    assert (partly.score, partly.best_step) == (0.7, 1)
    assert math.isnan(wholly.score) and wholly.best_step == 1


def test_an_objective_the_trial_did_not_report_is_a_fatal_error_naming_what_it_did():
    with pytest.raises(
        kt.FatalValueError,
        match=r"metrics the trial reported lack the specified objective 'val_loss'.*\['loss'\]",
    ):
        aggregate([Execution([0], {"loss": [0.1]})], LOSS)


def test_validate_trial_results_names_the_function_and_the_missing_objective():
    validate_trial_results([0.1, {"val_loss": 0.2}, history({"val_loss": [0.3]})], LOSS, "fit()")

    with pytest.raises(kt.FatalValueError, match=r"fit\(\) returned lack the specified objective"):
        validate_trial_results([0.1, {"loss": 0.1}], LOSS, "fit()")
    with pytest.raises(kt.FatalTypeError, match=r"^fit\(\) returned None"):
        validate_trial_results(None, LOSS, "fit()")
    with pytest.raises(kt.FatalValueError, match="No objective was given: return a single number"):
        validate_trial_results({"loss": 0.1}, DefaultObjective())
    validate_trial_results(0.1, DefaultObjective())


def test_convert_to_metrics_dict_reads_each_execution_at_its_best_step_and_averages():
    runs = [
        history({"val_loss": [0.5, 0.2, 0.3], "acc": [0.1, 0.7, 0.8]}),  # best at epoch 1
        history({"val_loss": [0.4, 0.6, math.nan], "acc": [0.3, 0.5, 0.9]}),  # best at epoch 0
    ]

    assert convert_to_metrics_dict(runs, LOSS) == {
        "val_loss": pytest.approx(0.3),
        "acc": pytest.approx(0.5),
    }
    assert convert_to_metrics_dict(0.1, LOSS) == {"val_loss": 0.1}
    assert convert_to_metrics_dict({"loss": 0.2, "val_loss": 0.1}, LOSS) == {
        "loss": 0.2,
        "val_loss": 0.1,
    }
    assert convert_to_metrics_dict([0.1, {"val_loss": 0.3, "acc": 0.5}], LOSS) == {
        "val_loss": pytest.approx(0.2),
        "acc": 0.5,
    }


def test_get_best_step_is_the_truncated_mean_of_the_executions_best_steps():
    runs = [history({"val_loss": [5, 8, 3, 1, 2]}), history({"val_loss": [5, 8, 3, 2, 1]})]

    assert get_best_step(runs, LOSS) == 3  # (3 + 4) / 2
    assert get_best_step(runs, LOSS) == aggregate(to_executions(runs, LOSS), LOSS).best_step
    assert get_best_step([{"val_loss": 1}, {"val_loss": 2}], LOSS) == 0
    assert get_best_step(0.5, LOSS) == 0


@pytest.mark.parametrize(
    ("direction", "expected"), [("min", (1, 0.1)), ("max", (0, 0.9))], ids=["min", "max"]
)
def test_best_point_follows_the_direction_and_keeps_the_earliest_of_equals(direction, expected):
    assert best_point([(0, 0.9), (1, 0.1), (2, 0.1), (3, math.nan)], direction) == expected
    assert best_point([(0, math.nan)], direction) is None
