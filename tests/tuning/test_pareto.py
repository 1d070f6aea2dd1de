"""The Pareto search (``multi_objective="pareto"``) and the Pareto front's reporting.

The oracle is driven as the search flow drives it, on a two-objective problem
whose front is known: ``f1 = x``, ``f2 = 1 - sqrt(x)`` plus a penalty in ``y``
(ZDT1 in two variables), both minimised.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective
from tuning.oracles import BayesianOptimizationOracle
from tuning.oracles._parego import random_weights, scalarise
from tuning.oracles.base import values_key
from tuning.pareto import ChampionRule, choose_from_front
from tuning.plots import PARETO_FILE, search_figures
from tuning.pruning import MedianStoppingRule
from tuning.trial import TrialStatus

pytestmark = pytest.mark.usefixtures("one_blas_thread")

OBJECTIVES = [Objective("f1", "min"), Objective("f2", "min")]


def zdt(values: dict[str, Any]) -> dict[str, float]:
    x, y = values["x"], values["y"]
    g = 1.0 + 9.0 * y
    return {"f1": x, "f2": g * (1.0 - math.sqrt(x / g))}


def make_oracle(**kwargs: Any) -> BayesianOptimizationOracle:
    kwargs.setdefault("objective", OBJECTIVES)
    kwargs.setdefault("multi_objective", "pareto")
    kwargs.setdefault("num_initial_points", 4)
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("max_trials", 50)
    oracle = BayesianOptimizationOracle(**kwargs)
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Float("y", 0.0, 1.0)
    oracle.update_space(hp)
    return oracle


def run(oracle: BayesianOptimizationOracle, trials: int) -> list[dict[str, Any]]:
    """Runs ``trials`` trials one at a time; returns the values proposed, in order."""
    proposed = []
    for _ in range(trials):
        trial = oracle.create_trial("worker")
        if trial.status != TrialStatus.RUNNING:
            break
        proposed.append(dict(trial.values))
        oracle.update_trial(trial.trial_id, zdt(trial.values), step=0)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return proposed


# Proposal logic -------------------------------------------------------------------------


def test_the_same_seed_proposes_the_same_sequence_and_another_seed_another():
    first = run(make_oracle(seed=3), 12)
    assert len(first) == 12
    assert run(make_oracle(seed=3), 12) == first
    assert run(make_oracle(seed=4), 12) != first


@pytest.mark.parametrize("split", [2, 6, 9])
def test_state_round_trip_mid_search_continues_the_same_sequence(split):
    reference = make_oracle(seed=5)
    expected = run(reference, 12)

    interrupted = make_oracle(seed=5)
    head = run(interrupted, split)
    state = json.loads(json.dumps(interrupted.get_state(), allow_nan=False))
    restored = BayesianOptimizationOracle(
        objective=OBJECTIVES, multi_objective="pareto", max_trials=50, num_initial_points=4, seed=5
    )
    restored.set_state(state)
    assert restored.get_state() == state
    assert head + run(restored, 12 - split) == expected
    assert state["config"]["multi_objective"] == "pareto"


def test_never_proposes_a_configuration_twice_and_stops_when_the_space_runs_out():
    oracle = BayesianOptimizationOracle(
        objective=OBJECTIVES, multi_objective="pareto", num_initial_points=2, seed=2, max_trials=50
    )
    hp = HyperParameters()
    hp.Int("x", 0, 4)
    hp.Choice("y", [0.0, 0.5, 1.0])
    oracle.update_space(hp)
    proposed = []
    for _ in range(30):
        trial = oracle.create_trial("worker")
        if trial.status != TrialStatus.RUNNING:
            break
        proposed.append(values_key(trial.values))
        values = {"x": trial.values["x"] / 4, "y": trial.values["y"]}
        oracle.update_trial(trial.trial_id, zdt(values), step=0)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    assert len(proposed) == 15 == len(set(proposed))
    assert oracle.create_trial("worker").status == TrialStatus.STOPPED


def test_scalarisation_is_augmented_chebyshev_of_losses_rescaled_to_the_unit_interval():
    losses = np.array([[0.0, 10.0], [2.0, 0.0], [1.0, 5.0], [math.inf, 5.0]])
    weights = np.array([0.25, 0.75])
    # Rescaled: [0, 1], [1, 0], [0.5, 0.5], [1 (worst finite), 0.5].
    expected = [0.75 + 0.75, 0.25 + 0.25, 0.375 + 0.5, 0.375 + 0.625]
    np.testing.assert_allclose(scalarise(losses, weights), expected)
    np.testing.assert_allclose(scalarise(losses, weights, rho=0.05)[0], 0.75 + 0.05 * 0.75)
    drawn = random_weights(3, np.random.default_rng(0))
    assert drawn.shape == (3,) and np.all(drawn >= 0) and math.isclose(drawn.sum(), 1.0)


def test_maximised_objectives_are_negated_before_scalarising():
    oracle = make_oracle(objective=[Objective("f1", "min"), Objective("acc", "max")])
    losses = [[o.loss(v) for o, v in zip(oracle.objective.objectives, (0.2, 0.9), strict=True)]]
    assert losses == [[0.2, -0.9]]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "f1"}, "at least two objectives"),
        ({"pruning": MedianStoppingRule()}, "pruning is not supported"),
        ({"multi_objective": "hypervolume"}, "multi_objective must be one of"),
        ({"sampler": "tpe"}, 'sampler must be "gp"'),
    ],
)
def test_bad_pareto_configurations_are_refused_before_any_trial(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_oracle(**kwargs)


def test_warm_start_enqueues_the_earlier_front():
    earlier = make_oracle(seed=9)
    run(earlier, 10)
    front = earlier.get_pareto_trials()
    oracle = make_oracle(seed=10)
    used = oracle.warm_start(list(earlier.trials.values()), best_k=50)
    assert used == len(front)
    # Best signed sum first, as ``Oracle.warm_start`` orders what it enqueues.
    assert sorted(values_key(v) for v in oracle.enqueued_trials) == sorted(
        values_key(t.values) for t in front
    )


# Reporting ------------------------------------------------------------------------------


def test_pareto_plot_is_drawn_for_several_objectives_only():
    oracle = make_oracle(seed=1)
    run(oracle, 6)
    assert PARETO_FILE in search_figures(oracle)
    single = BayesianOptimizationOracle(objective="f1", seed=1)
    single.update_space(oracle.get_space())
    for _ in range(3):
        trial = single.create_trial("worker")
        single.update_trial(trial.trial_id, {"f1": trial.values["x"]}, step=0)
        trial.status = TrialStatus.COMPLETED
        single.end_trial(trial)
    assert PARETO_FILE not in search_figures(single)


# Choosing the champion from the front -----------------------------------------------------


def scored(oracle_objective: list[Objective], points: list[dict[str, float]]):
    """An oracle whose trials ended with ``points`` (one metrics dict per trial)."""
    oracle = BayesianOptimizationOracle(objective=oracle_objective, max_trials=len(points))
    oracle.hyperparameters.Int("i", 0, 100)
    for point in points:
        trial = oracle.create_trial("worker")
        oracle.update_trial(trial.trial_id, point, step=0)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return oracle


def test_champion_is_the_most_accurate_front_trial_under_the_size_limit():
    objective = [Objective("val_accuracy", "max"), Objective("params", "min")]
    oracle = scored(
        objective,
        [
            {"val_accuracy": 0.95, "params": 50_000},  # front, too big
            {"val_accuracy": 0.90, "params": 20_000},  # front, at the limit: chosen
            {"val_accuracy": 0.80, "params": 5_000},  # front, less accurate
            {"val_accuracy": 0.85, "params": 30_000},  # dominated
        ],
    )
    trials = list(oracle.trials.values())
    rule = ChampionRule("val_accuracy", {"params": 20_000})
    assert choose_from_front(trials, oracle.objective, rule).trial_id == trials[1].trial_id
    smallest = ChampionRule("params", {"val_accuracy": 0.85})
    assert choose_from_front(trials, oracle.objective, smallest).trial_id == trials[1].trial_id
    assert choose_from_front(trials, oracle.objective, ChampionRule("val_accuracy")) is trials[0]
    none_fit = ChampionRule("val_accuracy", {"params": 1_000})
    assert choose_from_front(trials, oracle.objective, none_fit) is None
    with pytest.raises(ValueError, match=r"\['size'\], which are not objectives"):
        choose_from_front(trials, oracle.objective, ChampionRule("val_accuracy", {"size": 1}))
