"""The robustness suite's problems and its ranking and stall rules."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.problems import HARTMANN6_MINIMUM
from benchmarks.robust import auto_is_gp, mean_ranks, stalls
from benchmarks.robust_problems import (
    STYBLINSKI_MINIMUM,
    ackley,
    levy,
    mixed,
    rastrigin,
    robust_problems,
    styblinski_tang,
)


def point(value: float, dim: int) -> dict[str, float]:
    return {f"x{i}": value for i in range(dim)}


def test_analytic_functions_reach_their_stated_minimum_at_their_minimiser() -> None:
    assert ackley(point(0.0, 5)) == pytest.approx(0.0, abs=1e-12)
    assert rastrigin(point(0.0, 4)) == pytest.approx(0.0, abs=1e-12)
    assert levy(point(1.0, 5)) == pytest.approx(0.0, abs=1e-12)
    assert styblinski_tang(point(-2.903534, 5)) == pytest.approx(STYBLINSKI_MINIMUM, abs=1e-6)
    best = {"lr": 1e-2, "units": 64, "optimizer": "adam", "head": "bowl", "a": 0.3, "b": -0.5}
    assert mixed(best) == pytest.approx(0.0, abs=1e-12)
    assert mixed({**best, "head": "wave", "c": 0.25}) == pytest.approx(0.1)


def test_problems_minima_are_below_random_points_and_the_grid_above_the_true_minimum() -> None:
    problems = robust_problems()
    assert HARTMANN6_MINIMUM < problems["hartmann6-grid"].minimum < HARTMANN6_MINIMUM + 0.2
    rng = np.random.default_rng(0)
    for name in ("ackley5", "rastrigin4", "levy5", "styblinski5"):
        problem = problems[name]
        for _ in range(20):
            values = {p.name: rng.uniform(p.low, p.high) for p in problem.params}
            assert problem.function(values) >= problem.minimum


def test_auto_is_the_gp_only_on_small_numerical_unconditional_spaces() -> None:
    problems = robust_problems()
    assert auto_is_gp(problems["ackley5"]) and auto_is_gp(problems["hartmann6-grid"])
    assert not auto_is_gp(problems["mixed"])


def test_mean_ranks_share_ties_and_average_over_problems() -> None:
    curves = {
        "p": {"a": np.array([1.0]), "b": np.array([2.0]), "c": np.array([2.0])},
        "q": {"a": np.array([3.0]), "b": np.array([1.0]), "c": np.array([2.0])},
    }
    assert mean_ranks(curves, 1) == {"a": 2.0, "b": 1.75, "c": 2.25}


def test_a_stall_is_a_flat_window_while_the_reference_improves() -> None:
    flat = np.r_[np.linspace(5, 1, 12), np.ones(20)]
    improving = np.linspace(5, 0, 32)
    assert stalls(flat, improving)
    assert not stalls(flat, flat)
    assert not stalls(improving, improving)
