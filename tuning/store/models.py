"""Models of the project's runs: logged MLflow models, loaded back, registered, aliased.

Everything goes through the store's own client: ``mlflow.<flavor>.log_model``,
``mlflow.register_model`` and ``models:/`` URIs given to ``mlflow.<flavor>.load_model``
would use MLflow's global tracking URI and active experiment instead.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuning.store._values import MODEL_VERSIONS_TAG, TAG_MODEL_URI
from tuning.store.connection import configure_mlflow

if TYPE_CHECKING:
    from tuning.store.connection import MlflowConnection

__all__ = ["FLAVORS", "ModelStore"]

#: The MLflow model flavors the store logs and loads.
FLAVORS = ("keras", "sklearn")


def _flavor_module(flavor: str) -> Any:
    """``mlflow.keras`` or ``mlflow.sklearn``; ValueError for anything else."""
    if flavor not in FLAVORS:
        raise ValueError(f"flavor must be one of {', '.join(FLAVORS)}, got {flavor!r}.")
    import importlib

    configure_mlflow()  # telemetry off and loggers quiet before MLflow's first import

    return importlib.import_module(f"mlflow.{flavor}")


def _keras_requirements() -> list[str]:
    """Pinned requirements of a logged Keras model (MLflow would spend seconds inferring them)."""
    from importlib.metadata import PackageNotFoundError, version

    requirements = []
    for package in ("keras", "tensorflow"):
        try:
            requirements.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return requirements


def _sklearn_save_options(model: Any) -> dict[str, Any]:
    """``mlflow.sklearn.save_model`` options: pinned requirements and, with skops, trusted types.

    skops (MLflow's safe default format) refuses to load types it does not
    know, a random forest's trees among them; the estimator was trained by
    this process, so its own types are trusted.
    """
    import inspect

    import mlflow.sklearn

    if "skops_trusted_types" not in inspect.signature(mlflow.sklearn.save_model).parameters:
        return {"pip_requirements": mlflow.sklearn.get_default_pip_requirements(True)}
    import skops.io

    return {
        "serialization_format": "skops",
        "skops_trusted_types": skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        "pip_requirements": mlflow.sklearn.get_default_pip_requirements(include_skops=True),
    }


def _save_options(flavor: str, model: Any) -> dict[str, Any]:
    """The flavor's ``save_model`` options beyond the model, its path and its signature."""
    if flavor == "keras":
        return {"pip_requirements": _keras_requirements()}
    return _sklearn_save_options(model)


def _signature(flavor: str, model: Any, input_example: Any) -> Any:
    """The model signature inferred from ``input_example`` and the model's prediction on it."""
    if input_example is None:
        return None
    from mlflow.models import infer_signature

    # Keras prints a progress bar per predict call unless told not to.
    options = {"verbose": 0} if flavor == "keras" else {}
    return infer_signature(input_example, model.predict(input_example, **options))


class ModelStore:
    """Logs models of runs as MLflow logged models, loads them and manages the registry.

    Holds nothing but its connection, so it pickles as configuration.

    Args:
        connection: The project's (shared) connection.
    """

    def __init__(self, connection: MlflowConnection) -> None:
        self.connection = connection

    def __repr__(self) -> str:
        return f"ModelStore({self.connection!r})"

    def log_model(
        self,
        run_id: str,
        model: Any,
        flavor: str,
        input_example: Any = None,
        name: str = "model",
    ) -> str:
        """Logs a model as an MLflow model of the run, in the ``keras`` or ``sklearn`` flavor.

        The model is a logged model of the project's experiment (its files under
        ``models/m-<id>/`` of the experiment's artifact location), recorded as
        an output of the run, with pinned pip requirements (nothing inferred):
        the installed Keras and TensorFlow for ``keras``, scikit-learn (and
        skops) for ``sklearn``, where the estimator is serialized with skops
        when MLflow supports it, trusting the estimator's own types. Its URI is
        also the run's tag ``hyperflow.model_uri``. A model whose files cannot be
        saved is left FAILED and the error raised.

        Args:
            run_id: The run (a trial's, a retrain's) the model belongs to.
            model: A built ``keras.Model`` or a fitted scikit-learn estimator.
            flavor: ``"keras"`` or ``"sklearn"``.
            input_example: A small batch of inputs (a numpy array); when given,
                the signature is inferred from it and the model's prediction
                on it. Retrained Keras models are logged with one.
            name: The logged model's name.

        Returns:
            The model's URI, ``models:/<model_id>``.

        Raises:
            ValueError: ``flavor`` is neither ``"keras"`` nor ``"sklearn"``.
        """
        module = _flavor_module(flavor)
        from mlflow.entities import LoggedModelOutput, LoggedModelStatus
        from mlflow.models import Model

        connection = self.connection
        signature = _signature(flavor, model, input_example)
        logged = connection.call(
            "create_logged_model", connection.experiment_id, name=name, source_run_id=run_id
        )
        try:
            with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
                path = os.path.join(tmp, "model")
                module.save_model(
                    model,
                    path,
                    mlflow_model=Model(
                        artifact_path=logged.artifact_location,
                        run_id=run_id,
                        model_uuid=logged.model_id,
                        model_id=logged.model_id,
                    ),
                    signature=signature,
                    **_save_options(flavor, model),
                )
                connection.call("log_model_artifacts", logged.model_id, path)
            connection.call("log_outputs", run_id, [LoggedModelOutput(logged.model_id, step=0)])
        except Exception:
            connection.call("finalize_logged_model", logged.model_id, LoggedModelStatus.FAILED)
            raise
        connection.call("finalize_logged_model", logged.model_id, LoggedModelStatus.READY)
        uri = f"models:/{logged.model_id}"
        connection.set_tags(run_id, {TAG_MODEL_URI: uri})
        return uri

    def load_model(self, uri_or_run_id: str, flavor: str) -> Any:
        """Loads a model that ``log_model`` logged, resolved through this store.

        Args:
            uri_or_run_id: ``models:/<model_id>`` (as ``log_model`` returned),
                ``models:/<name>@<alias>``, ``models:/<name>/<version>``, or a
                run's id (its tag ``hyperflow.model_uri`` names the model).
            flavor: ``"keras"`` or ``"sklearn"``.

        Returns:
            The ``keras.Model`` or the fitted estimator.

        Raises:
            ValueError: The run has no model from ``log_model``, the URI is not
                a ``models:/`` URI, or ``flavor`` is unknown.
            mlflow.exceptions.MlflowException: No such model, version or alias.
        """
        module = _flavor_module(flavor)
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        uri = uri_or_run_id
        if ":" not in uri:  # a run id
            uri = self.connection.call("get_run", uri).data.tags.get(TAG_MODEL_URI) or ""
            if not uri:
                raise ValueError(f"Run {uri_or_run_id!r} has no model from log_model.")
        location = self._location(uri)
        repo = get_artifact_repository(location, tracking_uri=self.connection.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="hyperflow-") as tmp:
            return module.load_model(self.connection.retry(repo.download_artifacts, "", tmp))

    def _location(self, model_uri: str) -> str:
        """Where a ``models:/`` URI's files are (registry URIs asked of this store)."""
        rest = model_uri.removeprefix("models:/")
        if rest == model_uri or not rest:
            raise ValueError(
                f"uri_or_run_id must be a run id or a models:/ URI, got {model_uri!r}."
            )
        if "@" in rest:
            name, alias = rest.split("@", 1)
            version = self.connection.call("get_model_version_by_alias", name, alias)
        elif "/" in rest:
            name, number = rest.rsplit("/", 1)
            version = self.connection.call("get_model_version", name, number)
        else:
            return self.connection.call("get_logged_model", rest).artifact_location
        if version.source.startswith("models:/"):  # registered by another client
            return self._location(version.source)
        return version.source

    # The registry --------------------------------------------------------------------------

    def register(
        self, name: str, model_uri: str, run_id: str, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Registers a logged model as a new version of the registered model ``name``.

        The registered model is created on first use. Nothing is printed (MLflow's
        ``register_model`` prints to stderr).

        Args:
            name: The registered model's name (Hyperflow uses the project name).
            model_uri: ``models:/<model_id>``, as ``log_model`` returned.
            run_id: The run that produced the model.
            tags: Tags of the new version (its held-out scores, say).

        Returns:
            The new version's number, as a string (``"1"``).
        """
        from mlflow.exceptions import MlflowException

        connection = self.connection
        try:
            connection.call("create_registered_model", name)
        except MlflowException as error:
            if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
                raise
        # The model's files, not its models:/ URI: a registry on SQLite would resolve
        # that URI with MLflow's global tracking URI rather than this store's.
        model_id = model_uri.removeprefix("models:/")
        version = connection.call(
            "create_model_version",
            name,
            source=self._location(model_uri),
            run_id=run_id,
            tags={k: str(v) for k, v in (tags or {}).items()},
            model_id=model_id,
        )
        # What mlflow.register_model adds: the logged model's page lists its versions.
        # A tracking server lists the version itself (its number as an int): once is enough.
        number = str(version.version)
        logged = connection.call("get_logged_model", model_id)
        versions = json.loads(logged.tags.get(MODEL_VERSIONS_TAG) or "[]")
        if not any(v.get("name") == name and str(v.get("version")) == number for v in versions):
            versions.append({"name": name, "version": number})
            connection.call(
                "set_logged_model_tags", model_id, {MODEL_VERSIONS_TAG: json.dumps(versions)}
            )
        return number

    def version(self, name: str, alias: str = "champion") -> dict[str, Any] | None:
        """The version of ``name`` that holds ``alias``, or None when none does.

        Returns:
            A dict with ``version``, ``model_uri`` (``models:/<name>/<version>``),
            ``run_id`` and ``tags``.
        """
        from mlflow.exceptions import MlflowException

        try:
            version = self.connection.call("get_model_version_by_alias", name, alias)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        return {
            "version": str(version.version),
            "model_uri": f"models:/{name}/{version.version}",
            "run_id": version.run_id,
            "tags": dict(version.tags or {}),
        }

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Points ``alias`` (``"champion"``) of the registered model ``name`` at ``version``."""
        self.connection.call("set_registered_model_alias", name, alias, str(version))
