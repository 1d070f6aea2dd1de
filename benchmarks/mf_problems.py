"""More epoch-based problems for the multi-fidelity tuners: real models on real data.

``BreastCancerGBM``: scikit-learn's histogram gradient boosting on the
breast-cancer data that ships with scikit-learn (no download); the budget is
the number of boosting iterations, in "epochs" of a few trees each.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmarks.problems import FidelityProblem, Param, _config_seed

__all__ = ["BreastCancerGBM"]

_SPLIT: dict[str, tuple[np.ndarray, ...]] = {}
# Boosting iterations per epoch.
_TREES = 2


def _breast_cancer() -> tuple[np.ndarray, ...]:
    """scikit-learn's breast-cancer data split 60/20/20: train and validation."""
    if "split" not in _SPLIT:
        from sklearn.datasets import load_breast_cancer
        from sklearn.model_selection import train_test_split

        x, y = load_breast_cancer(return_X_y=True)
        x_rest, _, y_rest, _ = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=0.25, random_state=0, stratify=y_rest
        )
        _SPLIT["split"] = (x_train, y_train, x_val, y_val)
    return _SPLIT["split"]


class BreastCancerGBM(FidelityProblem):
    """Gradient-boosted trees on ``load_breast_cancer``, budget in boosting iterations.

    The objective is the validation log-loss after each epoch of 2 boosting
    iterations (``HistGradientBoostingClassifier`` with ``warm_start``, no
    early stopping); regret is the log-loss itself (its minimum is unknown,
    so it is measured from 0). Tuned: ``learning_rate`` (0.01-1, log),
    ``max_leaf_nodes`` (4-64, log), ``min_samples_leaf`` (2-64, log),
    ``l2_regularization`` (1e-4 to 10, log) and ``max_features`` (0.2-1).
    A promoted trial continues its parent's trees.

    Args:
        max_epochs: The most epochs (of 2 iterations) one model is trained.
    """

    def __init__(self, max_epochs: int = 27) -> None:
        super().__init__(
            name="gbm-breast-cancer",
            params=(
                Param("learning_rate", "float", 0.01, 1.0, log=True),
                Param("max_leaf_nodes", "int", 4, 64, log=True),
                Param("min_samples_leaf", "int", 2, 64, log=True),
                Param("l2_regularization", "float", 1e-4, 10.0, log=True),
                Param("max_features", "float", 0.2, 1.0),
            ),
            max_epochs=max_epochs,
            minimum=0.0,
            target=0.08,
            cost_unit="epochs",
            note=(
                f"HistGradientBoosting on load_breast_cancer (341 train, 114 validation), "
                f"{max_epochs} epochs of {_TREES} boosting iterations; validation log-loss."
            ),
        )

    def train(
        self, values: Mapping[str, Any], initial_epoch: int, epochs: int, state: Any, seed: int
    ) -> tuple[list[float], Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import log_loss

        x_train, y_train, x_val, y_val = _breast_cancer()
        if state is None:
            config_seed = _config_seed(values, seed).generate_state(1)[0]
            model = HistGradientBoostingClassifier(
                learning_rate=float(values["learning_rate"]),
                max_leaf_nodes=int(values["max_leaf_nodes"]),
                min_samples_leaf=int(values["min_samples_leaf"]),
                l2_regularization=float(values["l2_regularization"]),
                max_features=float(values["max_features"]),
                early_stopping=False,
                warm_start=True,
                random_state=int(config_seed % 2**31),
            )
        else:
            model = copy.deepcopy(state)
        model.set_params(max_iter=epochs * _TREES)
        model.fit(x_train, y_train)
        staged = list(model.staged_predict_proba(x_val))
        curve = [
            float(log_loss(y_val, staged[epoch * _TREES - 1], labels=[0, 1]))
            for epoch in range(initial_epoch + 1, epochs + 1)
        ]
        return curve, model
