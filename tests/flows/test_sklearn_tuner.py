"""SklearnTuner end to end: real Prefect flows, a real MLflow SQLite store, small estimators."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import GroupKFold, KFold, cross_val_score
from sklearn.utils.validation import check_is_fitted

import tuning as kt

X, Y = load_breast_cancer(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)  # LogisticRegression converges in a few steps

pytestmark = [
    # MLflow 3.17's SQL store uses a SQLAlchemy loader that SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning"),
    # A search's store: a copy of a migrated database, not a new one (see ``migrated``).
    pytest.mark.usefixtures("migrated"),
]


def build_forest_or_logistic(hp):
    """A small random forest or a logistic regression, as ``model_type`` says."""
    if hp.Choice("model_type", ["random_forest", "logistic"]) == "random_forest":
        with hp.conditional_scope("model_type", "random_forest"):
            return RandomForestClassifier(
                n_estimators=hp.Int("n_estimators", 3, 9, step=3),
                max_depth=hp.Int("max_depth", 2, 4),
                random_state=0,
            )
    with hp.conditional_scope("model_type", "logistic"):
        return LogisticRegression(C=hp.Float("C", 1e-3, 10.0, sampling="log"), max_iter=1000)


def build_logistic(hp):
    return LogisticRegression(C=hp.Float("C", 1e-3, 1.0, sampling="log"), max_iter=1000)


def _oracle(max_trials, seed=0, **kwargs):
    return kt.RandomSearchOracle(max_trials=max_trials, seed=seed, **kwargs)


def _client(tuner):
    return MlflowClient(tracking_uri=tuner.store.tracking_uri)


def _trial_runs(tuner):
    client = _client(tuner)
    experiment = client.get_experiment_by_name(tuner.project_name)
    return client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hyperflow.kind` = 'trial'"
    )


def _mlmodel(client, model_id) -> str:
    """The MLmodel file of a logged model (the store is local)."""
    from mlflow.utils.file_utils import local_file_uri_to_path

    location = client.get_logged_model(model_id).artifact_location
    return Path(local_file_uri_to_path(location), "MLmodel").read_text()


# Searches --------------------------------------------------------------------------------


def test_search_cross_validates_and_logs_each_estimator(tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # nothing may land in the current directory
    tuner = kt.SklearnTuner(
        _oracle(4, seed=3),
        build_forest_or_logistic,
        scoring="accuracy",
        metrics=[f1_score, "roc_auc"],
        cv=3,
        directory=tmp_path / "runs",
    )
    tuner.search(X, Y)

    assert os.listdir(cwd) == [] and (tmp_path / "runs" / "mlflow.db").is_file()
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 4
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert {t.values["model_type"] for t in trials} == {"random_forest", "logistic"}
    assert tuner.oracle.objective == kt.Objective("score", "max")

    client = _client(tuner)
    runs = _trial_runs(tuner)
    assert len(runs) == 4
    experiment_id = tuner.store.experiment_id
    for run in runs:
        trial = tuner.oracle.trials[run.data.tags["hyperflow.trial_id"]]
        assert run.data.metrics["score"] == pytest.approx(trial.score, abs=1e-12)
        assert 0.5 < run.data.metrics["f1_score"] <= 1.0
        assert 0.5 < run.data.metrics["roc_auc"] <= 1.0
        uri = run.data.tags["hyperflow.model_uri"]
        model_id = uri.removeprefix("models:/")
        logged = client.get_logged_model(model_id)
        assert (logged.experiment_id, logged.source_run_id) == (experiment_id, run.info.run_id)
        assert "sklearn:" in _mlmodel(client, model_id)
        assert [o.model_id for o in run.outputs.model_outputs] == [model_id]

    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    check_is_fitted(best)
    assert best.get_params() == build_forest_or_logistic(best_trial.hyperparameters).get_params()
    rescored = cross_val_score(clone(best), X, Y, cv=3, scoring="accuracy").mean()
    assert rescored == pytest.approx(best_trial.score, abs=1e-9)


def test_search_never_imports_keras(tmp_path, monkeypatch):
    # Any import of Keras or TensorFlow (or of the Keras callbacks) now raises.
    for name in ("keras", "tensorflow", "tuning.callbacks"):
        monkeypatch.setitem(sys.modules, name, None)
    tuner = kt.SklearnTuner(_oracle(1), build_forest_or_logistic, cv=2, directory=tmp_path)
    tuner.search_space_summary()
    tuner.search(X, Y)
    assert tuner.oracle.trials["00"].status == kt.TrialStatus.COMPLETED
    assert tuner.get_best_models(1)[0] is not None


def test_groups_reach_the_splitter(tmp_path):
    groups = np.arange(len(Y)) % 7
    cv = GroupKFold(3)
    tuner = kt.SklearnTuner(_oracle(2), build_logistic, cv=cv, directory=tmp_path)
    tuner.search(X, Y, groups=groups)

    for trial in tuner.oracle.trials.values():
        model = build_logistic(trial.hyperparameters)
        expected = cross_val_score(model, X, Y, groups=groups, cv=cv).mean()
        assert trial.score == pytest.approx(expected, abs=1e-12)


def test_groups_missing_for_a_group_splitter_fail_before_any_trial(tmp_path):
    tuner = kt.SklearnTuner(_oracle(2), build_logistic, cv=GroupKFold(3), directory=tmp_path)
    with pytest.raises(ValueError, match=r"cv=GroupKFold.*groups"):
        tuner.search(X, Y)
    assert not tuner.oracle.trials


def test_sample_weight_is_used_to_fit_and_to_score(tmp_path):
    weights = np.where(Y == 1, 10.0, 1.0)
    cv = KFold(3, shuffle=True, random_state=0)
    tuner = kt.SklearnTuner(_oracle(1), build_logistic, cv=cv, directory=tmp_path)
    tuner.search(X, Y, sample_weight=weights)

    [trial] = tuner.oracle.trials.values()
    scores, unweighted = [], []
    for train, test in cv.split(X, Y):
        model = build_logistic(trial.hyperparameters)
        model.fit(X[train], Y[train], sample_weight=weights[train])
        scores.append(model.score(X[test], Y[test], sample_weight=weights[test]))
        plain = build_logistic(trial.hyperparameters).fit(X[train], Y[train])
        unweighted.append(plain.score(X[test], Y[test]))
    assert trial.score == pytest.approx(np.mean(scores), abs=1e-12)
    assert trial.score != pytest.approx(np.mean(unweighted), abs=1e-6)

    best = tuner.get_best_models(1)[0]  # refitted on all the data, with all the weights
    refit = build_logistic(trial.hyperparameters).fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(best.coef_, refit.coef_)


def test_resume_runs_only_the_missing_trials(tmp_path):
    kwargs = {"cv": 3, "directory": tmp_path, "project_name": "resumed"}
    first = kt.SklearnTuner(_oracle(2, seed=4), build_logistic, **kwargs)
    first.search(X, Y)
    first_runs = dict(first.trial_run_ids)
    assert len(first_runs) == 2

    more = kt.SklearnTuner(_oracle(4, seed=4), build_logistic, **kwargs)
    more.search(X, Y)

    assert len(more.oracle.trials) == 4
    assert all(t.status == kt.TrialStatus.COMPLETED for t in more.oracle.trials.values())
    assert len(_trial_runs(more)) == 4
    assert {k: more.trial_run_ids[k] for k in first_runs} == first_runs
    assert more.get_best_models(1)[0] is not None


def test_estimator_whose_fit_raises_is_an_invalid_trial_and_the_search_goes_on(tmp_path):
    def build(hp):
        # C must be positive: LogisticRegression.fit rejects C=-1.
        good = hp.Choice("model_type", ["invalid", "valid"]) == "valid"
        return LogisticRegression(C=1.0 if good else -1.0, max_iter=1000)

    tuner = kt.SklearnTuner(
        kt.GridSearchOracle(max_retries_per_trial=1),
        build,
        cv=3,
        directory=tmp_path,
    )
    tuner.search(X, Y)

    trials = {t.values["model_type"]: t for t in tuner.oracle.trials.values()}
    assert trials["invalid"].status == kt.TrialStatus.FAILED
    assert "C" in trials["invalid"].message and "LogisticRegression" in trials["invalid"].message
    assert trials["valid"].status == kt.TrialStatus.COMPLETED
    runs = {}
    for run in _trial_runs(tuner):
        runs.setdefault(run.data.tags["hyperflow.trial_id"], []).append(run)
    invalid_runs = runs[trials["invalid"].trial_id]
    assert len(invalid_runs) == 2  # the first attempt and its retry
    assert {r.info.status for r in invalid_runs} == {"FAILED"}
    assert all("hyperflow.model_uri" not in r.data.tags for r in invalid_runs)
    assert tuner.get_best_models(1)[0].C == 1.0


# Arguments ------------------------------------------------------------------------------


def score(y_true, y_pred):
    return 0.0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"scoring": "no_such_scorer"}, ValueError, "scoring='no_such_scorer'"),
        ({"scoring": 0.5}, TypeError, "scoring must be"),
        ({"cv": "five"}, TypeError, "cv must be"),
        ({"cv": [([0, 1], [2])]}, TypeError, "cv must be"),
        ({"cv": 1}, ValueError, "cv must be at least 2"),
        ({"cv": True}, TypeError, "cv must be"),
        ({"metrics": [42]}, TypeError, "metrics must hold"),
        ({"metrics": {"f1": f1_score}}, TypeError, "metrics must be"),
        ({"metrics": ["no_such_scorer"]}, ValueError, "metrics='no_such_scorer'"),
        ({"metrics": [f1_score, f1_score]}, ValueError, "metrics: two metrics.*f1_score"),
        ({"metrics": [score]}, ValueError, "metrics: two metrics.*'score'"),
        ({"optimizer": "adam"}, ValueError, r"\['optimizer'\].*Keras"),
        ({"max_trails": 3}, ValueError, "max_trails"),
    ],
)
def test_bad_arguments_are_rejected_at_construction(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        kt.SklearnTuner(_oracle(1), build_logistic, directory=tmp_path, **kwargs)


def test_objective_must_be_the_score_maximised(tmp_path):
    oracle = _oracle(1)
    tuner = kt.SklearnTuner(oracle, build_logistic, directory=tmp_path)
    assert oracle.objective == kt.Objective("score", "max")
    assert isinstance(tuner.cv, KFold)
    assert (tuner.cv.n_splits, tuner.cv.shuffle, tuner.cv.random_state) == (5, True, 1)

    kt.SklearnTuner(_oracle(1, objective="score"), build_logistic, directory=tmp_path)
    for objective in ("val_loss", kt.Objective("score", "min")):
        with pytest.raises(ValueError, match="oracle: .*Objective"):
            kt.SklearnTuner(_oracle(1, objective=objective), build_logistic, directory=tmp_path)
    with pytest.raises(TypeError, match="oracle: HyperbandOracle"):
        kt.SklearnTuner(kt.HyperbandOracle(max_epochs=3), build_logistic, directory=tmp_path)
    with pytest.raises(TypeError, match="hypermodel"):
        kt.SklearnTuner(_oracle(1), None, directory=tmp_path)


def test_build_returning_no_estimator_is_rejected_before_any_trial(tmp_path):
    def build(hp):
        hp.Int("units", 1, 4)
        return "not an estimator"

    tuner = kt.SklearnTuner(_oracle(2), build, directory=tmp_path)
    with pytest.raises(TypeError, match="scikit-learn estimator"):
        tuner.search(X, Y)
    assert not tuner.oracle.trials


def test_inconsistent_lengths_are_rejected_before_any_trial(tmp_path):
    tuner = kt.SklearnTuner(_oracle(2), build_logistic, directory=tmp_path)
    with pytest.raises(ValueError, match="sample_weight"):
        tuner.search(X, Y, sample_weight=np.ones(3))
    assert not tuner.oracle.trials


def test_import_without_scikit_learn_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "tuning.sklearn_tuner")
    with pytest.raises(ImportError, match=r"pip install 'hyperflow\[sklearn\]'"):
        importlib.import_module("tuning.sklearn_tuner")
