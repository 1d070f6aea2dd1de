"""``BaseTuner``: tuning code that is not a Keras model, and reopening a project's results."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import tuning as kt
from tuning.oracles import RandomSearchOracle

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = (X[:, 0] + 0.3 * RNG.normal(size=60) > 0).astype(int)


class PickleTuner(kt.BaseTuner):
    """KerasTuner's "tune anything": a scikit-learn model, pickled into the trial's folder."""

    def run_trial(self, trial, x, y):
        from sklearn.linear_model import LogisticRegression

        hp = trial.hyperparameters
        model = LogisticRegression(C=hp.Float("c", 1e-3, 10, sampling="log"))
        if hp.Choice("fail", ["no", "yes"]) == "yes":  # declared, then the trial fails
            raise kt.errors.FailedTrialError("asked to fail")
        model.fit(x, y)
        self.save_model(trial.trial_id, model)
        return {"score": model.score(x, y)}

    def save_model(self, trial_id, model, step=0):
        with open(os.path.join(self.get_trial_dir(trial_id), "model.pickle"), "wb") as file:
            pickle.dump(model, file)

    def load_model(self, trial):
        with open(os.path.join(self.get_trial_dir(trial.trial_id), "model.pickle"), "rb") as file:
            return pickle.load(file)


def _oracle(objective: str = "max") -> RandomSearchOracle:
    return RandomSearchOracle(objective=kt.Objective("score", objective), max_trials=6, seed=4)


def _trial_runs(tuner: kt.BaseTuner) -> list:
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    experiment = client.get_experiment_by_name(tuner.project_name)
    return client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hyperflow.kind` = 'trial'"
    )


def test_base_tuner_tunes_any_code_and_reopens_its_results(tmp_path):
    tuner = PickleTuner(oracle=_oracle(), directory=tmp_path, project_name="anything")
    tuner.search(X, Y)

    trials = tuner.oracle.trials.values()
    statuses = sorted(t.status.value for t in trials)
    assert "FAILED" in statuses and "COMPLETED" in statuses
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    runs = _trial_runs(tuner)
    assert len(runs) == 6
    for run in runs:
        # Declared inside run_trial, so unknown when the run opened: logged when it ended.
        assert {"c", "fail"} <= set(run.data.params), run.data.tags["hyperflow.status"]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        if run.data.tags["hyperflow.status"] == "COMPLETED":
            assert "trial_dir" in artifacts
            [pickled] = client.list_artifacts(run.info.run_id, "trial_dir")
            assert pickled.path == "trial_dir/model.pickle"
    best = tuner.get_best_models(2)
    assert best[0].score(X, Y) >= best[1].score(X, Y)
    # Trials that ran elsewhere (a Dask worker) have no local folder: it comes from MLflow.
    shutil.rmtree(tuner.project_dir)
    assert [m.coef_.tolist() for m in tuner.get_best_models(2)] == [m.coef_.tolist() for m in best]

    # A notebook restart: a new tuner on the project sees the trials without searching.
    reopened = PickleTuner(oracle=_oracle(), directory=tmp_path, project_name="anything")
    assert sorted(reopened.oracle.trials) == sorted(tuner.oracle.trials)
    assert reopened.get_best_hyperparameters()[0].values == (
        tuner.get_best_hyperparameters()[0].values
    )
    assert reopened.remaining_trials == 0
    assert reopened.reload() is True
    reopened.save()  # the state it saves is the one it read: a third tuner reads the same
    again = PickleTuner(oracle=_oracle(), directory=tmp_path, project_name="anything")
    assert again.oracle.get_state() == reopened.oracle.get_state()

    # The same project under the opposite direction would re-rank old scores: refused.
    with pytest.raises(ValueError, match="objective"):
        PickleTuner(oracle=_oracle("min"), directory=tmp_path, project_name="anything")
    with pytest.raises(ValueError, match="oracle"):
        PickleTuner(
            oracle=kt.oracles.GridSearchOracle(objective=kt.Objective("score", "max")),
            directory=tmp_path,
            project_name="anything",
        )
    # overwrite=True starts anew, whatever was there.
    fresh = PickleTuner(
        oracle=_oracle("min"), directory=tmp_path, project_name="anything", overwrite=True
    )
    assert fresh.oracle.trials == {}


class _WaitsFirst(RandomSearchOracle):
    """An oracle that is not ready at its first request (KerasTuner's IDLE)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.asked = 0

    def create_trial(self, tuner_id):
        self.asked += 1
        if self.asked == 1:
            return kt.Trial(self.hyperparameters.copy(), status="IDLE")
        return super().create_trial(tuner_id)


class _Quadratic(kt.BaseTuner):
    def run_trial(self, trial, **fit_kwargs):
        return (trial.hyperparameters.Float("x", -1, 1) - 0.2) ** 2


def test_an_idle_oracle_is_asked_again(tmp_path):
    oracle = _WaitsFirst(max_trials=2, seed=1)
    tuner = _Quadratic(oracle=oracle, directory=tmp_path)
    tuner.search(verbose=0)
    assert len(oracle.trials) == 2
    assert oracle.asked >= 3


def test_logger_is_deprecated_and_unknown_arguments_are_refused(tmp_path):
    with pytest.deprecated_call(match="logger"):
        _Quadratic(oracle=RandomSearchOracle(max_trials=1), directory=tmp_path, logger=1)
    with pytest.raises(ValueError, match="Unrecognized arguments"):
        _Quadratic(oracle=RandomSearchOracle(max_trials=1), directory=tmp_path, loger=1)


def test_run_trial_must_be_implemented(tmp_path):
    tuner = kt.BaseTuner(oracle=RandomSearchOracle(max_trials=1), directory=tmp_path)
    with pytest.raises(NotImplementedError, match="run_trial"):
        tuner.run_trial(kt.Trial(kt.HyperParameters()))
