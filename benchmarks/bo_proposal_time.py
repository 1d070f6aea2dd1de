"""How long one Bayesian-optimisation proposal takes as the history grows.

Runs ``BayesianOptimizationOracle`` on Branin (2 floats) and Hartmann-6
(6 floats) for ``max(HISTORY_SIZES) + window`` trials and prints the median
and the largest time of ``create_trial`` over the ``window`` proposals made
with 50, 150 and 300 completed trials. The history is the oracle's own
search, so the timings include its schedule of kernel refits.

If ``keras_tuner`` is importable, its ``BayesianOptimizationOracle`` is timed
too: for each history size it gets that many random trials
(``num_initial_points`` equal to the size) and then ``--kt-proposals``
proposals are timed; it refits its model at every proposal, so a few are
representative. The ratio column is keras-tuner's median CPU time over ours.

BLAS is limited to one thread (with ``threadpoolctl`` when it is installed)
so that the numbers are per core. CPU (process) time is printed next to
wall time because a busy machine inflates the latter.

Usage:
    python benchmarks/bo_proposal_time.py [--window 10] [--kt-proposals 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.trial import TrialStatus

HISTORY_SIZES = (50, 150, 300)

_HARTMANN_ALPHA = (1.0, 1.2, 3.0, 3.2)
_HARTMANN_A = (
    (10, 3, 17, 3.5, 1.7, 8),
    (0.05, 10, 17, 0.1, 8, 14),
    (3, 3.5, 1.7, 10, 17, 8),
    (17, 8, 0.05, 10, 0.1, 14),
)
_HARTMANN_P = (
    (0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886),
    (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
    (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650),
    (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381),
)


def branin(values: Mapping[str, float]) -> float:
    """Branin on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887."""
    x1, x2 = values["x1"], values["x2"]
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


def hartmann6(values: Mapping[str, float]) -> float:
    """Hartmann-6 on [0, 1]^6; minimum -3.32237."""
    x = [values[f"x{i}"] for i in range(6)]
    total = 0.0
    for alpha, a_row, p_row in zip(_HARTMANN_ALPHA, _HARTMANN_A, _HARTMANN_P, strict=True):
        inner = sum(a * (xi - p) ** 2 for a, xi, p in zip(a_row, x, p_row, strict=True))
        total -= alpha * math.exp(-inner)
    return total


Problem = tuple[Callable[[Mapping[str, float]], float], list[tuple[str, float, float]]]

# name: (function, [(hyperparameter name, low, high)])
PROBLEMS: dict[str, Problem] = {
    "branin": (branin, [("x1", -5.0, 10.0), ("x2", 0.0, 15.0)]),
    "hartmann6": (hartmann6, [(f"x{i}", 0.0, 1.0) for i in range(6)]),
}


class _Clock:
    """Wall and CPU seconds of a block (CPU: this process, all threads)."""

    def __enter__(self) -> _Clock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = (time.perf_counter() - self._wall, time.process_time() - self._cpu)


def time_hyperflow(problem: str, window: int, seed: int) -> dict[int, list[tuple[float, float]]]:
    """(wall, CPU) seconds per ``create_trial`` of our oracle, by completed trials."""
    function, bounds = PROBLEMS[problem]
    oracle = BayesianOptimizationOracle(max_trials=max(HISTORY_SIZES) + window, seed=seed)
    for name, low, high in bounds:
        oracle.hyperparameters.Float(name, low, high)
    times: dict[int, list[tuple[float, float]]] = {size: [] for size in HISTORY_SIZES}
    for completed in range(max(HISTORY_SIZES) + window):
        with _Clock() as clock:
            trial = oracle.create_trial("bench")
        for size in HISTORY_SIZES:
            if size <= completed < size + window:
                times[size].append(clock.seconds)
        trial.score = function(trial.values)
        trial.status = TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return times


def time_keras_tuner(
    kt: Any, problem: str, proposals: int, seed: int
) -> dict[int, list[tuple[float, float]]]:
    """(wall, CPU) seconds per ``create_trial`` of keras-tuner's oracle after a random history."""
    function, bounds = PROBLEMS[problem]
    times: dict[int, list[tuple[float, float]]] = {}
    for size in HISTORY_SIZES:
        oracle = kt.oracles.BayesianOptimizationOracle(
            objective=kt.Objective("score", "min"),
            max_trials=size + proposals,
            num_initial_points=size,
            seed=seed,
        )
        hps = kt.HyperParameters()
        for name, low, high in bounds:
            hps.Float(name, low, high)
        times[size] = []
        with tempfile.TemporaryDirectory() as directory, contextlib.redirect_stdout(io.StringIO()):
            oracle._set_project_dir(directory, problem)
            oracle.update_space(hps)
            for completed in range(size + proposals):
                with _Clock() as clock:
                    trial = oracle.create_trial("bench")
                if completed >= size:
                    times[size].append(clock.seconds)
                score = function(trial.hyperparameters.values)
                oracle.update_trial(trial.trial_id, {"score": score})
                trial.status = "COMPLETED"
                oracle.end_trial(trial)
    return times


def _one_thread() -> contextlib.AbstractContextManager[Any]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("threadpoolctl is not installed: BLAS may use several threads.")
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _keras_tuner() -> Any:
    try:
        import keras_tuner
    except ImportError:
        return None
    return keras_tuner


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=10, help="our proposals timed per size")
    parser.add_argument(
        "--kt-proposals", type=int, default=2, help="keras-tuner proposals timed per size (0: skip)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    kt = _keras_tuner() if args.kt_proposals > 0 else None
    if kt is None:
        print("keras-tuner not timed (not installed or --kt-proposals 0).")

    header = f"{'problem':<10} {'trials':>6} {'cpu med':>8} {'cpu max':>8} {'wall med':>9}"
    if kt is not None:
        header += f" {'kt cpu med':>11} {'kt wall med':>12} {'kt/ours cpu':>12}"
    print(header, flush=True)
    rows = []
    with _one_thread():
        for problem in PROBLEMS:
            ours = time_hyperflow(problem, args.window, args.seed)
            theirs = time_keras_tuner(kt, problem, args.kt_proposals, args.seed) if kt else {}
            for size in HISTORY_SIZES:
                cpu = [c for _, c in ours[size]]
                wall = statistics.median(w for w, _ in ours[size])
                median = statistics.median(cpu)
                row = f"{problem:<10} {size:>6} {median:>8.3f} {max(cpu):>8.3f} {wall:>9.3f}"
                if kt is not None:
                    kt_cpu = statistics.median(c for _, c in theirs[size])
                    kt_wall = statistics.median(w for w, _ in theirs[size])
                    row += f" {kt_cpu:>11.2f} {kt_wall:>12.2f} {kt_cpu / median:>12.0f}"
                rows.append(row)
                print(row, flush=True)
    print()
    print("Seconds per proposal (create_trial) with one BLAS thread; cpu = process time.")
    print(header)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
