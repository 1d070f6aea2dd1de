"""Search algorithms behind an ask/tell interface; numpy and scipy only."""

from tuning.oracles.base import Oracle, synchronized
from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.oracles.grid_search import GridSearchOracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.oracles.random_search import RandomSearchOracle
from tuning.oracles.tpe import TPEOracle

__all__ = [
    "BayesianOptimizationOracle",
    "GridSearchOracle",
    "HyperbandOracle",
    "Oracle",
    "RandomSearchOracle",
    "TPEOracle",
    "synchronized",
]
