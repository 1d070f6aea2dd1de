"""The benchmarks' command line.

    python -m benchmarks run --suite quick          # about 15 minutes on 2 cores
    nohup python -m benchmarks run --suite full &   # a few hours
    python -m benchmarks report --suite quick       # re-render tables and plots from the JSON
    python -m benchmarks report --suite quick --summary   # the README's compact tables
    python -m benchmarks report --suite full --partial    # the runs finished so far
    python -m benchmarks run --suite full --resume        # go on after a killed run

``run`` writes ``benchmarks/results/<suite>.json``, ``<suite>.md`` and
``<suite>-*.png`` and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.harness import (
    PARTS,
    RESULTS,
    SUITES,
    partial_results,
    render,
    render_summary,
    run_suite,
)


def main(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and runs or renders a suite; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a suite and write its tables and plots")
    report = commands.add_parser("report", help="re-render a suite's tables from its JSON")
    for command in (run, report):
        command.add_argument("--suite", choices=sorted(SUITES), default="quick")
        command.add_argument(
            "--output", type=Path, default=RESULTS, help="folder of the results (absolute or not)"
        )
    run.add_argument("--jobs", type=int, default=2, help="worker processes for the runs")
    run.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {','.join(PARTS)}",
    )
    run.add_argument(
        "--problems",
        default=None,
        help="comma-separated subset of the search part's problems (default: all)",
    )
    run.add_argument(
        "--run-external",
        action="store_true",
        help="rerun benchmarks/overhead.py and scaling.py first (rewrites their reports)",
    )
    report.add_argument(
        "--summary", action="store_true", help="print the compact summary the README shows"
    )
    report.add_argument(
        "--partial",
        action="store_true",
        help="render the runs finished so far (<suite>.runs.jsonl) of a running or killed "
        "suite, as <suite>-partial.md",
    )
    run.add_argument(
        "--resume",
        action="store_true",
        help="skip the runs already in <suite>.runs.jsonl (after a killed run)",
    )
    args = parser.parse_args(argv)
    output = args.output.resolve()
    if args.command == "run":
        parts = [p for p in args.parts.split(",") if p]
        unknown = sorted(set(parts) - set(PARTS))
        if unknown:
            parser.error(f"unknown parts {unknown}; choose among {list(PARTS)}")
        results = run_suite(
            SUITES[args.suite],
            jobs=args.jobs,
            parts=parts,
            output=output,
            run_external=args.run_external,
            resume=args.resume,
            problems=args.problems.split(",") if args.problems else None,
        )
        print((output / f"{results['suite']['name']}.md").read_text())
        return 0
    path = output / f"{args.suite}.json"
    if args.partial:
        results = partial_results(SUITES[args.suite], output)
    elif path.exists():
        results = json.loads(path.read_text())
    else:
        print(f"{path} does not exist: run the suite first (or --partial).", file=sys.stderr)
        return 1
    markdown = render(results, output)
    print(render_summary(results) if args.summary else markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
