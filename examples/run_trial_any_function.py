"""Tune any function: override ``Tuner.run_trial`` and return the value to minimise.

Follows seed 001 (``KerasTuner 入门``), section "Tune end-to-end workflows" /
"Tune any function": find the ``x`` that minimises ``f(x) = x * x + 1`` with a
``RandomSearch`` subclass that has neither a hypermodel nor an objective.

Changes from the seed: ``import tuning as kt`` instead of ``import keras_tuner``;
the results go under ``directory`` instead of ``my_dir``.

    python examples/run_trial_any_function.py
"""

from __future__ import annotations

from typing import Any

import tuning as kt


class MyTuner(kt.RandomSearch):
    def run_trial(self, trial: kt.Trial, *args: Any, **kwargs: Any) -> float:
        # Get the hp from trial.
        hp = trial.hyperparameters
        # Define "x" as a hyperparameter.
        x = hp.Float("x", min_value=-1.0, max_value=1.0)
        # Return the objective value to minimize.
        return x * x + 1


def main(max_trials: int = 20, directory: str = "hyperflow_results") -> MyTuner:
    """Runs the search and prints the best ``x``.

    Args:
        max_trials: Trials the random search runs (the seed's 20).
        directory: Where the MLflow store of the search goes.

    Returns:
        The tuner, its search finished.
    """
    tuner = MyTuner(
        # No hypermodel or objective specified.
        max_trials=max_trials,
        overwrite=True,
        directory=directory,
        project_name="tune_anything",
    )

    # No need to pass anything to search()
    # unless you use them in run_trial().
    tuner.search()
    print(tuner.get_best_hyperparameters()[0].get("x"))
    return tuner


if __name__ == "__main__":
    main()
