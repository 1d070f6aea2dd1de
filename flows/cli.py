"""``hyperflow``: run searches from spec files, retrain, read leaderboards, serve, open the UIs.

    hyperflow search deployments/specs/digits.yaml
    hyperflow retrain digits
    hyperflow summary digits
    hyperflow serve --cron "0 2 * * *"
    hyperflow ui --start

Each command has ``--help``. Heavy modules (Prefect's engine, MLflow,
TensorFlow) are imported by the command that needs them, so ``--help`` is
quick. Exit status: 0 done, 1 the work failed, 2 bad usage, a missing file or
an invalid spec.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

DEFAULT_DIRECTORY = "hyperflow_results"
PREFECT_PORT = 4200
MLFLOW_PORT = 5000


class _Failure(Exception):
    """A command's work failed (exit status 1)."""


class _Usage(Exception):
    """Bad input: a missing file, an invalid spec (exit status 2)."""


# The commands ---------------------------------------------------------------------------


def _search(args: argparse.Namespace) -> None:
    from flows.console import quiet_prefect_console
    from flows.spec import search_spec_flow

    spec = _read_spec(args.spec, args.set)
    with quiet_prefect_console():
        summary = search_spec_flow(spec)
    print()
    print(
        f"Search of {summary['project_name']}: {summary['completed']} of "
        f"{summary['trials']} trials completed; best trial {summary['best_trial_id']} "
        f"with {spec.objective} = {_fmt(summary['best_score'])}."
    )
    print(f"MLflow run: {summary['search_url']}")
    print(f"Next: hyperflow summary {spec.project_name}{_location_args(spec)}")


def _retrain(args: argparse.Namespace) -> None:
    from flows.console import quiet_prefect_console
    from flows.retrain import retrain_flow

    if not args.project and not args.search_run_id:
        raise _Usage("give a PROJECT or --search-run-id.")
    spec = _read_spec(args.spec, []) if args.spec else None
    with quiet_prefect_console():
        result = retrain_flow(
            project_name=args.project,
            search_run_id=args.search_run_id,
            directory=args.directory,
            tracking_uri=args.tracking_uri,
            spec=spec,
        )
    verdict = "now the champion" if result["promoted"] else "not better than the champion"
    print(
        f"Registered {result['project_name']} version {result['version']}: held-out "
        f"{result['metric']} = {_fmt(result['score'])} ({verdict}; champion before: "
        f"{_champion_before(result)})."
    )
    print(f"MLflow run: {result['run_url']}")
    print(
        f'Load the champion: mlflow.keras.load_model("models:/{result["project_name"]}@champion")'
    )


def _summary(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from tuning.store import LEADERBOARD_FILE, TrialStore

    store = TrialStore(args.project, args.directory, args.tracking_uri)
    searches = store.runs.searches(statuses=None) if store.exists() else []
    if args.search_run_id:
        searches = [s for s in searches if s["run_id"] == args.search_run_id]
    if not searches:
        raise _Failure(f"no search of {args.project!r} in {store.tracking_uri}.")
    search = searches[0]
    try:
        rows = store.runs.read_dict(search["run_id"], LEADERBOARD_FILE)
    except Exception:  # still running: no leaderboard yet
        rows = [
            {"trial_id": r["trial_id"], "status": r["status"], "score": r["score"]}
            for r in store.trials.trial_runs(search["run_id"])
        ]
    rows = rows[: args.top]
    table = Table(
        title=f"{args.project}: search {search['run_id']} ({search['tuner']}, {search['status']})",
        caption=f"MLflow: {store.connection.run_url(search['run_id'])}",
    )
    columns = list(dict.fromkeys(key for row in rows for key in row))
    for column in columns:
        numeric = column in ("rank", "score", "best_step")
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(_fmt(row.get(column)) for column in columns))
    console = Console()
    console.print(table)
    champion = store.models.version(args.project, "champion")
    if champion is None:
        console.print(f"No champion yet: run `hyperflow retrain {args.project}`.")
    else:
        scores = ", ".join(
            f"{k} = {_fmt(_float(v))}" for k, v in champion["tags"].items() if k.startswith("test_")
        )
        console.print(
            f"Champion: models:/{args.project}@champion = version {champion['version']}"
            + (f" ({scores})" if scores else "")
        )
    console.print(f"{len(store.runs.searches(statuses=None))} searches in {store.tracking_uri}")


def _serve(args: argparse.Namespace) -> None:
    from flows.spec import SpecError

    try:
        from deployments.serve import serve  # the one upward reach: the serving layer
    except ImportError as error:
        raise _Failure(
            "the deployments package is missing: run `hyperflow serve` from a checkout "
            f"of Hyperflow installed with `pip install -e .` ({error})."
        ) from error
    try:
        serve(args.spec, args.cron, args.timezone, args.limit)
    except SpecError as error:
        raise _Usage(str(error)) from error
    except RuntimeError as error:
        raise _Failure(str(error)) from error


def _ui(args: argparse.Namespace) -> None:
    from tuning.store import resolve_tracking_uri

    uri = resolve_tracking_uri(args.directory, args.tracking_uri)
    prefect = [
        sys.executable, "-m", "prefect", "server", "start",
        "--host", "127.0.0.1", "--port", str(args.prefect_port),
    ]  # fmt: skip
    is_server = uri.startswith(("http://", "https://"))
    mlflow = [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri,
        "--host", "127.0.0.1", "--port", str(args.mlflow_port),
    ]  # fmt: skip
    mlflow_url = uri if is_server else f"http://127.0.0.1:{args.mlflow_port}"
    print(f"Prefect UI: http://127.0.0.1:{args.prefect_port}")
    print(f"  start:  {_shell(['prefect', *prefect[3:]])}")
    print(f"  then:   export PREFECT_API_URL=http://127.0.0.1:{args.prefect_port}/api")
    print(f"MLflow UI:  {mlflow_url}")
    if is_server:
        print(f"  the tracking server {uri} serves it")
    else:
        print(f"  start:  {_shell(['mlflow', *mlflow[3:]])}")
    if not args.start:
        return
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)  # the server must not talk to another one
    processes = [subprocess.Popen(prefect, env=env)]
    if not is_server:
        processes.append(subprocess.Popen(mlflow, env=env))
    print("Started; press Ctrl-C to stop.")
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        raise _Failure("a UI server stopped; see its output above.")
    except KeyboardInterrupt:
        pass
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


# Helpers --------------------------------------------------------------------------------


def _read_spec(path: str, assignments: Sequence[str]) -> Any:
    import yaml

    from flows.spec import SpecError, load_spec

    overrides = {}
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep or not key:
            raise _Usage(f"--set takes KEY=VALUE, got {assignment!r}.")
        overrides[key.strip()] = yaml.safe_load(value)
    try:
        return load_spec(path, overrides)
    except SpecError as error:
        raise _Usage(str(error)) from error


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _float(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


def _champion_before(result: dict[str, Any]) -> str:
    if result["previous_champion_version"] is None:
        return "none"
    return (
        f"version {result['previous_champion_version']}, {_fmt(result['previous_champion_score'])}"
    )


def _location_args(spec: Any) -> str:
    if spec.tracking_uri:
        return f" --tracking-uri {spec.tracking_uri}"
    return f" --directory {_shell([spec.directory])}"


def _shell(parts: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(p) for p in parts)


# The parser -----------------------------------------------------------------------------


def _add_location(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--directory",
        default=DEFAULT_DIRECTORY,
        help="where the default MLflow store (SQLite) lives (default: %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="an MLflow tracking URI; overrides --directory (default: MLFLOW_TRACKING_URI)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``hyperflow`` argument parser, one sub-command per task."""
    parser = argparse.ArgumentParser(
        prog="hyperflow",
        description="KerasTuner-style searches as Prefect flows, tracked in MLflow.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = commands.add_parser(
        "search",
        help="run the search a spec file describes",
        description="Runs the search a YAML spec describes, as a Prefect flow run; "
        "every trial is an MLflow run.",
    )
    search.add_argument("spec", metavar="SPEC", help="the spec file (YAML)")
    search.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a field of the spec, e.g. --set max_trials=3 (repeatable)",
    )
    search.set_defaults(run=_search)

    retrain = commands.add_parser(
        "retrain",
        help="retrain a search's best model and register it",
        description="Retrains the best trial of the project's latest finished search on "
        "train + validation data, evaluates it on the held-out data, registers a model "
        "version named after the project, and moves the alias 'champion' if it is better.",
    )
    retrain.add_argument("project", metavar="PROJECT", nargs="?", help="the project name")
    retrain.add_argument("--search-run-id", help="retrain this search (a parent MLflow run id)")
    retrain.add_argument("--spec", help="a spec file overriding the one saved with the search")
    _add_location(retrain)
    retrain.set_defaults(run=_retrain)

    summary = commands.add_parser(
        "summary",
        help="print a project's leaderboard from MLflow",
        description="Prints the leaderboard of the project's latest search (or of "
        "--search-run-id) from MLflow, and its champion model.",
    )
    summary.add_argument("project", metavar="PROJECT", help="the project name")
    summary.add_argument("--search-run-id", help="show this search instead of the latest")
    summary.add_argument("--top", type=int, default=20, help="rows to show (default: %(default)s)")
    _add_location(summary)
    summary.set_defaults(run=_summary)

    serve = commands.add_parser(
        "serve",
        help="serve the deployments (nightly on a schedule, search, retrain)",
        description="Serves the nightly flow on a cron schedule and the search and retrain "
        "flows on demand, until Ctrl-C. Needs a Prefect server (PREFECT_API_URL).",
    )
    from_deployments = _serve_arguments()
    if from_deployments is not None:
        from_deployments(serve)
    serve.set_defaults(run=_serve)

    ui = commands.add_parser(
        "ui",
        help="print (or start) the Prefect and MLflow UIs on 127.0.0.1",
        description="Prints the commands that start the Prefect and MLflow UIs on "
        "127.0.0.1, or starts both with --start (Ctrl-C stops them).",
    )
    ui.add_argument("--start", action="store_true", help="start both servers and wait")
    ui.add_argument("--prefect-port", type=int, default=PREFECT_PORT, help="(default: %(default)s)")
    ui.add_argument("--mlflow-port", type=int, default=MLFLOW_PORT, help="(default: %(default)s)")
    _add_location(ui)
    ui.set_defaults(run=_ui)
    return parser


def _serve_arguments() -> Any:
    """``deployments.serve.add_arguments``, or None without the deployments package."""
    try:
        from deployments.serve import add_arguments
    except ImportError:
        return None
    return add_arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``hyperflow`` with ``argv`` (the command line when None).

    Returns:
        The exit status: 0 done, 1 the work failed, 2 bad usage or spec.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except _Usage as error:
        print(f"hyperflow {args.command}: error: {error}", file=sys.stderr)
        return 2
    except _Failure as error:
        print(f"hyperflow {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the flow failed: its logs and traceback were printed
        print(f"hyperflow {args.command}: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
