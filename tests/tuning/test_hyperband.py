"""Hyperband: KerasTuner's schedule, synchronous and asynchronous (ASHA) promotion."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest

from tuning.errors import FatalRuntimeError
from tuning.oracles.hyperband import HyperbandOracle
from tuning.trial import Trial, TrialStatus

# (max_epochs, factor) -> trials per iteration, as KerasTuner 1.4 runs them.
TRIALS_PER_ITERATION = {(10, 3): 30, (9, 3): 23, (27, 3): 70, (8, 2): 36, (100, 3): 254}
# (max_epochs, factor) -> round-0 trials per iteration (the brackets' first rounds).
BASE_TRIALS_PER_ITERATION = {(10, 3): 22, (9, 3): 17, (27, 3): 49, (8, 2): 22}
_FINAL = (TrialStatus.COMPLETED, TrialStatus.STOPPED, TrialStatus.FAILED)


def make_oracle(max_epochs: int = 10, factor: int = 3, **kwargs) -> HyperbandOracle:
    oracle = HyperbandOracle(
        objective="loss", max_epochs=max_epochs, factor=factor, seed=7, **kwargs
    )
    oracle.hyperparameters.Float("x", 0.0, 1.0)
    return oracle


def loss(trial: Trial) -> float:
    """Deterministic in the values: better near x = 0.3 and with more epochs."""
    return (trial.values["x"] - 0.3) ** 2 + 1.0 / trial.values["tuner/epochs"]


def key(trial: Trial) -> tuple[int, int]:
    return trial.values["tuner/bracket"], trial.values["tuner/round"]


class Workers:
    """Simulates workers sharing one oracle.

    Each step, every free worker asks for a trial; then the running trial that
    started first ends, COMPLETED with ``loss`` (or INVALID where ``fail`` says).
    ``on_create(oracle, trial)`` is called for every trial handed out,
    ``on_idle(oracle)`` for every IDLE answer.
    """

    def __init__(
        self,
        oracle: HyperbandOracle,
        workers: int = 1,
        fail: Callable[[Trial], bool] = lambda trial: False,
        on_create: Callable[[HyperbandOracle, Trial], None] = lambda oracle, trial: None,
        on_idle: Callable[[HyperbandOracle], None] = lambda oracle: None,
    ) -> None:
        self.oracle = oracle
        self.names = [f"worker-{i}" for i in range(workers)]
        self.fail = fail
        self.on_create = on_create
        self.on_idle = on_idle
        self.running: dict[str, str] = {}
        self.idle = 0

    def step(self) -> bool:
        """One step; False once no trial runs and none was handed out."""
        for name in self.names:
            if name in self.running:
                continue
            trial = self.oracle.create_trial(name)
            if trial.status == TrialStatus.RUNNING:
                self.running[name] = trial.trial_id
                self.on_create(self.oracle, trial)
            elif trial.status == TrialStatus.IDLE:
                self.idle += 1
                self.on_idle(self.oracle)
        if not self.running:
            return False
        name = next(iter(self.running))
        trial = self.oracle.get_trial(self.running.pop(name))
        if self.fail(trial):
            trial.status, trial.message = TrialStatus.INVALID, "Traceback: boom"
        else:
            self.oracle.update_trial(
                trial.trial_id, {"loss": loss(trial)}, step=trial.values["tuner/epochs"] - 1
            )
            trial.status = TrialStatus.COMPLETED
        self.oracle.end_trial(trial)
        return True

    def run(self) -> Workers:
        while self.step():
            pass
        assert self.oracle.create_trial("late-worker").status == TrialStatus.STOPPED
        return self


def check_promotion_waited(oracle: HyperbandOracle, trial: Trial) -> None:
    """A synchronous promotion starts only once its parent's whole round has finished."""
    if trial.values["tuner/round"] == 0:
        return
    parent = oracle.get_trial(trial.values["tuner/trial_id"])
    bracket, round_ = key(parent)
    same_round = [t for t in oracle.trials.values() if key(t) == (bracket, round_)]
    assert all(t.status in _FINAL for t in same_round)


# Schedule ---------------------------------------------------------------------


@pytest.mark.parametrize(("max_epochs", "factor"), list(TRIALS_PER_ITERATION))
def test_one_worker_runs_kerastuner_trial_count(max_epochs, factor):
    oracle = make_oracle(max_epochs, factor)
    Workers(oracle).run()
    assert len(oracle.trials) == TRIALS_PER_ITERATION[max_epochs, factor]
    assert all(t.status == TrialStatus.COMPLETED for t in oracle.trials.values())


@pytest.mark.parametrize(("max_epochs", "factor"), list(TRIALS_PER_ITERATION))
def test_concurrent_workers_run_the_same_count_and_wait_for_rounds(max_epochs, factor):
    oracle = make_oracle(max_epochs, factor)
    workers = Workers(oracle, workers=3, on_create=check_promotion_waited).run()
    assert len(oracle.trials) == TRIALS_PER_ITERATION[max_epochs, factor]
    assert workers.idle > 0


def test_two_iterations_double_the_count():
    oracle = make_oracle(10, 3, hyperband_iterations=2)
    Workers(oracle, workers=2).run()
    assert len(oracle.trials) == 60
    assert Counter(key(t) for t in oracle.trials.values()) == {
        (2, 0): 24,
        (2, 1): 8,
        (2, 2): 4,
        (1, 0): 12,
        (1, 1): 4,
        (0, 0): 8,
    }


def test_one_worker_follows_kerastuner_order_and_epochs():
    oracle = make_oracle(10, 3)
    Workers(oracle).run()
    expected = (
        [(2, 0, 2, 0)] * 12
        + [(2, 1, 4, 2)] * 4
        + [(2, 2, 10, 4)] * 2
        + [(1, 0, 4, 0)] * 6
        + [(1, 1, 10, 4)] * 2
        + [(0, 0, 10, 0)] * 4
    )
    assert [
        (*key(t), t.values["tuner/epochs"], t.values["tuner/initial_epoch"])
        for t in oracle.trials.values()
    ] == expected
    assert list(oracle.trials) == [str(i).zfill(2) for i in range(30)]


@pytest.mark.parametrize("workers", [1, 3])
def test_promoted_trials_continue_the_best_of_the_previous_round(workers):
    oracle = make_oracle(27, 3)
    Workers(oracle, workers=workers).run()
    trials = list(oracle.trials.values())
    for trial in trials:
        if trial.values["tuner/round"] == 0:
            assert "tuner/trial_id" not in trial.values
            continue
        parent = oracle.get_trial(trial.values["tuner/trial_id"])
        bracket, round_ = key(trial)
        assert key(parent) == (bracket, round_ - 1)
        assert trial.values["tuner/initial_epoch"] == parent.values["tuner/epochs"]
        assert {k: v for k, v in trial.values.items() if not k.startswith("tuner/")} == {
            "x": parent.values["x"]
        }
    for bracket, round_ in {key(t) for t in trials if t.values["tuner/round"] > 0}:
        promoted = [t for t in trials if key(t) == (bracket, round_)]
        previous = sorted(
            (t for t in trials if key(t) == (bracket, round_ - 1)), key=lambda t: t.score
        )
        parents = [t.values["tuner/trial_id"] for t in promoted]
        assert len(set(parents)) == len(parents)
        assert set(parents) == {t.trial_id for t in previous[: len(promoted)]}


def test_epochs_follow_the_schedule():
    oracle = make_oracle(100, 3)
    Workers(oracle).run()
    epochs = {
        key(t): (t.values["tuner/initial_epoch"], t.values["tuner/epochs"])
        for t in oracle.trials.values()
    }
    assert epochs[4, 0] == (0, 2)
    assert epochs[4, 1] == (2, 4)
    assert epochs[4, 2] == (4, 12)
    assert epochs[4, 3] == (12, 34)
    assert epochs[4, 4] == (34, 100)
    assert epochs[2, 0] == (0, 12)
    assert epochs[0, 0] == (0, 100)


# Arguments and budget ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"factor": 1}, "factor"),
        ({"factor": 2.5}, "factor"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"hyperband_iterations": 0}, "hyperband_iterations"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    # KerasTuner's message starts "factor needs": code that matches on it keeps working.
    with pytest.raises(ValueError, match=f"^{name} needs to be an integer >= "):
        HyperbandOracle(**kwargs)


@pytest.mark.parametrize("asynchronous", [False, True])
def test_max_trials_caps_the_total(asynchronous):
    oracle = make_oracle(10, 3, max_trials=7, asynchronous=asynchronous)
    Workers(oracle, workers=2).run()
    assert len(oracle.trials) == 7


def test_config_names_the_schedule():
    config = make_oracle(27, 3, hyperband_iterations=2, asynchronous=True).get_config()
    assert config["max_epochs"] == 27
    assert config["factor"] == 3
    assert config["hyperband_iterations"] == 2
    assert config["asynchronous"] is True


# Failures ---------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_failed_trial_does_not_block_its_round(asynchronous):
    oracle = make_oracle(10, 3, asynchronous=asynchronous)
    Workers(oracle, workers=3, fail=lambda t: t.trial_id in ("01", "12")).run()
    failed = {t.trial_id for t in oracle.trials.values() if t.status == TrialStatus.FAILED}
    assert failed == {"01", "12"}
    parents = {t.values.get("tuner/trial_id") for t in oracle.trials.values()}
    assert not failed & parents
    if not asynchronous:
        assert len(oracle.trials) == 30


def test_a_round_without_survivors_ends_its_bracket():
    # (2, 2): bracket 1 runs 2 trials then promotes 1; bracket 0 runs 2 trials.
    oracle = make_oracle(2, 2)
    Workers(oracle, workers=2, fail=lambda t: key(t) == (1, 0)).run()
    assert Counter(key(t) for t in oracle.trials.values()) == {(1, 0): 2, (0, 0): 2}


def test_retried_trial_keeps_its_place_in_the_round():
    oracle = make_oracle(10, 3, max_retries_per_trial=1)
    attempts = Counter()

    def fail_once(trial):
        attempts[trial.trial_id] += 1
        return trial.trial_id == "03" and attempts["03"] == 1

    Workers(oracle, workers=2, fail=fail_once).run()
    assert len(oracle.trials) == 30
    assert oracle.get_trial("03").status == TrialStatus.COMPLETED


def test_too_many_failures_still_end_the_search():
    oracle = make_oracle(10, 3)
    with pytest.raises(FatalRuntimeError):
        Workers(oracle, fail=lambda t: True).run()


# Space and enqueued values ----------------------------------------------------


def test_small_space_is_not_repeated_and_ends_the_search():
    oracle = HyperbandOracle(objective="loss", max_epochs=9, factor=3, seed=3)
    oracle.hyperparameters.Choice("units", [8, 16, 32, 64])
    oracle.hyperparameters.Fixed("x", 0.3)
    Workers(oracle, workers=2).run()
    base = [t.values["units"] for t in oracle.trials.values() if t.values["tuner/round"] == 0]
    assert sorted(base) == [8, 16, 32, 64]
    # The first bracket promotes from the 4 configurations it could start.
    assert Counter(key(t) for t in oracle.trials.values()) == {(2, 0): 4, (2, 1): 3, (2, 2): 1}


def test_enqueued_values_take_the_next_round_zero_slot():
    oracle = make_oracle(10, 3)
    oracle.enqueue_trial({"x": 0.3})
    trial = oracle.create_trial("worker-0")
    assert trial.values["x"] == 0.3
    assert (trial.values["tuner/epochs"], trial.values["tuner/bracket"]) == (2, 2)


# Asynchronous mode ------------------------------------------------------------


def check_asha_rule(oracle: HyperbandOracle, trial: Trial) -> None:
    """A promoted trial's parent is among the top 1/factor of its round's results."""
    if trial.values["tuner/round"] == 0:
        return
    parent = oracle.get_trial(trial.values["tuner/trial_id"])
    results = sorted(
        (t for t in oracle.trials.values() if key(t) == key(parent) and t.status in _FINAL),
        key=lambda t: t.score if t.status == TrialStatus.COMPLETED else float("inf"),
    )
    assert parent in results[: len(results) // oracle.factor]


@pytest.mark.parametrize(("max_epochs", "factor"), list(BASE_TRIALS_PER_ITERATION))
def test_asynchronous_workers_never_wait_while_new_trials_remain(max_epochs, factor):
    oracle = make_oracle(max_epochs, factor, asynchronous=True)
    base_total = BASE_TRIALS_PER_ITERATION[max_epochs, factor]
    idle_with_work_left = []

    def on_idle(oracle):
        base_started = sum(t.values["tuner/round"] == 0 for t in oracle.trials.values())
        if base_started < base_total:
            idle_with_work_left.append(base_started)

    Workers(oracle, workers=3, on_create=check_asha_rule, on_idle=on_idle).run()
    assert idle_with_work_left == []
    trials = list(oracle.trials.values())
    assert sum(t.values["tuner/round"] == 0 for t in trials) == base_total
    # At the end nothing more can be promoted: every round's top 1/factor continued.
    parents = {t.values.get("tuner/trial_id") for t in trials}
    for bracket, round_ in {key(t) for t in trials}:
        if round_ == bracket:
            continue
        results = sorted((t for t in trials if key(t) == (bracket, round_)), key=lambda t: t.score)
        assert all(t.trial_id in parents for t in results[: len(results) // factor])


def test_asynchronous_promotes_as_soon_as_a_round_has_enough_results():
    oracle = make_oracle(9, 3, asynchronous=True)
    first = [oracle.create_trial(f"worker-{i}") for i in range(3)]
    for trial in first:
        oracle.update_trial(trial.trial_id, {"loss": loss(trial)}, step=0)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    promoted = oracle.create_trial("worker-0")
    best = min(first, key=lambda t: t.score)
    assert promoted.values["tuner/trial_id"] == best.trial_id
    assert (promoted.values["tuner/round"], promoted.values["tuner/initial_epoch"]) == (1, 1)
    assert promoted.values["tuner/epochs"] == 3
    # Only one of three results qualifies: the next worker starts a new trial.
    assert oracle.create_trial("worker-1").values["tuner/round"] == 0


# State ------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True])
def test_state_round_trip_mid_search_continues_identically(asynchronous):
    fail = lambda t: t.trial_id == "05"  # noqa: E731
    original = Workers(make_oracle(27, 3, asynchronous=asynchronous), workers=3, fail=fail)
    for _ in range(25):
        original.step()
    assert original.running
    state = json.loads(json.dumps(original.oracle.get_state()))
    restored = Workers(make_oracle(27, 3, asynchronous=asynchronous), workers=3, fail=fail)
    restored.oracle.set_state(state)
    restored.running = dict(original.running)
    original.run()
    restored.run()
    assert restored.oracle.get_state() == original.oracle.get_state()
    for trial in restored.oracle.trials.values():
        if "tuner/trial_id" in trial.values:
            assert trial.values["tuner/trial_id"] in restored.oracle.trials


def test_state_from_another_schedule_is_refused():
    state = make_oracle(27, 3).get_state()
    with pytest.raises(ValueError, match="max_epochs"):
        make_oracle(9, 3).set_state(state)
