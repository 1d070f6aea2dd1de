"""A search whose one trial trains for minutes, writing its process id first; a test kills it.

``python orphan_search.py DIR ISOLATION [DASK_ADDRESS]``
"""

from __future__ import annotations

import os
import sys
import time

import tuning as kt


class LongTuner(kt.RandomSearch):
    """A trial that says where it runs, then trains (sleeps) far longer than any test."""

    def run_trial(self, trial, directory):
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        with open(os.path.join(directory, f"trial-{trial.trial_id}.pid"), "w") as file:
            file.write(str(os.getpid()))
        time.sleep(300)
        return x


if __name__ == "__main__":
    directory, isolation = sys.argv[1], sys.argv[2]
    LongTuner(
        max_trials=1,
        directory=directory,
        project_name="orphan",
        isolation=isolation,
        dask_address=sys.argv[3] if len(sys.argv) > 3 else None,
    ).search(directory)
