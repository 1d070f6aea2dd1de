"""The harness's statistics: Holm's adjustment and the unpaired random-search check."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.harness import _holm, random_check


def test_holm_adjusts_step_down_and_keeps_the_order():
    rows = [("a", 0.01), ("b", 0.04), ("c", 0.03)]
    adjusted = [row[-1] for row in _holm(rows)]
    # 0.01 x 3, then max(0.03 x 2, 0.03), then max(0.04 x 1, 0.06).
    assert adjusted == pytest.approx([0.03, 0.06, 0.06])
    assert [row[:2] for row in _holm(rows)] == rows


def _summary(shift: float, seeds: int = 60) -> dict:
    rng = np.random.default_rng(0)

    def arm(offset: float) -> dict:
        return {"final": {s: float(v) for s, v in enumerate(rng.lognormal(offset, 0.5, seeds))}}

    return {
        "same": {"hyperflow-random": arm(0.0), "kt-random": arm(0.0), "optuna-random": arm(0.0)},
        "shifted": {
            "hyperflow-random": arm(shift),
            "kt-random": arm(0.0),
            "optuna-random": arm(0.0),
        },
    }


def test_random_check_finds_a_real_shift_and_not_a_match():
    checked = random_check(_summary(shift=1.0))
    assert checked["shifted"]["kt-random"]["p_holm"] < 0.01
    assert checked["same"]["kt-random"]["p_holm"] > 0.05
    assert checked["same"]["kt-random"]["p_holm"] >= checked["same"]["kt-random"]["p"]
    assert checked["shifted"]["optuna-random"]["n"] == 60
