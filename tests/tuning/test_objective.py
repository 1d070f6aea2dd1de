"""Tests for ``tuning.objective``: directions, multi-objectives, configs and Pareto fronts."""

from __future__ import annotations

import json
import math

import pytest

from tuning.objective import (
    DefaultObjective,
    MultiObjective,
    Objective,
    create_objective,
    infer_metric_direction,
    metric_name,
    pareto_front,
)


def test_str_and_repr_look_like_keras_tuner():
    objective = Objective("val_mae", "min")

    assert str(objective) == 'Objective(name="val_mae", direction="min")'
    assert repr(objective) == str(objective)


def test_direction_must_be_min_or_max():
    with pytest.raises(ValueError, match=r"'acc'.*`direction` should be one of.*'up'"):
        Objective("acc", "up")


@pytest.mark.parametrize(
    "name",
    [
        "loss",
        "val_loss",
        "weighted_loss",
        "val_weighted_loss",
        "custom_loss",
        "categorical_crossentropy",
        "val_sparse_categorical_crossentropy",
        "mean_absolute_error",
        "val_mean_squared_error",
        "mae",
        "val_mae",
        "mse",
        "mape",
        "msle",
        "ce",
        "val_ce",
        "weighted_mse",
        "hinge",
        "false_positives",
    ],
)
def test_losses_and_errors_are_minimised(name):
    assert infer_metric_direction(name) == "min"
    assert create_objective(name) == Objective(name, "min")


@pytest.mark.parametrize(
    "name",
    [
        "accuracy",
        "val_accuracy",
        "acc",
        "val_acc",
        "val_weighted_accuracy",
        "binary_accuracy",
        "val_sparse_categorical_accuracy",
        "top_k_categorical_accuracy",
        "auc",
        "val_auc",
        "AUC",
        "precision",
        "val_recall",
        "true_positives",
        "true_negatives",
        "f1_score",
        "val_f1_score",
        "fbeta_score",
        "r2_score",
        "iou",
        "mean_iou",
        "val_binary_iou",
    ],
)
def test_scores_are_maximised(name):
    assert infer_metric_direction(name) == "max"
    assert create_objective(name).direction == "max"


@pytest.mark.parametrize(
    "name", ["banana", "val_banana", "throughput", "val_", "my_metric", "my_metric_fn"]
)
def test_an_unknown_name_asks_for_an_objective(name):
    assert infer_metric_direction(name) is None
    with pytest.raises(ValueError, match=rf"'{name}'.*kt\.Objective\(\"{name}\""):
        create_objective(name)


def test_metric_objects_and_functions_are_judged_by_their_names():
    def val_weighted_binary_accuracy(y_true, y_pred):
        return y_pred

    class FalsePositives:
        name = "false_positives"

    assert metric_name(val_weighted_binary_accuracy) == "val_weighted_binary_accuracy"
    assert infer_metric_direction(val_weighted_binary_accuracy) == "max"
    assert infer_metric_direction(FalsePositives()) == "min"
    with pytest.raises(TypeError, match="Expected a metric name"):
        infer_metric_direction(0.5)


@pytest.mark.parametrize("objective", [3, [3, "accuracy"], {"accuracy"}])
def test_a_non_string_objective_is_a_type_error(objective):
    with pytest.raises(TypeError, match="`objective` not understood, expected str"):
        create_objective(objective)


def test_better_than_and_loss_follow_the_direction():
    low, high = Objective("loss", "min"), Objective("acc", "max")

    assert low.better_than(1.0, 2.0) and not low.better_than(2.0, 1.0)
    assert high.better_than(2.0, 1.0) and not high.better_than(1.0, 2.0)
    assert not low.better_than(1.0, 1.0)
    assert low.better_than(5.0, math.nan) and high.better_than(-5.0, math.nan)
    assert not low.better_than(math.nan, 5.0)
    assert low.loss(0.3) == 0.3 and high.loss(0.3) == -0.3


def test_a_list_is_a_multi_objective_scored_min_minus_max():
    objective = create_objective(["val_loss", "val_accuracy", Objective("latency", "min")])

    assert isinstance(objective, MultiObjective)
    assert objective.direction == "min"
    assert objective.names == ["val_loss", "val_accuracy", "latency"]
    metrics = {"val_loss": 0.5, "val_accuracy": 0.8, "latency": 2.0, "other": 100.0}
    assert objective.get_value(metrics) == pytest.approx(0.5 + 2.0 - 0.8)
    assert objective.has_value(metrics)
    assert not objective.has_value({"val_loss": 0.5, "latency": 2.0})


def test_a_list_of_one_is_that_objective():
    assert create_objective(["val_accuracy"]) == Objective("val_accuracy", "max")


def test_an_empty_multi_objective_is_an_error():
    with pytest.raises(ValueError, match="at least one objective"):
        create_objective([])


def test_no_objective_is_the_default_objective():
    objective = create_objective(None)

    assert isinstance(objective, DefaultObjective)
    assert (objective.name, objective.direction) == ("default_objective", "min")
    assert objective.get_value({"default_objective": 0.25}) == 0.25


def test_the_default_objective_prints_as_keras_tuner_prints_it(capsys):
    print(create_objective(None))

    assert capsys.readouterr().out == 'Objective(name="default_objective", direction="min")\n'
    assert repr(DefaultObjective()) == str(DefaultObjective())


def test_a_multi_objective_prints_its_objectives_in_order():
    objective = create_objective(["loss", "accuracy"])

    assert str(objective) == (
        'MultiObjective(name="multi_objective", direction="min"): '
        '[Objective(name="loss", direction="min"), Objective(name="accuracy", direction="max")]'
    )
    assert repr(objective) == str(objective)


def test_multi_objectives_are_equal_whatever_the_order_of_their_objectives():
    a = create_objective(["val_loss", "val_accuracy"])
    b = create_objective(["val_accuracy", "val_loss"])

    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert a != create_objective(["val_loss", "val_loss"])
    assert a != create_objective(["val_loss", Objective("val_accuracy", "min")])
    assert a != create_objective(["val_loss", "val_accuracy", "val_auc"])
    assert a != Objective("multi_objective", "min")


@pytest.mark.parametrize(
    "objective",
    [
        Objective("val_loss", "min"),
        Objective("throughput", "max"),
        DefaultObjective(),
        MultiObjective([Objective("loss", "min"), Objective("acc", "max")]),
    ],
    ids=str,
)
def test_config_round_trips_through_json(objective):
    restored = create_objective(json.loads(json.dumps(objective.get_config())))

    assert type(restored) is type(objective)
    assert restored == objective
    assert str(restored) == str(objective)


def test_objectives_compare_by_name_direction_and_type():
    assert Objective("loss", "min") == Objective("loss", "min")
    assert Objective("loss", "min") != Objective("loss", "max")
    assert DefaultObjective() != Objective("default_objective", "min")
    assert len({Objective("loss", "min"), Objective("loss", "min")}) == 1


@pytest.mark.parametrize(
    ("points", "directions", "front"),
    [
        ([(1, 5), (2, 2), (3, 3)], ["min", "min"], [0, 1]),
        # (loss, accuracy): 2 is beaten by 1 on both, 3 ties 0's loss with a worse accuracy.
        ([(0.1, 0.8), (0.2, 0.9), (0.3, 0.85), (0.1, 0.7)], ["min", "max"], [0, 1]),
        ([(0.1, 0.8), (0.2, 0.9), (0.3, 0.85), (0.1, 0.7)], ["max", "min"], [2, 3]),
        ([(1, 1), (1, 1), (2, 2)], ["min", "min"], [0, 1]),
        ([(2, 2), (2, 2)], ["max", "max"], [0, 1]),
        ([(3,), (1,), (1,), (2,)], ["min"], [1, 2]),
        ([(3,), (1,), (2,)], ["max"], [0]),
        ([(1, 2)], ["min", "min"], [0]),
        ([], ["min", "min"], []),
    ],
)
def test_pareto_front(points, directions, front):
    assert pareto_front(points, directions) == front


def test_points_with_nan_are_not_on_the_pareto_front():
    points = [(math.nan, 0.0), (1.0, 1.0), (2.0, math.nan)]

    assert pareto_front(points, ["min", "min"]) == [1]
