"""Serves Hyperflow's deployments from this process until it is stopped.

- ``hyperflow-nightly/nightly``: the nightly flow on a cron schedule
  (02:00 in this machine's time zone by default), warm-started from the
  earlier nights, then retrain;
- ``hyperflow-search-spec/search``: one search, no schedule;
- ``hyperflow-retrain/retrain``: retrain a project's latest search, no schedule.

Their default parameters come from a spec file (``specs/digits.yaml`` by
default); press *Run* > *Custom run* in the Prefect UI to change any field of
the spec for one run. It needs a Prefect server (``PREFECT_API_URL``)::

    prefect server start --host 127.0.0.1
    PREFECT_API_URL=http://127.0.0.1:4200/api hyperflow serve --cron "0 2 * * *"
    # or: python deployments/serve.py --spec deployments/specs/digits.yaml

Relative paths in the spec (``examples/digits.py:load``, ``directory``) are
resolved against the current directory: start it from the repository root.
Flow runs execute in child processes of this one, in its working directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

    from flows.spec import SearchSpec

__all__ = ["DEFAULT_CRON", "DEFAULT_SPEC", "build_deployments", "local_timezone", "main", "serve"]

DEFAULT_CRON = "0 2 * * *"
DEFAULT_SPEC = Path(__file__).resolve().parent / "specs" / "digits.yaml"
TAGS = ["hyperflow"]


def local_timezone() -> str:
    """This machine's IANA time zone (``TZ``, then ``/etc/localtime``, then ``/etc/timezone``).

    Returns:
        A name such as ``"Europe/Berlin"``; ``"UTC"`` when none can be found.
    """
    from zoneinfo import ZoneInfo

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    localtime = Path("/etc/localtime")
    if localtime.is_symlink():
        target = str(localtime.resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    for name in candidates:
        try:
            if name and ZoneInfo(name):
                return name
        except (ValueError, KeyError, OSError):
            continue
    return "UTC"


def build_deployments(
    spec: SearchSpec, cron: str = DEFAULT_CRON, timezone: str | None = None
) -> list[RunnerDeployment]:
    """The three deployments, their default parameters taken from ``spec``.

    Args:
        spec: The default spec of the nightly and search deployments.
        cron: When the nightly deployment runs (a cron string).
        timezone: The cron's IANA time zone; this machine's when None.
    """
    from prefect.schedules import Cron

    from flows.nightly import nightly_flow
    from flows.retrain import retrain_flow
    from flows.spec import search_spec_flow

    parameters: dict[str, Any] = {"spec": spec.model_dump(mode="json")}
    nightly = nightly_flow.to_deployment(
        name="nightly",
        schedules=[Cron(cron, timezone=timezone or local_timezone())],
        parameters=parameters,
        description=f"Tunes {spec.project_name} on a schedule, then retrains the best model.",
        tags=TAGS,
    )
    search = search_spec_flow.to_deployment(
        name="search",
        parameters=parameters,
        description="Runs one search from a spec; press Run > Custom run to change it.",
        tags=TAGS,
    )
    retrain = retrain_flow.to_deployment(
        name="retrain",
        parameters={
            "project_name": spec.project_name,
            "directory": spec.directory,
            "tracking_uri": spec.tracking_uri,
        },
        description="Retrains a project's latest search and moves `champion` when better.",
        tags=TAGS,
    )
    return [nightly, search, retrain]


def serve(
    spec_path: str | os.PathLike[str] = DEFAULT_SPEC,
    cron: str = DEFAULT_CRON,
    timezone: str | None = None,
    limit: int | None = None,
) -> None:
    """Serves the deployments until interrupted (Ctrl-C).

    Args:
        spec_path: The spec file with the deployments' default parameters.
        cron: When the nightly deployment runs.
        timezone: The cron's time zone; this machine's when None.
        limit: The most flow runs at once; None for no limit.

    Raises:
        SpecError: The spec is invalid.
        RuntimeError: No Prefect server is configured (``PREFECT_API_URL``).
    """
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL

    from flows.spec import load_spec

    if not PREFECT_API_URL.value():
        raise RuntimeError(
            "Serving needs a Prefect server: start one with `prefect server start --host "
            "127.0.0.1` and set PREFECT_API_URL=http://127.0.0.1:4200/api."
        )
    spec = load_spec(spec_path)
    prefect_serve(*build_deployments(spec, cron, timezone), limit=limit)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``serve`` (shared with ``hyperflow serve``)."""
    parser.add_argument(
        "--spec",
        default=str(DEFAULT_SPEC),
        help="spec file with the deployments' default parameters (default: %(default)s)",
    )
    parser.add_argument(
        "--cron",
        default=DEFAULT_CRON,
        help="when the nightly deployment runs, a cron string (default: %(default)r, 02:00)",
    )
    parser.add_argument(
        "--timezone",
        default=None,
        help=f"the cron's IANA time zone (default: this machine's, {local_timezone()})",
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="the most flow runs at once (default: no limit)"
    )


def main(argv: list[str] | None = None) -> int:
    """``python deployments/serve.py [--spec FILE] [--cron CRON] [--timezone TZ]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    from flows.spec import SpecError

    try:
        serve(args.spec, args.cron, args.timezone, args.limit)
    except (SpecError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
