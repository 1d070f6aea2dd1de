"""The oracle contract: one suite run over every search algorithm.

Each test states one promise of the ``Oracle`` interface and checks it for
random search, grid search, Bayesian optimisation (Gaussian process, and
its "auto" sampler), TPE and Hyperband (synchronous and asynchronous,
drawing at random or from a model), as Optuna's
``tests/samplers_tests/test_samplers.py`` does for its samplers and
scikit-learn's ``check_estimator`` for its estimators.

The oracles are driven the way the search flow drives them: the space is
declared through ``update_space`` before the first trial (the tuner builds the
model with the defaults first), workers ask with ``create_trial``, report with
``update_trial`` and hand the trial back with ``end_trial``; the objective is a
deterministic function of the values, so every run can be replayed exactly.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tuning.errors import FatalError, FatalRuntimeError
from tuning.hyperparameters import HyperParameters
from tuning.oracles import (
    BayesianOptimizationOracle,
    GridSearchOracle,
    HyperbandOracle,
    Oracle,
    RandomSearchOracle,
    TPEOracle,
)
from tuning.oracles.base import values_key
from tuning.trial import Trial, TrialStatus

# Oracles ----------------------------------------------------------------------------

# Hyperband's schedule for (max_epochs, factor) = (9, 3): brackets 2, 1, 0 of 9 + 3 + 1,
# 5 + 1 and 3 trials; 17 of the 23 start a new configuration (round 0).
HYPERBAND_SCHEDULE = {"max_epochs": 9, "factor": 3}
HYPERBAND_TRIALS = 23
HYPERBAND_BASE_TRIALS = 17

FACTORIES: dict[str, Callable[..., Oracle]] = {
    "random": RandomSearchOracle,
    "grid": GridSearchOracle,
    # Three random points, then the Gaussian process: short runs exercise both phases.
    "bayesian": lambda **kw: BayesianOptimizationOracle(num_initial_points=3, **kw),
    "tpe": lambda **kw: TPEOracle(num_initial_points=3, **kw),
    "bayesian-auto": lambda **kw: BayesianOptimizationOracle(
        num_initial_points=3, sampler="auto", **kw
    ),
    "hyperband": lambda **kw: HyperbandOracle(**HYPERBAND_SCHEDULE, **kw),
    "hyperband-async": lambda **kw: HyperbandOracle(**HYPERBAND_SCHEDULE, asynchronous=True, **kw),
    # Model-guided (BOHB): the model takes over after six results (4 tuned + 2).
    "bohb": lambda **kw: HyperbandOracle(**HYPERBAND_SCHEDULE, sampler="model", **kw),
    "bohb-async": lambda **kw: HyperbandOracle(
        **HYPERBAND_SCHEDULE, sampler="model", asynchronous=True, **kw
    ),
}
ALL = list(FACTORIES)
RANDOMISED = [name for name in ALL if name != "grid"]
HYPERBANDS = ("hyperband", "hyperband-async", "bohb", "bohb-async")


def make_oracle(name: str, **kwargs: Any) -> Oracle:
    """A fresh oracle of kind ``name``, minimising ``loss``, with an empty space."""
    kwargs.setdefault("objective", "loss")
    kwargs.setdefault("seed", 1)
    return FACTORIES[name](**kwargs)


pytestmark = pytest.mark.usefixtures("one_blas_thread")


# Space and objective ------------------------------------------------------------------


def make_space() -> HyperParameters:
    """3 x 3 x 2 x 2 = 36 configurations; defaults away from the first values."""
    hp = HyperParameters()
    hp.Float("lr", 0.0, 1.0, step=0.5, default=0.5)
    hp.Int("units", 1, 3, default=2)
    hp.Choice("act", ["relu", "tanh"], default="tanh")
    hp.Boolean("bn")
    return hp


SPACE_SIZE = 36
# Each hyperparameter's grid as grid_search.py documents it: the default, then the others.
GRID_AXES = {
    "lr": [0.5, 0.0, 1.0],
    "units": [2, 1, 3],
    "act": ["tanh", "relu"],
    "bn": [False, True],
}


def configuration(values: dict[str, Any]) -> dict[str, Any]:
    """What the user's model sees: the values less Hyperband's ``tuner/`` bookkeeping."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def place(trial: Trial) -> tuple[int, int]:
    """A Hyperband trial's bracket and round."""
    return trial.values["tuner/bracket"], trial.values["tuner/round"]


def score(trial: Trial) -> float:
    """A trial's score for sorting, best (lowest) first; inf if it has none."""
    return float("inf") if trial.score is None else trial.score


def loss(values: dict[str, Any]) -> float:
    """A deterministic objective without ties; Hyperband's longer training helps."""
    config = configuration(values)
    value = (
        (config["lr"] - 0.3) ** 2
        + 0.1 * config["units"]
        + 0.05 * (config["act"] == "relu")
        + 0.02 * config["bn"]
    )
    return value + 1.0 / values.get("tuner/epochs", 1)


# Driver -------------------------------------------------------------------------------

Outcome = Callable[[Trial, int], TrialStatus]


def always_completed(trial: Trial, attempt: int) -> TrialStatus:
    return TrialStatus.COMPLETED


class Search:
    """Workers sharing one oracle, as the search flow runs them.

    Each step, every free worker asks for a trial; then the running trial that
    started first ends with the status ``outcome(trial, attempt)`` gives
    (``attempt`` counts from 0 for each trial id; a COMPLETED trial reports
    ``loss`` of its values, at the last epoch for Hyperband).

    Attributes:
        proposals: ``(trial_id, values)`` of every RUNNING trial handed out, in
            order (a retried trial appears once per attempt, under its id).
        answers: Every status ``create_trial`` answered, in order.
    """

    def __init__(self, oracle: Oracle, workers: int = 1, outcome: Outcome = always_completed):
        self.oracle = oracle
        self.names = [f"worker-{i}" for i in range(workers)]
        self.outcome = outcome
        self.running: dict[str, str] = {}
        self.attempts: Counter[str] = Counter()
        self.proposals: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[TrialStatus] = []
        if not oracle.hyperparameters.space:
            oracle.update_space(make_space())

    def step(self) -> bool:
        """One step; False once no trial runs (the search is over, or waits on nothing)."""
        for name in self.names:
            if name in self.running:
                continue
            trial = self.oracle.create_trial(name)
            self.answers.append(trial.status)
            if trial.status == TrialStatus.RUNNING:
                self.running[name] = trial.trial_id
                self.proposals.append((trial.trial_id, dict(trial.values)))
        if not self.running:
            return False
        trial = self.oracle.get_trial(self.running.pop(next(iter(self.running))))
        self.finish(trial, self.outcome(trial, self.attempts[trial.trial_id]))
        return True

    def finish(self, trial: Trial, status: TrialStatus, message: str | None = None) -> None:
        """Ends ``trial`` as the tuner does: metrics, status, ``end_trial``, ``update_space``."""
        self.attempts[trial.trial_id] += 1
        if status == TrialStatus.COMPLETED:
            step = trial.values.get("tuner/epochs", 1) - 1
            self.oracle.update_trial(trial.trial_id, {"loss": loss(trial.values)}, step=step)
        trial.status = status
        trial.message = message or (None if status == TrialStatus.COMPLETED else f"boom {status}")
        self.oracle.end_trial(trial)
        self.oracle.update_space(trial.hyperparameters)

    def run(self, max_steps: int = 1000) -> Search:
        for _ in range(max_steps):
            if not self.step():
                break
        else:
            raise AssertionError(f"the search did not end within {max_steps} steps")
        return self

    def restored(self, state: dict[str, Any], oracle: Oracle) -> Search:
        """A driver over ``oracle`` restored from ``state``, taking over this one's workers."""
        oracle.set_state(state)
        search = Search(oracle, len(self.names), self.outcome)
        search.running = dict(self.running)
        search.attempts = Counter(self.attempts)
        return search


def json_round_trip(state: dict[str, Any]) -> dict[str, Any]:
    """What the store gives back: strict JSON (no NaN), dumped and loaded."""
    return json.loads(json.dumps(state, allow_nan=False))


def assert_stopped_for_good(oracle: Oracle, fresh: Callable[[], Oracle]) -> None:
    """``create_trial`` answers STOPPED to every worker, again and again, recording nothing.

    So does ``fresh()``, an oracle of the same configuration, once restored from
    the state: a finished search that is resumed stays finished.
    """
    state = json_round_trip(oracle.get_state())
    restored = fresh()
    restored.set_state(state)
    assert json_round_trip(restored.get_state()) == state
    for each in (oracle, restored):
        for attempt in range(4):
            for name in ("worker-0", "worker-1", "late-worker"):
                assert each.create_trial(name).status == TrialStatus.STOPPED, (name, attempt)
        assert len(each.trials) == len(state["trials"])
        assert not each.ongoing_trials


def assert_no_configuration_proposed_twice(oracle: Oracle) -> None:
    """No configuration is proposed after it was proposed once (so never once it finished).

    For random, grid and Bayesian search every trial is a new proposal, so all
    trials' values differ. For Hyperband, "the same configuration" means the
    same values less the ``tuner/`` keys; a trial of round ``r >= 1`` is not a
    proposal but a promotion that continues training its ``tuner/trial_id``.
    So each configuration's trials must form one chain in one bracket: one
    trial in each of rounds 0..k, round ``r`` continuing round ``r - 1``'s
    trial, which had COMPLETED.
    """
    trials = list(oracle.trials.values())
    if not isinstance(oracle, HyperbandOracle):
        keys = [values_key(t.values) for t in trials]
        assert len(set(keys)) == len(keys), Counter(keys).most_common(3)
        return
    chains: dict[str, list[Trial]] = {}
    for trial in trials:
        chains.setdefault(values_key(configuration(trial.values)), []).append(trial)
    for chain in chains.values():
        assert [t.values["tuner/round"] for t in chain] == list(range(len(chain))), chain
        assert len({t.values["tuner/bracket"] for t in chain}) == 1, chain
        assert "tuner/trial_id" not in chain[0].values
        for parent, child in itertools.pairwise(chain):
            assert child.values["tuner/trial_id"] == parent.trial_id
            assert parent.status == TrialStatus.COMPLETED
    assert sum(t.values["tuner/round"] == 0 for t in trials) == len(chains)


# 1. Budget ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("workers", [1, 2])
def test_stops_at_max_trials_and_keeps_saying_so(name, workers):
    oracle = make_oracle(name, max_trials=5)
    search = Search(oracle, workers=workers).run()

    # The space (36) and Hyperband's schedule (23) are larger: the budget is what stops it.
    assert len({trial_id for trial_id, _ in search.proposals}) == 5
    assert list(oracle.trials) == ["00", "01", "02", "03", "04"]
    assert search.answers[-1] == TrialStatus.STOPPED
    assert all(t.status == TrialStatus.COMPLETED for t in oracle.trials.values())
    assert_stopped_for_good(oracle, lambda: make_oracle(name, max_trials=5))


@pytest.mark.parametrize(
    ("name", "budget"),
    [
        ("random", 10),  # KerasTuner's default max_trials
        ("grid", SPACE_SIZE),  # max_trials=None: the whole grid
        ("bayesian", 10),
        ("tpe", 10),
        ("bayesian-auto", 10),
        ("hyperband", HYPERBAND_TRIALS),  # max_trials=None: one iteration of the schedule
        ("hyperband-async", None),  # ASHA promotes as results come: counted below
        ("bohb", HYPERBAND_TRIALS),
        ("bohb-async", None),
    ],
)
def test_default_budget_is_the_documented_one(name, budget):
    oracle = make_oracle(name)
    Search(oracle, workers=2).run()

    if budget is not None:
        assert len(oracle.trials) == budget
    else:
        # As many new configurations as the synchronous schedule, and it ends once nothing
        # more can be promoted: every round's top 1/factor has been continued.
        trials = list(oracle.trials.values())
        assert sum(t.values["tuner/round"] == 0 for t in trials) == HYPERBAND_BASE_TRIALS
        parents = {t.values.get("tuner/trial_id") for t in trials}
        for bracket, round_ in {place(t) for t in trials}:
            if round_ < bracket:
                results = sorted((t for t in trials if place(t) == (bracket, round_)), key=score)
                assert {t.trial_id for t in results[: len(results) // 3]} <= parents
    assert_stopped_for_good(oracle, lambda: make_oracle(name))


# 2. Seeds -----------------------------------------------------------------------------


def proposals(name: str, seed: int, trials: int = 8) -> list[tuple[str, dict[str, Any]]]:
    return Search(make_oracle(name, seed=seed, max_trials=trials), workers=2).run().proposals


@pytest.mark.parametrize("name", ALL)
def test_the_same_seed_proposes_the_same_sequence(name):
    first = proposals(name, seed=3)
    assert len(first) == 8
    assert proposals(name, seed=3) == first


@pytest.mark.parametrize("name", ALL)
def test_another_seed_proposes_another_sequence_except_for_grid(name):
    if name == "grid":
        # Grid search draws nothing at random: its order is fixed whatever the seed.
        assert proposals(name, seed=3) == proposals(name, seed=4)
    else:
        assert proposals(name, seed=3) != proposals(name, seed=4)


# 3. State round trip ------------------------------------------------------------------


def fails_now_and_then(trial: Trial, attempt: int) -> TrialStatus:
    """A crash to retry (trial 2, first attempt), a failure for good (trial 6)."""
    if trial.trial_id == "02" and attempt == 0:
        return TrialStatus.INVALID
    if trial.trial_id == "06":
        return TrialStatus.FAILED
    return TrialStatus.COMPLETED


ROUND_TRIP_BUDGET = {
    "random": 14,
    "grid": 14,
    "bayesian": 14,
    "tpe": 14,
    "bayesian-auto": 14,
    "hyperband": None,
    "hyperband-async": None,
    "bohb": None,
    "bohb-async": None,
}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("split", [0, 3, 7, 12])
def test_state_snapshot_mid_search_continues_the_same_sequence(name, split):
    def fresh() -> Oracle:
        return make_oracle(
            name, seed=5, max_trials=ROUND_TRIP_BUDGET[name], max_retries_per_trial=1
        )

    reference = Search(fresh(), workers=2, outcome=fails_now_and_then).run()

    interrupted = Search(fresh(), workers=2, outcome=fails_now_and_then)
    for _ in range(split):
        assert interrupted.step()
    assert split == 0 or interrupted.running  # the snapshot holds running trials
    state = json_round_trip(interrupted.oracle.get_state())
    # Fresh, with an empty space: everything must come from the state.
    restored = interrupted.restored(state, fresh())
    assert json_round_trip(restored.oracle.get_state()) == state
    restored.run()

    assert interrupted.proposals + restored.proposals == reference.proposals
    assert restored.answers[-1] == TrialStatus.STOPPED
    assert json_round_trip(restored.oracle.get_state()) == json_round_trip(
        reference.oracle.get_state()
    )
    assert {t.status for t in restored.oracle.trials.values()} == {
        TrialStatus.COMPLETED,
        TrialStatus.FAILED,
    }


# 4. Failure budget --------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_consecutive_failures_end_the_search_and_a_success_resets_the_count(name):
    oracle = make_oracle(name, max_consecutive_failed_trials=3)
    search = Search(oracle)

    def next_trial() -> Trial:
        trial = oracle.create_trial("worker-0")
        assert trial.status == TrialStatus.RUNNING
        return trial

    # INVALID without retries left counts as FAILED (base.py turns it into FAILED).
    for status in (TrialStatus.FAILED, TrialStatus.INVALID, TrialStatus.COMPLETED):
        search.finish(next_trial(), status)
    for status in (TrialStatus.FAILED, TrialStatus.INVALID):
        search.finish(next_trial(), status)
    assert not oracle.failed_too_often
    last = next_trial()
    with pytest.raises(FatalRuntimeError, match=r"(?s)3 consecutive trials failed.*the last"):
        search.finish(last, TrialStatus.FAILED, "Traceback ...\nthe last")

    assert issubclass(FatalRuntimeError, FatalError)
    assert oracle.failed_too_often
    assert [t.status for t in oracle.trials.values()] == [TrialStatus.FAILED] * 2 + [
        TrialStatus.COMPLETED
    ] + [TrialStatus.FAILED] * 3
    assert_stopped_for_good(oracle, lambda: make_oracle(name, max_consecutive_failed_trials=3))


@pytest.mark.parametrize("name", ALL)
def test_a_retried_trial_counts_once_towards_the_failure_limit(name):
    oracle = make_oracle(name, max_consecutive_failed_trials=2, max_retries_per_trial=1)
    search = Search(oracle, outcome=lambda trial, attempt: TrialStatus.INVALID)

    with pytest.raises(FatalRuntimeError, match="2 consecutive trials failed"):
        search.run()

    # Each trial ran twice under its id and values, then failed for good.
    assert [trial_id for trial_id, _ in search.proposals] == ["00", "00", "01", "01"]
    assert search.proposals[0] == search.proposals[1]
    assert search.proposals[2] == search.proposals[3]
    assert [t.status for t in oracle.trials.values()] == [TrialStatus.FAILED] * 2
    assert_stopped_for_good(
        oracle, lambda: make_oracle(name, max_consecutive_failed_trials=2, max_retries_per_trial=1)
    )


# 5. No configuration twice ------------------------------------------------------------


def fails_often(trial: Trial, attempt: int) -> TrialStatus:
    """Every third trial crashes once (then completes), every seventh fails for good."""
    number = int(trial.trial_id)
    if number % 7 == 6:
        return TrialStatus.FAILED
    if number % 3 == 1 and attempt == 0:
        return TrialStatus.INVALID
    return TrialStatus.COMPLETED


EXHAUSTING = {
    # Run until the space is exhausted (random search: until 20 draws in a row repeat).
    "random": {"max_trials": None},
    "grid": {"max_trials": None},
    "bayesian": {"max_trials": None},
    "tpe": {"max_trials": None},
    "bayesian-auto": {"max_trials": None},
    # Three iterations want 3 x 17 = 51 new configurations out of 36.
    "hyperband": {"hyperband_iterations": 3},
    "hyperband-async": {"hyperband_iterations": 3},
    "bohb": {"hyperband_iterations": 3},
    "bohb-async": {"hyperband_iterations": 3},
}


@pytest.mark.parametrize("name", ALL)
def test_never_proposes_a_configuration_twice_even_when_the_space_runs_out(name):
    oracle = make_oracle(name, max_retries_per_trial=1, **EXHAUSTING[name])
    search = Search(oracle, workers=2, outcome=fails_often).run()

    assert_no_configuration_proposed_twice(oracle)
    # A retry is the same trial again, not a new proposal.
    first_values = {}
    for trial_id, values in search.proposals:
        assert first_values.setdefault(trial_id, values) == values
    assert any(count > 1 for count in Counter(i for i, _ in search.proposals).values())
    configurations = {values_key(configuration(t.values)) for t in oracle.trials.values()}
    if name in ("grid", "bayesian", "bayesian-auto"):
        assert len(configurations) == SPACE_SIZE  # documented: it stops once all were tried
    else:
        assert len(configurations) <= SPACE_SIZE
    assert len(configurations) >= SPACE_SIZE // 2
    assert_stopped_for_good(
        oracle, lambda: make_oracle(name, max_retries_per_trial=1, **EXHAUSTING[name])
    )


@pytest.mark.parametrize("name", ALL)
def test_proposals_lie_in_the_space(name):
    oracle = make_oracle(name, max_trials=12)
    search = Search(oracle, workers=2).run()

    space = {hp.name: hp for hp in make_space().space}
    for _, values in search.proposals:
        config = configuration(values)
        assert set(config) == set(space)
        assert all(space[k].contains(v) for k, v in config.items()), config
        assert all(type(v) is type(space[k].default) for k, v in config.items()), config
        if name in HYPERBANDS:
            bracket, round_ = values["tuner/bracket"], values["tuner/round"]
            assert values["tuner/epochs"] == -(-9 // 3 ** (bracket - round_))


# 6. Grid order ------------------------------------------------------------------------


def test_grid_enumerates_the_documented_grid_in_odometer_order():
    oracle = make_oracle("grid")
    search = Search(oracle).run()

    # Trial 1 uses every default; each list is its default, then the other values;
    # the last-declared hyperparameter varies fastest.
    expected = [
        dict(zip(GRID_AXES, combo, strict=True)) for combo in itertools.product(*GRID_AXES.values())
    ]
    assert len(expected) == SPACE_SIZE
    assert [values for _, values in search.proposals] == expected
    assert expected[0] == {"lr": 0.5, "units": 2, "act": "tanh", "bn": False}
    assert expected[1] == {"lr": 0.5, "units": 2, "act": "tanh", "bn": True}
    assert search.answers[-1] == TrialStatus.STOPPED
    assert_stopped_for_good(oracle, lambda: make_oracle("grid"))


def end_declaring(oracle: Oracle, trial: Trial, declare: Callable[[HyperParameters], Any]) -> None:
    """Ends ``trial`` as the tuner does after its model ran ``declare`` on its hyperparameters."""
    declare(trial.hyperparameters)
    oracle.update_space(trial.hyperparameters)
    oracle.update_trial(trial.trial_id, {"loss": 1.0})
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


def test_grid_tries_a_hyperparameter_declared_while_trials_run_and_waits_for_them():
    # KerasTuner's scenario: "b" is declared only as the model trains.
    oracle = make_oracle("grid")
    known = HyperParameters()
    known.Boolean("a")
    oracle.update_space(known)

    def declare_b(hp: HyperParameters) -> None:
        hp.Boolean("b")

    first, second = oracle.create_trial("w1"), oracle.create_trial("w2")
    assert (first.values, second.values) == ({"a": False}, {"a": True})
    # The grid over "a" is exhausted, but the running trials may reveal more: wait.
    assert oracle.create_trial("w3").status == TrialStatus.IDLE

    end_declaring(oracle, first, declare_b)
    third = oracle.create_trial("w3")
    assert third.values == {"a": False, "b": True}
    # The second trial started before "b" was known and may still declare it: what agrees
    # with its values waits until it ends.
    assert oracle.create_trial("w4").status == TrialStatus.IDLE

    end_declaring(oracle, second, declare_b)
    fourth = oracle.create_trial("w4")
    assert fourth.values == {"a": True, "b": True}
    assert oracle.create_trial("w5").status == TrialStatus.IDLE

    end_declaring(oracle, third, declare_b)
    end_declaring(oracle, fourth, declare_b)
    assert oracle.create_trial("w5").status == TrialStatus.STOPPED
    assert [t.values for t in oracle.trials.values()] == [
        {"a": False, "b": False},
        {"a": True, "b": False},
        {"a": False, "b": True},
        {"a": True, "b": True},
    ]


def test_grid_learns_what_a_trial_that_started_early_ran_before_trying_around_it():
    # A model whose declaration of "x" gives a default that depends on "a": a trial that
    # began before "x" was known runs the default its own declaration gives.
    oracle = make_oracle("grid")
    known = HyperParameters()
    known.Boolean("a")
    oracle.update_space(known)

    def declare_x(hp: HyperParameters) -> None:
        hp.Int("x", 0, 2, default=1 if hp.get("a") else 0)

    early = [oracle.create_trial("w1"), oracle.create_trial("w2")]
    end_declaring(oracle, early[0], declare_x)
    running = [oracle.create_trial("w3")]
    assert running[0].values == {"a": False, "x": 1}
    end_declaring(oracle, early[1], declare_x)  # it ran x=1, not the space's default 0
    for worker in itertools.count(4):
        trial = oracle.create_trial(f"w{worker}")
        if trial.status != TrialStatus.RUNNING:
            break
        running.append(trial)
    for trial in running:
        end_declaring(oracle, trial, declare_x)

    assert oracle.create_trial("late").status == TrialStatus.STOPPED
    ran = sorted((t.values["a"], t.values["x"]) for t in oracle.trials.values())
    assert ran == [(a, x) for a in (False, True) for x in (0, 1, 2)]


@pytest.mark.parametrize("workers", [1, 3])
def test_grid_does_not_rerun_a_trial_for_a_hyperparameter_it_never_declared(workers):
    # KerasTuner's test_new_hp: each branch of the model declares a hyperparameter of its own.
    def branches(hp: HyperParameters) -> None:
        if hp.Boolean("bool"):
            hp.Choice("c1", [0, 1, 2])
        else:
            hp.Choice("c2", [3, 4, 5])

    oracle = make_oracle("grid")
    running: dict[str, Trial] = {}
    while True:
        for worker in range(workers):
            trial = running.get(f"w{worker}") or oracle.create_trial(f"w{worker}")
            if trial.status == TrialStatus.RUNNING:
                running[f"w{worker}"] = trial
        if not running:
            break
        end_declaring(oracle, running.pop(next(iter(running))), branches)

    # The three trials of the "c2" branch ended before "c1" was known: they never declared
    # it, so none runs again for the other values of "c1". KerasTuner runs 3 + 3 * 3 too.
    assert len(oracle.trials) == 3 + 3 * 3
    values = [trial.values for trial in oracle.trials.values()]
    models = {(v["bool"], v["c1"] if v["bool"] else v["c2"]) for v in values}
    assert models == {(False, 3), (False, 4), (False, 5), (True, 0), (True, 1), (True, 2)}
    # Nor does a hyperparameter that no trial declared reopen the search.
    grown = oracle.get_space()
    grown.Boolean("extra")
    oracle.update_space(grown)
    assert oracle.create_trial("late").status == TrialStatus.STOPPED


def test_grid_keeps_every_worker_busy_over_a_known_space():
    oracle = make_oracle("grid")
    search = Search(oracle, workers=3).run()

    sequential = Search(make_oracle("grid")).run()
    assert search.proposals == sequential.proposals
    # RUNNING for every combination, IDLE while the last ones run, STOPPED once none does.
    assert search.answers[:SPACE_SIZE] == [TrialStatus.RUNNING] * SPACE_SIZE
    tail = search.answers[SPACE_SIZE:]
    assert TrialStatus.IDLE in tail
    assert tail == sorted(tail, key=[TrialStatus.IDLE, TrialStatus.STOPPED].index)
    assert tail[-3:] == [TrialStatus.STOPPED] * 3


# 8. Start and end order -------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_start_and_end_order_list_trial_ids_as_kerastuner_does(name):
    ended: list[tuple[str, TrialStatus]] = []

    def outcome(trial: Trial, attempt: int) -> TrialStatus:
        status = fails_now_and_then(trial, attempt)
        ended.append((trial.trial_id, status))
        return status

    oracle = make_oracle(name, max_trials=8, max_retries_per_trial=1)
    search = Search(oracle, workers=2, outcome=outcome)
    while ("02", TrialStatus.INVALID) not in ended:
        assert search.step()
    assert "02" in oracle.start_order
    assert "02" not in oracle.end_order  # waiting for its retry
    search.run()

    assert oracle.start_order == list(oracle.trials) == [f"{i:02d}" for i in range(8)]
    # In the order they ended for good: a retried trial when its retry ended.
    retried = ended.index(("02", TrialStatus.INVALID))
    assert oracle.end_order == [trial_id for trial_id, _ in ended[:retried] + ended[retried + 1 :]]
    restored = make_oracle(name, max_trials=8, max_retries_per_trial=1)
    restored.set_state(json_round_trip(oracle.get_state()))
    assert (restored.start_order, restored.end_order) == (oracle.start_order, oracle.end_order)


# 7. JSON-safe state -------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_state_is_json_safe_at_every_step(name):
    oracle = make_oracle(name, max_trials=10, max_retries_per_trial=1)
    search = Search(oracle, workers=2, outcome=fails_often)

    states = [oracle.get_state()]
    while search.step():
        states.append(oracle.get_state())
    states.append(oracle.get_state())

    for state in states:
        # Strict JSON (no NaN, no numpy scalars), and nothing a round trip changes
        # (no tuples, no non-string keys).
        assert json_round_trip(state) == state
    assert states[-1]["class_name"] == type(oracle).__name__


# Reading results ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_best_trials_are_the_completed_ones_by_score(name):
    oracle = make_oracle(name, max_trials=10)
    Search(oracle, workers=2, outcome=fails_often).run()

    completed = [t for t in oracle.trials.values() if t.status == TrialStatus.COMPLETED]
    best = oracle.get_best_trials(3)
    assert [t.trial_id for t in best] == [t.trial_id for t in sorted(completed, key=score)[:3]]
    for trial in completed:
        assert trial.score == loss(trial.values)
    assert len(oracle.get_best_trials(100)) == len(completed) < len(oracle.trials)


@pytest.mark.parametrize("name", ["random", "bayesian"])
def test_a_search_that_ran_out_of_space_reopens_when_the_space_grows(name):
    # Hyperband is left out: its search ends with its schedule, not with its space; grid
    # search too: a hyperparameter its trials never declared could not change them
    # (test_grid_does_not_rerun_a_trial_for_a_hyperparameter_it_never_declared).
    oracle = make_oracle(name, max_trials=None)
    Search(oracle).run()
    count = len(oracle.trials)
    assert_stopped_for_good(oracle, lambda: make_oracle(name, max_trials=None))

    grown = make_space()
    grown.Boolean("extra", default=False)
    oracle.update_space(grown)
    trial = oracle.create_trial("worker-0")

    assert trial.status == TrialStatus.RUNNING
    assert "extra" in trial.values
    assert len(oracle.trials) == count + 1
