"""The retrain flow: the best trial of a search, trained on all training data and registered.

Steps, each recorded in MLflow:

1. Find the search: the project's latest finished search, or the parent run
   given. Read its spec (``spec.json``, saved by the search-spec flow) and its
   state, and pick the best COMPLETED trial. With several objectives, pick
   from the Pareto front by the spec's ``champion`` rule: the front's trial
   best at ``champion.metric`` among those within ``champion.limits``
   (default: best at the first objective).
2. Rebuild the best model exactly as the trial built it (the spec's tuner:
   its compile overrides, ``max_model_size``, distribution strategy,
   ``executions_per_trial`` and the trial's own seed, through the tuner's
   ``TrialExecutor``) and train it on train + validation data for the best
   trial's epoch count (its best step + 1).
3. Evaluate it on the held-out test split: the objective's metric (the rule's
   ``metric`` with several) without its ``val_`` prefix (``val_accuracy`` ->
   ``accuracy``). A model that does not
   report that metric is an error, before anything is logged.
4. Log a run (``hyperflow.kind = retrain``, linked to the search by the tag
   ``hyperflow.search_run_id``) with the values, the epochs, the training
   curve and the test metrics; log the model with MLflow's Keras flavor and a
   signature; register it as a new version of the model named after the project.
5. Move the alias ``champion`` to the new version only if it beats the current
   champion, evaluated now on the same held-out data (ties keep the champion);
   the first version becomes champion.
"""

from __future__ import annotations

import math
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from flows.spec import (
    SPEC_FILE,
    SearchSpec,
    SpecError,
    artifact_key,
    build_tuner,
    load_data,
    validate_spec,
)
from tuning.objective import Objective, create_objective
from tuning.pareto import ChampionRule, choose_from_front
from tuning.search_engine import trial_seed
from tuning.store import MlflowConnection, TrialStore
from tuning.trial import Trial, TrialStatus

__all__ = ["CHAMPION", "format_number", "retrain_flow"]

CHAMPION = "champion"
KIND_RETRAIN = "retrain"
TAG_SEARCH_RUN_ID = "hyperflow.search_run_id"


@flow(name="hyperflow-retrain", flow_run_name="retrain-{project_name}", persist_result=False)
def retrain_flow(
    project_name: str | None = None,
    search_run_id: str | None = None,
    directory: str = "hyperflow_results",
    tracking_uri: str | None = None,
    spec: SearchSpec | None = None,
) -> dict[str, Any]:
    """Retrains a search's best model on all training data and registers it in MLflow.

    The alias ``champion`` moves to the new version only if it beats the
    current champion on the same held-out data.

    Args:
        project_name: The project whose latest finished search is retrained;
            may be empty when search_run_id is given.
        search_run_id: A search's parent MLflow run id, to retrain that search.
        directory: Where the project's default MLflow store (SQLite) lives.
        tracking_uri: An MLflow tracking URI, overriding directory.
        spec: Overrides the spec saved with the search (its data loader, say).

    Returns:
        The new version, its held-out score, the champion before and after.

    Raises:
        ValueError: Neither a project nor a search is given, the project has
            no finished search, the search has no completed trial, or the
            retrained model does not report the objective's metric on the
            test split.
        SpecError: The search has no saved spec and none is given, or the spec
            is invalid.
    """
    if not project_name and not search_run_id:
        raise ValueError("Give project_name or search_run_id: which search to retrain.")
    if not project_name:
        project_name = MlflowConnection.project_of(search_run_id, directory, tracking_uri)  # type: ignore[arg-type]
    store = TrialStore(project_name, directory, tracking_uri)
    search_run_id = search_run_id or _latest_finished_search(store)
    spec = _spec(store, search_run_id, spec)
    state = store.state.load(search_run_id)
    if state is None:
        raise ValueError(f"Search {search_run_id} of {project_name!r} saved no state.")
    objective = create_objective(state["config"]["objective"])
    best, objective = _best_trial(state, objective, search_run_id, spec)
    seed = trial_seed(state["config"]["seed"], best.trial_id, _attempt(store, search_run_id, best))
    epochs = best.best_step + 1 if best.best_step is not None else spec.epochs
    logger = get_run_logger()
    logger.info(
        "Retraining trial %s of search %s for %d epochs on train + validation data.",
        best.trial_id,
        search_run_id,
        epochs,
    )
    trained, test = _train(spec, best, seed, epochs)
    metric, direction = objective.name.removeprefix("val_"), objective.direction
    model, history = trained[0]
    test_metrics = _evaluate(model, test)
    if metric not in test_metrics:
        raise ValueError(
            f"The objective {objective.name!r} is measured on the test split as {metric!r}, "
            f"which the retrained model does not report (it reports {sorted(test_metrics)}). "
            "Compile the model with that metric, or give the tuner metrics=[...]."
        )
    run_id = store.runs.start_run(
        f"retrain-{best.trial_id}",
        KIND_RETRAIN,
        tags={
            TAG_SEARCH_RUN_ID: search_run_id,
            "hyperflow.trial_id": best.trial_id,
            "mlflow.note.content": (
                f"Trial {best.trial_id} of search [{search_run_id}]"
                f"({store.connection.run_url(search_run_id)}), retrained on train + "
                "validation data."
            ),
        },
        params={**best.values, "epochs": epochs, "batch_size": spec.batch_size, "seed": seed},
    )
    try:
        if len(trained) > 1:
            others = [_evaluate(m, test)[metric] for m, _ in trained[1:]]
            scores = [test_metrics[metric], *others]
            store.runs.log_metrics(run_id, {f"test_{metric}_mean": sum(scores) / len(scores)}, 0)
        result = _register(
            store,
            run_id,
            (model, history, test_metrics),
            test,
            metric,
            direction,
            {TAG_SEARCH_RUN_ID: search_run_id, "hyperflow.trial_id": best.trial_id},
        )
    except BaseException:
        store.connection.end_run(run_id, "FAILED")
        raise
    store.connection.end_run(run_id)
    result.update(
        project_name=project_name,
        search_run_id=search_run_id,
        trial_id=best.trial_id,
        epochs=epochs,
        executions=len(trained),
        run_id=run_id,
        run_url=store.connection.run_url(run_id),
    )
    _report(result)
    logger.info(
        "Registered %s version %s (test %s %.4f); champion: version %s.",
        project_name,
        result["version"],
        metric,
        result["score"],
        result["champion_version"],
    )
    return result


def _latest_finished_search(store: TrialStore) -> str:
    searches = store.runs.searches(("FINISHED",))
    if not searches:
        raise ValueError(
            f"Project {store.project_name!r} has no finished search in {store.tracking_uri}."
        )
    return searches[0]["run_id"]


def _spec(
    store: TrialStore, search_run_id: str, spec: SearchSpec | dict[str, Any] | None
) -> SearchSpec:
    if spec is not None:
        return validate_spec(spec)
    try:
        saved = store.runs.read_dict(search_run_id, SPEC_FILE)
    except Exception as error:
        raise SpecError(
            f"Search {search_run_id} has no {SPEC_FILE} (it was not run from a spec): "
            "pass spec= with its hypermodel and data loader."
        ) from error
    return validate_spec(saved, source=f"saved with search {search_run_id}")


def _best_trial(
    state: dict[str, Any], objective: Objective, search_run_id: str, spec: SearchSpec
) -> tuple[Trial, Objective]:
    """The trial to retrain, and the objective its champion is judged by.

    With several objectives: the Pareto front's trial the spec's champion rule picks.
    """
    trials = [Trial.from_state(t) for t in state["trials"]]
    completed = [
        t
        for t in trials
        if t.status == TrialStatus.COMPLETED and t.score is not None and math.isfinite(t.score)
    ]
    if not completed:
        raise ValueError(f"Search {search_run_id} has no completed trial to retrain.")
    objectives = getattr(objective, "objectives", None)
    if objectives is None:
        return min(completed, key=lambda t: objective.loss(float(t.score))), objective  # type: ignore[arg-type]
    champion = spec.champion
    rule = (
        ChampionRule(objectives[0].name)
        if champion is None
        else ChampionRule(champion.metric, champion.limits)
    )
    chosen = choose_from_front(completed, objective, rule)
    if chosen is None:
        raise ValueError(
            f"No trial on the Pareto front of search {search_run_id} is within the champion "
            f"rule's limits {dict(rule.limits)}."
        )
    return chosen, next(o for o in objectives if o.name == rule.metric)


def _attempt(store: TrialStore, search_run_id: str, trial: Trial) -> int:
    """The attempt of the trial's COMPLETED run (its seed depends on it)."""
    attempts = [
        run["attempt"]
        for run in store.trials.trial_runs(search_run_id)
        if run["trial_id"] == trial.trial_id and run["status"] == TrialStatus.COMPLETED.value
    ]
    return max(attempts, default=0)


def _train(
    spec: SearchSpec, trial: Trial, seed: int, epochs: int
) -> tuple[list[tuple[Any, Any]], tuple[Any, Any]]:
    """Trains the trial's models on train + validation data, as its tuner built them.

    Returns:
        ``(model, history)`` per execution, and the test split.
    """
    import numpy as np

    (x_train, y_train), (x_val, y_val), test = load_data(spec)
    try:
        x = np.concatenate([np.asarray(x_train), np.asarray(x_val)])
        y = np.concatenate([np.asarray(y_train), np.asarray(y_val)])
    except ValueError as error:
        raise SpecError(
            f"data: the retrain flow joins the train and validation splits with "
            f"numpy.concatenate, which failed: {error}"
        ) from error
    executor = build_tuner(spec).executor
    trained = executor.retrain(
        trial.hyperparameters,
        seed,
        x,
        y,
        epochs=epochs,
        batch_size=spec.batch_size,
        verbose=spec.verbose,
    )
    return trained, test


def _evaluate(model: Any, test: tuple[Any, Any]) -> dict[str, float]:
    x_test, y_test = test
    return {
        k: float(v) for k, v in model.evaluate(x_test, y_test, verbose=0, return_dict=True).items()
    }


def _beats(score: float, champion: float, direction: str) -> bool:
    """Strictly better: a tie keeps the champion."""
    return score < champion if direction == "min" else score > champion


def _register(
    store: TrialStore,
    run_id: str,
    trained: tuple[Any, Any, dict[str, float]],
    test: tuple[Any, Any],
    metric: str,
    direction: str,
    version_tags: dict[str, Any],
) -> dict[str, Any]:
    """Logs the curve, the test metrics and the model; registers it; moves the champion.

    Args:
        store: The project's store.
        run_id: The retrain run.
        trained: The model, what its fit returned and its test metrics.
        test: The held-out split.
        metric: The objective's metric on the test split.
        direction: ``"min"`` or ``"max"``.
        version_tags: Tags of the new model version.
    """
    model, history, metrics = trained
    for epoch, values in enumerate(_epochs(history)):
        store.runs.log_metrics(run_id, values, step=epoch)
    score = metrics[metric]
    store.runs.log_metrics(run_id, {f"test_{k}": v for k, v in metrics.items()}, step=0)
    model_uri = store.models.log_model(run_id, model, "keras", input_example=test[0][:5])
    name = store.project_name
    version = store.models.register(
        name, model_uri, run_id, tags={**version_tags, f"test_{metric}": score}
    )
    champion = store.models.version(name, CHAMPION)
    champion_score = None
    if champion is not None:
        champion_model = store.models.load_model(champion["model_uri"], "keras")
        champion_score = _evaluate(champion_model, test).get(metric)
    promoted = (
        champion is None
        or champion_score is None
        or not math.isfinite(champion_score)
        or _beats(score, champion_score, direction)
    )
    if promoted:
        store.models.set_alias(name, CHAMPION, version)
    store.connection.set_tags(
        run_id, {"hyperflow.model_version": version, "hyperflow.champion": str(promoted).lower()}
    )
    return {
        "model_uri": model_uri,
        "version": version,
        "metric": metric,
        "direction": direction,
        "score": score,
        "test_metrics": metrics,
        "previous_champion_version": champion["version"] if champion else None,
        "previous_champion_score": champion_score,
        "promoted": promoted,
        "champion_version": version if promoted else champion["version"],  # type: ignore[index]
    }


def _epochs(history: Any) -> list[dict[str, float]]:
    """Per-epoch metrics of a Keras ``History`` (nothing for other return values)."""
    logs = getattr(history, "history", None)
    if not isinstance(logs, dict) or not logs:
        return []
    count = max(len(v) for v in logs.values())
    return [{k: float(v[i]) for k, v in logs.items() if i < len(v)} for i in range(count)]


def _report(result: dict[str, Any]) -> None:
    """A markdown artifact ``<project>-retrain`` in the Prefect UI."""
    previous = result["previous_champion_version"]
    before = (
        "none (this version is the first)"
        if previous is None
        else f"version {previous}: {format_number(result['previous_champion_score'])}"
    )
    verdict = "promoted to `champion`" if result["promoted"] else "not promoted"
    markdown = "\n".join(
        [
            f"# Retrained {result['project_name']}: version {result['version']} {verdict}",
            "",
            f"- Trial `{result['trial_id']}` of search `{result['search_run_id']}`, "
            f"{result['epochs']} epochs on train + validation data",
            f"- Held-out test {result['metric']}: **{format_number(result['score'])}**",
            f"- Champion before: {before}",
            f"- Champion now: version {result['champion_version']}",
            f"- MLflow run: {result['run_url']}",
            f'- Load it: `mlflow.keras.load_model("models:/{result["project_name"]}@{CHAMPION}")`',
        ]
    )
    create_markdown_artifact(
        markdown=markdown,
        key=artifact_key(result["project_name"], "retrain"),
        description=f"Retrain of {result['project_name']}",
    )


def format_number(value: Any) -> str:
    """A score for a report: four decimals, or ``"n/a"``."""
    return "n/a" if value is None else f"{float(value):.4f}"
