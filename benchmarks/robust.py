"""The robustness suite: our Bayesian optimisers against Optuna's TPE on many problem classes.

Runs every arm on every problem for the same seeds, records each trial's
regret, and reports per problem the median regret at 30 and 50 trials, the
arms' ranks, the mean rank over all problems, and stalls: a 15-trial window
(after trial 10) where our median incumbent does not improve while Optuna
TPE's does.

Usage: ``python -m benchmarks.robust [--seeds 10] [--trials 50] [--problems a,b]
[--arms a,b] [--output benchmarks/results/robust]``; ``--merge A.json B.json ...``
joins runs made apart (say, groups of problems in parallel) into one report.
The 30-trial figures are read from the 50-trial runs (no arm's proposals depend
on the budget). Where ``sampler="auto"`` picks the GP (a space of at most 10
numerical or ordered hyperparameters, none conditional) its runs are the GP's
runs, proposal for proposal (a unit test checks this), so they are reused.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.arms import run_single
from benchmarks.problems import Problem, single_fidelity_problems
from benchmarks.robust_problems import robust_problems

__all__ = ["ARMS", "main", "mean_ranks", "stalls"]

ARMS = ("hyperflow-bayesian", "hyperflow-tpe", "hyperflow-auto", "optuna-tpe", "hyperflow-random")
CHECKPOINTS = (30, 50)
STALL_WINDOW = 15
STALL_FROM = 10
_REFERENCE = "optuna-tpe"
_GP = "hyperflow-bayesian"
_OURS = ("hyperflow-bayesian", "hyperflow-tpe", "hyperflow-auto")


def problems() -> dict[str, Problem]:
    """Every problem of the suite: the single-fidelity ones and the robustness ones."""
    return {**single_fidelity_problems(), **robust_problems()}


def _incumbents(regrets: Sequence[float], length: int) -> np.ndarray:
    best = np.minimum.accumulate(np.asarray(regrets, dtype=float))
    return np.concatenate([best, np.full(max(0, length - len(best)), best[-1])])[:length]


def median_curves(runs: Mapping[str, Mapping[str, list[list[float]]]], length: int) -> dict:
    """``{problem: {arm: median incumbent regret per trial}}``."""
    return {
        problem: {
            arm: np.median([_incumbents(r, length) for r in seeds], axis=0)
            for arm, seeds in arms.items()
        }
        for problem, arms in runs.items()
    }


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks, 1 the smallest, ties sharing their mean rank."""
    values = np.asarray(values)
    return np.array([(values < v).sum() + ((values == v).sum() + 1) / 2 for v in values])


def mean_ranks(curves: Mapping[str, Mapping[str, np.ndarray]], trial: int) -> dict[str, float]:
    """Each arm's rank by median regret at ``trial`` (1 best), averaged over the problems."""
    totals: dict[str, list[float]] = {}
    for arms in curves.values():
        names = list(arms)
        for name, rank in zip(names, _ranks([arms[a][trial - 1] for a in names]), strict=True):
            totals.setdefault(name, []).append(float(rank))
    return {arm: float(np.mean(r)) for arm, r in totals.items()}


def stalls(curve: np.ndarray, reference: np.ndarray) -> list[int]:
    """Trials t where ``curve`` is flat over [t, t + 15] while ``reference`` improves there."""
    found = []
    for start in range(STALL_FROM, len(curve) - STALL_WINDOW):
        end = start + STALL_WINDOW
        if curve[end] >= curve[start] and reference[end] < reference[start]:
            found.append(start + 1)
    return found


def auto_is_gp(problem: Problem) -> bool:
    """Whether ``sampler="auto"`` runs the Gaussian process on ``problem``'s space."""
    from tuning.oracles.bayesian import _AUTO_MAX_GP_DIMS

    numerical = all(
        p.kind != "choice" or all(isinstance(v, (int, float)) for v in p.values)
        for p in problem.params
    )
    unconditional = not any(p.conditions for p in problem.params)
    return numerical and unconditional and len(problem.params) <= _AUTO_MAX_GP_DIMS


def run(
    names: Sequence[str],
    arms: Sequence[str],
    seeds: int,
    trials: int,
    partial: Path | None = None,
) -> dict[str, dict[str, list[list[float]]]]:
    """``{problem: {arm: [regret per trial, per seed]}}``, seeds 1..``seeds``.

    With ``partial``, the runs so far are written there (JSON) after each problem.
    """
    every = problems()
    runs: dict[str, dict[str, list[list[float]]]] = {}
    for name in names:
        problem = every[name]
        runs[name] = {}
        for arm in arms:
            if arm == "hyperflow-auto" and auto_is_gp(problem) and _GP in runs[name]:
                runs[name][arm] = runs[name][_GP]
                continue
            started = time.process_time()
            runs[name][arm] = [
                [problem.regret(v) for v in run_single(arm, problem, trials, seed)]
                for seed in range(1, seeds + 1)
            ]
            print(f"{name:16s} {arm:20s} {time.process_time() - started:7.1f} s CPU", flush=True)
        if partial is not None:
            partial.write_text(json.dumps(runs))
    return runs


def _g(value: float) -> str:
    return f"{value:.3g}"


def render(results: Mapping[str, Any]) -> str:
    """The markdown report of ``results`` (as ``main`` writes them to JSON)."""
    runs = results["runs"]
    trials = results["trials"]
    curves = median_curves(runs, trials)
    arms = list(results["arms"])
    lines = [
        "# Robustness suite: Bayesian optimisation off its home ground",
        "",
        f"Run {results['date']} on {results['machine']}; load average at start "
        f"{results['load'][0]:.1f}, at the end {results['load_end'][0]:.1f}; code at "
        f"{results['commit']}; {results.get('parts', 1)} process(es) in parallel, wall "
        f"{results['wall_s'] / 60:.0f} min. Seeds 1..{results['seeds']} for every arm "
        f"(the same seeds per arm), {trials} trials per run; regret at 30 trials read "
        "from the same runs. "
        "Reproduce: `python -m benchmarks.robust`.",
        "",
        "Arms: **hyperflow-bayesian** (`BayesianOptimizationOracle`, the Gaussian process), "
        "**hyperflow-tpe** (`TPEOracle`), **hyperflow-auto** (`BayesianOptimizationOracle("
        "sampler='auto')`: TPE for spaces with unordered, boolean or conditional "
        "hyperparameters or more than 10 of them, else the GP), optuna-tpe (Optuna's "
        "`TPESampler` defaults), hyperflow-random.",
        "",
        "## Mean rank over all problems (1 = best; by median regret)",
        "",
    ]
    checkpoints = [c for c in CHECKPOINTS if c <= trials]
    ranks = {c: mean_ranks(curves, c) for c in checkpoints}
    lines += [
        "| arm | " + " | ".join(f"mean rank @{c}" for c in checkpoints) + " |",
        "|---|" + "---|" * len(checkpoints),
    ]
    for arm in arms:
        cells = " | ".join(f"{ranks[c][arm]:.2f}" for c in checkpoints)
        lines.append(f"| {arm} | {cells} |")
    lines += ["", "## Targets", "", "| target | met | detail |", "|---|---|---|"]
    for ours in [a for a in _OURS if a in arms and _REFERENCE in arms]:
        for c in checkpoints:
            met = ranks[c][ours] < ranks[c][_REFERENCE]
            lines.append(
                f"| mean rank of {ours} < {_REFERENCE} @{c} | {'met' if met else '**missed**'} "
                f"| {ranks[c][ours]:.2f} vs {ranks[c][_REFERENCE]:.2f} |"
            )
        stalled = {
            p: stalls(curves[p][ours], curves[p][_REFERENCE]) for p in curves if ours in curves[p]
        }
        bad = {p: t for p, t in stalled.items() if t}
        detail = (
            "none"
            if not bad
            else "; ".join(
                f"{p} (windows starting at trial {t[0]}..{t[-1]})" for p, t in bad.items()
            )
        )
        lines.append(
            f"| {ours}: no 15-trial stall of the median incumbent while {_REFERENCE}'s improves "
            f"| {'met' if not bad else '**missed**'} | {detail} |"
        )
    lines += ["", "## Per problem", ""]
    every = problems()
    for name, arms_runs in runs.items():
        lines += [
            f"#### {name}",
            "",
            every[name].note if name in every else "",
            "",
            "Median simple regret [quartiles] at "
            + ", ".join(str(c) for c in checkpoints)
            + " trials; rank by median.",
            "",
            "| arm | " + " | ".join(f"regret @{c} | rank @{c}" for c in checkpoints) + " |",
            "|---|" + "---|---|" * len(checkpoints),
        ]
        names = list(arms_runs)
        rank_at = {c: _ranks([curves[name][a][c - 1] for a in names]) for c in checkpoints}
        for i, arm in enumerate(names):
            cells = []
            for c in checkpoints:
                at = [_incumbents(r, trials)[c - 1] for r in arms_runs[arm]]
                q1, q2, q3 = np.quantile(at, [0.25, 0.5, 0.75])
                cells.append(f"{_g(q2)} [{_g(q1)}, {_g(q3)}] | {rank_at[c][i]:g}")
            bold = f"**{arm}**" if arm.startswith("hyperflow") else arm
            lines.append(f"| {bold} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _one_thread() -> Any:
    """BLAS limited to one thread: the GP's matrices are small, and the machine is shared."""
    import contextlib

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def _commit() -> str:
    import subprocess

    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def merge(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """One result of runs on disjoint problems with the same seeds, trials and arms."""
    first = parts[0]
    for part in parts[1:]:
        if (part["seeds"], part["trials"], part["arms"]) != (
            first["seeds"],
            first["trials"],
            first["arms"],
        ):
            raise ValueError("Parts to merge must share seeds, trials and arms.")
    return {
        **first,
        "date": min(p["date"] for p in parts),
        "load": max((p["load"] for p in parts), key=lambda load: load[0]),
        "load_end": max((p["load_end"] for p in parts), key=lambda load: load[0]),
        "wall_s": max(p["wall_s"] for p in parts),
        "runs": {k: v for p in parts for k, v in p["runs"].items()},
        "parts": len(parts),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the suite (or the subset asked for) and writes ``OUTPUT.json`` and ``OUTPUT.md``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.robust")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--problems", default=",".join(problems()))
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--output", default=str(Path(__file__).parent / "results" / "robust"))
    parser.add_argument("--merge", nargs="+", help="JSON results to join instead of running")
    args = parser.parse_args(argv)
    output = Path(args.output)
    if args.merge:
        results = merge([json.loads(Path(p).read_text()) for p in args.merge])
        output.with_suffix(".json").write_text(json.dumps(results))
        output.with_suffix(".md").write_text(render(results))
        return 0
    load = os.getloadavg()
    started = time.time()
    with _one_thread():
        runs = run(
            args.problems.split(","),
            args.arms.split(","),
            args.seeds,
            args.trials,
            output.with_suffix(".partial.json"),
        )
    results = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared)",
        "load": list(load),
        "load_end": list(os.getloadavg()),
        "wall_s": time.time() - started,
        "commit": _commit(),
        "seeds": args.seeds,
        "trials": args.trials,
        "arms": args.arms.split(","),
        "runs": runs,
    }
    output.with_suffix(".json").write_text(json.dumps(results))
    output.with_suffix(".md").write_text(render(results))
    print(output.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
