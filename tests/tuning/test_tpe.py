"""The TPE oracle, the ``sampler`` choice of Bayesian optimisation, and the GP's new acquisition."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tuning.hyperparameters import HyperParameters
from tuning.oracles import (
    BayesianOptimizationOracle,
    RandomSearchOracle,
    TPEOracle,
    _gp,
    _tpe,
)
from tuning.oracles.base import values_key
from tuning.oracles.bayesian import _Encoding
from tuning.trial import TrialStatus

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def conditional_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Choice("model", ["linear", "tree"])
    with hp.conditional_scope("model", ["linear"]):
        hp.Float("l2", 1e-4, 1.0, sampling="log")
    with hp.conditional_scope("model", ["tree"]):
        hp.Int("depth", 2, 12, step=2)
        hp.Choice("leaves", [4, 8, 16, 32])
    hp.Boolean("scale")
    return hp


def loss(values: dict) -> float:
    if values["model"] == "linear":
        return (math.log10(values["l2"]) + 2) ** 2 + 1.0
    return (values["depth"] - 6) ** 2 / 10 + abs(values["leaves"] - 16) / 16 + values["scale"]


def run(oracle, trials: int, objective=loss) -> list[dict]:
    """Drives ``oracle`` for ``trials`` trials; returns the values in order."""
    proposed = []
    for _ in range(trials):
        trial = oracle.create_trial("w")
        if trial.status != TrialStatus.RUNNING:
            break
        proposed.append(dict(trial.values))
        oracle.update_trial(trial.trial_id, {"loss": objective(trial.values)})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return proposed


def tpe(seed: int = 3, **kwargs) -> TPEOracle:
    oracle = TPEOracle(objective="loss", max_trials=None, seed=seed, num_initial_points=5, **kwargs)
    oracle.hyperparameters = conditional_space()
    oracle._fixed_names = {hp.name for hp in oracle.hyperparameters.space}
    return oracle


def test_same_seed_same_proposals_and_another_seed_differs() -> None:
    assert run(tpe(seed=3), 25) == run(tpe(seed=3), 25)
    assert run(tpe(seed=3), 25) != run(tpe(seed=4), 25)


def test_state_round_trip_continues_identically() -> None:
    whole = run(tpe(), 24)
    first = tpe()
    head = run(first, 12)
    resumed = tpe()
    resumed.set_state(json.loads(json.dumps(first.get_state())))
    assert head + run(resumed, 12) == whole


def test_never_proposes_a_finished_configuration_twice() -> None:
    proposed = run(tpe(), 60)
    assert len({values_key(v) for v in proposed}) == len(proposed) == 60


def test_proposals_respect_conditions_and_grids() -> None:
    for values in run(tpe(), 40)[5:]:
        if values["model"] == "linear":
            assert set(values) == {"model", "l2", "scale"}
            assert 1e-4 <= values["l2"] <= 1.0
        else:
            assert set(values) == {"model", "depth", "leaves", "scale"}
            assert values["depth"] in (2, 4, 6, 8, 10, 12)
            assert values["leaves"] in (4, 8, 16, 32)


def test_model_reaches_the_optimum_sooner_than_random_search() -> None:
    # The optimum (tree, depth 6, 16 leaves, no scaling) scores 0; 25 trials.
    for seed in (1, 2, 3):
        random = RandomSearchOracle(objective="loss", max_trials=None, seed=seed)
        random.hyperparameters = conditional_space()
        assert min(map(loss, run(tpe(seed=seed), 25))) == 0.0 < min(map(loss, run(random, 25)))


def test_finite_space_ends_when_exhausted_without_repeats() -> None:
    oracle = TPEOracle(objective="loss", max_trials=None, seed=1, num_initial_points=2)
    oracle.hyperparameters.Choice("a", [1, 2, 3])
    oracle.hyperparameters.Boolean("b")
    proposed = run(oracle, 10, objective=lambda v: v["a"] + v["b"])
    assert len({values_key(v) for v in proposed}) == len(proposed) == 6


def test_gamma_and_weights_follow_optuna() -> None:
    assert [_tpe.gamma(n) for n in (1, 10, 11, 100, 1000)] == [1, 1, 2, 10, 25]
    weights = np.exp(_tpe._log_weights(30, ramp=True))
    assert weights[0] < weights[3] < weights[4] == weights[29] == weights[-1]


def test_num_initial_points_is_validated() -> None:
    with pytest.raises(ValueError, match="num_initial_points"):
        TPEOracle(num_initial_points=-1)


# The ``sampler`` of BayesianOptimizationOracle ---------------------------------------


def bayesian(sampler: str, space: HyperParameters) -> BayesianOptimizationOracle:
    oracle = BayesianOptimizationOracle(objective="loss", seed=2, max_trials=None, sampler=sampler)
    oracle.hyperparameters = space
    return oracle


def test_auto_uses_the_tpe_for_conditional_spaces_and_the_gp_for_small_continuous_ones() -> None:
    continuous = HyperParameters()
    continuous.Float("x", 0.0, 1.0)
    continuous.Int("n", 1, 8)
    cases = {("auto", "cond"): True, ("auto", "cont"): False, ("tpe", "cont"): True}
    for (sampler, kind), uses_tpe in cases.items():
        space = conditional_space() if kind == "cond" else continuous
        oracle = bayesian(sampler, space)
        assert oracle._uses_tpe(_Encoding(space.space, oracle._is_tuned)) is uses_tpe


def test_auto_on_a_conditional_space_runs_reproducibly_without_repeats() -> None:
    first = run(bayesian("auto", conditional_space()), 30)
    assert first == run(bayesian("auto", conditional_space()), 30)
    assert len({values_key(v) for v in first}) == 30


def test_unknown_sampler_is_rejected() -> None:
    with pytest.raises(ValueError, match="sampler"):
        BayesianOptimizationOracle(sampler="cmaes")


# The Gaussian process's acquisition ----------------------------------------------------


def test_warp_is_monotone_and_tames_a_heavy_tail() -> None:
    losses = np.array([0.001, 0.002, 0.004, 0.01, 5.0, 1000.0])
    warped = _gp.warp(losses)
    assert np.all(np.diff(warped) > 0)
    # The tail's distance from the best, relative to a near-best loss's: 1e5 before, < 100 after.
    assert warped[-1] - warped[0] < 100 * (warped[3] - warped[0])
    assert np.array_equal(_gp.warp(np.ones(3)), np.ones(3))


def test_gp_proposals_on_an_ordinal_grid_stay_on_it_and_never_repeat() -> None:
    space = HyperParameters()
    for i in range(4):
        space.Choice(f"x{i}", [0.0, 0.25, 0.5, 0.75, 1.0])
        space.Int(f"n{i}", 0, 40, step=4)
    oracle = bayesian("gp", space)  # 5**4 * 11**4 configurations: not enumerated

    def bowl(values: dict) -> float:
        return sum(
            (values[f"x{i}"] - 0.5) ** 2 + (values[f"n{i}"] - 20) ** 2 / 400 for i in range(4)
        )

    proposed = run(oracle, 40, objective=bowl)
    assert len({values_key(v) for v in proposed}) == 40
    for values in proposed:
        assert all(
            values[f"n{i}"] % 4 == 0 and values[f"x{i}"] in (0, 0.25, 0.5, 0.75, 1)
            for i in range(4)
        )
    # The model improves on the initial design (24 Sobol points).
    assert min(map(bowl, proposed[24:])) < min(map(bowl, proposed[:24]))


def test_auto_on_a_small_continuous_space_proposes_exactly_what_the_gp_proposes() -> None:
    # benchmarks/robust.py reuses the GP's runs for "auto" on such spaces.
    def space() -> HyperParameters:
        hp = HyperParameters()
        hp.Float("x", -2.0, 2.0)
        hp.Int("n", 1, 9, step=2)
        hp.Choice("c", [0.1, 0.2, 0.4])
        return hp

    def bowl(values: dict) -> float:
        return values["x"] ** 2 + (values["n"] - 5) ** 2 + values["c"]

    assert run(bayesian("auto", space()), 14, bowl) == run(bayesian("gp", space()), 14, bowl)
