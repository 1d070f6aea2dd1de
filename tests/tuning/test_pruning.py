"""Tests for ``tuning.pruning.MedianStoppingRule``."""

from __future__ import annotations

import math

import pytest

from tuning.pruning import MedianStoppingRule

# Three completed loss curves; best-so-far medians are 0.8, 0.6, 0.4, 0.3 at steps 0-3.
COMPLETED = [
    {0: 0.9, 1: 0.7, 2: 0.5, 3: 0.4},
    {0: 0.8, 1: 0.6, 2: 0.4, 3: 0.3},
    {0: 0.7, 1: 0.5, 2: 0.3, 3: 0.2},
]


def curve(*values: float) -> dict[int, float]:
    return dict(enumerate(values))


def test_reference_is_the_median_of_best_so_far_values():
    rule = MedianStoppingRule(min_trials=3)
    bumpy = [{0: 0.5, 1: 0.9}, {0: 0.6, 1: 0.4}, {0: 0.7, 1: 0.8}]

    assert rule.reference(COMPLETED, "min") == pytest.approx({0: 0.8, 1: 0.6, 2: 0.4, 3: 0.3})
    # Best so far: (0.5, 0.5), (0.6, 0.4), (0.7, 0.7) -> medians 0.6 and 0.5.
    assert rule.reference(bumpy, "min") == pytest.approx({0: 0.6, 1: 0.5})
    # Maximising: (0.5, 0.9), (0.6, 0.6), (0.7, 0.8) -> medians 0.6 and 0.8.
    assert rule.reference(bumpy, "max") == pytest.approx({0: 0.6, 1: 0.8})


def test_stops_a_clearly_bad_curve_and_keeps_a_good_one():
    rule = MedianStoppingRule(min_trials=3, warmup_steps=1)
    reference = rule.reference(COMPLETED, "min")

    assert rule.should_stop(curve(2.0, 1.9), reference, "min")
    assert not rule.should_stop(curve(0.6, 0.5), reference, "min")
    # Equal to the median is not worse.
    assert not rule.should_stop(curve(0.9, 0.6), reference, "min")
    # The best value so far counts, not the latest one.
    assert not rule.should_stop(curve(0.35, 0.9, 1.5), reference, "min")
    assert rule.should_stop(curve(0.5, 0.9, 1.5), reference, "min")


def test_nothing_is_stopped_before_min_trials_completed():
    rule = MedianStoppingRule(min_trials=4, warmup_steps=0)
    reference = rule.reference(COMPLETED, "min")

    assert reference == {}
    assert not rule.should_stop(curve(5.0, 5.0), reference, "min")
    assert MedianStoppingRule(min_trials=3, warmup_steps=0).should_stop(
        curve(5.0, 5.0), MedianStoppingRule(min_trials=3).reference(COMPLETED, "min"), "min"
    )


def test_only_steps_reached_by_min_trials_curves_are_in_the_reference():
    rule = MedianStoppingRule(min_trials=2, warmup_steps=0)
    reference = rule.reference([{0: 0.5, 1: 0.4, 2: 0.3}, {0: 0.6, 1: 0.5}], "min")

    assert set(reference) == {0, 1}
    assert not rule.should_stop(curve(9.0, 9.0, 9.0), reference, "min")


def test_warmup_steps_protect_early_steps():
    rule = MedianStoppingRule(min_trials=3, warmup_steps=2)
    reference = rule.reference(COMPLETED, "min")

    assert not rule.should_stop(curve(5.0), reference, "min")
    assert not rule.should_stop(curve(5.0, 5.0), reference, "min")
    assert rule.should_stop(curve(5.0, 5.0, 5.0), reference, "min")


def test_max_direction():
    rule = MedianStoppingRule(min_trials=3, warmup_steps=0)
    accuracies = [{0: 0.5, 1: 0.7}, {0: 0.6, 1: 0.8}, {0: 0.7, 1: 0.9}]
    reference = rule.reference(accuracies, "max")

    assert reference == pytest.approx({0: 0.6, 1: 0.8})
    assert rule.should_stop(curve(0.1, 0.2), reference, "max")
    assert not rule.should_stop(curve(0.6, 0.85), reference, "max")


def test_nan_values_are_ignored_and_an_all_nan_curve_is_stopped():
    rule = MedianStoppingRule(min_trials=3, warmup_steps=1)
    reference = rule.reference(COMPLETED, "min")

    assert rule.should_stop(curve(math.nan, math.nan), reference, "min")
    assert rule.should_stop(curve(math.nan, 1.5), reference, "min")
    assert rule.should_stop(curve(1.5, math.nan), reference, "min")
    assert not rule.should_stop(curve(math.nan, 0.5), reference, "min")
    with_nan = [*COMPLETED[:2], {0: 0.7, 1: math.nan, 2: 0.3, 3: 0.2}]
    # Best so far at step 1: 0.7, 0.6 and 0.7 (the NaN keeps step 0's 0.7).
    assert rule.reference(with_nan, "min")[1] == pytest.approx(0.7)


def test_an_empty_curve_is_never_stopped():
    rule = MedianStoppingRule(min_trials=1, warmup_steps=0)

    assert not rule.should_stop({}, rule.reference(COMPLETED, "min"), "min")


def test_bad_arguments():
    with pytest.raises(ValueError, match="min_trials must be >= 1"):
        MedianStoppingRule(min_trials=0)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0"):
        MedianStoppingRule(warmup_steps=-1)
    assert MedianStoppingRule(2, 3).get_config() == {"min_trials": 2, "warmup_steps": 3}
