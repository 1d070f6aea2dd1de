"""A search killed with SIGKILL resumes from the MLflow store alone."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from prefect.settings import PREFECT_API_URL

import tuning as kt
from tests.flows.helpers import ended_early, start_script
from tests.flows.killable_search import completed, make_tuner, runs_of

SCRIPT = Path(__file__).with_name("killable_search.py")


@pytest.mark.parametrize("concurrent", [1, 3], ids=["one-at-a-time", "three-in-flight"])
def test_search_killed_mid_trial_resumes_without_rerunning_completed_trials(tmp_path, concurrent):
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    log = tmp_path / "killed-search.log"
    process = start_script(SCRIPT, [str(tmp_path), "8", str(concurrent)], env, log)
    deadline = time.monotonic() + 240
    while completed(tmp_path) < 3:
        assert process.poll() is None, ended_early(process, log)
        assert time.monotonic() < deadline, "the search never got going"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = {
        r.data.tags["hyperflow.trial_id"]: r.info.run_id
        for r in runs_of(tmp_path, "trial")
        if r.data.tags.get("hyperflow.status") == "COMPLETED"
    }
    assert 3 <= len(before) < 8

    tuner = make_tuner(str(tmp_path), 8, concurrent)
    tuner.search()

    assert len(tuner.oracle.trials) == 8
    assert all(t.status == kt.TrialStatus.COMPLETED for t in tuner.oracle.trials.values())
    runs = runs_of(tmp_path, "trial")
    completions = Counter(
        r.data.tags["hyperflow.trial_id"]
        for r in runs
        if r.data.tags.get("hyperflow.status") == "COMPLETED"
    )
    assert set(completions) == set(tuner.oracle.trials)
    assert max(completions.values()) == 1, "a completed trial ran twice"
    for trial_id, run_id in before.items():  # the runs that completed before the kill are kept
        assert tuner.trial_run_ids[trial_id] == run_id
    assert all(r.data.tags.get("hyperflow.status") in ("COMPLETED", "KILLED") for r in runs)


class _StateWatcher(kt.RandomSearch):
    """Reads the saved search state while each trial trains."""

    saved_while_training: dict[str, list[str]] = {}

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        state = self.store.state.load(self.search_run_id)
        self.saved_while_training[trial.trial_id] = list(state["ongoing_trials"].values())
        return (x - 0.25) ** 2


def test_a_trial_is_in_the_saved_state_before_it_can_end(tmp_path):
    # Otherwise a kill between the end of a trial's run and the next state save
    # leaves a finished run the resumed oracle knows nothing of: the trial runs twice.
    tuner = _StateWatcher(
        max_trials=3, seed=1, directory=str(tmp_path), project_name="watched", isolation="none"
    )
    tuner.search(verbose=0)

    assert tuner.saved_while_training == {t: [t] for t in ("00", "01", "02")}


def test_a_trial_killed_at_its_third_epoch_trains_the_other_three_in_its_run(tmp_path):
    from tests.flows.resumable_search import EpochLog, epochs_trained, make_tuner, search

    root = str(Path(__file__).parents[2])  # this checkout's code, and its tests' helpers
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PYTHONPATH": root}
    log = tmp_path / "killed-search.log"
    process = start_script(
        Path(__file__).with_name("resumable_search.py"), [str(tmp_path)], env, log
    )
    deadline = time.monotonic() + 240
    while 3 not in epochs_trained(tmp_path / "first.txt"):
        assert process.poll() is None, ended_early(process, log)
        assert time.monotonic() < deadline, "the trial never reached its fourth epoch"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert epochs_trained(tmp_path / "first.txt") == [0, 1, 2, 3]

    tuner = make_tuner(str(tmp_path))
    search(tuner, EpochLog(str(tmp_path / "second.txt")))

    assert epochs_trained(tmp_path / "second.txt") == [3, 4, 5]
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == kt.TrialStatus.COMPLETED
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db")
    experiment = client.get_experiment_by_name("resumed")
    (run,) = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hyperflow.kind` = 'trial'"
    )
    assert run.info.run_id == tuner.trial_run_ids[trial.trial_id]
    assert run.data.tags["hyperflow.status"] == "COMPLETED"
    for metric in ("loss", "val_accuracy"):
        steps = [m.step for m in client.get_metric_history(run.info.run_id, metric)]
        assert sorted(steps) == [0, 1, 2, 3, 4, 5], metric
    assert len(tuner.get_best_models(1)) == 1
