"""Benchmarks of Hyperflow's search against KerasTuner and Optuna.

``python -m benchmarks run --suite quick|full`` runs the search-quality,
training and cost benchmarks side by side and writes
``benchmarks/results/<suite>.md`` with PNG plots. The benchmark-only
dependencies are in the ``bench`` extra (``pip install -e .[bench]``).

Modules:
    problems: the test functions, the tabular FCNet problems and the
        multi-fidelity and training problems, in numpy.
    arms: one adapter per tuner (ours, keras-tuner's, Optuna's), each driven
        through its ask/tell interface.
    harness: runs, aggregation, statistics, tables and plots.
    bo_proposal_time: the Bayesian oracle's proposal time (reused by the harness).
"""

from __future__ import annotations

__all__: list[str] = []
