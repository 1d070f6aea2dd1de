"""Model-guided Hyperband (BOHB) against random Hyperband and Optuna's TPE + successive halving.

    python -m benchmarks.multifidelity                    # 10 seeds on every problem, ~20 min
    python -m benchmarks.multifidelity --seeds 3 --slow-seeds 1   # a quick look

Three epoch-based problems: the multi-fidelity Hartmann-6 of the quick suite
(27 fidelity levels, cost in full evaluations), the dense network on digits
(9 epochs) and gradient boosting on breast cancer (27 epochs of 2 trees),
each run to a cost of 25 full evaluations. Every arm gets the same seeds and
runs through ``benchmarks.arms.run_fidelity``; the incumbent's regret is
``benchmarks.harness``'s. Writes ``benchmarks/results/multifidelity.json``
and ``.md`` with the issue's targets: at 10 and 25 full evaluations, the
model-guided arms' median regret below Optuna TPE + successive halving's and
not above that of our random-sampling Hyperband (same mode).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.arms import run_fidelity
from benchmarks.harness import RESULTS, _at_cost, _incumbent_trace, _init_worker, environment
from benchmarks.mf_problems import BreastCancerGBM
from benchmarks.problems import DigitsMLP, FidelityProblem, MFHartmann6

ARMS = (
    "hyperflow-hyperband",
    "hyperflow-bohb",
    "hyperflow-hyperband-async",
    "hyperflow-bohb-async",
    "optuna-tpe-sha",
)
# Each model-guided arm and the random-sampling Hyperband it must not lose to.
OURS = {
    "hyperflow-bohb": "hyperflow-hyperband",
    "hyperflow-bohb-async": "hyperflow-hyperband-async",
}
PEER = "optuna-tpe-sha"
# Costs, in full evaluations, where regret is reported; the budget is the last.
FULL_EVALUATIONS = (10, 25)
PROBLEMS: dict[str, Callable[[], FidelityProblem]] = {
    "mf-hartmann6": lambda: MFHartmann6(max_epochs=27),
    "digits-mlp": lambda: DigitsMLP(max_epochs=9),
    "gbm-breast-cancer": lambda: BreastCancerGBM(max_epochs=27),
}
# Problems whose runs train real models (seconds each): they get ``--slow-seeds``.
SLOW = ("digits-mlp", "gbm-breast-cancer")


def _full_cost(problem: FidelityProblem) -> float:
    return problem.cost(0, problem.max_epochs)


def run(name: str, arm: str, seed: int) -> dict[str, Any]:
    """One run; its incumbent's regret at each checkpoint, and its CPU seconds."""
    problem = PROBLEMS[name]()
    full = _full_cost(problem)
    started = time.process_time()
    evaluations = run_fidelity(arm, problem, FULL_EVALUATIONS[-1] * full, seed)
    trace = _incumbent_trace(problem, evaluations, seed)
    return {
        "problem": name,
        "arm": arm,
        "seed": seed,
        "regret": {str(c): _at_cost(trace, c * full) for c in FULL_EVALUATIONS},
        "trials": trace["trials"],
        "cpu": time.process_time() - started,
    }


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q1, median, q3 = np.quantile(np.asarray(values, float), [0.25, 0.5, 0.75])
    return float(median), float(q1), float(q3)


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per problem, model-guided arm and checkpoint: below the peer, not above our Hyperband."""
    median: dict[tuple[str, str, str], float] = {}
    for problem in PROBLEMS:
        for arm in ARMS:
            for c in FULL_EVALUATIONS:
                values = [
                    r["regret"][str(c)] for r in runs if r["problem"] == problem and r["arm"] == arm
                ]
                if values:
                    median[problem, arm, str(c)] = quartiles(values)[0]
    out = []
    for (problem, arm, c), ours in median.items():
        if arm not in OURS:
            continue
        for other, rule in ((PEER, "<"), (OURS[arm], "<=")):
            theirs = median.get((problem, other, c))
            if theirs is None:
                continue
            met = ours < theirs if rule == "<" else ours <= theirs
            out.append(
                {
                    "problem": problem,
                    "target": f"{arm} {rule} {other} @{c}",
                    "met": met,
                    "ours": ours,
                    "theirs": theirs,
                }
            )
    return out


def render(results: dict[str, Any]) -> str:
    env, runs = results["environment"], results["runs"]
    lines = [
        "# Multi-fidelity: model-guided Hyperband (BOHB)",
        "",
        f"Run {env['date']} on {env['cpu']} ({env['cores']} cores, shared: load average "
        f"{' / '.join(f'{x:.1f}' for x in env['load_average'] or [])} at the start); code at "
        f"{env['commit']}; {results['seconds'] / 60:.0f} min. Reproduce: "
        f"`python -m benchmarks.multifidelity --seeds {results['seeds']} "
        f"--slow-seeds {results['slow_seeds']} --problems {results['problems']}`.",
        "",
        f"Seeds 1..{results['seeds']} on mf-hartmann6, 1..{results['slow_seeds']} on the "
        "training problems, the same for every arm. Median regret of the incumbent "
        "[quartiles] at a cost of 10 and 25 full evaluations. Hyperband: factor 3, "
        "KerasTuner's schedule; the bohb arms are "
        '`HyperbandOracle(sampler="model")` with its defaults (random_fraction 0.15). '
        "optuna-tpe-sha: Optuna's TPE with its SuccessiveHalvingPruner (min_resource 1, "
        "reduction factor 3), reporting every epoch. Incumbent: on mf-hartmann6 the best result "
        "at the highest fidelity seen, scored at full fidelity; on the training problems the "
        "best validation result of any trial and epoch.",
        "",
        "## Targets",
        "",
        "| problem | target | met | ours | theirs |",
        "|---|---|---|---|---|",
    ]
    for t in results["targets"]:
        met = "met" if t["met"] else "**missed**"
        lines.append(
            f"| {t['problem']} | {t['target']} | {met} | {t['ours']:.3g} | {t['theirs']:.3g} |"
        )
    for problem in PROBLEMS:
        rows = [r for r in runs if r["problem"] == problem]
        if not rows:
            continue
        lines += [
            "",
            f"## {problem}",
            "",
            PROBLEMS[problem]().note,
            "",
            "| arm | seeds | regret @10 | regret @25 | trials | CPU s/run |",
            "|---|---|---|---|---|---|",
        ]
        for arm in ARMS:
            mine = [r for r in rows if r["arm"] == arm]
            if not mine:
                continue
            cells = []
            for c in FULL_EVALUATIONS:
                m, q1, q3 = quartiles([r["regret"][str(c)] for r in mine])
                cells.append(f"{m:.3g} [{q1:.3g}, {q3:.3g}]")
            name = f"**{arm}**" if arm.startswith("hyperflow") else arm
            lines.append(
                f"| {name} | {len(mine)} | {' | '.join(cells)} | "
                f"{np.median([r['trials'] for r in mine]):.0f} | "
                f"{np.median([r['cpu'] for r in mine]):.1f} |"
            )
    return "\n".join(lines) + "\n"


def rerender(output: Path = RESULTS) -> str:
    """Rewrites ``multifidelity.md`` from ``multifidelity.json``; returns it."""
    markdown = render(json.loads((output / "multifidelity.json").read_text()))
    (output / "multifidelity.md").write_text(markdown)
    return markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--slow-seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--problems", default=",".join(PROBLEMS), help="comma-separated subset of the problems"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results: dict[str, Any] = {
        "environment": environment(),
        "seeds": args.seeds,
        "slow_seeds": args.slow_seeds,
        "problems": args.problems,
    }
    todo = [
        (problem, arm, seed)
        for problem in args.problems.split(",")
        for arm in ARMS
        for seed in range(1, (args.slow_seeds if problem in SLOW else args.seeds) + 1)
    ]
    todo.sort(key=lambda task: task[0] not in SLOW)  # the slow runs first
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    runs = []
    with (
        (output / "multifidelity.runs.jsonl").open("w") as journal,
        concurrent.futures.ProcessPoolExecutor(args.jobs, initializer=_init_worker) as pool,
    ):
        futures = [pool.submit(run, *task) for task in todo]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            record = future.result()
            runs.append(record)
            journal.write(json.dumps(record) + "\n")
            journal.flush()
            print(
                f"[{done}/{len(todo)}] {record['problem']} {record['arm']} seed "
                f"{record['seed']}: {record['regret']}",
                flush=True,
            )
    runs.sort(key=lambda r: (list(PROBLEMS).index(r["problem"]), ARMS.index(r["arm"]), r["seed"]))
    results["runs"] = runs
    results["targets"] = targets(runs)
    results["seconds"] = time.perf_counter() - started
    (output / "multifidelity.json").write_text(json.dumps(results, indent=1))
    markdown = render(results)
    (output / "multifidelity.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
