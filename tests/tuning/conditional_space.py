"""A conditional space the oracle tests share: a choice whose branches tune other values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tuning.hyperparameters import HyperParameters


def declare_model_choice(hp: HyperParameters) -> None:
    """``model`` in {linear, tree}: ``l2`` (log float) under linear, ``depth`` (int) under tree."""
    hp.Choice("model", ["linear", "tree"])
    with hp.conditional_scope("model", "linear"):
        hp.Float("l2", 1e-5, 1.0, sampling="log")
    with hp.conditional_scope("model", "tree"):
        hp.Int("depth", 1, 200)


def model_choice_loss(values: Mapping[str, Any]) -> float:
    """Lowest (0) for a tree of depth 120; a linear model scores at least 1."""
    if values["model"] == "linear":
        return 1.0 + math.log10(values["l2"]) ** 2 / 10
    return (values["depth"] - 120) ** 2 / 1e4
