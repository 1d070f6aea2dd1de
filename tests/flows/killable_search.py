"""A search that a test runs as a subprocess and kills.

``python killable_search.py DIR MAX_TRIALS [CONCURRENT_TRIALS [ISOLATION]]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import tuning as kt

PROJECT = "killed"


class SlowTuner(kt.RandomSearch):
    """Each trial takes a little while, so that a kill lands mid-search."""

    def run_trial(self, trial, *args, **kwargs):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        time.sleep(0.5)
        return (x - 0.25) ** 2


def make_tuner(
    directory: str, max_trials: int, concurrent: int = 1, isolation: str = "none"
) -> SlowTuner:
    return SlowTuner(
        max_trials=max_trials,
        seed=11,
        directory=directory,
        project_name=PROJECT,
        max_concurrent_trials=concurrent,
        isolation=isolation,
    )


def runs_of(directory: Path, kind: str) -> list:
    """The search's MLflow runs of one ``hyperflow.kind`` (``trial``, ``search``) so far."""
    from tests.flows.helpers import store_client

    client = store_client(directory)
    experiment = client.get_experiment_by_name(PROJECT)
    if experiment is None:
        return []
    return client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`hyperflow.kind` = '{kind}'"
    )


def completed(directory: Path) -> int:
    """How many trials have completed so far (0 while the store is still being created)."""
    try:
        runs = runs_of(directory, "trial")
    except Exception:  # the store is still being created
        return 0
    return sum(r.data.tags.get("hyperflow.status") == "COMPLETED" for r in runs)


if __name__ == "__main__":
    concurrent = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    isolation = sys.argv[4] if len(sys.argv) > 4 else "none"
    make_tuner(sys.argv[1], int(sys.argv[2]), concurrent, isolation).search()
