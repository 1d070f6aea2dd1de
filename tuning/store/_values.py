"""Names and value helpers of the trial store: tags, artifact names, MLflow-safe params.

Nothing here talks to MLflow; the entity helpers import MLflow on first use.
"""

from __future__ import annotations

import json
import logging
import math
import posixpath
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

_logger = logging.getLogger(__name__)

# Tags (namespaced, see STYLE.md).
TAG_KIND = "hyperflow.kind"
TAG_PROJECT = "hyperflow.project"
TAG_TUNER = "hyperflow.tuner"
TAG_STATE = "hyperflow.state"
TAG_BEST_TRIAL_ID = "hyperflow.best_trial_id"
TAG_TRIAL_ID = "hyperflow.trial_id"
TAG_ATTEMPT = "hyperflow.attempt"
TAG_STATUS = "hyperflow.status"
TAG_STOP_REASON = "hyperflow.stop_reason"
TAG_PRUNING_REFERENCE = "hyperflow.pruning_reference"
TAG_ERROR = "hyperflow.error"
TAG_MODEL_URI = "hyperflow.model_uri"
# On a trial's run: "true" when it is on its search's Pareto front; on a search's run: the
# front's trial ids, comma-separated.
TAG_PARETO = "hyperflow.pareto_front"
TAG_PARENT_RUN_ID = "mlflow.parentRunId"
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # a logged model's registered versions
# An experiment's kind: MLflow 3's UI shows one without it as a GenAI experiment (traces),
# and one of this kind with its runs table.
TAG_EXPERIMENT_KIND = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
KIND_SEARCH = "search"
KIND_TRIAL = "trial"

# Artifact names.
SEARCH_SPACE_FILE = "search_space.json"
LEADERBOARD_FILE = "leaderboard.json"
TRIAL_RECORD_FILE = "trial.json"
ERROR_FILE = "error.txt"
STATE_DIR = "state"

# MLflow's limits (mlflow.utils.validation, MLflow >= 2.x).
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
ERROR_TAG_LENGTH = 500
_VALID_KEY = re.compile(r"^[/\w.\- :]*$")
_INVALID_KEY_CHARS = re.compile(r"[^/\w.\- :]")
_RUN_ID = re.compile(r"^[\w\-]+$")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _json_default(value: Any) -> Any:
    """Converts numpy scalars and arrays (what Keras metrics often are) for JSON."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")


def _to_json(data: Any) -> str:
    return json.dumps(data, indent=1, default=_json_default)


def _is_finite_number(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _safe_key(key: Any) -> str | None:
    """An MLflow-valid param/metric/tag key for ``key``, or None if none can be made."""
    key = _INVALID_KEY_CHARS.sub("_", str(key))
    key = re.sub(r"/{2,}", "/", key).strip("/")
    if not key or len(key) > MAX_KEY_LENGTH or not _VALID_KEY.match(key):
        return None
    normalized = posixpath.normpath(key)
    if normalized != key or normalized == "." or normalized.startswith(".."):
        return None
    return key


def _param_value(value: Any) -> str:
    text = (
        value
        if isinstance(value, str)
        else (
            json.dumps(value, default=str) if isinstance(value, (list, tuple, dict)) else str(value)
        )
    )
    return text[:MAX_PARAM_VALUE_LENGTH]


def _flatten(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested mappings as ``("outer/inner", value)`` pairs; empty mappings are dropped."""
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{name}/")
        elif not (isinstance(value, Mapping) and not value):
            yield name, value


def _params(values: Mapping[str, Any]) -> list[Any]:
    """MLflow ``Param`` entities for ``values`` (flattened, safe keys, first key wins)."""
    from mlflow.entities import Param

    params: dict[str, str] = {}
    for name, value in _flatten(values):
        key = _safe_key(name)
        if key is None:
            _logger.warning("Hyperflow: param %r has no valid MLflow key; not logged.", name)
            continue
        params.setdefault(key, _param_value(value))
    return [Param(k, v) for k, v in params.items()]


def _tags(tags: Mapping[str, Any]) -> list[Any]:
    """MLflow ``RunTag`` entities for ``tags``, values stringified and truncated."""
    from mlflow.entities import RunTag

    return [RunTag(k, str(v)[:MAX_TAG_VALUE_LENGTH]) for k, v in tags.items()]


def _run_id_literal(run_id: str) -> str:
    """``run_id`` quoted for an MLflow filter string (run ids are hex, nothing to escape)."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise ValueError(f"Not an MLflow run id: {run_id!r}.")
    return f"'{run_id}'"


def _status_name(status: Any, allowed: Iterable[str]) -> str:
    """A status (an enum member or its name, any case) as an upper-case name among ``allowed``.

    Raises:
        ValueError: It is not one of ``allowed``.
    """
    name = str(getattr(status, "value", status)).upper()
    if name not in allowed:
        raise ValueError(f"status must be one of {', '.join(allowed)}, got {name!r}.")
    return name
