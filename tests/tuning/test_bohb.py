"""Model-guided Hyperband (BOHB): proposals from a density-ratio model, KerasTuner's schedule.

The oracle contract (seeds, state round trip, no configuration twice, values
in the space) runs over ``sampler="model"`` in ``test_oracle_contract.py``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tuning.test_hyperband import Workers, key, make_oracle
from tuning.hyperparameters import HyperParameters
from tuning.oracles._density import DensityRatio
from tuning.oracles.base import values_key
from tuning.oracles.hyperband import HyperbandOracle
from tuning.trial import TrialStatus


def schedule(oracle: HyperbandOracle) -> list[tuple[int, int, int]]:
    return [(*key(t), t.values["tuner/epochs"]) for t in oracle.trials.values()]


def test_the_model_keeps_kerastuners_schedule():
    random = Workers(make_oracle(sampler="random")).run().oracle
    model = Workers(make_oracle(sampler="model", random_fraction=0.0)).run().oracle

    assert len(model.trials) == 30  # KerasTuner's count for (10, 3)
    assert schedule(model) == schedule(random)
    assert model.get_config()["sampler"] == "model"


def test_model_proposals_land_nearer_the_optimum_than_random_draws():
    # ``loss`` is best at x = 0.3; two iterations give the model time to learn.
    def distances(sampler: str) -> list[float]:
        oracle = (
            Workers(make_oracle(sampler=sampler, random_fraction=0.0, hyperband_iterations=2))
            .run()
            .oracle
        )
        new = [t for t in oracle.trials.values() if t.values["tuner/round"] == 0]
        return [abs(t.values["x"] - 0.3) for t in new[len(new) // 2 :]]

    assert np.median(distances("model")) < 0.5 * np.median(distances("random"))


def test_the_model_waits_for_as_many_results_as_tuned_hyperparameters_plus_two():
    oracle = make_oracle(sampler="model", random_fraction=0.0)  # one tuned hyperparameter
    for finished in range(3):
        assert oracle._model() is None
        trial = oracle.create_trial(f"worker-{finished}")
        oracle.update_trial(trial.trial_id, {"loss": trial.values["x"]})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    assert oracle._model() is not None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"sampler": "tpe"}, "sampler"), ({"random_fraction": 1.5}, "random_fraction")],
)
def test_bad_sampler_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        HyperbandOracle(objective="loss", max_epochs=9, **kwargs)


def conditional_space() -> HyperParameters:
    hp = HyperParameters()
    hp.Choice("model", ["mlp", "cnn"])
    with hp.conditional_scope("model", ["mlp"]):
        hp.Int("units", 8, 64, step=8)
    with hp.conditional_scope("model", ["cnn"]):
        hp.Float("lr", 1e-4, 1e-1, sampling="log")
        hp.Choice("kernel", [3, 5, 7])
    hp.Boolean("batch_norm")
    hp.Fixed("seed", 3)
    return hp


def conditional_loss(values: dict) -> float:
    if values["model"] == "mlp":
        return abs(values["units"] - 48) / 64 + 0.1 * values["batch_norm"]
    return abs(math.log10(values["lr"]) + 2) + abs(values["kernel"] - 5)


def test_model_proposals_respect_conditions_and_grids():
    oracle = HyperbandOracle(
        objective="loss",
        max_epochs=9,
        factor=3,
        hyperband_iterations=3,
        seed=2,
        sampler="model",
        random_fraction=0.0,
        hyperparameters=conditional_space(),
    )
    space = {hp.name: hp for hp in conditional_space().space}
    while (trial := oracle.create_trial("w")).status == TrialStatus.RUNNING:
        config = {k: v for k, v in trial.values.items() if not k.startswith("tuner/")}
        branch = {"mlp": {"units"}, "cnn": {"lr", "kernel"}}[config["model"]]
        assert set(config) == {"model", "batch_norm", "seed"} | branch
        assert all(space[k].contains(v) for k, v in config.items()), config
        assert config["seed"] == 3
        oracle.update_trial(trial.trial_id, {"loss": conditional_loss(config)})
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)

    assert oracle._model() is not None  # the model proposed all but the first few
    new = [t.values for t in oracle.trials.values() if t.values["tuner/round"] == 0]
    assert len({values_key(values) for values in new}) == len(new)


def test_density_ratio_prefers_the_good_region_and_handles_inactive_values():
    space = conditional_space()
    good = [{"model": "mlp", "units": 48, "batch_norm": False, "seed": 3}] * 3
    bad = [
        {"model": "cnn", "lr": 1e-4, "kernel": 3, "batch_norm": True, "seed": 3},
        {"model": "cnn", "lr": 1e-1, "kernel": 7, "batch_norm": True, "seed": 3},
        {"model": "mlp", "units": 8, "batch_norm": True, "seed": 3},
    ]
    model = DensityRatio(space.space, lambda name: True, good + bad, [0, 0, 0, 1, 1, 1], 3)
    proposals = model.propose(np.random.default_rng(0), 32)

    assert proposals[0]["model"] == "mlp" and abs(proposals[0]["units"] - 48) <= 8
    points = np.array([model.encode(p) for p in proposals])
    ratios = model.log_ratio(points)
    assert np.all(np.diff(ratios) <= 1e-12)  # best ratio first
    assert np.all(np.isfinite(ratios))
    for values in proposals:
        assert ("units" in values) == (values["model"] == "mlp")
        assert ("lr" in values) == ("kernel" in values) == (values["model"] == "cnn")
