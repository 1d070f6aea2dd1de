"""Hyperflow's orchestration overhead per trial against keras-tuner's, side by side in one run.

1. ``--trials`` (50) trials of a trivial objective, ``(x - 0.3) ** 2`` of one
   float, in an overridden ``run_trial``: our ``RandomSearch`` (isolation
   "none", the in-process mode comparable to keras-tuner, and "worker") against
   keras-tuner's ``RandomSearch`` (``overwrite=True``, a temporary directory
   per search). The overhead per trial is the search's wall time, minus the
   objective's own time (microseconds), divided by the trials. One-time
   start-up (imports, Prefect's temporary server, MLflow's database) is paid
   by a one-trial warm-up search first and reported apart, as is the fixed
   cost of one more (warm) search. Our searches share one MLflow store, each
   in its own project.
2. ``--model-trials`` (10) trials of a small dense model on scikit-learn's
   ``load_digits`` (``--epochs`` 3, the same search space and seed, verbose=0),
   ours (isolation "none") and keras-tuner's, after a one-trial warm-up of
   each: the ratio of their wall times.
3. Unless ``--no-profile``: one more search of part 1 under cProfile (the flow's
   thread, wall clock), grouped into Prefect, MLflow and our own steps, with
   the MLflow client calls made per trial.

Searches alternate between the tuners and repeat ``--repeats`` times; tables
show medians. Each search starts once Prefect's temporary server has recorded
the previous search's events (``settle_server``), and the server's CPU column
counts what it spent on a search's events after the search returned. CPU
columns are CPU time of this process and of the server (a child process),
since other jobs on a busy machine inflate wall time. The tables go to
``benchmarks/results/overhead.md``.

Usage:
    python benchmarks/overhead.py [--trials 50] [--model-trials 10] [--epochs 3]
                                  [--repeats 3] [--seed 0] [--no-profile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from _common import (  # noqa: E402
    PREFECT_SERVER,
    RESULTS,
    Clock,
    build_dense,
    child_cpu_seconds,
    digits,
    header,
    load,
    markdown_table,
    settle_server,
    text_table,
)

import tuning as kt  # noqa: E402  (after the settings above)

TARGET_OVERHEAD_MS = 50.0
TARGET_RATIO = 1.15


class Quadratic(kt.RandomSearch):
    """The trivial objective; adds the time it spends to ``objective_s`` (in its process)."""

    objective_s = 0.0

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> float:
        started = time.perf_counter()
        x = trial.hyperparameters.Float("x", -1.0, 1.0)
        value = (x - 0.3) ** 2
        Quadratic.objective_s += time.perf_counter() - started
        return value


def _keras_tuner_random(keras_tuner: Any) -> type:
    """keras-tuner's ``RandomSearch``, runnable without TensorBoard installed."""

    class KerasTunerRandom(keras_tuner.RandomSearch):
        def _configure_tensorboard_dir(self, callbacks: Any, trial: Any, execution: int = 0):
            # keras-tuner 1.4 imports tensorboard here even when no TensorBoard callback
            # is given (none is here); tensorboard is no dependency of ours.
            if importlib.util.find_spec("tensorboard") is not None:
                super()._configure_tensorboard_dir(callbacks, trial, execution)

    return KerasTunerRandom


def _keras_tuner_quadratic(keras_tuner: Any) -> type:
    class KerasTunerQuadratic(_keras_tuner_random(keras_tuner)):
        objective_s = 0.0

        def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> float:
            started = time.perf_counter()
            x = trial.hyperparameters.Float("x", -1.0, 1.0)
            value = (x - 0.3) ** 2
            KerasTunerQuadratic.objective_s += time.perf_counter() - started
            return value

    return KerasTunerQuadratic


class Timing:
    """Wall, CPU (this process) and server CPU seconds of one search, and its objective time."""

    def __init__(self, wall: float, cpu: float, server_cpu: float, objective: float) -> None:
        self.wall, self.cpu, self.server_cpu, self.objective = wall, cpu, server_cpu, objective


def _timed(search: Callable[[], None], counter: Any = None) -> Timing:
    settle_server()
    before = counter.objective_s if counter is not None else 0.0
    server = child_cpu_seconds(PREFECT_SERVER)
    with Clock() as clock:
        search()
    objective = (counter.objective_s - before) if counter is not None else 0.0
    server_cpu = child_cpu_seconds(PREFECT_SERVER) - server + settle_server()
    return Timing(clock.wall, clock.cpu, server_cpu, objective)


class Runner:
    """Runs our and keras-tuner's searches; ours share one MLflow store, each its own project."""

    def __init__(self, keras_tuner: Any, seed: int) -> None:
        self.kt = keras_tuner
        self.seed = seed
        self.store_dir = tempfile.mkdtemp(prefix="hyperflow-overhead-")
        self.kt_dirs = tempfile.mkdtemp(prefix="keras-tuner-overhead-")
        self.searches = 0

    def _project(self, name: str) -> str:
        self.searches += 1
        return f"{name}-{self.searches}"

    def ours_trivial(self, trials: int, isolation: str | None) -> Timing:
        tuner = Quadratic(
            max_trials=trials,
            seed=self.seed,
            directory=self.store_dir,
            project_name=self._project("trivial"),
            overwrite=True,
            isolation=isolation,
        )
        return _timed(lambda: tuner.search(verbose=0), Quadratic)

    def theirs_trivial(self, trials: int) -> Timing:
        cls = _keras_tuner_quadratic(self.kt)
        tuner = cls(
            max_trials=trials,
            seed=self.seed,
            directory=self.kt_dirs,
            project_name=self._project("trivial"),
            overwrite=True,
        )
        return _timed(lambda: tuner.search(verbose=0), cls)

    def ours_model(self, trials: int, epochs: int, data: Any) -> Timing:
        (x, y), validation = data
        tuner = kt.RandomSearch(
            build_dense,
            objective="val_accuracy",
            max_trials=trials,
            seed=self.seed,
            directory=self.store_dir,
            project_name=self._project("digits"),
            overwrite=True,
            isolation="none",
        )
        return _timed(
            lambda: tuner.search(x, y, epochs=epochs, validation_data=validation, verbose=0)
        )

    def theirs_model(self, trials: int, epochs: int, data: Any) -> Timing:
        (x, y), validation = data
        tuner = _keras_tuner_random(self.kt)(
            build_dense,
            objective="val_accuracy",
            max_trials=trials,
            seed=self.seed,
            directory=self.kt_dirs,
            project_name=self._project("digits"),
            overwrite=True,
        )
        return _timed(
            lambda: tuner.search(x, y, epochs=epochs, validation_data=validation, verbose=0)
        )


def _median(timings: list[Timing], field: str) -> float:
    return statistics.median(getattr(t, field) for t in timings)


def _trivial_row(name: str, timings: list[Timing], trials: int) -> list[str]:
    wall = _median(timings, "wall")
    overhead_ms = statistics.median((t.wall - t.objective) / trials for t in timings) * 1000
    return [
        name,
        f"{wall:.2f}",
        f"{overhead_ms:.0f}",
        f"{_median(timings, 'cpu') / trials * 1000:.0f}",
        f"{_median(timings, 'server_cpu') / trials * 1000:.0f}",
    ]


# Part 3: where the time goes ---------------------------------------------------------------

# (label, file suffix, function): cumulative time of these functions in the flow's thread.
_STEPS = [
    ("search() before the flow: open the search in MLflow", "tuning/search_engine.py", "open"),
    ("Prefect: flow run start and end", "prefect/flow_engine.py", "run_flow_sync"),
    ("the flow function", "flows/search.py", "hyperflow_search"),
    ("sample-trial: oracle + MLflow run + state save", "tuning/search_engine.py", "sample"),
    ("  of which MLflow start_trial", "tuning/store/trials.py", "start_trial"),
    ("train-trial: waiting for the pool thread", "flows/search.py", "_drain"),
    ("evaluate-trial: scoring", "tuning/search_engine.py", "evaluate"),
    ("update-oracle: the oracle told (no store write)", "tuning/search_engine.py", "record"),
    ("flush, once the next trial started: run ends, params", "tuning/search_engine.py", "flush"),
    ("  of which MLflow end_trial", "tuning/store/trials.py", "end_trial"),
    ("  of which MLflow params (log_values)", "tuning/store/trials.py", "log_values"),
    ("MLflow save_state (oracle state), in all steps", "tuning/store/state.py", "save"),
    ("finish: leaderboard, plots, end_search", "tuning/search_engine.py", "finish"),
    ("  of which the two plots (matplotlib)", "tuning/store/runs.py", "log_figures"),
    (
        "Prefect: task engine, 3 task runs in the flow's thread",
        "prefect/task_engine.py",
        "run_task_sync",
    ),
    ("Prefect: submitting train-trial", "prefect/tasks.py", "submit"),
]
_TASK_BODIES = [("tasks/trial.py", n) for n in ("sample_trial", "evaluate_trial", "update_oracle")]


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> tuple[int, float]:
    calls, seconds = 0, 0.0
    for (file, _, function), (_, ncalls, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if function == name and file.replace(os.sep, "/").endswith(suffix):
            calls += ncalls
            seconds += cumulative
    return calls, seconds


def profile_search(runner: Runner, trials: int) -> tuple[list[list[str]], list[list[str]], float]:
    """One trivial search under cProfile: (step rows, MLflow call rows, wall seconds)."""
    profiler = cProfile.Profile()
    with Clock() as clock:
        profiler.enable()
        try:
            runner.ours_trivial(trials, "none")
        finally:
            profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for label, suffix, name in _STEPS:
        calls, seconds = _cumulative(stats, suffix, name)
        if label.startswith("Prefect: flow run"):
            seconds -= _cumulative(stats, "flows/search.py", "hyperflow_search")[1]
        if label.startswith("Prefect: task engine"):
            seconds -= sum(_cumulative(stats, s, n)[1] for s, n in _TASK_BODIES)
        rows.append(
            [label, f"{calls / trials:.2f}", f"{seconds:.2f}", f"{seconds / trials * 1000:.1f}"]
        )
    mlflow_rows = []
    for (file, _, function), (_, ncalls, _, cumulative, _) in sorted(
        stats.stats.items(),  # type: ignore[attr-defined]
        key=lambda item: -item[1][3],
    ):
        if file.replace(os.sep, "/").endswith("mlflow/tracking/client.py") and ncalls >= trials:
            if function.startswith("_") or function == "__init__":
                continue
            mlflow_rows.append(
                [
                    f"MlflowClient.{function}",
                    f"{ncalls / trials:.2f}",
                    f"{cumulative / ncalls * 1000:.1f}",
                    f"{cumulative / trials * 1000:.1f}",
                ]
            )
    return rows, mlflow_rows, clock.wall


# Main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50, help="trials of the trivial objective")
    parser.add_argument("--model-trials", type=int, default=10, help="trials of the digits model")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="searches per tuner and part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-profile", action="store_true", help="skip part 3 (cProfile)")
    args = parser.parse_args(argv)
    load_start = load()
    import keras_tuner

    runner = Runner(keras_tuner, args.seed)
    default_isolation = Quadratic(max_trials=1).isolation

    # One-time start-up, then one more warm search: the fixed cost of a search.
    print(f"Load average at the start: {load_start}", flush=True)
    ours_startup = runner.ours_trivial(1, "none").wall
    theirs_startup = runner.theirs_trivial(1).wall
    ours_fixed = runner.ours_trivial(1, "none").wall
    theirs_fixed = runner.theirs_trivial(1).wall
    print(
        f"Start-up (first one-trial search): ours {ours_startup:.1f} s, keras-tuner "
        f"{theirs_startup:.2f} s; next one-trial search: ours {ours_fixed:.2f} s, "
        f"keras-tuner {theirs_fixed:.3f} s",
        flush=True,
    )

    # Part 1: the trivial objective.
    trivial: dict[str, list[Timing]] = {"none": [], "worker": [], "keras-tuner": []}
    for repeat in range(args.repeats):
        trivial["none"].append(runner.ours_trivial(args.trials, "none"))
        trivial["keras-tuner"].append(runner.theirs_trivial(args.trials))
        trivial["worker"].append(runner.ours_trivial(args.trials, "worker"))
        print(
            f"part 1, repeat {repeat + 1}: "
            + ", ".join(f"{name} {timings[-1].wall:.2f} s" for name, timings in trivial.items()),
            flush=True,
        )
    trivial_headers = [
        f"{args.trials} trials, trivial objective",
        "search wall (s)",
        "overhead per trial (ms)",
        "CPU per trial, this process (ms)",
        "CPU per trial, Prefect server (ms)",
    ]
    trivial_rows = [
        _trivial_row('Hyperflow, isolation="none"', trivial["none"], args.trials),
        _trivial_row('Hyperflow, isolation="worker"', trivial["worker"], args.trials),
        _trivial_row("keras-tuner 1.4", trivial["keras-tuner"], args.trials),
    ]
    ours_overhead = float(trivial_rows[0][2])
    ours_server_cpu = float(trivial_rows[0][4])
    theirs_overhead = float(trivial_rows[2][2])

    # Part 2: a small dense model on digits.
    data = digits()
    runner.ours_model(1, 1, data)  # warm-up: TensorFlow's first model, our first digits search
    runner.theirs_model(1, 1, data)
    model: dict[str, list[Timing]] = {"ours": [], "theirs": []}
    for repeat in range(args.repeats):
        model["ours"].append(runner.ours_model(args.model_trials, args.epochs, data))
        model["theirs"].append(runner.theirs_model(args.model_trials, args.epochs, data))
        print(
            f"part 2, repeat {repeat + 1}: ours {model['ours'][-1].wall:.2f} s, "
            f"keras-tuner {model['theirs'][-1].wall:.2f} s",
            flush=True,
        )
    ratios = [o.wall / t.wall for o, t in zip(model["ours"], model["theirs"], strict=True)]
    ratio = statistics.median(ratios)
    model_headers = [
        f"digits, {args.model_trials} trials x {args.epochs} epochs",
        "search wall (s)",
        "per trial (s)",
        "CPU, this process (s)",
    ]
    model_rows = [
        [
            f'Hyperflow, isolation="none" ({default_isolation!r} is the default)',
            f"{_median(model['ours'], 'wall'):.2f}",
            f"{_median(model['ours'], 'wall') / args.model_trials:.2f}",
            f"{_median(model['ours'], 'cpu'):.2f}",
        ],
        [
            "keras-tuner 1.4",
            f"{_median(model['theirs'], 'wall'):.2f}",
            f"{_median(model['theirs'], 'wall') / args.model_trials:.2f}",
            f"{_median(model['theirs'], 'cpu'):.2f}",
        ],
    ]

    # Part 3: where our time goes.
    profile = None
    if not args.no_profile:
        profile = profile_search(runner, args.trials)
    load_end = load()

    verdict_overhead = "met" if ours_overhead <= TARGET_OVERHEAD_MS else "MISSED"
    verdict_ratio = "met" if ratio < TARGET_RATIO else "MISSED"
    summary = [
        f'- Overhead per trial, isolation "none": {ours_overhead:.0f} ms (keras-tuner: '
        f"{theirs_overhead:.0f} ms), MLflow and Prefect writes included; Prefect's server "
        f"spent {ours_server_cpu:.0f} ms of its own CPU per trial besides; target <= "
        f"{TARGET_OVERHEAD_MS:.0f} ms: {verdict_overhead}.",
        f"- Digits search wall-time ratio Hyperflow / keras-tuner: {ratio:.2f} (per repeat: "
        f"{', '.join(f'{r:.2f}' for r in ratios)}); target < {TARGET_RATIO}: {verdict_ratio}.",
        f"- The default isolation for max_concurrent_trials=1 is {default_isolation!r}: "
        'its numbers are the "none" rows.',
        f"- One-time start-up (first one-trial search in this process: imports, Prefect's "
        f"temporary server, MLflow's database): Hyperflow {ours_startup:.1f} s, keras-tuner "
        f"{theirs_startup:.2f} s. Fixed cost of each further search (a one-trial search): "
        f"Hyperflow {ours_fixed:.2f} s, keras-tuner {theirs_fixed:.3f} s; it is included, "
        f"spread over the trials, in the overhead per trial.",
    ]
    lines = header(
        "Orchestration overhead: Hyperflow against keras-tuner",
        " ".join(["python benchmarks/overhead.py", *(sys.argv[1:] if argv is None else argv)]),
        load_start,
        load_end,
    )
    lines += [
        "## Trivial objective",
        "",
        f"Medians of {args.repeats} searches each, alternating. Overhead per trial = (search "
        "wall time - objective time) / trials.",
        "",
        markdown_table(trivial_headers, trivial_rows),
        "",
        "## Small dense model on digits",
        "",
        f"Medians of {args.repeats} searches each, alternating; same search space and seed.",
        "",
        markdown_table(model_headers, model_rows),
        "",
        "## Summary",
        "",
        *summary,
        "",
    ]
    printed = [
        text_table(trivial_headers, trivial_rows),
        "",
        text_table(model_headers, model_rows),
        "",
        *summary,
    ]
    if profile is not None:
        steps, calls, wall = profile
        step_headers = ["step (flow's thread)", "calls per trial", "total (s)", "per trial (ms)"]
        call_headers = ["MLflow client call", "calls per trial", "ms per call", "ms per trial"]
        lines += [
            "## Where the time goes",
            "",
            f'One more {args.trials}-trial search (isolation "none") under cProfile, wall '
            f"clock of the flow's thread ({wall:.2f} s with the profiler's own overhead). "
            "Steps nest: a sub-step (indented) is part of the step above.",
            "",
            markdown_table(step_headers, steps),
            "",
            markdown_table(call_headers, calls),
            "",
        ]
        printed += ["", text_table(step_headers, steps), "", text_table(call_headers, calls)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "overhead.md").write_text("\n".join(lines), encoding="utf-8")
    print()
    print("\n".join(printed))
    print(f"\nWritten to {RESULTS / 'overhead.md'}", flush=True)


if __name__ == "__main__":
    main()
