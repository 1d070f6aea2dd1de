"""The search flow end to end: real Prefect flows, a real MLflow SQLite store, tiny models."""

from __future__ import annotations

import gc
import math
import os
import time

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import tuning as kt
from tests.flows.helpers import build_dense, digits

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")

(X_TRAIN, Y_TRAIN), (X_VAL, Y_VAL) = digits()
FIT = {"x": X_TRAIN, "y": Y_TRAIN, "validation_data": (X_VAL, Y_VAL), "verbose": 0}


def _client(tuner: kt.Tuner) -> MlflowClient:
    return MlflowClient(tracking_uri=tuner.store.tracking_uri)


def _runs(tuner: kt.Tuner, kind: str):
    client = _client(tuner)
    experiment = client.get_experiment_by_name(tuner.project_name)
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`hyperflow.kind` = '{kind}'"
    )


def test_random_search_records_every_trial_in_mlflow(tmp_path):
    directory = tmp_path / "new"  # no store there yet: the search creates it
    tuner = kt.RandomSearch(
        build_dense, objective="val_accuracy", max_trials=3, seed=3, directory=directory
    )
    tuner.search(epochs=2, **FIT)

    assert len(tuner.oracle.trials) == 3
    assert all(t.status == kt.TrialStatus.COMPLETED for t in tuner.oracle.trials.values())
    assert (directory / "mlflow.db").exists()
    [parent] = _runs(tuner, "search")
    children = _runs(tuner, "trial")
    assert len(children) == 3
    client = _client(tuner)
    for run in children:
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["hyperflow.status"] == "COMPLETED"
        assert run.info.status == "FINISHED"
        assert set(run.data.params) >= {"units", "lr"}
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert sorted(m.step for m in history) == [0, 1]
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"trial.json", "checkpoints"} <= artifacts
    assert parent.data.tags["hyperflow.best_trial_id"] == tuner.oracle.get_best_trials()[0].trial_id
    assert gc.get_freeze_count() == 0  # what the search froze for cheap collections, it thawed


def test_best_model_evaluates_to_the_best_score(tmp_path):
    tuner = kt.RandomSearch(
        build_dense, objective="val_accuracy", max_trials=2, seed=5, directory=tmp_path
    )
    tuner.search(epochs=3, **FIT)
    best_trial = tuner.oracle.get_best_trials(1)[0]
    model = tuner.get_best_models(1)[0]
    _, accuracy = model.evaluate(X_VAL, Y_VAL, verbose=0)
    assert accuracy == pytest.approx(best_trial.score, abs=1e-6)
    assert tuner.get_best_hyperparameters(1)[0].values == best_trial.values


@pytest.mark.parametrize(
    "make_tuner",
    [
        lambda d: kt.GridSearch(build_dense, objective="val_loss", max_trials=3, directory=d),
        lambda d: kt.BayesianOptimization(
            build_dense, objective="val_loss", max_trials=4, num_initial_points=2, directory=d
        ),
        lambda d: kt.TPESearch(
            build_dense, objective="val_loss", max_trials=4, num_initial_points=2, directory=d
        ),
    ],
    ids=["grid", "bayesian", "tpe"],  # Hyperband's: the test below
)
def test_each_tuner_runs_end_to_end(tmp_path, make_tuner):
    tuner = make_tuner(tmp_path)
    tuner.search(epochs=2, **FIT)
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert len(_runs(tuner, "trial")) == len(trials)
    assert tuner.get_best_models(1)[0] is not None


def test_hyperband_runs_end_to_end_and_promoted_trials_start_from_their_parent(tmp_path):
    tuner = kt.Hyperband(build_dense, objective="val_accuracy", max_epochs=3, directory=tmp_path)
    tuner.search(**FIT)
    trials = list(tuner.oracle.trials.values())
    assert trials and all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert len(_runs(tuner, "trial")) == len(trials)
    assert tuner.get_best_models(1)[0] is not None
    promoted = [t for t in trials if "tuner/trial_id" in t.values]
    assert promoted
    for trial in promoted:
        assert trial.values["tuner/trial_id"] in tuner.oracle.trials
        assert trial.values["tuner/initial_epoch"] > 0


def test_model_guided_hyperband_runs_in_the_flow(tmp_path):
    # Two tuned hyperparameters: the model proposes the fifth new configuration on.
    tuner = kt.Hyperband(
        build_dense,
        objective="val_accuracy",
        max_epochs=3,
        factor=3,
        sampler="model",
        random_fraction=0.0,
        seed=4,
        directory=tmp_path,
    )
    tuner.search(**FIT)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 6  # KerasTuner's schedule for (3, 3)
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert tuner.oracle._model() is not None
    assert len(_runs(tuner, "trial")) == len(trials)


class _FunctionTuner(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        return (x - 0.3) ** 2


def test_run_trial_override_tunes_any_function(tmp_path):
    tuner = _FunctionTuner(max_trials=4, seed=0, directory=tmp_path)
    tuner.search()
    best = tuner.get_best_hyperparameters()[0]
    scores = [t.score for t in tuner.oracle.trials.values()]
    assert min(scores) == pytest.approx((best.get("x") - 0.3) ** 2)
    assert str(tuner.oracle.objective) == 'Objective(name="default_objective", direction="min")'


def _task_runs(flow_run_name: str, expected: int) -> list:
    """The task runs of the flow run so named, once the server has recorded ``expected``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, FlowRunFilterName

    with get_client(sync_client=True) as client:
        [flow_run] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[flow_run_name]))
        )
        by_id = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        deadline = time.monotonic() + 60  # the server records task runs from events, later
        while True:
            runs = client.read_task_runs(flow_run_filter=by_id)
            if len(runs) >= expected or time.monotonic() > deadline:
                return runs
            time.sleep(0.5)


def test_each_trial_is_four_task_runs_linked_by_their_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # no GPU, whatever the machine has
    tuner = _FunctionTuner(max_trials=2, seed=0, directory=tmp_path, project_name="graph-cpu")
    tuner.search()

    runs = _task_runs("graph-cpu", expected=8)
    by_name = {run.name: run for run in runs if not run.name.startswith("sample-trial")}
    samples = {run.id: run for run in runs if run.name.startswith("sample-trial")}
    assert len(samples) == 3  # the third learns that the oracle is done
    assert sorted(by_name) == sorted(
        f"{step}-{trial}"
        for step in ("train-trial", "evaluate-trial", "update-oracle")
        for trial in ("00", "01")
    )
    sampled = set()
    for trial in ("00", "01"):
        train, evaluate = by_name[f"train-trial-{trial}"], by_name[f"evaluate-trial-{trial}"]
        update = by_name[f"update-oracle-{trial}"]
        assert [i.id for i in evaluate.task_inputs["result"]] == [train.id]
        assert evaluate.id in {i.id for i in update.task_inputs["outcome"]}
        [spec] = train.task_inputs["spec"]
        assert spec.id in samples
        assert spec.id in {i.id for i in update.task_inputs["spec"]}
        sampled.add(spec.id)
        assert "gpu" not in train.tags  # on CPUs: no concurrency slot to ask the API for
    assert len(sampled) == 2


def test_train_trial_is_tagged_gpu_when_trials_train_on_gpus(tmp_path, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    tuner = _FunctionTuner(max_trials=1, seed=0, directory=tmp_path, project_name="graph-gpu")
    tuner.search()

    runs = {run.name: run for run in _task_runs("graph-gpu", expected=4)}
    assert "gpu" in runs["train-trial-00"].tags
    assert all("gpu" not in run.tags for name, run in runs.items() if name != "train-trial-00")


def test_resume_after_completion_returns_at_once(tmp_path):
    kwargs = {"max_trials": 2, "seed": 1, "directory": tmp_path, "project_name": "again"}
    _FunctionTuner(**kwargs).search()
    resumed = _FunctionTuner(**kwargs)
    resumed.search()
    assert len(resumed.oracle.trials) == 2
    assert len(_runs(resumed, "trial")) == 2
    assert len(_runs(resumed, "search")) == 1
    more = _FunctionTuner(**{**kwargs, "max_trials": 3})
    more.search()
    assert len(more.oracle.trials) == 3


class _FlakyTuner(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Int("x", 0, 100)
        if x % 2:
            raise RuntimeError(f"odd x={x}")
        return float(x)


def test_failing_trials_are_recorded_and_the_search_goes_on(tmp_path):
    tuner = _FlakyTuner(max_trials=8, seed=2, directory=tmp_path, max_consecutive_failed_trials=8)
    tuner.search()
    statuses = {t.trial_id: t.status for t in tuner.oracle.trials.values()}
    assert kt.TrialStatus.FAILED in statuses.values()
    assert kt.TrialStatus.COMPLETED in statuses.values()
    failed = next(t for t in tuner.oracle.trials.values() if t.status == kt.TrialStatus.FAILED)
    assert "odd x=" in failed.message
    runs = {r.data.tags["hyperflow.trial_id"]: r for r in _runs(tuner, "trial")}
    assert runs[failed.trial_id].info.status == "FAILED"


class _AlwaysFails(kt.RandomSearch):
    def run_trial(self, trial, *args, **kwargs):
        trial.hyperparameters.Int("x", 0, 100)
        raise RuntimeError("broken objective")


def test_consecutive_failures_end_the_search_with_the_last_error(tmp_path):
    tuner = _AlwaysFails(max_trials=10, directory=tmp_path, max_consecutive_failed_trials=2)
    with pytest.raises(kt.FatalError, match="broken objective"):
        tuner.search()
    assert len(tuner.oracle.trials) == 2


def test_nan_score_is_invalid_then_retried(tmp_path):
    class NanTuner(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            trial.hyperparameters.Int("x", 0, 100)
            return math.nan

    tuner = NanTuner(
        max_trials=1, directory=tmp_path, max_retries_per_trial=1, max_consecutive_failed_trials=5
    )
    tuner.search()
    [trial] = tuner.oracle.trials.values()
    assert trial.status == kt.TrialStatus.FAILED
    attempts = sorted(int(r.data.tags["hyperflow.attempt"]) for r in _runs(tuner, "trial"))
    assert attempts == [0, 1]


def test_unknown_tuner_keyword_is_rejected():
    with pytest.raises(ValueError, match="max_trails"):
        kt.RandomSearch(build_dense, objective="val_loss", max_trails=3)


def test_objective_not_found_names_the_metrics_that_were_there(tmp_path):
    tuner = kt.RandomSearch(build_dense, objective="val_auc", max_trials=3, directory=tmp_path)
    with pytest.raises(ValueError, match=r"val_auc.*val_accuracy"):
        tuner.search(epochs=1, **FIT)
    assert len(tuner.oracle.trials) == 1


def test_callback_that_cannot_be_copied_is_rejected_before_any_trial(tmp_path):
    import threading

    import keras

    class Holder(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

    tuner = kt.RandomSearch(build_dense, objective="val_loss", max_trials=2, directory=tmp_path)
    with pytest.raises(ValueError, match="deep-copyable"):
        tuner.search(epochs=1, callbacks=[Holder()], **FIT)
    assert not tuner.oracle.trials


def test_build_returning_a_non_model_is_rejected_before_any_trial(tmp_path):
    def build(hp):
        hp.Int("units", 1, 4)
        return "not a model"

    tuner = kt.RandomSearch(build, objective="val_loss", max_trials=2, directory=tmp_path)
    with pytest.raises(TypeError, match="keras.Model"):
        tuner.search(epochs=1, **FIT)
    assert not tuner.oracle.trials


def test_run_trial_returning_none_asks_whether_metrics_were_forgotten(tmp_path):
    class Forgetful(kt.RandomSearch):
        def run_trial(self, trial, *args, **kwargs):
            trial.hyperparameters.Int("x", 0, 3)

    tuner = Forgetful(max_trials=3, directory=tmp_path)
    with pytest.raises(kt.FatalTypeError, match="forget to return"):
        tuner.search()


def test_early_stopping_callback_is_copied_per_execution(tmp_path):
    import keras

    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=0)
    tuner = kt.RandomSearch(
        build_dense,
        objective="val_loss",
        max_trials=2,
        executions_per_trial=2,
        directory=tmp_path,
    )
    tuner.search(epochs=4, callbacks=[stop], **FIT)
    assert stop.model is None  # the original was never used
    for trial in tuner.oracle.trials.values():
        assert trial.status == kt.TrialStatus.COMPLETED
        assert np.isfinite(trial.score)


def test_median_pruning_stops_a_bad_trial_during_training(tmp_path):
    import keras

    def build(hp):
        model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(10, "softmax")])
        learning_rate = {"good": 0.05, "bad": 0.0}[hp.Choice("mode", ["good", "bad"])]
        model.compile(keras.optimizers.SGD(learning_rate), "sparse_categorical_crossentropy")
        return model

    tuner = kt.RandomSearch(
        build,
        objective="val_loss",
        max_trials=3,
        directory=tmp_path,
        pruning=kt.MedianStoppingRule(min_trials=2, warmup_steps=1),
    )
    for mode in ("good", "good", "bad"):
        tuner.oracle.enqueue_trial({"mode": mode})
    tuner.search(epochs=6, **FIT)

    good, again, bad = (tuner.oracle.trials[i] for i in ("00", "01", "02"))
    assert good.status == again.status == kt.TrialStatus.COMPLETED
    assert bad.status == kt.TrialStatus.STOPPED
    [bad_run] = [r for r in _runs(tuner, "trial") if r.data.tags["hyperflow.trial_id"] == "02"]
    history = _client(tuner).get_metric_history(bad_run.info.run_id, "val_loss")
    assert len(history) < 6


class _ScoreOnly(kt.HyperModel):
    """KerasTuner's "tune any function" through a hypermodel: fit returns the score."""

    def build(self, hp):
        import keras

        hp.Float("x", -1, 1)
        return keras.Sequential([keras.layers.Dense(1)])  # never called, so never built

    def fit(self, hp, model, *args, **kwargs):
        return (hp.get("x") - 0.5) ** 2


def test_fit_that_returns_a_score_without_training_completes(tmp_path):
    tuner = kt.RandomSearch(_ScoreOnly(), max_trials=3, seed=0, directory=tmp_path)
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert [t.status for t in trials] == [kt.TrialStatus.COMPLETED] * 3
    best = tuner.get_best_hyperparameters()[0]
    assert tuner.oracle.get_best_trials()[0].score == pytest.approx((best.get("x") - 0.5) ** 2)


def test_tensorboard_writes_each_trial_and_execution_apart(tmp_path):
    import keras

    log_dir = tmp_path / "logs"
    tuner = kt.RandomSearch(
        build_dense,
        objective="val_accuracy",
        max_trials=1,
        executions_per_trial=2,
        seed=1,
        directory=tmp_path,
    )
    tuner.search(epochs=1, callbacks=[keras.callbacks.TensorBoard(str(log_dir))], **FIT)

    assert sorted(os.listdir(log_dir)) == sorted(tuner.oracle.trials)  # no shared train/
    client = _client(tuner)
    for trial_id, run_id in tuner.trial_run_ids.items():
        assert sorted(os.listdir(log_dir / trial_id)) == ["execution0", "execution1"]
        assert (log_dir / trial_id / "execution1" / "train").is_dir()
        logged = {a.path for a in client.list_artifacts(run_id, "tensorboard")}
        assert logged == {"tensorboard/execution0", "tensorboard/execution1"}


def test_stop_rules_end_the_search_at_the_trial_that_meets_one(tmp_path, capsys):
    tuner = _FunctionTuner(
        max_trials=20,
        seed=0,
        directory=tmp_path,
        stop_when=[kt.stopping.NoImprovement(patience=5), kt.stopping.TargetReached(0.01)],
    )
    for x in (0.9, 0.6, 0.35, 0.8):  # the third trial scores 0.0025, under the target
        tuner.oracle.enqueue_trial({"x": x})
    tuner.search()

    assert sorted(tuner.oracle.trials) == ["00", "01", "02"]
    assert "Search stopping: the objective reached its target 0.01" in capsys.readouterr().out
    [search] = _runs(tuner, "search")
    assert search.info.status == "FINISHED"
    assert "target 0.01" in search.data.tags["hyperflow.stop_reason"]


def test_asynchronous_model_guided_hyperband_runs_a_whole_search_with_trials_in_flight(
    tmp_path,
):
    tuner = kt.Hyperband(
        build_dense,
        objective="val_accuracy",
        max_epochs=3,
        asynchronous=True,
        sampler="model",
        random_fraction=0.0,
        seed=2,
        directory=tmp_path,
        max_concurrent_trials=2,
        isolation="worker",
    )
    tuner.search(**FIT)

    trials = list(tuner.oracle.trials.values())
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    promoted = [t for t in trials if "tuner/trial_id" in t.values]
    assert promoted
    for trial in promoted:
        parent = tuner.oracle.trials[trial.values["tuner/trial_id"]]
        assert trial.values["tuner/initial_epoch"] == parent.values["tuner/epochs"]
        assert trial.values["tuner/round"] == parent.values["tuner/round"] + 1
    assert len(_runs(tuner, "trial")) == len(trials)
    assert tuner.get_best_models(1)[0] is not None


def test_pareto_search_puts_its_front_on_the_parent_run(tmp_path, capsys):
    tuner = kt.BayesianOptimization(
        build_dense,
        objective=["val_accuracy", "val_loss"],
        multi_objective="pareto",
        max_trials=4,
        num_initial_points=2,
        seed=2,
        directory=tmp_path,
    )
    tuner.search(epochs=2, **FIT)

    front = tuner.get_pareto_trials()
    assert front and all(t.status == kt.TrialStatus.COMPLETED for t in front)
    front_ids = [t.trial_id for t in front]
    assert [hp.values for hp in tuner.get_pareto_hyperparameters()] == [t.values for t in front]
    [parent] = _runs(tuner, "search")
    assert parent.data.tags["hyperflow.pareto_front"] == ",".join(front_ids)
    tagged = {
        r.data.tags["hyperflow.trial_id"]
        for r in _runs(tuner, "trial")
        if r.data.tags.get("hyperflow.pareto_front") == "true"
    }
    assert tagged == set(front_ids)
    client = _client(tuner)
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert "plots/pareto_front.png" in plots
    rows = tuner.store.runs.read_dict(parent.info.run_id, "leaderboard.json")
    assert {r["trial_id"] for r in rows if r["pareto_front"]} == set(front_ids)
    assert all({"val_accuracy", "val_loss"} <= set(r) for r in rows)
    tuner.results_summary()
    printed = capsys.readouterr().out
    assert f"Pareto front: {len(front)} trials" in printed
    assert f"Trial {front_ids[0]}: val_accuracy=" in printed
