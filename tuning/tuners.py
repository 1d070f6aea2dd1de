"""The front door: KerasTuner's tuners, each search a Prefect flow, each trial an MLflow run.

Example::

    import tuning as kt

    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5)
    tuner.search(x, y, epochs=2, validation_data=(x_val, y_val))
    best_model = tuner.get_best_models(num_models=1)[0]
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tuning import errors, heap
from tuning.hypermodel import HyperModel, get_hypermodel
from tuning.hyperparameters import HyperParameters
from tuning.oracles.base import Oracle
from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.oracles.grid_search import GridSearchOracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.oracles.random_search import RandomSearchOracle
from tuning.pruning import MedianStoppingRule
from tuning.recorder import TrialRecorder
from tuning.results import to_executions
from tuning.tracking import TrialStore
from tuning.trial import Trial, TrialStatus
from tuning.trial_spec import TrialResult, TrialSpec

__all__ = ["BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch", "Tuner"]

ISOLATIONS = ("process", "worker", "none")
WEIGHTS_ARTIFACT = "checkpoints/best.weights.h5"
BUILD_CONFIG_ARTIFACT = "build_config.json"
MODEL_CONFIG_ARTIFACT = "model_config.json"


class Tuner:
    """Runs a search: the oracle proposes, the hypermodel builds and trains, MLflow records.

    Args:
        oracle: The search algorithm, an ``Oracle``.
        hypermodel: A ``HyperModel`` or a function ``build_model(hp)``; may be
            None when ``run_trial`` is overridden.
        max_model_size: The most parameters a model may have; bigger ones fail.
        optimizer: Overrides the optimizer the model was compiled with.
        loss: Overrides the loss.
        metrics: Overrides the metrics.
        distribution_strategy: A ``tf.distribute.Strategy`` to build models under.
        directory: Where the default MLflow store lives (``mlflow.db`` and
            ``mlartifacts/``); the current directory when None.
        project_name: The MLflow experiment; ``"untitled_project"`` when None.
        tuner_id: This tuner's name among workers.
        overwrite: True starts a new search; False (the default) resumes the
            project's last one.
        executions_per_trial: Models trained per trial; their results are averaged.
        tracking_uri: An MLflow tracking URI (a shared server, say); by default
            ``MLFLOW_TRACKING_URI`` or SQLite under ``directory``.
        max_concurrent_trials: How many trials train at once.
        isolation: Where a trial trains: ``"process"`` (a fresh child process
            per trial: memory always returns and ``max_trial_time`` can stop it,
            at the price of a fork and the payload's load per trial; the
            processes fork from a zygote that imports TensorFlow once), ``"worker"``
            (long-lived child processes, one per concurrent trial) or
            ``"none"`` (in the search's own process, as KerasTuner does).
            None picks ``"none"`` for one trial at a time and ``"worker"``
            for several.
        max_trial_time: Seconds after which a trial's process is killed and
            the trial marked INVALID; needs ``isolation`` "process" or "worker".
        max_time: Seconds of wall time after which no new trial starts; the
            search then ends cleanly once the running trials have finished.
        dask_address: A Dask scheduler (``"tcp://host:8786"``) to train the
            trials on, through Prefect's Dask task runner.
        task_runner: A Prefect task runner for the train tasks, such as
            ``prefect_dask.DaskTaskRunner(...)``; overrides ``dask_address``.

    Raises:
        ValueError: An unknown keyword argument or an out-of-range value.
    """

    def __init__(
        self,
        oracle: Oracle,
        hypermodel: HyperModel | Callable[[HyperParameters], Any] | None = None,
        max_model_size: int | None = None,
        optimizer: Any = None,
        loss: Any = None,
        metrics: Any = None,
        distribution_strategy: Any = None,
        directory: str | os.PathLike | None = None,
        project_name: str | None = None,
        tuner_id: str | None = None,
        overwrite: bool = False,
        executions_per_trial: int = 1,
        tracking_uri: str | None = None,
        max_concurrent_trials: int = 1,
        isolation: str | None = None,
        max_trial_time: float | None = None,
        max_time: float | None = None,
        dask_address: str | None = None,
        task_runner: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise ValueError(
                f"Unrecognized arguments {sorted(kwargs)} for `{type(self).__name__}`."
            )
        if not isinstance(oracle, Oracle):
            raise TypeError(f"oracle must be an Oracle, got {type(oracle).__name__}.")
        if isinstance(executions_per_trial, bool) or int(executions_per_trial) < 1:
            raise ValueError(f"executions_per_trial must be >= 1, got {executions_per_trial!r}.")
        if isinstance(max_concurrent_trials, bool) or int(max_concurrent_trials) < 1:
            raise ValueError(f"max_concurrent_trials must be >= 1, got {max_concurrent_trials!r}.")
        if isolation is None:
            isolation = "none" if int(max_concurrent_trials) == 1 else "worker"
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}.")
        for name, seconds in (("max_trial_time", max_trial_time), ("max_time", max_time)):
            if seconds is not None and not seconds > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {seconds!r}.")
        if max_trial_time is not None and isolation == "none":
            raise ValueError(
                "max_trial_time needs isolation='process' or 'worker': a trial training in "
                "the search's own process cannot be stopped."
            )
        if max_model_size is not None and int(max_model_size) < 1:
            raise ValueError(f"max_model_size must be positive, got {max_model_size!r}.")
        self.oracle = oracle
        self.hypermodel = get_hypermodel(hypermodel)
        self.max_model_size = max_model_size
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.distribution_strategy = distribution_strategy
        self.directory = os.path.abspath(os.fspath(directory or "."))
        self.project_name = project_name or "untitled_project"
        self.tuner_id = tuner_id or "tuner0"
        self.overwrite = overwrite
        self.executions_per_trial = int(executions_per_trial)
        self.max_concurrent_trials = int(max_concurrent_trials)
        self.isolation = isolation
        self.max_trial_time = max_trial_time
        self.max_time = max_time
        self.dask_address = dask_address
        self.task_runner = task_runner
        self.store = TrialStore(self.project_name, self.directory, tracking_uri)
        self.search_run_id: str | None = None
        self.trial_run_ids: dict[str, str] = {}
        self._space_populated = False
        self._recorders: dict[str, Any] = {}
        self._training = 0
        self._training_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process receives: no locks, no running trials, no task runner."""
        state = self.__dict__.copy()
        state["_training_lock"] = None
        state["_recorders"] = {}
        state["task_runner"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._training_lock = threading.Lock()

    @property
    def project_dir(self) -> str:
        return os.path.join(self.directory, self.project_name)

    # The search -----------------------------------------------------------------

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Runs trials until the oracle's budget is spent or its space exhausted.

        Every argument goes to ``HyperModel.fit`` (by default ``model.fit``):
        ``x``, ``y``, ``epochs``, ``validation_data``, ``callbacks``, ...
        Callbacks are deep-copied for every execution.

        Raises:
            ValueError: A callback cannot be deep-copied.
            tuning.errors.FatalError: A trial raised one, or too many trials
                failed in a row; the trials that completed are kept.
        """
        for callback in fit_kwargs.get("callbacks") or []:
            try:
                copy.deepcopy(callback)
            except Exception as error:
                raise ValueError(
                    "All callbacks used during a search should be deep-copyable (since they "
                    f"are reused across trials). It is not possible to do "
                    f"`copy.deepcopy({callback})`: {error}"
                ) from error
        self.search_space()
        self._open()
        self.on_search_begin()
        from flows.search import run_search  # the one place tuning/ reaches up

        try:
            run_search(self, fit_args, fit_kwargs)
        finally:
            heap.thaw()
        self.on_search_end()

    def _open(self) -> None:
        """Opens this tuner's search in the store: resumes the last one or starts anew."""
        if self.search_run_id is not None:
            return
        self.store.connect()
        run_id = None if self.overwrite else self.store.latest_search()
        state = self.store.load_state(run_id) if run_id else None
        if state is None:
            self.search_run_id = self.store.start_search(
                type(self).__name__, self._search_params(), self.oracle.hyperparameters.get_config()
            )
            self.store.save_state(self.search_run_id, self.oracle.get_state())
            return
        self.search_run_id = run_id
        self.oracle.set_state(state)
        runs = self.store.trial_runs(run_id)
        self.trial_run_ids = {r["trial_id"]: r["run_id"] for r in runs}
        ongoing = {t.trial_id for t in self.oracle.ongoing_trials.values()}
        for run in runs:
            # Ended after the last saved state: replay its end instead of rerunning it.
            if run["trial_id"] in ongoing and run["status"] in _ENDED:
                record = self.store.finished_trial_record(run["run_id"])
                if record is not None:
                    self.oracle.end_trial(Trial.from_state(record))
        self.oracle.requeue_ongoing()
        self.store.kill_unfinished_trials(run_id)
        self.store.reopen_search(run_id)
        self.store.save_state(run_id, self.oracle.get_state())

    def _search_params(self) -> dict[str, Any]:
        return {
            "tuner": type(self).__name__,
            "oracle": type(self.oracle).__name__,
            **self.oracle.get_config(),
            "executions_per_trial": self.executions_per_trial,
            "max_concurrent_trials": self.max_concurrent_trials,
            "isolation": self.isolation,
            "project_name": self.project_name,
        }

    def _ensure_loaded(self) -> None:
        """Reads a finished search back from the store when this process ran none."""
        if self.search_run_id is None and not self.oracle.trials:
            self.store.connect()
            run_id = self.store.latest_search()
            state = self.store.load_state(run_id) if run_id else None
            if state is not None:
                self.search_run_id = run_id
                self.oracle.set_state(state)
                self.trial_run_ids = {
                    r["trial_id"]: r["run_id"] for r in self.store.trial_runs(run_id)
                }

    def search_space(self) -> HyperParameters:
        """The search space, learned by building the hypermodel before any trial.

        The hypermodel is built with the defaults, then once per conditional
        branch, so that every hyperparameter it declares is known (KerasTuner
        does this when a search begins). Done once; a ``run_trial`` override
        without a hypermodel reveals its space during its first trial instead.

        Returns:
            A copy of the oracle's space.
        """
        self._populate_initial_space()
        return self.oracle.get_space()

    def _populate_initial_space(self) -> None:
        if self._space_populated or self.hypermodel is None:
            return
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self._build_for_space(hp)
        explored: set[tuple[str, str]] = set()
        for _ in range(100):  # a bound: each pass activates one more branch
            branch = self._next_inactive_branch(explored)
            if branch is None:
                break
            self._build_for_space(branch)
        self._space_populated = True

    def _build_for_space(self, hp: HyperParameters) -> None:
        import keras

        keras.backend.clear_session()
        model = self._build_model(hp)
        if not self._run_trial_overridden():
            self._check_model(model)
        self.oracle.update_space(hp)

    def _next_inactive_branch(self, explored: set[tuple[str, str]]) -> HyperParameters | None:
        hp = self.oracle.get_space()
        for candidate in hp.space:
            if hp.is_active(candidate):
                continue
            for condition in candidate.conditions:
                key = (condition.name, repr(condition.values))
                if key in explored:
                    continue
                explored.add(key)
                hp.values = {**hp.values, condition.name: condition.values[0]}
                return hp
        return None

    def _run_trial_overridden(self) -> bool:
        """Whether a user's subclass replaced ``run_trial`` (and may build anything)."""
        return type(self).run_trial.__module__ != __name__

    # Training one trial (called by the train task) ---------------------------------

    def execute_trial(self, spec: TrialSpec, fit_args: tuple, fit_kwargs: dict) -> TrialResult:
        """Trains the trial ``spec`` describes; never raises for a failure of user code.

        Returns:
            The trial's result: its status, per-execution curves, error if any.
        """
        trial = Trial(HyperParameters.from_config(spec.hyperparameters), trial_id=spec.trial_id)
        if spec.artifact_uri:
            self.store.note_artifact_uri(spec.run_id, spec.artifact_uri)
        checkpoint_dir = tempfile.mkdtemp(prefix=f"hyperflow-trial-{spec.trial_id}-")
        recorder = TrialRecorder(
            self.store,
            spec.run_id,
            self.oracle.objective,
            checkpoint_dir,
            executions=self.executions_per_trial,
            seed=spec.seed,
            pruning=self.oracle.pruning,
            pruning_reference=spec.pruning_reference,
            initial_weights=self._parent_weights(spec, checkpoint_dir),
        )
        self._recorders[spec.trial_id] = recorder
        started = time.monotonic()
        status, message, error_type, executions = TrialStatus.COMPLETED, None, None, []
        self._begin_training()
        try:
            self.on_trial_begin(trial)
            results = self.run_trial(trial, *fit_args, **copy.copy(fit_kwargs))
            converted = to_executions(results, self.oracle.objective)
            recorder.log_executions(converted)
            executions = [e.to_dict() for e in converted]
            if recorder.pruned:
                status = TrialStatus.STOPPED
        except errors.FatalError as error:
            status, message, error_type = (
                TrialStatus.FAILED,
                traceback.format_exc(),
                type(error).__name__,
            )
        except errors.FailedTrialError:
            status, message = TrialStatus.FAILED, traceback.format_exc()
        except Exception:
            status, message = TrialStatus.INVALID, traceback.format_exc()
        finally:
            self._end_training()
            self._recorders.pop(spec.trial_id, None)
        weights_path = None
        try:
            if recorder.has_checkpoint:
                self.store.log_file(spec.run_id, recorder.checkpoint_path, "checkpoints")
                weights_path = WEIGHTS_ARTIFACT
            if recorder.build_config:
                self.store.log_dict(
                    spec.run_id, _jsonable(recorder.build_config), BUILD_CONFIG_ARTIFACT
                )
        finally:
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return TrialResult(
            trial_id=spec.trial_id,
            run_id=spec.run_id,
            status=status.value,
            executions=executions,
            hyperparameters=trial.hyperparameters.get_config(),
            message=message,
            error_type=error_type,
            duration_s=time.monotonic() - started,
            weights_path=weights_path,
        )

    def _parent_weights(self, spec: TrialSpec, folder: str) -> str | None:
        """The best-epoch weights of the trial this one continues (Hyperband), if it saved any."""
        parent = spec.parent_run_id
        if not parent or not self.store.has_artifact(parent, WEIGHTS_ARTIFACT):
            return None
        return self.store.download(parent, WEIGHTS_ARTIFACT, os.path.join(folder, "parent"))

    def _begin_training(self) -> None:
        with self._training_lock:
            self._training += 1

    def _end_training(self) -> None:
        with self._training_lock:
            self._training -= 1

    def _free_memory(self) -> None:
        """Clears the Keras session and collects garbage before a build.

        ``clear_session`` is process-wide, so it waits until this is the only
        trial training in the process.
        """
        import keras

        with self._training_lock:
            if self._training <= 1:
                keras.backend.clear_session(free_memory=False)  # heap.collect() does it
        heap.collect()

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """Trains ``executions_per_trial`` models for ``trial`` and returns their histories.

        Override it to tune anything: read values from ``trial.hyperparameters``
        and return a number (minimised unless an objective says otherwise), a
        dict of metrics, a Keras ``History``, or a list of these.

        Args:
            trial: The trial to run.
            *args: What ``search`` received.
            **kwargs: What ``search`` received.
        """
        from tuning.callbacks import TrialCallback

        recorder = self._recorders[trial.trial_id]
        user_callbacks = kwargs.pop("callbacks", None) or []
        histories = []
        for execution in range(self.executions_per_trial):
            callbacks = [copy.deepcopy(c) for c in user_callbacks]
            callbacks.append(TrialCallback(self, trial, recorder, execution))
            histories.append(self._build_and_fit_model(trial, *args, callbacks=callbacks, **kwargs))
        return histories

    def _build_and_fit_model(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """Builds the trial's model (seeded, checked) and fits it with the hypermodel."""
        import keras

        from tuning.callbacks import TrialCallback

        recorder = self._recorders.get(trial.trial_id)
        execution = next(
            (c.execution for c in kwargs.get("callbacks") or [] if isinstance(c, TrialCallback)), 0
        )
        hp = trial.hyperparameters
        self._free_memory()
        if recorder is not None:
            keras.utils.set_random_seed(int(recorder.seed) + execution)
        model = self._try_build(hp)
        if recorder is not None:
            if recorder.initial_weights:
                model.load_weights(recorder.initial_weights)
            self._log_model_config(recorder, model)
        results = self.hypermodel.fit(hp, model, *args, **kwargs)  # type: ignore[union-attr]
        if recorder is not None and not recorder.has_checkpoint:
            # fit() reported no objective per epoch: keep the final weights instead.
            model.save_weights(recorder.checkpoint_path)
        if recorder is not None:
            recorder.build_config = model.get_build_config()
        return results

    def _log_model_config(self, recorder: Any, model: Any) -> None:
        try:
            config = model.get_config()
        except Exception:  # subclassed models without get_config
            return
        self.store.log_dict(recorder.run_id, _jsonable(config), MODEL_CONFIG_ARTIFACT)

    def _build_model(self, hp: HyperParameters) -> Any:
        if self.hypermodel is None:
            raise errors.FatalValueError(
                "This tuner has no hypermodel: pass one, or override run_trial()."
            )
        if self.distribution_strategy is not None:
            with self.distribution_strategy.scope():
                return self.hypermodel.build(hp)
        return self.hypermodel.build(hp)

    def _check_model(self, model: Any) -> None:
        import keras

        if not isinstance(model, keras.Model):
            raise errors.FatalTypeError(
                "The hypermodel's build() (or build_model(hp)) must return a keras.Model, "
                f"got {type(model).__name__}: {model!r}."
            )

    def _try_build(self, hp: HyperParameters) -> Any:
        """Builds, checks the size, and applies the compile overrides."""
        model = self._build_model(hp)
        self._check_model(model)
        if self.max_model_size is not None and model.built:
            size = model.count_params()
            if size > self.max_model_size:
                raise errors.FailedTrialError(
                    f"Oversized model: {size} parameters, more than max_model_size="
                    f"{self.max_model_size}."
                )
        if self.optimizer is not None or self.loss is not None or self.metrics is not None:
            model.compile(
                optimizer=copy.deepcopy(self.optimizer) if self.optimizer else model.optimizer,
                loss=self.loss if self.loss is not None else model.loss,
                metrics=self.metrics,
            )
        return model

    # Results --------------------------------------------------------------------------

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The hyperparameters of the best trials, best first."""
        self._ensure_loaded()
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models, rebuilt with their best-epoch weights loaded."""
        self._ensure_loaded()
        return [self.load_model(t) for t in self.oracle.get_best_trials(num_models)]

    def load_model(self, trial: Trial) -> Any:
        """Rebuilds ``trial``'s model and loads its best-epoch weights from MLflow."""
        import json

        run_id = self.trial_run_ids[trial.trial_id]
        model = self._try_build(trial.hyperparameters)
        with tempfile.TemporaryDirectory() as folder:
            if not model.built:
                build_config = self.store.download(run_id, BUILD_CONFIG_ARTIFACT, folder)
                with open(build_config) as file:
                    model.build_from_config(json.load(file))
            with warnings.catch_warnings():
                # The checkpoint also holds the optimizer's state, which a rebuilt,
                # untrained model has no slots for; the model's weights all load.
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                model.load_weights(self.store.download(run_id, WEIGHTS_ARTIFACT, folder))
        return model

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Saves ``model``'s weights as the trial's checkpoint (a hook KerasTuner offers)."""
        recorder = self._recorders[trial_id]
        model.save_weights(recorder.checkpoint_path)

    def search_space_summary(self, extended: bool = False) -> None:
        """Prints the search space: each hyperparameter's class and configuration."""
        self.search_space()
        space = self.oracle.get_space().space
        print("Search space summary")
        print(f"Default search space size: {len(space)}")
        for hp in space:
            config = hp.get_config()
            name = config.pop("name")
            # KerasTuner's order: the default and the conditions first.
            ordered = {
                "default": config.pop("default", None),
                "conditions": config.pop("conditions"),
            }
            print(f"{name} ({type(hp).__name__})")
            print({**ordered, **config})

    def results_summary(self, num_trials: int = 10) -> None:
        """Prints the best trials: their values and scores."""
        self._ensure_loaded()
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(self.oracle.objective)
        for trial in self.oracle.get_best_trials(num_trials):
            print()
            print(trial.summary())

    # Hooks a subclass may override -------------------------------------------------

    def on_search_begin(self) -> None:
        """Called at the start of ``search``."""

    def on_search_end(self) -> None:
        """Called at the end of ``search``."""

    def on_trial_begin(self, trial: Trial) -> None:
        """Called before a trial trains, where it trains."""

    def on_trial_end(self, trial: Trial) -> None:
        """Called after a trial ended and the oracle recorded it."""

    def on_epoch_begin(self, trial: Trial, model: Any, epoch: int, logs: Any = None) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self, trial: Trial, model: Any, epoch: int, logs: Any = None) -> None:
        """Called at the end of each epoch."""

    def on_batch_begin(self, trial: Trial, model: Any, batch: int, logs: Any) -> None:
        """Called at the start of each training batch."""

    def on_batch_end(self, trial: Trial, model: Any, batch: int, logs: Any) -> None:
        """Called at the end of each training batch."""

    @property
    def remaining_trials(self) -> int | None:
        if self.oracle.max_trials is None:
            return None
        return self.oracle.max_trials - len(self.oracle.trials)


_ENDED = {s.value for s in TrialStatus if s.is_finished}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


_ORACLE_ARGS = (
    "hyperparameters",
    "tune_new_entries",
    "allow_new_entries",
    "max_retries_per_trial",
    "max_consecutive_failed_trials",
)


class RandomSearch(Tuner):
    """Random search.

    Args:
        hypermodel: A ``HyperModel`` or ``build_model(hp)``; None with an
            overridden ``run_trial``.
        objective: A metric name, an ``Objective`` or a list of these.
        max_trials: The most trials to run.
        seed: Makes the search repeatable.
        hyperparameters: Part of the space declared in advance.
        tune_new_entries: Whether hyperparameters not in ``hyperparameters`` are tuned.
        allow_new_entries: Whether the model may declare new hyperparameters.
        max_retries_per_trial: Reruns of a crashed trial.
        max_consecutive_failed_trials: Failures in a row that end the search.
        pruning: A ``MedianStoppingRule`` to stop bad trials early.
        **kwargs: ``Tuner`` arguments (``directory``, ``project_name``, ...).
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        pruning: MedianStoppingRule | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = RandomSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            pruning=pruning,
        )
        super().__init__(oracle, hypermodel, **kwargs)


class GridSearch(Tuner):
    """Grid search over every combination of values (see ``GridSearchOracle``).

    Args: as ``RandomSearch``; ``max_trials=None`` exhausts the grid.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int | None = None,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        pruning: MedianStoppingRule | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = GridSearchOracle(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            pruning=pruning,
        )
        super().__init__(oracle, hypermodel, **kwargs)


class BayesianOptimization(Tuner):
    """Bayesian optimisation with a Gaussian process (see ``BayesianOptimizationOracle``).

    Args:
        hypermodel: As ``RandomSearch``.
        objective: As ``RandomSearch``.
        max_trials: The most trials to run.
        num_initial_points: Quasi-random trials before the model takes over.
        alpha: Noise added to the kernel's diagonal.
        beta: Exploration weight of the confidence bound.
        seed: Makes the search repeatable.
        hyperparameters: As ``RandomSearch``.
        tune_new_entries: As ``RandomSearch``.
        allow_new_entries: As ``RandomSearch``.
        max_retries_per_trial: As ``RandomSearch``.
        max_consecutive_failed_trials: As ``RandomSearch``.
        pruning: As ``RandomSearch``.
        **kwargs: ``Tuner`` arguments.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_trials: int = 10,
        num_initial_points: int | None = None,
        alpha: float = 1e-4,
        beta: float = 2.6,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        pruning: MedianStoppingRule | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = BayesianOptimizationOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points,
            alpha=alpha,
            beta=beta,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            pruning=pruning,
        )
        super().__init__(oracle, hypermodel, **kwargs)


class Hyperband(Tuner):
    """Hyperband: many trials for few epochs, the best promoted to more.

    Promoted trials continue from their parent's best-epoch weights; ``fit``'s
    ``epochs`` and ``initial_epoch`` come from the trial's ``tuner/epochs``
    and ``tuner/initial_epoch``.

    Args:
        hypermodel: As ``RandomSearch``.
        objective: As ``RandomSearch``.
        max_epochs: The most epochs one model trains.
        factor: The reduction factor between rounds (>= 2).
        hyperband_iterations: How often the whole set of brackets runs.
        seed: Makes the search repeatable.
        hyperparameters: As ``RandomSearch``.
        tune_new_entries: As ``RandomSearch``.
        allow_new_entries: As ``RandomSearch``.
        max_retries_per_trial: As ``RandomSearch``.
        max_consecutive_failed_trials: As ``RandomSearch``.
        max_trials: Caps the number of trials (None: Hyperband's own count).
        asynchronous: Promote as soon as a rung has enough results (ASHA),
            so that no worker waits for a round to finish.
        **kwargs: ``Tuner`` arguments.
    """

    def __init__(
        self,
        hypermodel: Any = None,
        objective: Any = None,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        max_trials: int | None = None,
        asynchronous: bool = False,
        **kwargs: Any,
    ) -> None:
        oracle = HyperbandOracle(
            objective=objective,
            max_epochs=max_epochs,
            factor=factor,
            hyperband_iterations=hyperband_iterations,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            max_trials=max_trials,
            asynchronous=asynchronous,
        )
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:
            kwargs["epochs"] = values["tuner/epochs"]
            kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        return super().run_trial(trial, *args, **kwargs)
