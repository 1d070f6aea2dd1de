"""The Gaussian process's trust region: its side length, its box, and the local proposals."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from tests.tuning.conditional_space import declare_model_choice, model_choice_loss
from tuning.oracles import _trust_region
from tuning.oracles.base import values_key
from tuning.oracles.bayesian import BayesianOptimizationOracle, _Encoding
from tuning.trial import Trial, TrialStatus

pytestmark = pytest.mark.usefixtures("one_blas_thread")

INITIAL = _trust_region.INITIAL_LENGTH


def test_side_starts_at_its_initial_length() -> None:
    assert _trust_region.side_length([], math.inf, 2) == INITIAL
    assert _trust_region.side_length([1.0], math.inf, 2) == INITIAL


def test_side_halves_after_a_run_of_failures_of_max_4_or_dim() -> None:
    assert _trust_region.side_length([1.0] * 3, 0.5, 2) == INITIAL
    assert _trust_region.side_length([1.0] * 4, 0.5, 2) == INITIAL / 2
    assert _trust_region.side_length([1.0] * 8, 0.5, 2) == INITIAL / 4
    assert _trust_region.side_length([1.0] * 5, 0.5, 6) == INITIAL
    assert _trust_region.side_length([1.0] * 6, 0.5, 6) == INITIAL / 2
    # A success in between starts the count of failures again.
    assert _trust_region.side_length([1.0] * 3 + [0.1] + [1.0] * 3, 0.5, 2) == INITIAL


def test_side_doubles_after_three_successes_up_to_its_maximum() -> None:
    improving = [1.0, 0.5, 0.25]
    assert _trust_region.side_length(improving[:2], 2.0, 2) == INITIAL
    assert _trust_region.side_length(improving, 2.0, 2) == 2 * INITIAL
    many = [2.0**-k for k in range(12)]
    assert _trust_region.side_length(many, 2.0, 2) == _trust_region.MAX_LENGTH
    # An improvement of less than 0.1 % of the incumbent is no success.
    assert _trust_region.side_length([0.9999, 0.9998, 0.9997], 1.0, 2) == INITIAL


def test_side_starts_again_once_it_collapses() -> None:
    halvings = round(math.log2(INITIAL / _trust_region.MIN_LENGTH))
    failures = [1.0] * (4 * halvings)
    assert _trust_region.side_length(failures[:-1], 0.0, 2) < 2 * _trust_region.MIN_LENGTH
    assert _trust_region.side_length(failures, 0.0, 2) == INITIAL


def test_side_counts_infinite_losses_as_failures() -> None:
    assert _trust_region.side_length([math.inf, math.nan] * 2, 1.0, 2) == INITIAL / 2


def test_box_is_stretched_by_the_length_scales_and_clipped() -> None:
    low, high = _trust_region.bounds(np.array([0.5, 0.5]), 0.4, np.array([0.1, 0.4]))
    # Length scales 0.1 and 0.4 (geometric mean 0.2) stretch the side by 0.5 and 2.
    np.testing.assert_allclose(high - low, [0.2, 0.8])
    np.testing.assert_allclose((high + low) / 2, [0.5, 0.5])
    low, high = _trust_region.bounds(np.array([0.05, 0.95]), 0.4, np.array([1.0, 1.0]))
    np.testing.assert_allclose(low, [0.0, 0.75])
    np.testing.assert_allclose(high, [0.25, 1.0])


# Local proposals of the oracle ---------------------------------------------------------


def bowl(values: Mapping[str, Any]) -> float:
    return (values["x"] - 0.3) ** 2 + (values["y"] - 0.7) ** 2


def propose_and_check(
    oracle: BayesianOptimizationOracle, initial: int, strict: bool = True
) -> tuple[Trial, bool]:
    """The next trial, after checking that a local proposal lies in its trust region.

    In a finite space the proposal may leave the region once every configuration
    in it was tried; ``strict=False`` allows that in any space (a grid too
    large to enumerate, whose values near the incumbent may all be tried).
    """
    encoding = _Encoding(oracle.hyperparameters.space, oracle._is_tuned)
    observed = oracle.scored_trials()
    box = None
    if len(observed) >= initial:
        box = oracle._trust_box(oracle._model(encoding, observed), observed, initial)
    untried = [c for c in encoding.enumerate(2048) or [] if values_key(c) not in oracle._tried]
    trial = oracle.create_trial("worker")
    assert trial.status == TrialStatus.RUNNING
    if box is not None:
        best = min(observed, key=lambda t: t.score)  # type: ignore[arg-type, return-value]
        assert inside(encoding.encode(best.values), box)
        if strict and (not untried or any(inside(encoding.encode(c), box) for c in untried)):
            assert inside(encoding.encode(trial.values), box)
    return trial, box is not None


def inside(point: np.ndarray, box: tuple[np.ndarray, np.ndarray]) -> bool:
    return bool(np.all(point >= box[0] - 1e-9) and np.all(point <= box[1] + 1e-9))


def finish(oracle: BayesianOptimizationOracle, trial: Trial, score: float) -> None:
    trial.score = score
    trial.status = TrialStatus.COMPLETED
    oracle.end_trial(trial)


def test_model_proposals_alternate_between_the_space_and_the_trust_region() -> None:
    oracle = BayesianOptimizationOracle(max_trials=16, num_initial_points=4, seed=3)
    oracle.hyperparameters.Float("x", 0.0, 1.0)
    oracle.hyperparameters.Float("y", 0.0, 1.0)
    local = []
    for _ in range(16):
        trial, is_local = propose_and_check(oracle, 4)
        local.append(is_local)
        finish(oracle, trial, bowl(trial.values))
    assert local == [False] * 4 + [False, True] * 6
    assert len({values_key(t.values) for t in oracle.trials.values()}) == 16
    best = min(t.score for t in oracle.trials.values())  # type: ignore[type-var]
    assert best < 1e-3


def test_local_proposals_on_a_grid_stay_in_the_region_and_never_repeat() -> None:
    # 30 * 30 configurations: enumerated, so the region filters the configurations.
    oracle = BayesianOptimizationOracle(max_trials=40, num_initial_points=4, seed=0)
    oracle.hyperparameters.Int("a", 0, 29)
    oracle.hyperparameters.Float("b", 0.0, 2.9, step=0.1)
    for _ in range(40):
        trial, _ = propose_and_check(oracle, 4)
        finish(oracle, trial, (trial.values["a"] - 20) ** 2 + (trial.values["b"] - 0.5) ** 2)
    assert len({values_key(t.values) for t in oracle.trials.values()}) == 40
    assert min(t.score for t in oracle.trials.values()) <= 1.0  # type: ignore[type-var]


def test_local_proposals_in_a_conditional_space_respect_the_conditions() -> None:
    oracle = BayesianOptimizationOracle(max_trials=24, num_initial_points=5, seed=1)
    declare_model_choice(oracle.hyperparameters)

    for _ in range(24):
        trial, _ = propose_and_check(oracle, 5, strict=False)
        expected = {"model", "l2"} if trial.values["model"] == "linear" else {"model", "depth"}
        assert set(trial.values) == expected
        finish(oracle, trial, model_choice_loss(trial.values))
    assert len({values_key(t.values) for t in oracle.trials.values()}) == 24


def run_values(oracle: BayesianOptimizationOracle, trials: int) -> list[dict[str, Any]]:
    values = []
    for _ in range(trials):
        trial = oracle.create_trial("worker")
        finish(oracle, trial, bowl(trial.values))
        values.append(trial.values)
    return values


def two_floats(seed: int) -> BayesianOptimizationOracle:
    oracle = BayesianOptimizationOracle(max_trials=20, num_initial_points=4, seed=seed)
    oracle.hyperparameters.Float("x", 0.0, 1.0)
    oracle.hyperparameters.Float("y", 0.0, 1.0)
    return oracle


def test_trust_region_search_is_seeded_and_survives_a_state_round_trip() -> None:
    expected = run_values(two_floats(5), 20)
    assert run_values(two_floats(5), 20) == expected
    oracle = two_floats(5)
    run_values(oracle, 11)
    restored = two_floats(5)
    restored.set_state(json.loads(json.dumps(oracle.get_state())))
    assert run_values(restored, 9) == expected[11:]
