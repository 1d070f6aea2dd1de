"""The gradient-boosting problem: a promotion continues its parent's trees exactly."""

from __future__ import annotations

import pytest

from benchmarks.mf_problems import BreastCancerGBM

VALUES = {
    "learning_rate": 0.3,
    "max_leaf_nodes": 8,
    "min_samples_leaf": 4,
    "l2_regularization": 0.01,
    "max_features": 0.5,
}


def test_continuing_a_model_gives_the_curve_of_training_it_at_once():
    problem = BreastCancerGBM(max_epochs=4)
    whole, _ = problem.train(VALUES, 0, 4, None, seed=1)
    first, state = problem.train(VALUES, 0, 2, None, seed=1)
    rest, _ = problem.train(VALUES, 2, 4, state, seed=1)

    assert len(whole) == 4
    assert first + rest == pytest.approx(whole)
    assert whole[-1] < whole[0]  # boosting lowers the validation loss
    assert problem.cost(0, 4) == 4
