"""The search plots: optimisation history and hyperparameter importance (no MLflow)."""

from __future__ import annotations

import io

import pytest

from tuning.hyperparameters import HyperParameters
from tuning.oracles.random_search import RandomSearchOracle
from tuning.plots import HISTORY_FILE, IMPORTANCE_FILE, history_figure, importance, search_figures
from tuning.trial import Trial, TrialStatus


def trials() -> list[Trial]:
    """Score rises with ``units``; ``kind`` splits scores cleanly; ``noise`` is unrelated."""
    rows = [
        (8, "a", 3, 0.50),
        (16, "a", 1, 0.60),
        (24, "b", 2, 0.80),
        (32, "b", 3, 0.90),
        (40, "b", 1, 0.95),
    ]
    result = []
    for i, (units, kind, noise, score) in enumerate(rows):
        hp = HyperParameters()
        hp.values = {"units": units, "kind": kind, "noise": noise, "tuner/epochs": 2}
        trial = Trial(hp, trial_id=f"{i:02d}", status=TrialStatus.COMPLETED)
        trial.score = score
        result.append(trial)
    failed = Trial(HyperParameters(), trial_id="05", status=TrialStatus.FAILED)
    return [*result, failed]


def test_importance_is_rank_correlation_for_numbers_and_eta_for_categories():
    scores = importance(trials())

    assert scores["units"] == pytest.approx(1.0)  # monotonic: |Spearman rho| = 1
    assert 0.8 < scores["kind"] <= 1.0  # the two kinds' means are far apart
    assert scores["noise"] < 0.5
    assert "tuner/epochs" not in scores
    assert list(scores) == sorted(scores, key=lambda name: -scores[name])


def test_history_figure_draws_the_best_so_far():
    figure = history_figure(trials(), "val_accuracy", "max")
    axes = figure.axes[0]
    [best_line] = [line for line in axes.get_lines() if line.get_label() == "best so far"]
    assert list(best_line.get_ydata()) == [0.5, 0.6, 0.8, 0.9, 0.95]
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    assert buffer.getvalue()[:4] == b"\x89PNG"


def test_search_figures_of_an_oracle():
    oracle = RandomSearchOracle(objective="val_accuracy", max_trials=5)
    assert search_figures(oracle) == {}  # nothing completed: nothing to draw
    oracle.trials = {t.trial_id: t for t in trials()}

    figures = search_figures(oracle)

    assert set(figures) == {HISTORY_FILE, IMPORTANCE_FILE}
    assert "Spearman" in figures[IMPORTANCE_FILE].axes[0].get_title()
