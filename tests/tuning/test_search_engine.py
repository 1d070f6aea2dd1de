"""The search engine on a real MLflow store, driven by plain loops: no Prefect here."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tuning as kt
from tuning.search_engine import SearchEngine, crashed, evaluate, trial_seed
from tuning.store import TrialStore
from tuning.trial_spec import TrialResult

ROOT = Path(__file__).resolve().parents[2]
_projects = itertools.count()


def _engine(directory: Path, project: str | None = None, **oracle_args) -> SearchEngine:
    oracle = kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "min"),
        max_trials=oracle_args.pop("max_trials", 4),
        seed=1,
        hyperparameters=_space(),
        **oracle_args,
    )
    project = project or f"engine-{next(_projects)}"
    return SearchEngine(oracle, TrialStore(project, directory))


def _space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    return hp


def _completed(spec, score: float | None = None) -> TrialResult:
    """What a trial reporting ``score`` (by default ``(x - 0.3) ** 2``) gives."""
    x = spec.hyperparameters["values"]["x"]
    value = (x - 0.3) ** 2 if score is None else score
    return TrialResult(
        trial_id=spec.trial_id,
        run_id=spec.run_id,
        status="COMPLETED",
        executions=[{"steps": [0], "metrics": {"score": [value]}}],
        hyperparameters=spec.hyperparameters,
    )


def _run_one(engine: SearchEngine, slot: str = "0") -> str:
    spec = engine.sample(slot)
    return engine.record(spec, evaluate(_completed(spec), engine.oracle.objective))


def test_a_plain_loop_runs_a_whole_search_without_prefect(tmp_path):
    code = f"""
import json, sys
import tuning as kt
from tuning.search_engine import evaluate
from tuning.runners import InProcessRunner

class Quadratic(kt.RandomSearch):
    def run_trial(self, trial, target):
        return (trial.hyperparameters.Float("x", -1.0, 1.0) - target) ** 2

tuner = Quadratic(max_trials=4, seed=3, directory={str(tmp_path)!r}, project_name="plain")
engine, runner = tuner.engine, InProcessRunner(tuner.executor, (0.3,), {{}})
engine.open("Quadratic", {{}}, overwrite=True)
engine.begin(verbose=0)
statuses = []
while (spec := engine.sample("0")).runnable:
    statuses.append(engine.record(spec, evaluate(runner.train(spec), engine.oracle.objective)))
summary = engine.finish()
print(json.dumps({{"statuses": statuses, "trials": summary["trials"],
                  "best": summary["best_score"], "runs": len(tuner.store.trials.trial_runs(
                      engine.search_run_id)), "prefect": "prefect" in sys.modules}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["statuses"] == ["COMPLETED"] * 4
    assert (report["trials"], report["runs"]) == (4, 4)
    assert 0 <= report["best"] < 1.7
    assert report["prefect"] is False


def test_sample_saves_the_state_with_the_trial_ongoing(directory):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)

    spec = engine.sample("0")

    saved = engine.store.state.load(engine.search_run_id)
    assert spec.runnable and spec.slot == "0" and spec.run_id
    assert saved["ongoing_trials"] == {"tuner0-0": spec.trial_id}
    assert spec.seed == trial_seed(1, spec.trial_id, 0)


def test_record_ends_the_run_and_saves_the_state(directory):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")

    status = engine.record(spec, evaluate(_completed(spec, 0.25), engine.oracle.objective))

    assert status == "COMPLETED"
    saved = engine.store.state.load(engine.search_run_id)
    assert saved["ongoing_trials"] == {}
    assert [t["score"] for t in saved["trials"]] == [0.25]
    runs = engine.store.trials.trial_runs(engine.search_run_id)
    assert [(r["status"], r["score"]) for r in runs] == [("COMPLETED", 0.25)]


def test_a_resumed_search_requeues_the_running_trial_and_keeps_the_completed_ones(directory):
    project = f"engine-{next(_projects)}"
    first = _engine(directory, project)
    first.open("RandomSearch", {}, overwrite=True)
    assert _run_one(first) == "COMPLETED"
    interrupted = first.sample("0")  # the process dies while this trial trains

    second = _engine(directory, project)
    assert second.open("RandomSearch", {}, overwrite=False) == first.search_run_id
    again = second.sample("0")

    assert again.trial_id == interrupted.trial_id
    assert again.hyperparameters == interrupted.hyperparameters
    assert again.seed == trial_seed(1, again.trial_id, 1) != interrupted.seed
    runs = {
        (r["trial_id"], r["attempt"]): r["status"]
        for r in second.store.trials.trial_runs(second.search_run_id)
    }
    assert runs == {("00", 0): "COMPLETED", ("01", 0): "KILLED", ("01", 1): "RUNNING"}


def test_a_trial_that_ended_after_the_last_save_is_replayed_not_rerun(directory):
    project = f"engine-{next(_projects)}"
    first = _engine(directory, project)
    first.open("RandomSearch", {}, overwrite=True)
    spec = first.sample("0")
    # Its run ends, then the process dies before the state that records it is saved.
    first.store.state.save = lambda *args: None  # type: ignore[method-assign]
    first.record(spec, evaluate(_completed(spec, 0.5), first.oracle.objective))

    second = _engine(directory, project)
    second.open("RandomSearch", {}, overwrite=False)

    assert second.oracle.trials[spec.trial_id].status.value == "COMPLETED"
    assert second.oracle.trials[spec.trial_id].score == 0.5
    assert second.sample("0").trial_id != spec.trial_id


def test_a_trial_recorded_without_flush_is_in_the_next_saved_state_and_its_run_ends_later(
    directory,
):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")

    engine.record(spec, evaluate(_completed(spec, 0.25), engine.oracle.objective), flush=False)
    runs = engine.store.trials.trial_runs(engine.search_run_id)
    assert [r["run_status"] for r in runs] == ["RUNNING"]  # nothing written yet
    following = engine.sample("0")  # its state save holds the recorded trial
    assert engine.store.state.load(engine.search_run_id)["ongoing_trials"] == {
        "tuner0-0": following.trial_id
    }
    engine.flush()

    runs = {r["trial_id"]: r for r in engine.store.trials.trial_runs(engine.search_run_id)}
    assert (runs[spec.trial_id]["status"], runs[spec.trial_id]["score"]) == ("COMPLETED", 0.25)
    run = engine.store.connection.call("get_run", following.run_id)
    assert run.data.params == {"x": str(following.hyperparameters["values"]["x"])}


def test_background_writes_land_in_order_and_a_waiting_flush_sees_them_all(directory):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)
    written: list[str] = []
    end_trial = engine.store.trials.end_trial
    engine.store.trials.end_trial = lambda run_id, *a, **k: (  # type: ignore[method-assign]
        time.sleep(0.05),
        end_trial(run_id, *a, **k),
        written.append(run_id),
    )
    specs = []
    for score in (0.5, 0.25, 0.75):
        specs.append(engine.sample("0"))
        engine.record(
            specs[-1], evaluate(_completed(specs[-1], score), engine.oracle.objective), flush=False
        )
        engine.flush(wait=False)
    engine.flush()

    assert written == [spec.run_id for spec in specs]
    runs = {r["trial_id"]: r for r in engine.store.trials.trial_runs(engine.search_run_id)}
    assert [runs[spec.trial_id]["score"] for spec in specs] == [0.5, 0.25, 0.75]


def test_a_failed_background_write_is_raised_by_the_next_flush(directory):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    engine.store.trials.end_trial = disk_full  # type: ignore[method-assign]
    engine.record(spec, evaluate(_completed(spec, 0.5), engine.oracle.objective), flush=False)
    engine.flush(wait=False)  # returns before the write fails
    with pytest.raises(OSError, match="disk full"):
        engine.flush()


def test_a_trial_whose_end_was_saved_before_its_run_ended_has_its_run_ended_on_resume(directory):
    project = f"engine-{next(_projects)}"
    first = _engine(directory, project)
    first.open("RandomSearch", {}, overwrite=True)
    spec = first.sample("0")
    first.record(spec, evaluate(_completed(spec, 0.5), first.oracle.objective), flush=False)
    interrupted = first.sample("0")  # saves the state; the process dies before flush()

    second = _engine(directory, project)
    second.open("RandomSearch", {}, overwrite=False)

    runs = {r["trial_id"]: r for r in second.store.trials.trial_runs(second.search_run_id)}
    assert (runs[spec.trial_id]["status"], runs[spec.trial_id]["score"]) == ("COMPLETED", 0.5)
    assert runs[spec.trial_id]["run_status"] == "FINISHED"
    assert second.store.trials.finished_trial_record(spec.run_id)["score"] == 0.5
    assert runs[interrupted.trial_id]["status"] == "KILLED"
    assert second.sample("0").trial_id == interrupted.trial_id  # rerun; the first one is not


def test_a_fatal_error_of_a_trial_stops_sampling(directory):
    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")
    result = _completed(spec).failed_by(kt.FatalValueError("bad objective"))

    assert engine.record(spec, evaluate(result, engine.oracle.objective)) == "FAILED"
    assert isinstance(engine.fatal, kt.FatalValueError)
    assert engine.sample("0").status == "STOPPED"


def test_a_crashed_task_is_invalid_and_retried(directory):
    engine = _engine(directory, max_retries_per_trial=1)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")

    assert engine.record(spec, crashed(spec, OSError("disk gone"))) == "INVALID"
    assert "disk gone" in (engine.oracle.trials[spec.trial_id].message or "")
    retry = engine.sample("0")
    assert retry.trial_id == spec.trial_id and retry.run_id != spec.run_id


def test_new_hyperparameters_are_refused_when_the_oracle_allows_none(directory):
    engine = _engine(directory, allow_new_entries=False)
    engine.open("RandomSearch", {}, overwrite=True)
    spec = engine.sample("0")
    declared = kt.HyperParameters.from_config(spec.hyperparameters)
    declared.Int("extra", 1, 3)
    result = TrialResult(**{**_completed(spec).to_dict(), "hyperparameters": declared.get_config()})

    assert engine.record(spec, evaluate(result, engine.oracle.objective)) == "FAILED"
    assert isinstance(engine.fatal, kt.FatalRuntimeError)


def test_max_time_stops_sampling(directory):
    engine = _engine(directory)
    engine.max_time = 1e-9
    engine.open("RandomSearch", {}, overwrite=True)
    engine.begin(verbose=0)

    assert engine.sample("0").status == "STOPPED"


def test_finish_ends_the_search_with_its_leaderboard(directory):
    engine = _engine(directory, max_trials=3)
    engine.open("RandomSearch", {}, overwrite=True)
    engine.begin(verbose=0)
    for _ in range(3):
        _run_one(engine)

    summary = engine.finish()

    assert engine.sample("0").status == "STOPPED"
    scores = [row["score"] for row in summary["leaderboard"]]
    assert summary["trials"] == 3 and scores == sorted(scores)
    assert summary["best_score"] == scores[0]
    search = engine.store.runs.searches(("FINISHED",))[0]
    assert search["run_id"] == engine.search_run_id and search["best_score"] == scores[0]


def test_load_latest_reads_a_finished_search_without_changing_it(directory):
    project = f"engine-{next(_projects)}"
    first = _engine(directory, project, max_trials=2)
    first.open("RandomSearch", {}, overwrite=True)
    for _ in range(2):
        _run_one(first)
    first.finish()

    reader = _engine(directory, project, max_trials=2)

    assert reader.load_latest() is True
    assert reader.search_run_id == first.search_run_id
    assert reader.trial_run_ids == first.trial_run_ids
    assert [t.score for t in reader.oracle.get_best_trials(2)] == [
        t.score for t in first.oracle.get_best_trials(2)
    ]
    assert reader.store.runs.searches(("FINISHED",))[0]["run_id"] == first.search_run_id


def test_trial_seeds_differ_by_trial_and_attempt_and_repeat():
    seeds = {trial_seed(5, f"{i:02d}", attempt) for i in range(20) for attempt in range(3)}

    assert len(seeds) == 60
    assert trial_seed(5, "03", 1) == trial_seed(5, "03", 1)
    assert all(0 <= s < 2**31 - 1 for s in seeds)


def test_a_pickled_engine_is_a_stub_that_refuses_work(directory):
    import pickle

    engine = _engine(directory)
    engine.open("RandomSearch", {}, overwrite=True)

    copy = pickle.loads(pickle.dumps(engine))

    assert copy.search_run_id == engine.search_run_id
    with pytest.raises(RuntimeError, match="works in its search's process only"):
        copy.sample("0")


def test_a_stop_rule_ends_the_search_at_the_trial_that_satisfies_it(tmp_path):
    engine = _engine(tmp_path, max_trials=10)
    engine.stop_when = [kt.stopping.NoImprovement(patience=2)]
    engine.open("RandomSearch", {}, overwrite=True)
    engine.begin(verbose=0)
    scores = iter([0.5, 0.3, 0.4, 0.35, 0.1, 0.05])
    while (spec := engine.sample("0")).runnable:
        engine.record(spec, evaluate(_completed(spec, next(scores)), engine.oracle.objective))
    summary = engine.finish()
    assert summary["trials"] == 4  # 0.4 and 0.35 did not beat 0.3
    assert "no improvement" in summary["stop_reason"]
    search = engine.store.connection.call("get_run", engine.search_run_id)
    assert search.data.tags["hyperflow.stop_reason"] == summary["stop_reason"]
