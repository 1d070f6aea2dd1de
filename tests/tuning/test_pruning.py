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


def test_a_curve_that_turns_nan_is_stopped_without_any_completed_trial():
    rule = MedianStoppingRule(min_trials=3, warmup_steps=1)

    assert rule.should_stop(curve(0.5, 0.4, math.nan), {}, "min")
    assert rule.should_stop(curve(0.5, 0.4, math.nan), {}, "max")
    assert not rule.should_stop(curve(math.nan), {}, "min")  # still in its warm-up
    assert not rule.should_stop(curve(0.5, 0.4), {}, "min")


class _Runs:
    """A trial store's runs where the search publishes a new pruning reference meanwhile."""

    def __init__(self):
        self.reference = None
        self.logged = []

    def log_metrics(self, run_id, metrics, step):
        self.logged.append(step)

    def parent_run_id(self, run_id):
        return "search"

    def pruning_reference(self, search_run_id):
        return self.reference


class _Model:
    def save_weights(self, path):
        pass


def _recorder(runs, tmp_path, reference=None):
    from tuning.objective import Objective
    from tuning.recorder import TrialRecorder

    return TrialRecorder(
        runs,
        "trial-run",
        Objective("loss", "min"),
        str(tmp_path),
        pruning=MedianStoppingRule(min_trials=1, warmup_steps=1),
        pruning_reference=reference,
    )


def test_a_training_trial_is_pruned_by_a_reference_published_after_it_started(tmp_path):
    runs = _Runs()
    recorder = _recorder(runs, tmp_path)
    assert not recorder.epoch_end(_Model(), 0, {"loss": 0.9}, 0)
    assert not recorder.epoch_end(_Model(), 1, {"loss": 0.8}, 0)
    runs.reference = {0: 0.5, 1: 0.4, 2: 0.3}  # a better trial completed meanwhile
    assert recorder.epoch_end(_Model(), 2, {"loss": 0.7}, 0)


def test_a_training_trial_keeps_its_reference_when_none_is_published(tmp_path):
    recorder = _recorder(_Runs(), tmp_path, reference={1: 0.4})
    assert recorder.epoch_end(_Model(), 1, {"loss": 0.8}, 0)


def test_a_trial_whose_objective_turns_nan_is_pruned(tmp_path):
    recorder = _recorder(_Runs(), tmp_path)
    assert not recorder.epoch_end(_Model(), 0, {"loss": 0.9}, 0)
    assert not recorder.epoch_end(_Model(), 1, {"loss": 0.8}, 0)
    assert recorder.epoch_end(_Model(), 2, {"loss": math.nan}, 0)
    assert recorder.best_value == 0.8
