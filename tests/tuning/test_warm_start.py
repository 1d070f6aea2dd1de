"""``Oracle.warm_start``: earlier searches' trials enqueued (default) or modelled (Bayesian)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from tuning.hyperparameters import HyperParameters
from tuning.oracles.base import values_key
from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.oracles.grid_search import GridSearchOracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.oracles.random_search import RandomSearchOracle
from tuning.trial import Trial, TrialStatus


def space() -> HyperParameters:
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    hp.Choice("kind", ["a", "b", "c"])
    return hp


def earlier(
    values: dict[str, Any], score: float | None, status: TrialStatus = TrialStatus.COMPLETED
) -> Trial:
    """A trial of an earlier search, as ``Trial.from_state`` rebuilds it."""
    hp = space()
    hp.values = values
    trial = Trial(hp, trial_id="07", status=status)
    trial.score = score
    return Trial.from_state(json.loads(json.dumps(trial.get_state())))


def history() -> list[Trial]:
    """Five completed trials (best: x=0.2, then 0.4, 0.6, ...), one failed, one NaN."""
    trials = [
        earlier({"x": x, "kind": "a"}, score)
        for x, score in [(0.8, 0.5), (0.2, 0.9), (0.6, 0.7), (0.4, 0.8), (0.9, 0.1)]
    ]
    trials.append(earlier({"x": 0.3, "kind": "b"}, None, TrialStatus.FAILED))
    trials.append(earlier({"x": 0.35, "kind": "c"}, math.nan))
    return trials


def drain(oracle: Any, count: int) -> list[dict[str, Any]]:
    """Values of the next ``count`` trials, each ended with score 0.5."""
    proposed = []
    for _ in range(count):
        trial = oracle.create_trial("worker")
        assert trial.status == TrialStatus.RUNNING
        proposed.append(trial.values)
        trial.score, trial.status = 0.5, TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return proposed


def test_default_enqueues_the_best_k_completed_trials_first() -> None:
    oracle = RandomSearchOracle(objective="val_accuracy", max_trials=6, hyperparameters=space())

    used = oracle.warm_start(history(), best_k=3)

    assert used == 3
    first = drain(oracle, 4)
    assert [v["x"] for v in first[:3]] == [0.2, 0.4, 0.6]  # best accuracy first
    assert first[3]["x"] not in (0.2, 0.4, 0.6)  # then the oracle's own proposals
    assert len(oracle.trials) == 4  # enqueued values are ordinary trials of the budget


def test_minimised_objectives_rank_the_other_way() -> None:
    oracle = RandomSearchOracle(objective="val_loss", max_trials=4, hyperparameters=space())

    oracle.warm_start(history(), best_k=2)

    assert [v["x"] for v in drain(oracle, 2)] == [0.9, 0.8]


def test_default_skips_what_this_search_tried_or_queued_and_values_outside_the_space() -> None:
    oracle = RandomSearchOracle(objective="val_accuracy", max_trials=10, hyperparameters=space())
    oracle.enqueue_trial({"x": 0.2, "kind": "a"})
    drain(oracle, 1)  # x=0.2 tried
    oracle.enqueue_trial({"x": 0.4, "kind": "a"})  # x=0.4 queued
    outside = earlier({"x": 0.5, "kind": "a"}, 0.99)
    outside.hyperparameters.values = {"x": 5.0, "kind": "a"}

    used = oracle.warm_start([outside, *history()], best_k=2)

    assert used == 2
    assert [v["x"] for v in drain(oracle, 3)] == [0.4, 0.6, 0.8]


def test_hyperband_trains_warm_start_values_in_its_first_round() -> None:
    oracle = HyperbandOracle(
        objective="val_accuracy", max_epochs=3, factor=3, hyperparameters=space(), seed=1
    )
    oracle.warm_start(history(), best_k=2)
    trial = oracle.create_trial("worker")
    assert trial.values["x"] == 0.2 and trial.values["tuner/epochs"] == 1


def test_grid_search_tries_warm_start_values_first() -> None:
    hp = HyperParameters()
    hp.Int("units", 8, 32, step=8)
    oracle = GridSearchOracle(objective="val_loss", hyperparameters=hp)
    best = Trial(hp.copy(), trial_id="00", status=TrialStatus.COMPLETED)
    best.hyperparameters.values = {"units": 24}
    best.score = 0.1

    oracle.warm_start([best])

    assert drain(oracle, 1) == [{"units": 24}]


def bayesian(**kwargs: Any) -> BayesianOptimizationOracle:
    options = {"objective": "val_accuracy", "max_trials": 4, "seed": 3, **kwargs}
    return BayesianOptimizationOracle(hyperparameters=space(), **options)


def test_bayesian_models_earlier_trials_as_priors_not_trials() -> None:
    oracle = bayesian(num_initial_points=3)

    used = oracle.warm_start(history())

    assert used == 5  # every completed trial with a score; best_k does not limit the model
    assert oracle.trials == {} and oracle._enqueued == []
    state = oracle.get_state()
    assert len(state["prior_observations"]) == 5
    assert {p["values"]["x"] for p in state["prior_observations"]} == {0.2, 0.4, 0.6, 0.8, 0.9}
    drain(oracle, 4)
    assert len(oracle.trials) == 4  # the budget counts this search's trials only
    assert oracle.create_trial("worker").status == TrialStatus.STOPPED


def test_bayesian_priors_replace_the_initial_random_points() -> None:
    cold, warm = bayesian(num_initial_points=3), bayesian(num_initial_points=3)
    warm.warm_start(history())

    cold_first, warm_first = drain(cold, 1)[0], drain(warm, 1)[0]

    assert cold._sobol_index == 1  # a quasi-random first trial
    assert warm._sobol_index == 0  # five priors >= 3 initial points: the model chose
    assert values_key(cold_first) != values_key(warm_first)


def test_bayesian_model_follows_the_priors() -> None:
    """Accuracy peaks at x = 0.2 in the priors: the model's first proposals stay near it."""
    hp = HyperParameters()
    hp.Float("x", 0.0, 1.0)
    priors = []
    for i in range(12):
        x = i / 11
        trial = Trial(hp.copy(), trial_id=f"{i:02d}", status=TrialStatus.COMPLETED)
        trial.hyperparameters.values = {"x": x}
        trial.score = 1.0 - (x - 0.2) ** 2
        priors.append(trial)
    oracle = BayesianOptimizationOracle(
        objective="val_accuracy", max_trials=3, seed=0, hyperparameters=hp, beta=0.1
    )

    oracle.warm_start(priors)
    first = drain(oracle, 1)[0]

    assert abs(first["x"] - 0.2) < 0.1


@pytest.mark.parametrize("split", [0, 2])
def test_bayesian_state_round_trip_keeps_the_priors(split: int) -> None:
    original = bayesian(num_initial_points=2)
    original.warm_start(history())
    drain(original, split)

    restored = bayesian(num_initial_points=2)
    restored.set_state(json.loads(json.dumps(original.get_state())))

    assert restored.get_state() == original.get_state()
    assert drain(restored, 4 - split) == drain(original, 4 - split)


def test_old_states_without_priors_still_load() -> None:
    oracle = bayesian()
    state = oracle.get_state()
    del state["prior_observations"]
    oracle.set_state(state)
    assert oracle.get_state()["prior_observations"] == []


def test_nothing_usable_changes_nothing() -> None:
    failed = [earlier({"x": 0.3, "kind": "b"}, None, TrialStatus.FAILED)]
    for oracle in (RandomSearchOracle(hyperparameters=space()), bayesian()):
        before = oracle.get_state()
        assert oracle.warm_start(failed) == 0
        assert oracle.get_state() == before
