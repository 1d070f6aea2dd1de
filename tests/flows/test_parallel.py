"""Trials in parallel: concurrency, worker processes, a Dask cluster, faults and budgets."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

import tuning as kt
from tests.flows.helpers import build_dense, digits

# A search's store: a copy of a migrated database, not a new one (see ``migrated``).
pytestmark = pytest.mark.usefixtures("migrated")


def _trial_runs(tuner: kt.Tuner):
    client = MlflowClient(tracking_uri=tuner.store.tracking_uri)
    experiment = client.get_experiment_by_name(tuner.project_name)
    return client.search_runs(
        [experiment.experiment_id], filter_string="tags.`hyperflow.kind` = 'trial'"
    )


class Sleepy:
    """A run_trial mixin: a quadratic bowl that takes ``delay`` seconds per trial."""

    delay = 0.3

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        units = trial.hyperparameters.Int("units", 1, 4)
        time.sleep(self.delay)
        return (x - 0.2) ** 2 + 0.01 * units


class SleepyRandom(Sleepy, kt.RandomSearch):
    pass


class SleepyGrid(Sleepy, kt.GridSearch):
    pass


class SleepyBayesian(Sleepy, kt.BayesianOptimization):
    pass


class SleepyHyperband(Sleepy, kt.Hyperband):
    def run_trial(self, trial, *args, **kwargs):
        return super().run_trial(trial) + 1.0 / trial.hyperparameters.get("tuner/epochs")


# Threads, so that the test can count overlapping trials in this process.
IN_THREADS = {"max_concurrent_trials": 2, "isolation": "none"}


class Overlap:
    """Counts how many trials run at the same time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


@pytest.mark.parametrize(
    "make_tuner",
    [
        lambda d: SleepyRandom(max_trials=6, seed=1, directory=d, **IN_THREADS),
        lambda d: SleepyGrid(max_trials=6, directory=d, **IN_THREADS),
        lambda d: SleepyBayesian(
            max_trials=6, num_initial_points=2, seed=1, directory=d, **IN_THREADS
        ),
        lambda d: SleepyHyperband(max_epochs=4, factor=2, seed=1, directory=d, **IN_THREADS),
    ],
    ids=["random", "grid", "bayesian", "hyperband"],
)
def test_two_trials_run_at_once_with_each_tuner(tmp_path, make_tuner):
    tuner = make_tuner(tmp_path)
    overlap = Overlap()
    original = type(tuner).run_trial

    def counted(self, trial, *args, **kwargs):
        with overlap:
            return original(self, trial, *args, **kwargs)

    tuner.run_trial = counted.__get__(tuner)
    tuner.search()
    trials = list(tuner.oracle.trials.values())
    assert overlap.peak == 2
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert len(_trial_runs(tuner)) == len(trials)


class Timed(kt.RandomSearch):
    """Sleeps a second per trial and reports when, by its own clock, it started and ended."""

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)  # the space is the first trial's
        started = time.time()
        time.sleep(1.0)
        return {"loss": x**2, "started": started, "ended": time.time()}


@pytest.mark.parametrize("isolation", ["none", "worker"])
def test_after_the_first_trial_every_slot_has_a_trial_in_flight(tmp_path, isolation):
    slots = 3
    tuner = Timed(
        objective="loss",
        max_trials=1 + 2 * slots,
        seed=6,
        directory=tmp_path,
        max_concurrent_trials=slots,
        isolation=isolation,
    )
    tuner.search(verbose=0)
    spans = sorted(
        (t.metrics.get_last_value("started"), t.metrics.get_last_value("ended"))
        for t in tuner.oracle.trials.values()
    )
    first, wave = spans[0], spans[1 : 1 + slots]
    # The first trial runs alone: it declares the space the others are sampled from.
    assert all(started >= first[1] for started, _ in spans[1:])
    # Then all the slots fill: the next trials are in flight at the same time.
    assert max(started for started, _ in wave) < min(ended for _, ended in wave)
    in_flight = [sum(s <= moment < e for s, e in spans) for moment, _ in spans]
    assert max(in_flight) == slots


def test_no_trial_is_lost_or_duplicated_with_four_in_flight(tmp_path):
    class Fast(SleepyRandom):
        delay = 0.05

    tuner = Fast(
        max_trials=24, seed=4, directory=tmp_path, max_concurrent_trials=4, isolation="none"
    )
    tuner.search()
    runs = _trial_runs(tuner)
    ids = Counter(r.data.tags["hyperflow.trial_id"] for r in runs)
    assert len(tuner.oracle.trials) == 24
    assert set(ids) == set(tuner.oracle.trials)
    assert max(ids.values()) == 1
    values = [tuple(sorted(t.values.items())) for t in tuner.oracle.trials.values()]
    assert len(set(values)) == 24


def test_max_time_stops_starting_trials_and_ends_cleanly(tmp_path):
    class Slow(SleepyRandom):
        delay = 1.0

    # The budget counts from the start of search(), flow start-up included.
    tuner = Slow(max_trials=200, seed=2, directory=tmp_path, max_time=12.0)
    started = time.monotonic()
    tuner.search()
    assert time.monotonic() - started < 60
    trials = list(tuner.oracle.trials.values())
    assert 1 <= len(trials) < 200
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert all(r.info.status == "FINISHED" for r in _trial_runs(tuner))


def test_two_projects_share_one_store_without_mixing_trials(tmp_path):
    directory = tmp_path / "new"  # no store there yet: both searches create it at once
    tuners = [
        SleepyRandom(max_trials=4, seed=i, directory=directory, project_name=f"project-{i}")
        for i in range(2)
    ]
    threads = [threading.Thread(target=t.search) for t in tuners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tuner in tuners:
        runs = _trial_runs(tuner)
        assert len(runs) == 4
        assert {r.data.tags["hyperflow.trial_id"] for r in runs} == set(tuner.oracle.trials)


class PidRecorder(kt.RandomSearch):
    """Writes its process id where the test can find it, then trains slowly."""

    def __init__(self, pid_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.pid_dir = pid_dir

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        Path(self.pid_dir, f"{trial.trial_id}-{os.getpid()}").touch()
        time.sleep(1.5)
        return x**2


def test_a_worker_killed_mid_trial_fails_only_that_trial_which_is_retried(tmp_path):
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    tuner = PidRecorder(
        str(pid_dir),
        max_trials=4,
        seed=3,
        directory=tmp_path,
        max_concurrent_trials=2,
        isolation="worker",
        max_retries_per_trial=1,
    )
    killed: list[str] = []

    def kill_first_worker():
        while not killed:
            for marker in pid_dir.iterdir():
                trial_id, pid = marker.name.split("-")
                os.kill(int(pid), signal.SIGKILL)
                killed.append(trial_id)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_worker, daemon=True)
    killer.start()
    tuner.search()
    killer.join(timeout=1)

    assert killed
    assert all(t.status == kt.TrialStatus.COMPLETED for t in tuner.oracle.trials.values())
    attempts = Counter(r.data.tags["hyperflow.trial_id"] for r in _trial_runs(tuner))
    assert attempts[killed[0]] == 2
    assert sum(attempts.values()) == 5
    invalid = [r for r in _trial_runs(tuner) if r.data.tags["hyperflow.status"] == "INVALID"]
    assert "worker process died" in invalid[0].data.tags["hyperflow.error"]


def test_max_trial_time_kills_a_stuck_trial(tmp_path):
    class Stuck(SleepyRandom):
        def run_trial(self, trial, *args, **kwargs):
            x = trial.hyperparameters.Float("x", -1.0, 1.0)
            if x > 0:
                time.sleep(60)
            return x**2

    tuner = Stuck(
        max_trials=4,
        seed=0,
        directory=tmp_path,
        isolation="worker",
        max_trial_time=3,
        max_consecutive_failed_trials=4,
    )
    tuner.search()
    statuses = Counter(t.status for t in tuner.oracle.trials.values())
    assert statuses[kt.TrialStatus.FAILED] >= 1
    failed = next(t for t in tuner.oracle.trials.values() if t.status == kt.TrialStatus.FAILED)
    assert "max_trial_time" in failed.message


def test_keras_trials_train_in_worker_processes(tmp_path):
    (x, y), validation = digits()
    tuner = kt.RandomSearch(
        build_dense,
        objective="val_accuracy",
        max_trials=3,
        seed=7,
        directory=tmp_path,
        max_concurrent_trials=2,
        isolation="worker",
    )
    tuner.search(x, y, epochs=2, validation_data=validation, verbose=0)
    best = tuner.oracle.get_best_trials(1)[0]
    _, accuracy = tuner.get_best_models(1)[0].evaluate(*validation, verbose=0)
    assert accuracy == pytest.approx(best.score, abs=1e-6)


class FreshProcesses(kt.RandomSearch):
    """Notes, as each trial ends, its process and the other live worker processes."""

    def __init__(self, report_dir: str, **kwargs):
        super().__init__(**kwargs)
        self.report_dir = report_dir

    def run_trial(self, trial, *args, **kwargs):
        psutil = pytest.importorskip("psutil")
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        time.sleep(0.5)  # the successor starts meanwhile
        alive = []
        for sibling in psutil.Process(os.getppid()).children():  # the zygote's children
            try:  # a child may end while we look
                if sibling.status() != psutil.STATUS_ZOMBIE:
                    alive.append(sibling.pid)
            except psutil.Error:
                continue
        report = {"pid": os.getpid(), "alive": alive}
        Path(self.report_dir, f"{trial.trial_id}.json").write_text(json.dumps(report))
        return {"loss": x**2}


def test_process_isolation_trains_each_trial_in_a_fresh_process_started_ahead(tmp_path):
    reports_dir = tmp_path / "reports"
    reports_dir.mkdir()
    tuner = FreshProcesses(
        str(reports_dir),
        objective="loss",
        max_trials=3,
        seed=2,
        directory=tmp_path,
        isolation="process",
    )
    tuner.search()
    reports = [
        json.loads((reports_dir / f"{t}.json").read_text()) for t in sorted(tuner.oracle.trials)
    ]
    pids = [r["pid"] for r in reports]
    assert len(set(pids)) == 3 and os.getpid() not in pids
    for k in range(2):
        # While trial k trains, the process that trains trial k + 1 is loading ...
        assert pids[k + 1] in reports[k]["alive"]
        # ... and trial k's process has ended before trial k + 1 starts.
        assert pids[k] not in reports[k + 1]["alive"]


class WhereAmI(kt.RandomSearch):
    """Reports which process trained the trial and that process's grandparent."""

    def run_trial(self, trial, *args, **kwargs):
        import psutil

        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        time.sleep(0.3)
        grandparent = psutil.Process().parent().ppid()
        return {"loss": x**2, "pid": os.getpid(), "grandparent_pid": grandparent}


def test_trials_run_on_a_dask_cluster(tmp_path, dask_cluster):
    import distributed

    with distributed.Client(dask_cluster) as client:
        tuner = WhereAmI(
            objective="loss",
            max_trials=4,
            seed=5,
            directory=tmp_path,
            max_concurrent_trials=2,
            dask_address=dask_cluster.scheduler_address,
        )
        tuner.search()
        worker_pids = set(client.run(os.getpid).values())
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 4
    assert all(t.status == kt.TrialStatus.COMPLETED for t in trials)
    assert len(_trial_runs(tuner)) == 4
    # Each trial trained in a process forked from a Dask worker's zygote.
    grandparents = {int(t.metrics.get_last_value("grandparent_pid")) for t in trials}
    assert grandparents <= worker_pids
    assert os.getpid() not in {int(t.metrics.get_last_value("pid")) for t in trials}
