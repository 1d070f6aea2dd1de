"""Tests for ``RandomSearchOracle`` and, through it, the ``Oracle`` base's bookkeeping."""

from __future__ import annotations

import copy
import json
import math
import threading
import time

import pytest

from tuning.errors import FatalRuntimeError
from tuning.hyperparameters import HyperParameters, Int
from tuning.oracles import RandomSearchOracle, synchronized
from tuning.pruning import MedianStoppingRule
from tuning.trial import Trial, TrialStatus


def make_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Int("units", 16, 256, step=16)
    hp.Float("lr", 1e-4, 1e-1, sampling="log")
    hp.Float("dropout", 0.0, 0.5, step=0.1)
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", "cnn"):
        hp.Int("filters", 8, 64, step=8)
        hp.Boolean("pool")
    hp.Boolean("bn")
    return hp


def make_oracle(**kwargs) -> RandomSearchOracle:
    kwargs.setdefault("objective", "loss")
    kwargs.setdefault("max_trials", 10)
    kwargs.setdefault("seed", 0)
    kwargs.setdefault("hyperparameters", make_space())
    return RandomSearchOracle(**kwargs)


def finish(oracle, trial, loss=0.5, status=TrialStatus.COMPLETED, message=None) -> None:
    if loss is not None:
        oracle.update_trial(trial.trial_id, {"loss": loss})
    trial.status = status
    trial.message = message
    oracle.end_trial(trial)


def run(oracle, n, tuner_id="w0") -> list[dict]:
    """Runs up to ``n`` trials, each completed with a loss; returns their values."""
    values = []
    for _ in range(n):
        trial = oracle.create_trial(tuner_id)
        if trial.status != TrialStatus.RUNNING:
            break
        values.append(trial.values)
        finish(oracle, trial, loss=float(len(values)))
    return values


# Seeds and budget -----------------------------------------------------------------


def test_the_same_seed_gives_the_same_trials():
    first = run(make_oracle(seed=42), 10)
    second = run(make_oracle(seed=42), 10)

    assert len(first) == 10
    assert first == second


def test_different_seeds_give_different_trials():
    assert run(make_oracle(seed=1), 10) != run(make_oracle(seed=2), 10)


def test_max_trials_budget_then_stopped():
    oracle = make_oracle(max_trials=3)

    assert len(run(oracle, 3)) == 3
    after = oracle.create_trial("w0")

    assert after.status == TrialStatus.STOPPED
    assert after.trial_id is None
    assert len(oracle.trials) == 3
    assert sorted(oracle.trials) == ["00", "01", "02"]


def test_random_search_defaults_to_ten_trials():
    assert RandomSearchOracle().max_trials == 10


@pytest.mark.parametrize("max_trials", [0, -1])
def test_max_trials_below_one_is_an_error(max_trials):
    with pytest.raises(ValueError, match=rf"max_trials must be at least 1.*{max_trials}"):
        RandomSearchOracle(max_trials=max_trials)


def test_a_worker_that_asks_again_gets_its_running_trial():
    oracle = make_oracle()
    trial = oracle.create_trial("w0")

    assert oracle.create_trial("w0") is trial
    assert oracle.create_trial("w1").trial_id != trial.trial_id


# Values -------------------------------------------------------------------------------


def test_values_stay_in_the_space_and_only_active_ones_appear():
    space = make_space()
    oracle = make_oracle(max_trials=60, hyperparameters=space)
    trials = run(oracle, 60)

    assert len(trials) == 60
    for values in trials:
        check = space.copy()
        check.values = values
        assert check.values == values  # exactly the active ones, nothing inactive
        for hp in space.space:
            if hp.name not in values:
                continue
            if hp.name == "lr":  # continuous: anywhere in its range
                assert hp.min_value <= values[hp.name] <= hp.max_value
            else:
                assert values[hp.name] in hp.values
        assert ("filters" in values) == (values["model"] == "cnn")
    assert {v["model"] for v in trials} == {"mlp", "cnn"}


@pytest.mark.parametrize("seed", range(5))
def test_never_proposes_the_same_values_twice(seed):
    hp = HyperParameters()
    hp.Int("x", 0, 9)
    oracle = make_oracle(max_trials=None, seed=seed, hyperparameters=hp)

    xs = [v["x"] for v in run(oracle, 50)]

    # 20 collisions in a row end the search, usually with most of the 10 values seen.
    assert len(xs) == len(set(xs)) >= 6


def test_a_tiny_space_is_exhausted_after_its_two_values():
    hp = HyperParameters()
    hp.Boolean("flag")
    oracle = make_oracle(max_trials=10, hyperparameters=hp)

    trials = run(oracle, 10)

    assert sorted(v["flag"] for v in trials) == [False, True]
    assert oracle.create_trial("w0").status == TrialStatus.STOPPED
    assert len(oracle.trials) == 2


def test_running_trials_count_as_tried():
    hp = HyperParameters()
    hp.Boolean("flag")
    oracle = make_oracle(hyperparameters=hp)

    first, second = oracle.create_trial("w0"), oracle.create_trial("w1")

    assert {first.values["flag"], second.values["flag"]} == {False, True}
    assert oracle.create_trial("w2").status == TrialStatus.STOPPED


def test_tune_new_entries_false_keeps_new_hyperparameters_at_their_defaults():
    fixed = HyperParameters()
    fixed.Int("tuned", 0, 100)
    oracle = make_oracle(hyperparameters=fixed, tune_new_entries=False)
    model_space = make_space()
    model_space.Int("tuned", 0, 100)
    oracle.update_space(model_space)

    trials = run(oracle, 5)

    assert len({v["tuned"] for v in trials}) == 5
    assert all(v["units"] == 16 and v["model"] == "mlp" for v in trials)


def test_allow_new_entries_false_rejects_new_hyperparameters():
    oracle = make_oracle(hyperparameters=HyperParameters(), allow_new_entries=False)

    with pytest.raises(RuntimeError, match="'units'.*allow_new_entries=False"):
        oracle.update_space(make_space())


# Saved state --------------------------------------------------------------------------


def test_state_saved_mid_search_continues_identically():
    original = make_oracle(max_trials=12, seed=5, max_retries_per_trial=1)
    run(original, 3)
    running = original.create_trial("w1")
    crashed = original.create_trial("w0")
    finish(original, crashed, loss=None, status=TrialStatus.INVALID, message="boom")
    original.enqueue_trial({"units": 32})

    state = json.loads(json.dumps(original.get_state()))
    restored = make_oracle(max_trials=12, seed=5, max_retries_per_trial=1, hyperparameters=None)
    restored.set_state(state)

    assert json.loads(json.dumps(restored.get_state())) == state
    assert restored.create_trial("w1").trial_id == running.trial_id
    retried = restored.create_trial("w0")
    assert (retried.trial_id, retried.values) == (crashed.trial_id, crashed.values)
    finish(restored, retried)
    finish(original, original.create_trial("w0"))
    for oracle in (original, restored):
        finish(oracle, oracle.create_trial("w1"))
    continued = run(restored, 10, "w2")
    assert continued == run(original, 10, "w2")
    assert len(continued) == 12 - 5
    assert continued[0]["units"] == 32  # the enqueued values survived the round trip
    assert [t.get_state() for t in restored.trials.values()] == [
        t.get_state() for t in original.trials.values()
    ]


# Enqueued trials ----------------------------------------------------------------------


def test_enqueued_values_come_next_and_missing_ones_take_defaults():
    oracle = make_oracle()
    oracle.enqueue_trial({"units": 64, "model": "cnn"})
    oracle.enqueue_trial({"lr": 0.01, "later": 3})

    first = oracle.create_trial("w0")
    finish(oracle, first)
    second = oracle.create_trial("w0")
    finish(oracle, second)
    third = oracle.create_trial("w0")

    assert first.values == {
        "units": 64,
        "lr": 1e-4,
        "dropout": 0.0,
        "model": "cnn",
        "filters": 8,
        "pool": False,
        "bn": False,
    }
    assert second.values == {
        "units": 16,
        "lr": 0.01,
        "dropout": 0.0,
        "model": "mlp",
        "bn": False,
        "later": 3,
    }
    assert third.values not in (first.values, second.values)


def test_enqueueing_a_value_outside_the_space_is_an_error():
    oracle = make_oracle()

    with pytest.raises(ValueError, match=r"72.*'units'"):
        oracle.enqueue_trial({"units": 72})
    with pytest.raises(ValueError, match=r"'lr'.*outside"):
        oracle.enqueue_trial({"lr": 1.0})


# Failures -----------------------------------------------------------------------------


def test_an_invalid_trial_is_retried_under_its_id_then_fails():
    oracle = make_oracle(max_retries_per_trial=2)
    first = oracle.create_trial("w0")
    statuses = []

    for attempt in range(3):
        trial = oracle.create_trial("w0")
        assert (trial.trial_id, trial.values) == (first.trial_id, first.values)
        assert trial.status == TrialStatus.RUNNING
        assert not trial.metrics.exists("loss")  # the crashed attempt's metrics are gone
        finish(oracle, trial, loss=1.0, status=TrialStatus.INVALID, message=f"boom {attempt}")
        statuses.append(oracle.get_trial(first.trial_id).status)

    assert statuses == [TrialStatus.INVALID, TrialStatus.INVALID, TrialStatus.FAILED]
    assert oracle.get_trial(first.trial_id).message == "boom 2"
    assert oracle.create_trial("w0").trial_id != first.trial_id


def test_a_failed_trial_is_not_retried():
    oracle = make_oracle(max_retries_per_trial=3)
    trial = oracle.create_trial("w0")
    finish(oracle, trial, loss=None, status=TrialStatus.FAILED, message="too large")

    assert oracle.get_trial(trial.trial_id).status == TrialStatus.FAILED
    assert oracle.create_trial("w0").trial_id != trial.trial_id


def test_consecutive_failures_end_the_search_with_the_last_message():
    oracle = make_oracle(max_consecutive_failed_trials=3)
    for attempt in range(2):
        finish(oracle, oracle.create_trial("w0"), None, TrialStatus.FAILED, f"boom {attempt}")
    finish(oracle, oracle.create_trial("w0"))  # a success resets the count
    finish(oracle, oracle.create_trial("w0"), None, TrialStatus.INVALID, "boom 3")
    finish(oracle, oracle.create_trial("w0"), None, TrialStatus.FAILED, "boom 4")
    last = oracle.create_trial("w0")

    with pytest.raises(FatalRuntimeError, match=r"(?s)3 consecutive trials failed.*boom 5"):
        finish(oracle, last, None, TrialStatus.FAILED, "Traceback ...\nboom 5")
    assert oracle.failed_too_often
    assert oracle.get_trial(last.trial_id).status == TrialStatus.FAILED
    assert oracle.create_trial("w0").status == TrialStatus.STOPPED


def test_a_nan_score_makes_the_trial_invalid():
    oracle = make_oracle(max_retries_per_trial=1)
    trial = oracle.create_trial("w0")

    finish(oracle, trial, loss=math.nan)

    recorded = oracle.get_trial(trial.trial_id)
    assert recorded.status == TrialStatus.INVALID
    assert "NaN" in recorded.message
    assert oracle.create_trial("w0").trial_id == trial.trial_id


def test_a_nan_score_without_retries_fails_the_trial():
    oracle = make_oracle()
    trial = oracle.create_trial("w0")

    finish(oracle, trial, loss=math.nan)

    assert oracle.get_trial(trial.trial_id).status == TrialStatus.FAILED
    assert oracle.scored_trials() == []


def test_a_missing_objective_makes_the_trial_invalid():
    oracle = make_oracle(max_retries_per_trial=1)
    trial = oracle.create_trial("w0")
    oracle.update_trial(trial.trial_id, {"accuracy": 0.9})

    finish(oracle, trial, loss=None)

    assert oracle.get_trial(trial.trial_id).status == TrialStatus.INVALID


# Scores and pruning -------------------------------------------------------------------


def test_score_is_the_best_value_of_the_curve_and_best_trials_come_first():
    oracle = make_oracle(objective="val_accuracy")
    curves = [[0.5, 0.7, 0.6], [0.8, 0.9, 0.85], [0.2, 0.3, 0.4]]
    for curve in curves:
        trial = oracle.create_trial("w0")
        for step, value in enumerate(curve):
            oracle.update_trial(trial.trial_id, {"val_accuracy": value, "loss": 1 - value}, step)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)

    best = oracle.get_best_trials(2)
    assert [(t.score, t.best_step) for t in best] == [(0.9, 1), (0.7, 1)]
    assert oracle.get_pareto_trials() == best[:1]


def complete_curve(oracle, curve, name="val_loss") -> Trial:
    trial = oracle.create_trial("w0")
    for step, value in enumerate(curve):
        assert oracle.update_trial(trial.trial_id, {name: value}, step) == TrialStatus.RUNNING
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)
    return trial


def test_pruning_stops_a_bad_curve_through_update_trial():
    rule = MedianStoppingRule(min_trials=2, warmup_steps=1)
    oracle = make_oracle(objective="val_loss", pruning=rule)
    complete_curve(oracle, [0.9, 0.6, 0.4])
    complete_curve(oracle, [0.8, 0.5, 0.3])

    bad = oracle.create_trial("w0")
    assert oracle.update_trial(bad.trial_id, {"val_loss": 2.0}, 0) == TrialStatus.RUNNING
    assert oracle.update_trial(bad.trial_id, {"val_loss": 1.9}, 1) == TrialStatus.STOPPED
    oracle.end_trial(bad)

    recorded = oracle.get_trial(bad.trial_id)
    assert recorded.status == TrialStatus.STOPPED
    assert (recorded.score, recorded.best_step) == (1.9, 1)
    assert "Pruned at step 1" in recorded.message
    assert bad not in oracle.get_best_trials(5)
    good = complete_curve(oracle, [0.7, 0.5, 0.2])
    assert oracle.get_trial(good.trial_id).status == TrialStatus.COMPLETED


def test_pruning_follows_a_max_objective_and_can_be_skipped():
    rule = MedianStoppingRule(min_trials=2, warmup_steps=0)
    oracle = make_oracle(objective="val_accuracy", pruning=rule)
    complete_curve(oracle, [0.6, 0.8], "val_accuracy")
    complete_curve(oracle, [0.7, 0.9], "val_accuracy")

    trial = oracle.create_trial("w0")
    assert oracle.update_trial(trial.trial_id, {"val_accuracy": 0.1}, prune=False) == (
        TrialStatus.RUNNING
    )
    assert oracle.update_trial(trial.trial_id, {"val_accuracy": 0.2}, 1) == TrialStatus.STOPPED


def test_without_a_rule_nothing_is_pruned():
    oracle = make_oracle(objective="val_loss")
    complete_curve(oracle, [0.1, 0.1])
    complete_curve(oracle, [0.1, 0.1])

    trial = oracle.create_trial("w0")
    assert oracle.update_trial(trial.trial_id, {"val_loss": 9.0}, 5) == TrialStatus.RUNNING


def test_pareto_trials_with_a_best_step_averaged_over_executions():
    oracle = make_oracle(objective=["val_loss", "val_accuracy"])
    trial = oracle.create_trial("w0")
    # Two executions: the first is best at epoch 1, the second at epoch 2.
    for step, (loss, accuracy) in enumerate([(0.9, 0.5), (0.4, 0.8), (0.6, 0.7)]):
        oracle.update_trial(trial.trial_id, {"val_loss": loss, "val_accuracy": accuracy}, step)
    for step, (loss, accuracy) in enumerate([(0.8, 0.6), (0.7, 0.6), (0.3, 0.9)]):
        oracle.update_trial(trial.trial_id, {"val_loss": loss, "val_accuracy": accuracy}, step)
    trial.score, trial.best_step = -0.5, 1.5
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)

    assert oracle.get_pareto_trials() == [oracle.get_trial(trial.trial_id)]


def test_enqueue_checks_a_value_of_a_huge_int_range_without_listing_it(monkeypatch):
    listed = Int.values

    def values_unless_huge(self):
        assert (self.max_value - self.min_value) // (self.step or 1) < 10**6, (
            f"listed all values of {self.name!r}"
        )
        return listed.fget(self)

    monkeypatch.setattr(Int, "values", property(values_unless_huge))
    hp = HyperParameters()
    hp.Int("seed", 0, 2**40)
    oracle = make_oracle(hyperparameters=hp)

    oracle.enqueue_trial({"seed": 5})

    assert oracle.create_trial("w0").values == {"seed": 5}


# synchronized ---------------------------------------------------------------------------


class _LockedOracle(RandomSearchOracle):
    """A user's oracle, as KerasTuner's documentation writes one."""

    @synchronized
    def create_trial(self, tuner_id: str) -> Trial:
        return super().create_trial(tuner_id)


class _GatedOracle(_LockedOracle):
    """Its decorated override calls a decorated method (the lock is re-entrant)."""

    def __init__(self, gate: threading.Event | threading.Barrier, **kwargs) -> None:
        super().__init__(**kwargs)
        self.gate = gate
        self.entered: list[str] = []

    @synchronized
    def create_trial(self, tuner_id: str) -> Trial:
        self.entered.append(tuner_id)
        self.gate.wait(timeout=5)
        return super().create_trial(tuner_id)


def test_synchronized_lets_one_thread_at_a_time_into_one_oracle():
    gate = threading.Event()
    oracle = _GatedOracle(gate, objective="loss", hyperparameters=make_space())
    first = threading.Thread(target=oracle.create_trial, args=("w0",))
    second = threading.Thread(target=oracle.create_trial, args=("w1",))
    first.start()
    while not oracle.entered:
        time.sleep(0.001)
    second.start()
    time.sleep(0.1)
    assert oracle.entered == ["w0"]  # w1 waits for w0 to leave

    gate.set()
    first.join(5)
    second.join(5)
    assert oracle.entered == ["w0", "w1"]
    assert [t.status for t in oracle.ongoing_trials.values()] == [TrialStatus.RUNNING] * 2


def test_synchronized_oracles_do_not_wait_for_each_other():
    both_inside = threading.Barrier(2, timeout=5)  # broken unless both calls run at once
    oracles = [
        _GatedOracle(both_inside, objective="loss", hyperparameters=make_space()) for _ in range(2)
    ]
    threads = [threading.Thread(target=oracle.create_trial, args=("w0",)) for oracle in oracles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert not both_inside.broken
    assert all(len(oracle.trials) == 1 for oracle in oracles)


def test_a_synchronized_oracle_still_copies_for_worker_processes():
    oracle = _LockedOracle(objective="loss", hyperparameters=make_space())
    trial = oracle.create_trial("w0")

    # No lock sits on the oracle: it deep-copies (and pickles) as before.
    assert copy.deepcopy(oracle).get_trial(trial.trial_id).values == trial.values
