"""The search spec: a whole search as data, and the flow that runs one.

A ``SearchSpec`` names the hypermodel and the data loader by import path,
the tuner and its arguments, the objective, the budgets and where the trials
are tracked. The CLI reads it from YAML (``hyperflow search spec.yaml``); the
deployed flows take it as their parameter, so the Prefect UI shows it as a
form with defaults and validation.

Import paths are ``package.module:attr`` (imported as usual, from
``sys.path``) or ``path/to/file.py:attr`` (loaded from the file, for scripts
outside any package such as ``examples/digits.py``). A relative file path is
resolved once, when the spec is validated, against the current directory of
the process that validates it (the directory ``hyperflow`` runs in, or where
``hyperflow serve`` was started for a deployed flow), and the spec then holds
the absolute path. A bad spec raises a ``pydantic.ValidationError`` (the CLI
prints it as a ``SpecError``) naming the field, before anything runs.

Example::

    # deployments/specs/digits.yaml
    project_name: digits
    hypermodel: examples/digits.py:build_model
    data: examples/digits.py:load
    tuner: BayesianOptimization
    objective: val_accuracy
    max_trials: 10
    epochs: 5
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

if TYPE_CHECKING:
    from tuning.tuners import Tuner

__all__ = [
    "ChampionSpec",
    "objective_names",
    "SPEC_FILE",
    "artifact_key",
    "SearchSpec",
    "SpecError",
    "build_tuner",
    "load_data",
    "load_object",
    "load_spec",
    "run_spec_search",
    "search_spec_flow",
]

# The spec of a search, as a JSON artifact of its parent MLflow run (read by retrain).
SPEC_FILE = "spec.json"

TunerName = Literal["RandomSearch", "GridSearch", "BayesianOptimization", "Hyperband"]

# Tuner arguments the spec sets through its own fields.
_OWN_FIELDS = {
    "hypermodel",
    "objective",
    "max_trials",
    "seed",
    "executions_per_trial",
    "max_concurrent_trials",
    "project_name",
    "directory",
    "tracking_uri",
    "overwrite",
}


class SpecError(ValueError):
    """A search spec that cannot be read or is invalid; the message names the fields."""


# Import paths ---------------------------------------------------------------------------


def _split(path: str) -> tuple[str, str]:
    module, sep, attr = path.rpartition(":")
    if not sep or not module or not attr:
        raise ValueError(
            f"{path!r} is not an import path: write 'package.module:attr' or 'path/file.py:attr'."
        )
    return module, attr


def _is_file(module: str) -> bool:
    return module.endswith(".py") or "/" in module or os.sep in module


def resolve_import_path(path: str) -> str:
    """``path`` with a file part made absolute (against the current directory); else as is.

    Raises:
        ValueError: Not of the form ``module:attr``, or the file does not exist.
    """
    module, attr = _split(path.strip())
    if not _is_file(module):
        return f"{module}:{attr}"
    file = Path(module).expanduser().resolve()
    if not file.is_file():
        raise ValueError(f"file {module!r} not found (looked for {file}).")
    return f"{file}:{attr}"


def load_object(path: str) -> Any:
    """The object an import path names: ``package.module:attr`` or ``file.py:attr``.

    A file is loaded as a module named after it (``hyperflow_spec_<stem>_<hash>``),
    once per process, and registered with cloudpickle to be pickled by value,
    so that worker processes need not import it.

    Raises:
        ValueError: The module, the file or the attribute cannot be found or
            fails to import (the message says which and why).
    """
    module_name, attr = _split(path.strip())
    file = Path(module_name).expanduser().resolve() if _is_file(module_name) else None
    if file is not None and not file.is_file():
        raise ValueError(f"file {module_name!r} not found (looked for {file}).")
    try:
        module = _load_file(file) if file is not None else importlib.import_module(module_name)
    except Exception as error:
        raise ValueError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from error
    target: Any = module
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ValueError(f"{module_name!r} has no attribute {attr!r}.")
        target = getattr(target, part)
    return target


def _load_file(file: Path) -> Any:
    digest = hashlib.sha256(str(file).encode()).hexdigest()[:8]
    name = f"hyperflow_spec_{file.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    loader_spec = importlib.util.spec_from_file_location(name, file)
    if loader_spec is None or loader_spec.loader is None:
        raise ValueError(f"{str(file)!r} is not a Python file.")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    import cloudpickle

    cloudpickle.register_pickle_by_value(module)
    return module


# The spec -------------------------------------------------------------------------------


class ChampionSpec(BaseModel):
    """How the retrain flow picks its champion from a multi-objective search's Pareto front."""

    model_config = ConfigDict(extra="forbid", title="Champion rule")

    metric: str = Field(
        min_length=1, description="The objective the champion is best at, e.g. val_accuracy."
    )
    limits: dict[str, float] = Field(
        default_factory=dict,
        description=(
            "Bounds on other objectives: at most this for a minimised one, at least this "
            "for a maximised one, e.g. {val_loss: 0.3}."
        ),
    )


class SearchSpec(BaseModel):
    """A hyperparameter search, as data: what to tune, on which data, with which budget."""

    model_config = ConfigDict(extra="forbid", title="Search spec")

    project_name: str = Field(
        min_length=1,
        description="The project: MLflow experiment, registered model and flow run name.",
    )
    hypermodel: str = Field(
        description=(
            "Import path of a build_model(hp) function, a HyperModel class (built without "
            "arguments) or instance: 'package.module:attr' or 'path/file.py:attr'."
        ),
        examples=["examples/digits.py:build_model"],
    )
    data: str = Field(
        description=(
            "Import path of a function load() returning ((x_train, y_train), (x_val, y_val), "
            "(x_test, y_test)); the test split is held out for the retrain flow."
        ),
        examples=["examples/digits.py:load"],
    )
    objective: str | list[str | dict[str, str]] = Field(
        "val_accuracy",
        description=(
            "The metric to optimise, or a list of them ({name: ..., direction: min} where "
            "the direction cannot be inferred): with tuner_args {multi_objective: pareto} "
            "the search looks for their Pareto front."
        ),
    )
    direction: Literal["min", "max"] | None = Field(
        None,
        description="'min' or 'max' of a single objective; inferred from its name when empty.",
    )
    tuner: TunerName = Field(
        "BayesianOptimization",
        description="The tuner: RandomSearch, GridSearch, BayesianOptimization or Hyperband.",
    )
    tuner_args: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "More arguments of the tuner, e.g. {num_initial_points: 3} or {max_epochs: 9, "
            "factor: 3} for Hyperband."
        ),
    )
    champion: ChampionSpec | None = Field(
        None,
        description=(
            "With several objectives: the retrain flow retrains the Pareto front's trial "
            "best at champion.metric within champion.limits (default: best at the first "
            "objective, no limits)."
        ),
    )
    max_trials: int | None = Field(10, ge=1, description="The most trials to run.")
    epochs: int = Field(
        5, ge=1, description="Epochs per trial (Hyperband: its max_epochs unless set)."
    )
    batch_size: int = Field(32, ge=1, description="Batch size for fit().")
    executions_per_trial: int = Field(1, ge=1, description="Models trained per trial, averaged.")
    max_concurrent_trials: int = Field(1, ge=1, description="Trials that train at once.")
    directory: str = Field(
        "hyperflow_results",
        min_length=1,
        validate_default=True,
        description="Where the default MLflow store (SQLite) lives; made absolute.",
    )
    tracking_uri: str | None = Field(
        None, description="An MLflow tracking URI; default MLFLOW_TRACKING_URI, else SQLite."
    )
    seed: int | None = Field(1, description="Makes the search repeatable.")
    overwrite: bool = Field(
        True, description="True starts a new search; False resumes the project's last one."
    )
    verbose: int = Field(1, ge=0, le=2, description="fit()'s verbosity; 0 also hides progress.")

    @field_validator("objective")
    @classmethod
    def _objectives(cls, value: Any) -> Any:
        from tuning.objective import create_objective

        try:
            create_objective(_objective_argument(value))
        except (TypeError, ValueError, KeyError) as error:
            raise ValueError(str(error)) from error
        return value

    @field_validator("champion")
    @classmethod
    def _champion_names_objectives(
        cls, value: ChampionSpec | None, info: ValidationInfo
    ) -> ChampionSpec | None:
        objective = info.data.get("objective")
        if value is None or objective is None:
            return value
        names = objective_names(objective)
        if len(names) < 2:
            raise ValueError("champion is for a search of several objectives; it has one.")
        unknown = sorted({value.metric, *value.limits} - set(names))
        if unknown:
            raise ValueError(f"names {unknown}, which are not among the objectives {names}.")
        return value

    @field_validator("hypermodel", "data")
    @classmethod
    def _importable(cls, value: str) -> str:
        value = resolve_import_path(value)
        load_object(value)
        return value

    @field_validator("hypermodel")
    @classmethod
    def _is_hypermodel(cls, value: str) -> str:
        from tuning.hypermodel import HyperModel

        target = load_object(value)
        if isinstance(target, type) and not issubclass(target, HyperModel):
            raise ValueError(f"{value!r} is a class but not a HyperModel.")
        if not (isinstance(target, HyperModel) or callable(target)):
            raise ValueError(
                f"{value!r} is a {type(target).__name__}, not a build_model(hp) function "
                "or a HyperModel."
            )
        return value

    @field_validator("data")
    @classmethod
    def _is_loader(cls, value: str) -> str:
        if not callable(load_object(value)):
            raise ValueError(f"{value!r} is not a function load().")
        return value

    @field_validator("directory")
    @classmethod
    def _absolute_directory(cls, value: str) -> str:
        return str(Path(value).expanduser().resolve())

    @field_validator("tracking_uri")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("tuner_args")
    @classmethod
    def _tuner_accepts_args(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("tuner")
        if name is None:  # the tuner itself is invalid and reported
            return value
        tuner_class = _tuner_class(name)
        accepted = _accepted_args(tuner_class) - set(_OWN_FIELDS)
        for key in value:
            if key in _OWN_FIELDS:
                raise ValueError(f"{key!r} is set by the spec's own field {key!r}, not here.")
            if key not in accepted:
                raise ValueError(
                    f"{name} has no argument {key!r}; it takes {', '.join(sorted(accepted))}."
                )
        objective = info.data.get("objective")
        objective = None if objective is None else _objective_argument(objective)
        try:
            tuner_class(None, project_name="spec-validation", objective=objective, **value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} rejects them: {error}") from error
        return value


def _tuner_class(name: str) -> type[Tuner]:
    import tuning.tuners

    return getattr(tuning.tuners, name)


def _accepted_args(cls: type) -> set[str]:
    from tuning.tuners import Tuner

    names: set[str] = set()
    for klass in (cls, Tuner):
        for parameter in inspect.signature(klass.__init__).parameters.values():
            if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                names.add(parameter.name)
    return names - {"self", "oracle"}


def _objective_argument(objective: str | list[str | dict[str, str]]) -> Any:
    """The spec's objective as a tuner's ``objective=`` argument."""
    from tuning.objective import Objective

    if isinstance(objective, str):
        return objective
    return [o if isinstance(o, str) else Objective(o["name"], o["direction"]) for o in objective]


def objective_names(objective: str | list[str | dict[str, str]]) -> list[str]:
    """The metric names of a spec's objective."""
    if isinstance(objective, str):
        return [objective]
    return [o if isinstance(o, str) else o["name"] for o in objective]


def _make_tuner(spec: SearchSpec, hypermodel: Any) -> Tuner:
    from tuning.objective import Objective

    cls = _tuner_class(spec.tuner)
    objective: Any = (
        Objective(spec.objective, spec.direction)
        if spec.direction and isinstance(spec.objective, str)
        else _objective_argument(spec.objective)
    )
    args: dict[str, Any] = {
        "objective": objective,
        "seed": spec.seed,
        "executions_per_trial": spec.executions_per_trial,
        "max_concurrent_trials": spec.max_concurrent_trials,
        "project_name": spec.project_name,
        "directory": spec.directory,
        "tracking_uri": spec.tracking_uri,
        "overwrite": spec.overwrite,
        "max_trials": spec.max_trials,
    }
    if spec.tuner == "Hyperband":
        args["max_epochs"] = spec.epochs
    args.update(spec.tuner_args)
    return cls(hypermodel, **args)


def load_spec(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> SearchSpec:
    """Reads and validates a spec from a YAML (or JSON) file.

    Args:
        path: The file.
        overrides: Fields to set over the file's values.

    Raises:
        SpecError: The file is missing or unreadable, or the spec is invalid;
            the message names every offending field.
    """
    import yaml

    file = Path(path)
    if not file.is_file():
        raise SpecError(f"Spec file {str(path)!r} not found.")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SpecError(f"Cannot read spec file {str(path)!r}: {error}") from error
    if not isinstance(data, dict):
        raise SpecError(f"Spec file {str(path)!r} must hold a mapping of fields.")
    return validate_spec({**data, **(overrides or {})}, source=str(path))


def validate_spec(data: Any, source: str | None = None) -> SearchSpec:
    """``SearchSpec.model_validate(data)``, its errors turned into one readable ``SpecError``."""
    if isinstance(data, SearchSpec):
        return data
    try:
        return SearchSpec.model_validate(data)
    except ValidationError as error:
        where = f" {source}" if source else ""
        raise SpecError(f"Invalid search spec{where}:\n{format_errors(error)}") from None


def format_errors(error: ValidationError) -> str:
    """One line per problem: ``  field: message (got value)``."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "spec"
        message = str(item["msg"]).removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if isinstance(got, dict) or item["type"] == "missing" else f" (got {got!r})"
        lines.append(f"  {field}: {message}{shown}")
    return "\n".join(lines)


def artifact_key(name: str, suffix: str) -> str:
    """A Prefect artifact key for a project: lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-") or "project"
    return f"{slug}-{suffix}"


# Running a spec -------------------------------------------------------------------------


def build_tuner(spec: SearchSpec) -> Tuner:
    """The tuner a spec describes, its hypermodel loaded (a HyperModel class is instantiated)."""
    hypermodel = load_object(spec.hypermodel)
    if isinstance(hypermodel, type):
        hypermodel = hypermodel()
    return _make_tuner(spec, hypermodel)


def load_data(spec: SearchSpec) -> tuple[tuple[Any, Any], tuple[Any, Any], tuple[Any, Any]]:
    """Calls the spec's data loader and checks the shape of what it returns.

    Raises:
        SpecError: The loader does not return three ``(x, y)`` pairs.
    """
    splits = load_object(spec.data)()
    try:
        (x_train, y_train), (x_val, y_val), (x_test, y_test) = splits
    except (TypeError, ValueError) as error:
        raise SpecError(
            f"data: {spec.data} must return ((x_train, y_train), (x_val, y_val), "
            f"(x_test, y_test)); it returned {type(splits).__name__}: {error}"
        ) from error
    return (x_train, y_train), (x_val, y_val), (x_test, y_test)


def run_spec_search(spec: SearchSpec, tuner: Tuner | None = None) -> dict[str, Any]:
    """Runs the search ``spec`` describes and records the spec on its parent MLflow run.

    Args:
        spec: The search.
        tuner: A tuner built by ``build_tuner(spec)`` and prepared (warm-started,
            say); a new one when None.

    Returns:
        ``project_name``, ``search_run_id``, ``experiment_id``, ``tracking_uri``,
        ``trials``, ``completed``, ``best_trial_id``, ``best_score``,
        ``best_values`` and ``search_url`` (the parent run in the MLflow UI).
    """
    tuner = tuner or build_tuner(spec)
    (x, y), validation, _ = load_data(spec)
    try:
        tuner.search(
            x,
            y,
            epochs=spec.epochs,
            batch_size=spec.batch_size,
            validation_data=validation,
            verbose=spec.verbose,
        )
    finally:
        if tuner.search_run_id is not None:
            tuner.store.runs.log_dict(tuner.search_run_id, spec.model_dump(mode="json"), SPEC_FILE)
    best = tuner.oracle.get_best_trials(1)
    completed = [t for t in tuner.oracle.trials.values() if t.status.value == "COMPLETED"]
    return {
        "project_name": spec.project_name,
        "search_run_id": tuner.search_run_id,
        "experiment_id": tuner.store.experiment_id,
        "tracking_uri": tuner.store.tracking_uri,
        "trials": len(tuner.oracle.trials),
        "completed": len(completed),
        "best_trial_id": best[0].trial_id if best else None,
        "best_score": best[0].score if best else None,
        "best_values": best[0].values if best else None,
        "search_url": tuner.store.connection.run_url(tuner.search_run_id),  # type: ignore[arg-type]
    }


@flow(
    name="hyperflow-search-spec",
    flow_run_name="search-{spec.project_name}",
    persist_result=False,
)
def search_spec_flow(spec: SearchSpec) -> dict[str, Any]:
    """Runs the hyperparameter search a spec describes; every trial is an MLflow run.

    The trials run in the nested flow run ``hyperflow-search``, four tasks per
    trial. The spec is saved on the search's MLflow run, so that the retrain
    flow can rebuild the best model.

    Args:
        spec: What to tune (hypermodel and data loader by import path), with
            which tuner and budget, and where the trials are tracked.

    Returns:
        The search's summary: its MLflow run, trial counts, best trial and score.
    """
    return run_spec_search(spec)
