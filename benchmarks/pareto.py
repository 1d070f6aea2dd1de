"""Multi-objective search: hypervolume of the front found, against Optuna and the signed sum.

    nice -n 19 python -m benchmarks.pareto --seeds 10            # results/pareto.md and .json
    python -m benchmarks.pareto --seeds 2 --trials 10 --output /tmp/x   # a smoke run

Three two-objective problems, both objectives minimised:

- ``zdt1``: ZDT1 in 6 variables (Zitzler, Deb and Thiele 2000), reference point (1.1, 11).
- ``branin-currin``: Branin (from ``benchmarks/problems.py``) against the Currin
  function on the same rescaled inputs (the pair BoTorch ships), reference (310, 14).
- ``digits``: ``benchmarks/problems.py``'s numpy ``DigitsMLP`` trained for a few
  epochs: validation error against the parameter count (as a share of the
  largest net's), reference (1.0, 1.1).

Arms, each with its library's defaults and the same seeds 1..N:
``hyperflow-pareto`` (``BayesianOptimizationOracle(multi_objective="pareto")``,
ParEGO), ``hyperflow-signed-sum`` (the same oracle with KerasTuner's signed sum,
the compatible default), ``kt-signed-sum`` (KerasTuner's own Bayesian oracle on
the list of objectives: its signed sum), Optuna's ``NSGAIISampler`` (its
default population of 50, and a population of 10 so that it evolves within 50
trials) and its multi-objective ``TPESampler``. The hypervolume at 25 and 50
trials is that of every trial run so far.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.arms import _declare, _keras_tuner_seed, _suggest
from benchmarks.harness import RESULTS, _init_worker, environment
from benchmarks.problems import DigitsMLP, Param, branin

__all__ = ["ARMS", "PROBLEMS", "hypervolume", "main", "run_arm"]

CHECKPOINTS = (25, 50)
_NAMES = ("f1", "f2")


@dataclass(frozen=True)
class MultiProblem:
    """A two-objective problem: both objectives minimised.

    Args:
        name: The problem's name in tables.
        params: The search space.
        function: The active values to ``(f1, f2)``.
        reference: The hypervolume's reference point.
        note: One line for the report.
    """

    name: str
    params: tuple[Param, ...]
    function: Callable[[Mapping[str, Any]], tuple[float, float]]
    reference: tuple[float, float]
    note: str


def zdt1(values: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1: the front is ``f2 = 1 - sqrt(f1)`` where ``x2 = ... = x6 = 0``."""
    x = [float(values[f"x{i}"]) for i in range(1, 7)]
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1.0 - math.sqrt(x[0] / g))


def currin(u: float, v: float) -> float:
    """The Currin exponential function on [0, 1]^2 (maximised in its usual form)."""
    v = max(v, 1e-9)
    return (
        (1.0 - math.exp(-1.0 / (2.0 * v)))
        * (2300 * u**3 + 1900 * u**2 + 2092 * u + 60)
        / (100 * u**3 + 500 * u**2 + 4 * u + 20)
    )


def branin_currin(values: Mapping[str, float]) -> tuple[float, float]:
    """Branin, and Currin negated, on Branin's domain rescaled to the unit square."""
    u, v = (float(values["x1"]) + 5.0) / 15.0, float(values["x2"]) / 15.0
    return branin(values), 14.0 - currin(u, v)


_DIGITS_EPOCHS = 4
_DIGITS_UNITS, _DIGITS_LAYERS = 128, 3


def _parameters(units: int, layers: int) -> int:
    sizes = [64] + [units] * layers + [10]
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


_DIGITS_MAX_PARAMETERS = _parameters(_DIGITS_UNITS, _DIGITS_LAYERS)


def _digits_function(seed: int) -> Callable[[Mapping[str, Any]], tuple[float, float]]:
    network = DigitsMLP(max_epochs=_DIGITS_EPOCHS)

    def evaluate(values: Mapping[str, Any]) -> tuple[float, float]:
        curve, _ = network.train(values, 0, _DIGITS_EPOCHS, None, seed)
        size = _parameters(int(values["units"]), int(values["layers"]))
        return curve[-1], size / _DIGITS_MAX_PARAMETERS

    return evaluate


def problems(seed: int) -> dict[str, MultiProblem]:
    """The problems; the digits network's initialisation depends on the run's seed."""
    return {
        "zdt1": MultiProblem(
            "zdt1",
            tuple(Param(f"x{i}", "float", 0.0, 1.0) for i in range(1, 7)),
            zdt1,
            (1.1, 11.0),
            "ZDT1, 6 variables in [0, 1].",
        ),
        "branin-currin": MultiProblem(
            "branin-currin",
            (Param("x1", "float", -5.0, 10.0), Param("x2", "float", 0.0, 15.0)),
            branin_currin,
            (310.0, 14.0),
            "Branin and 14 - Currin on Branin's domain.",
        ),
        "digits": MultiProblem(
            "digits",
            DigitsMLP().params,
            _digits_function(seed),
            (1.0, 1.1),
            f"Numpy MLP on load_digits, {_DIGITS_EPOCHS} epochs: validation error vs "
            f"parameters / {_DIGITS_MAX_PARAMETERS}.",
        ),
    }


PROBLEMS = ("zdt1", "branin-currin", "digits")
ARMS = (
    "hyperflow-pareto",
    "hyperflow-signed-sum",
    "kt-signed-sum",
    "optuna-nsga2",
    "optuna-nsga2-p10",
    "optuna-tpe",
)


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The area that two minimised objectives' points dominate below ``reference``."""
    inside = sorted(
        (float(a), float(b)) for a, b in points if a < reference[0] and b < reference[1]
    )
    area, lowest = 0.0, float(reference[1])
    for f1, f2 in inside:
        if f2 < lowest:
            area += (reference[0] - f1) * (lowest - f2)
            lowest = f2
    return area


def _run_oracle(arm: str, problem: MultiProblem, trials: int, seed: int) -> list[tuple]:
    """Drives our oracle or keras-tuner's by ask/tell, as ``benchmarks/arms.py`` does."""
    if arm.startswith("kt-"):
        import contextlib
        import io
        import tempfile

        import keras_tuner as kt

        oracle: Any = kt.oracles.BayesianOptimizationOracle(
            objective=[kt.Objective(n, "min") for n in _NAMES],
            max_trials=trials,
            seed=_keras_tuner_seed(seed),
        )
        hps = kt.HyperParameters()
        for param in problem.params:
            _declare(hps, param)
        scratch = tempfile.TemporaryDirectory()
        quiet = contextlib.redirect_stdout(io.StringIO())
        quiet.__enter__()
        oracle._set_project_dir(scratch.name, "bench")
        oracle.update_space(hps)
    else:
        from tuning.objective import Objective
        from tuning.oracles import BayesianOptimizationOracle

        oracle = BayesianOptimizationOracle(
            objective=[Objective(n, "min") for n in _NAMES],
            max_trials=trials,
            seed=seed,
            multi_objective="pareto" if arm == "hyperflow-pareto" else "signed_sum",
        )
        for param in problem.params:
            _declare(oracle.hyperparameters, param)
    points = []
    try:
        for _ in range(trials):
            trial = oracle.create_trial("bench")
            if str(getattr(trial.status, "value", trial.status)) != "RUNNING":
                break
            values = trial.hyperparameters.values if arm.startswith("kt-") else trial.values
            point = problem.function(dict(values))
            metrics = dict(zip(_NAMES, point, strict=True))
            if arm.startswith("kt-"):
                # keras-tuner's tuner reports the signed sum itself, under the objective's name.
                metrics[oracle.objective.name] = oracle.objective.get_value(metrics)
            oracle.update_trial(trial.trial_id, metrics, step=0)
            if arm.startswith("kt-"):
                trial.status = "COMPLETED"
            else:
                from tuning.trial import TrialStatus

                trial.status = TrialStatus.COMPLETED
            oracle.end_trial(trial)
            points.append(point)
    finally:
        if arm.startswith("kt-"):
            quiet.__exit__(None, None, None)
            scratch.cleanup()
    return points


def _run_optuna(arm: str, problem: MultiProblem, trials: int, seed: int) -> list[tuple]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if arm == "optuna-tpe":
        sampler: Any = optuna.samplers.TPESampler(seed=seed)
    else:
        population = 10 if arm == "optuna-nsga2-p10" else 50
        sampler = optuna.samplers.NSGAIISampler(seed=seed, population_size=population)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    points = []
    for _ in range(trials):
        trial = study.ask()
        point = problem.function(_suggest(trial, problem.params))
        study.tell(trial, list(point))
        points.append(point)
    return points


def run_arm(arm: str, problem_name: str, trials: int, seed: int) -> dict[str, Any]:
    """One run: the objectives of each trial, the hypervolume at each checkpoint, the time."""
    problem = problems(seed)[problem_name]
    started = time.perf_counter()
    run = _run_optuna if arm.startswith("optuna-") else _run_oracle
    points = run(arm, problem, trials, seed)
    return {
        "arm": arm,
        "problem": problem_name,
        "seed": seed,
        "seconds": time.perf_counter() - started,
        "points": [list(map(float, p)) for p in points],
        "hypervolume": {
            str(n): hypervolume(points[:n], problem.reference) for n in CHECKPOINTS if n <= trials
        },
    }


def _job(args: tuple[str, str, int, int]) -> dict[str, Any]:
    return run_arm(*args)


def summarise(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Median and quartiles of the hypervolume per problem, arm and checkpoint."""
    table: dict[str, Any] = {}
    for record in records:
        cell = table.setdefault(record["problem"], {}).setdefault(record["arm"], {})
        for n, value in record["hypervolume"].items():
            cell.setdefault(n, []).append(value)
        cell.setdefault("seconds", []).append(record["seconds"])
    return {
        problem: {
            arm: {
                key: {
                    "median": float(np.median(v)),
                    "q1": float(np.quantile(v, 0.25)),
                    "q3": float(np.quantile(v, 0.75)),
                    "runs": len(v),
                }
                for key, v in cells.items()
            }
            for arm, cells in arms.items()
        }
        for problem, arms in table.items()
    }


def targets(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per problem: is ours the highest median at 50, and ahead of the signed sum at 25?"""
    rows = []
    for problem, arms in summary.items():
        ours = arms.get("hyperflow-pareto")
        if ours is None:
            continue
        at = max(k for k in ours if k != "seconds")
        others = {a: c[at]["median"] for a, c in arms.items() if a != "hyperflow-pareto"}
        best_other = max(others, key=others.get) if others else None
        highest = best_other is None or ours[at]["median"] > others[best_other]
        first = min(k for k in ours if k != "seconds")
        sums = [a for a in ("hyperflow-signed-sum", "kt-signed-sum") if a in arms]
        ahead = all(ours[first]["median"] > arms[a][first]["median"] for a in sums)
        rows.append(
            {
                "problem": problem,
                "at": at,
                "highest_median": highest,
                "best_other": best_other,
                "ahead_of_signed_sum_at": first,
                "ahead_of_signed_sum": ahead,
            }
        )
    return rows


def render(results: Mapping[str, Any]) -> str:
    """The markdown report."""
    env, summary = results["environment"], results["summary"]
    lines = [
        "# Multi-objective search: hypervolume",
        "",
        f"Run {env['date']} on {env['cpu']} ({env['cores']} cores, shared with other work; "
        f"load average at the start {results['load_start']}, at the end {results['load_end']}), "
        f"commit {env['commit']}. Command: `{results['command']}`.",
        f"Seeds {results['seeds']} for every arm; {results['trials']} trials per run. "
        "Hypervolume of all trials so far (higher is better), median [quartiles] over seeds.",
        "",
    ]
    names = problems(1)
    for problem, arms in summary.items():
        lines += [
            f"## {problem}",
            "",
            f"{names[problem].note} Reference point {names[problem].reference}.",
            "",
            "| arm | runs | HV @ 25 | HV @ 50 | seconds per run |",
            "| --- | --- | --- | --- | --- |",
        ]
        for arm in ARMS:
            if arm not in arms:
                continue
            cells = arms[arm]
            hv = [
                f"{c['median']:.4g} [{c['q1']:.4g}, {c['q3']:.4g}]" if c else "n/a"
                for c in (cells.get("25"), cells.get("50"))
            ]
            lines.append(
                f"| {arm} | {cells['seconds']['runs']} | {hv[0]} | {hv[1]} | "
                f"{cells['seconds']['median']:.2f} |"
            )
        lines.append("")
    lines += ["## Targets", ""]
    for row in results["targets"]:
        verdict = "met" if row["highest_median"] else f"missed ({row['best_other']} higher)"
        ahead = "met" if row["ahead_of_signed_sum"] else "missed"
        lines.append(
            f"- {row['problem']}: highest median hypervolume at {row['at']} trials: **{verdict}**; "
            f"ahead of the signed sum at {row['ahead_of_signed_sum_at']}: **{ahead}**."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pareto", description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=max(CHECKPOINTS))
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument(
        "--kt-seeds", type=int, default=None, help="fewer seeds for kt-signed-sum (slow)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    jobs = []
    for problem in args.problems.split(","):
        for arm in args.arms.split(","):
            seeds = args.kt_seeds if arm.startswith("kt-") and args.kt_seeds else args.seeds
            jobs += [(arm, problem, args.trials, seed) for seed in range(1, seeds + 1)]
    load_start = " / ".join(f"{v:.2f}" for v in os.getloadavg())
    env = environment()  # the commit whose code the runs import
    if args.jobs > 1:
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(args.jobs, _init_worker) as pool:
            records = pool.map(_job, jobs, chunksize=1)
    else:
        _init_worker()
        records = [_job(job) for job in jobs]
    summary = summarise(records)
    results = {
        "environment": env,
        "command": "python -m benchmarks.pareto " + " ".join(argv or []),
        "seeds": f"1..{args.seeds}"
        + (f" (kt-signed-sum: 1..{args.kt_seeds})" if args.kt_seeds else ""),
        "trials": args.trials,
        "load_start": load_start,
        "load_end": " / ".join(f"{v:.2f}" for v in os.getloadavg()),
        "summary": summary,
        "targets": targets(summary),
        "runs": records,
    }
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "pareto.json").write_text(json.dumps(results, indent=1))
    report = render(results)
    (args.output / "pareto.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
