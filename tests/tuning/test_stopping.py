"""Stopping rules: when each says a search is done, and the arguments they refuse."""

from __future__ import annotations

import math

import pytest

import tuning as kt
from tuning.stopping import NoImprovement, TargetReached, as_rules


def _first_stop(rule, scores, direction="min"):
    """The number of completed trials after which ``rule`` first ends the search, or None."""
    for n in range(1, len(scores) + 1):
        if rule.reason(scores[:n], direction) is not None:
            return n
    return None


def test_no_improvement_ends_after_patience_trials_without_a_new_best():
    scores = [0.5, 0.4, 0.45, 0.41, 0.42, 0.1]
    assert _first_stop(NoImprovement(patience=3), scores) == 5
    assert _first_stop(NoImprovement(patience=4), scores) is None


def test_no_improvement_counts_gains_below_min_delta_as_none():
    scores = [1.0, 0.95, 0.91, 0.89, 0.5]
    assert _first_stop(NoImprovement(patience=2, min_delta=0.0), scores) is None
    # 0.95 and 0.91 beat 1.0 by less than 0.1: two trials without improvement.
    assert _first_stop(NoImprovement(patience=2, min_delta=0.1), scores) == 3


def test_no_improvement_follows_the_direction():
    scores = [0.5, 0.6, 0.55, 0.58]
    assert _first_stop(NoImprovement(patience=2), scores, "max") == 4
    assert _first_stop(NoImprovement(patience=2), scores, "min") == 3


def test_target_reached_ends_at_the_first_trial_at_or_beyond_the_target():
    assert _first_stop(TargetReached(0.2), [0.5, 0.3, 0.2, 0.1]) == 3
    assert _first_stop(TargetReached(0.9), [0.5, 0.95, 0.2], "max") == 2
    assert _first_stop(TargetReached(0.0), [0.5, 0.3]) is None


def test_the_reason_names_the_rule():
    assert "2 completed trials" in NoImprovement(patience=2).reason([1.0, 2.0, 3.0], "min")
    assert "0.5" in TargetReached(0.5).reason([0.4], "min")


@pytest.mark.parametrize(
    "make",
    [
        lambda: NoImprovement(patience=0),
        lambda: NoImprovement(patience=2.5),
        lambda: NoImprovement(patience=True),
        lambda: NoImprovement(patience=3, min_delta=-0.1),
        lambda: TargetReached(math.nan),
        lambda: TargetReached("0.9"),
    ],
)
def test_bad_arguments_are_refused_when_the_rule_is_made(make):
    with pytest.raises(ValueError, match="NoImprovement|TargetReached"):
        make()


def test_stop_when_takes_one_rule_a_list_or_nothing():
    rule = TargetReached(1.0)
    assert as_rules(rule) == [rule]
    assert as_rules([rule, NoImprovement(2)])[0] is rule
    assert as_rules(None) == []
    with pytest.raises(TypeError, match="stop_when"):
        as_rules("patience=3")


def test_a_tuner_refuses_a_bad_stop_when_before_any_trial(tmp_path):
    with pytest.raises(TypeError, match="stop_when"):
        kt.RandomSearch(lambda hp: None, objective="loss", directory=tmp_path, stop_when=[3])
    assert not (tmp_path / "mlflow.db").exists()
