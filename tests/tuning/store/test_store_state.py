"""The state store's contract: versioned, atomic saves and resumes, on every backend."""

from __future__ import annotations

import math

import pytest

from tests.tuning.store.helpers import make_record, oracle_like_state, state_files
from tuning.store import StateStore, TrialStore


def test_save_and_load_state_keeps_at_most_two_versions(store, backend):
    search = store.runs.start_search("RandomSearch", {}, {})
    assert store.state.load(search) is None

    for n in range(1, 6):
        store.state.save(search, oracle_like_state(n))

    loaded = store.state.load(search)
    assert loaded["draws"] == 5 and len(loaded["trials"]) == 5
    assert math.isnan(loaded["score"])
    assert loaded["trials"][4] == make_record("04", 8, 0.5, "COMPLETED")
    tags = store.connection.call("get_run", search).data.tags
    assert tags["hyperflow.state"] == "state/state-000005.json"
    assert state_files(store, search) == ["state/state-000004.json", "state/state-000005.json"]

    # Another process (a resumed search) reads it and carries on numbering.
    other = backend.open("mnist")
    assert other.state.load(search)["draws"] == 5
    other.state.save(search, oracle_like_state(6))
    assert store.state.load(search)["draws"] == 6
    assert state_files(store, search) == ["state/state-000005.json", "state/state-000006.json"]


def test_the_writer_reads_the_tag_only_on_its_first_save(store, monkeypatch):
    search = store.runs.start_search("RandomSearch", {}, {})
    asked = []
    committed_path = StateStore._committed_path
    monkeypatch.setattr(
        StateStore,
        "_committed_path",
        lambda self, run_id: asked.append(run_id) or committed_path(self, run_id),
    )

    for n in range(1, 4):
        store.state.save(search, oracle_like_state(n))

    assert asked == [search]
    assert store.state.load(search)["draws"] == 3


def test_a_crash_before_the_commit_keeps_the_last_committed_state(store, backend, monkeypatch):
    search = store.runs.start_search("RandomSearch", {}, {})
    store.state.save(search, oracle_like_state(1))
    store.state.save(search, oracle_like_state(2))

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("process killed")

    monkeypatch.setattr(StateStore, "_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        store.state.save(search, oracle_like_state(3))

    # The new version was written but never committed: readers still see version 2.
    assert "state/state-000003.json" in state_files(store, search)
    assert store.state.load(search)["draws"] == 2
    assert backend.open("mnist").state.load(search)["draws"] == 2

    # Writing the file alone (the step before the commit) changes nothing either.
    monkeypatch.undo()
    store.state._write_file(search, oracle_like_state(9), seq=3)
    assert store.state.load(search)["draws"] == 2

    store.state.save(search, oracle_like_state(4))
    assert store.state.load(search)["draws"] == 4
    assert state_files(store, search) == ["state/state-000002.json", "state/state-000003.json"]


def test_a_failed_prune_keeps_the_committed_state(store, monkeypatch):
    search = store.runs.start_search("RandomSearch", {}, {})
    store.state.save(search, oracle_like_state(1))
    repo = store.connection._repo(search)

    def cannot_delete(*args, **kwargs):
        raise NotImplementedError("this store cannot delete")

    monkeypatch.setattr(repo, "delete_artifacts", cannot_delete)
    store.state.save(search, oracle_like_state(2))
    store.state.save(search, oracle_like_state(3))

    assert store.state.load(search)["draws"] == 3
    assert len(state_files(store, search)) == 3  # nothing pruned, nothing lost


def test_a_reader_whose_version_was_pruned_meanwhile_reads_the_newer_one(
    store, backend, monkeypatch
):
    search = store.runs.start_search("RandomSearch", {}, {})
    store.state.save(search, oracle_like_state(1))
    reader = backend.open("mnist")
    raced = []
    read_json = reader.connection.read_json

    def racing_read(run_id, path):
        if not raced:  # between the reader's tag lookup and its read, two commits prune it
            raced.append(path)
            store.state.save(search, oracle_like_state(2))
            store.state.save(search, oracle_like_state(3))
        return read_json(run_id, path)

    monkeypatch.setattr(reader.connection, "read_json", racing_read)

    assert reader.state.load(search)["draws"] == 3
    assert raced == ["state/state-000001.json"]
    # A committed file that is gone for good is an error, not "no state".
    store.connection._repo(search).delete_artifacts("state/state-000003.json")
    with pytest.raises(Exception):  # noqa: B017 (MLflow or OS error, by store)
        reader.state.load(search)


def test_a_search_resumes_on_another_machine(backend, tmp_path):
    """What a resumed search needs, read by a fresh store elsewhere (the point of a server)."""
    # On SQLite, the first machine's directory holds the store the second names by URI.
    first = backend.open("resume", None if not backend.is_server else tmp_path / "machine-a")
    search = first.runs.start_search("RandomSearch", {"max_trials": 3}, {"space": []})
    done = first.trials.start_trial(search, "00", {"units": 8})
    first.runs.log_metrics(done, {"loss": 0.4}, step=0)
    record = make_record("00", 8, 0.4, "COMPLETED")
    first.trials.end_trial(done, record, "COMPLETED", 0.4, 2.0)
    lost = first.trials.start_trial(search, "01", {"units": 16})
    first.state.save(search, oracle_like_state(1))
    first.state.save(search, oracle_like_state(2))

    second = TrialStore(first.project_name, tmp_path / "machine-b", first.tracking_uri)

    assert second.connection._client_ is None and second.directory != first.directory
    assert second.runs.latest_search() == search
    assert second.state.load(search)["draws"] == 2
    rows = second.trials.trial_runs(search)
    assert [(r["trial_id"], r["status"], r["run_id"]) for r in rows] == [
        ("00", "COMPLETED", done),
        ("01", "RUNNING", lost),
    ]
    assert second.trials.finished_trial_record(done) == record
    assert second.trials.finished_trial_record(lost) is None
    assert second.trials.kill_unfinished_trials(search) == ["01"]
    second.runs.reopen_search(search)
    second.state.save(search, oracle_like_state(3))

    assert first.state.load(search)["draws"] == 3
    tags = first.connection.call("get_run", search).data.tags
    assert tags["hyperflow.state"] == "state/state-000003.json"
    assert first.connection.call("get_run", search).info.status == "RUNNING"
    assert not (tmp_path / "machine-b").exists()  # the second machine wrote nothing locally
