"""The multi-objective benchmark's problems and its hypervolume."""

from __future__ import annotations

import math

import pytest

from benchmarks.pareto import branin_currin, hypervolume, run_arm, zdt1


def test_hypervolume_of_two_minimised_objectives():
    # Two points: rectangles 2x1 and 1x2 overlapping in 1x1 -> 3; dominated and outside add 0.
    points = [(1.0, 2.0), (2.0, 1.0), (2.5, 2.5), (4.0, 0.0)]
    assert hypervolume(points, (3.0, 3.0)) == pytest.approx(3.0)
    assert hypervolume([], (3.0, 3.0)) == 0.0


def test_zdt1_front_and_branin_currin_values():
    on_front = {"x1": 0.25, **{f"x{i}": 0.0 for i in range(2, 7)}}
    assert zdt1(on_front) == pytest.approx((0.25, 0.5))
    off_front = {**on_front, "x2": 1.0}
    assert zdt1(off_front)[1] > 0.5
    f1, f2 = branin_currin({"x1": math.pi, "x2": 2.275})
    assert f1 == pytest.approx(0.397887, abs=1e-5) and 0.0 < f2 < 14.0


def test_a_run_reports_the_hypervolume_at_its_checkpoints():
    record = run_arm("hyperflow-pareto", "branin-currin", 25, seed=1)
    assert len(record["points"]) == 25 and set(record["hypervolume"]) == {"25"}
    assert record["hypervolume"]["25"] > 0
