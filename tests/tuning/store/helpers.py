"""Shared pieces of the trial store's contract suite (imported by its tests and conftest)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tuning.hyperparameters import HyperParameters
from tuning.store import TrialStore
from tuning.trial import Trial


@dataclass
class Backend:
    """Where a test's stores live: a SQLite file under ``directory``, or a tracking server.

    ``open`` makes a fresh ``TrialStore`` (another process or machine, say) on the
    same storage. On the shared server every test's project names get a prefix
    of their own, so tests never see each other's experiments or models.
    """

    name: str
    directory: Path
    tracking_uri: str | None = None
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}-")

    @property
    def is_server(self) -> bool:
        return self.name == "server"

    def project(self, name: str) -> str:
        return self.prefix + name if self.is_server else name

    def open(
        self, name: str = "mnist", directory: str | os.PathLike[str] | None = None
    ) -> TrialStore:
        return TrialStore(
            self.project(name),
            self.directory if directory is None else directory,
            self.tracking_uri,
        )


def make_record(trial_id: str, units: int, score: float | None, status: str) -> dict:
    """A trial's record (``Trial.get_state()``), as a trial with two epochs would end."""
    hp = HyperParameters()
    hp.Int("units", 8, 64, default=units)
    trial = Trial(hp, trial_id=trial_id, status=status)
    trial.metrics.update("val_loss", 0.9, step=0)
    if score is not None:
        trial.metrics.update("val_loss", score, step=1)
        trial.score, trial.best_step = score, 1
    return trial.get_state()


def oracle_like_state(n: int) -> dict:
    """An oracle's state after ``n`` trials (with a NaN, which JSON must keep)."""
    return {
        "class_name": "RandomSearchOracle",
        "config": {"max_trials": 10, "seed": 1, "pruning": None},
        "trials": [make_record(f"{i:02d}", 8, 0.5, "COMPLETED") for i in range(n)],
        "ongoing_trials": {},
        "draws": n,
        "score": float("nan"),
    }


def artifact_names(store: TrialStore, run_id: str, path: str | None = None) -> list[str]:
    """The artifact paths directly under ``path`` of a run, sorted."""
    return sorted(info.path for info in store.connection.call("list_artifacts", run_id, path))


def state_files(store: TrialStore, search: str) -> list[str]:
    return artifact_names(store, search, "state")
