"""The nightly flow: a search warm-started from earlier nights, then the retrain flow.

1. Build the spec's tuner (always a new search) and learn its search space.
2. Collect the trials of the project's earlier searches (the newest
   ``warm_start_searches`` that are not running) that started from the same
   search space (their ``search_space.json``) and have the same objective as
   tonight's; only their COMPLETED trials count.
3. ``oracle.warm_start(trials, best_k)``: the Bayesian oracle models them as
   prior observations; the other oracles try the values of the best ``best_k``
   first.
4. Run the search, then the retrain flow on it (which moves ``champion`` only
   when the new model is better on the held-out data).
5. Write the result and links to the MLflow runs into the Prefect artifact
   ``<project>-nightly``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.retrain import format_number, retrain_flow
from flows.spec import SearchSpec, artifact_key, build_tuner, run_spec_search
from tuning.store import SEARCH_SPACE_FILE
from tuning.trial import Trial

if TYPE_CHECKING:
    from tuning.store import TrialStore
    from tuning.tuners import Tuner

__all__ = ["earlier_trials", "nightly_flow"]


@flow(name="hyperflow-nightly", flow_run_name="nightly-{spec.project_name}", persist_result=False)
def nightly_flow(
    spec: SearchSpec,
    warm_start_best_k: int = 5,
    warm_start_searches: int = 10,
    retrain: bool = True,
) -> dict[str, Any]:
    """Tunes again, warm-started from earlier nights, then retrains and registers the best model.

    Args:
        spec: The search: hypermodel and data loader by import path, tuner,
            objective, budgets, where the trials are tracked. It always starts
            a new search.
        warm_start_best_k: How many of the best earlier configurations a
            non-Bayesian tuner tries first (the Bayesian one models them all).
        warm_start_searches: How many of the newest earlier searches to read.
        retrain: Whether to run the retrain flow after the search.

    Returns:
        The search's summary, the number of earlier trials used, and the
        retrain flow's result (None when retrain is off).
    """
    logger = get_run_logger()
    spec = spec.model_copy(update={"overwrite": True})
    tuner = build_tuner(spec)
    earlier, searches = earlier_trials(tuner, warm_start_searches)
    used = tuner.engine.warm_start(earlier, best_k=warm_start_best_k) if earlier else 0
    logger.info(
        "Warm start: %d of %d completed trials from %d earlier searches with this space.",
        used,
        len(earlier),
        len(searches),
    )
    summary = run_spec_search(spec, tuner=tuner)
    summary.update(warm_start_trials=used, warm_start_searches=searches)
    retrained = None
    if retrain and summary["completed"]:
        retrained = retrain_flow(
            project_name=spec.project_name,
            search_run_id=summary["search_run_id"],
            directory=spec.directory,
            tracking_uri=spec.tracking_uri,
        )
    summary["retrain"] = retrained
    _report(summary, tuner.store)
    return summary


def earlier_trials(tuner: Tuner, limit: int = 10) -> tuple[list[Trial], list[str]]:
    """The trials of the project's earlier searches over the same space and objective.

    Called before the tuner's search starts. The tuner's space is learnt first
    (its hypermodel is built once per conditional branch, as ``search`` does).

    Args:
        tuner: The tuner about to search.
        limit: How many of the newest earlier searches (not running) to read.

    Returns:
        The trials (any status; ``Oracle.warm_start`` keeps the completed
        ones) and the run ids of the searches they come from.
    """
    space = _space_key(tuner.search_space().get_config())
    objective = tuner.oracle.objective.get_config()
    store: TrialStore = tuner.store
    trials: list[Trial] = []
    used: list[str] = []
    for search in store.runs.searches(("FINISHED", "FAILED", "KILLED"))[:limit]:
        try:
            # The space the search started from: what tonight's tuner has now.
            started_from = store.runs.read_dict(search["run_id"], SEARCH_SPACE_FILE)
            state = store.state.load(search["run_id"])
        except Exception:  # not a Hyperflow search, or its files are gone
            continue
        if state is None or state["config"].get("objective") != objective:
            continue
        if _space_key(started_from) != space:
            continue
        trials.extend(Trial.from_state(t) for t in state["trials"])
        used.append(search["run_id"])
    return trials, used


def _space_key(config: dict[str, Any]) -> list[str]:
    """A search space's hyperparameters (not their current values), order-free."""
    return sorted(json.dumps(entry, sort_keys=True) for entry in config["space"])


def _report(summary: dict[str, Any], store: TrialStore) -> None:
    """The markdown artifact ``<project>-nightly``: the result and links to MLflow."""
    project = summary["project_name"]
    lines = [
        f"# Nightly search of {project}",
        "",
        f"- Trials: {summary['trials']} ({summary['completed']} completed); warm-started "
        f"from {summary['warm_start_trials']} trials of {len(summary['warm_start_searches'])} "
        "earlier searches",
        f"- Best trial `{summary['best_trial_id']}`: {format_number(summary['best_score'])}",
        f"- Best values: `{json.dumps(summary['best_values'])}`",
        f"- MLflow search run (the trials are its nested runs): {summary['search_url']}",
    ]
    retrained = summary["retrain"]
    if retrained is not None:
        verdict = "promoted to `champion`" if retrained["promoted"] else "not promoted"
        lines += [
            f"- Retrained: version {retrained['version']} {verdict}; held-out "
            f"{retrained['metric']} {format_number(retrained['score'])} (champion before: "
            f"{format_number(retrained['previous_champion_score'])})",
            f"- MLflow retrain run: {retrained['run_url']}",
            f"- Champion: `models:/{project}@champion` (version {retrained['champion_version']})",
        ]
    lines.append(f"- MLflow tracking URI: `{store.tracking_uri}`")
    create_markdown_artifact(
        markdown="\n".join(lines),
        key=artifact_key(project, "nightly"),
        description=f"Nightly search of {project}",
    )
