"""The front door: KerasTuner's tuners, each search a Prefect flow, each trial an MLflow run.

Example::

    import tuning as kt

    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5)
    tuner.search(x, y, epochs=2, validation_data=(x_val, y_val))
    best_model = tuner.get_best_models(num_models=1)[0]
"""

from __future__ import annotations

import copy
import functools
import json
import os
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

from tuning import heap
from tuning.engine import SearchEngine
from tuning.executor import BUILD_CONFIG_ARTIFACT, WEIGHTS_ARTIFACT, TrialExecutor
from tuning.hooks import TunerHooks
from tuning.hypermodel import HyperModel, get_hypermodel
from tuning.hyperparameters import HyperParameters
from tuning.model_builder import ModelBuilder
from tuning.oracles.base import Oracle
from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.oracles.grid_search import GridSearchOracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.oracles.random_search import RandomSearchOracle
from tuning.pruning import MedianStoppingRule
from tuning.runners import InProcessRunner, LocalWorkersRunner, TrialRunner
from tuning.space import discover_space
from tuning.store import TrialStore
from tuning.trial import Trial
from tuning.workers import pickle_payload

__all__ = ["BayesianOptimization", "GridSearch", "Hyperband", "RandomSearch", "Tuner"]

ISOLATIONS = ("process", "worker", "none")


class Tuner(TunerHooks):
    """Runs a search: the oracle proposes, the hypermodel builds and trains, MLflow records.

    The front door: it checks its arguments, learns the search space, and
    hands the search to its ``SearchEngine`` (the search's state), its
    ``TrialExecutor`` (what training a trial means) and a runner (where
    trials train), driven by the ``hyperflow-search`` Prefect flow.

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
        self.engine: SearchEngine | None = SearchEngine(
            oracle, self.store, self.tuner_id, max_time, on_trial_end=self.on_trial_end
        )
        self._space_populated = False

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process receives: the tuner without its search's state.

        The engine (the oracle's history, the store's connection) stays in the
        search's process; the worker's oracle is a copy with no trial, which
        still tells the objective and the pruning rule.
        """
        state = {k: v for k, v in self.__dict__.items() if k not in ("builder", "executor")}
        state.update(engine=None, oracle=self.oracle.without_history(), task_runner=None)
        return state

    @property
    def project_dir(self) -> str:
        return os.path.join(self.directory, self.project_name)

    @property
    def search_run_id(self) -> str | None:
        """The search's MLflow run, once opened (None in a worker process)."""
        return self.engine.search_run_id if self.engine is not None else None

    @property
    def trial_run_ids(self) -> dict[str, str]:
        """Each trial's MLflow run id (its latest attempt's)."""
        return self.engine.trial_run_ids if self.engine is not None else {}

    @functools.cached_property
    def builder(self) -> ModelBuilder:
        """Builds this tuner's models with its size check and compile overrides."""
        return ModelBuilder(
            self.hypermodel,
            self.max_model_size,
            self.optimizer,
            self.loss,
            self.metrics,
            self.distribution_strategy,
        )

    @functools.cached_property
    def executor(self) -> TrialExecutor:
        """Trains this tuner's trials, wherever this tuner was sent."""
        return TrialExecutor(
            self,
            self.store,
            self.builder,
            self.oracle.objective,
            self.oracle.pruning,
            self.executions_per_trial,
        )

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
        runner = self._runner(fit_args, fit_kwargs)
        engine = self._engine()
        engine.open(type(self).__name__, self._search_params(), self.overwrite)
        self.on_search_begin()
        engine.begin(verbose=fit_kwargs.get("verbose", 1))
        from flows.search import run_search  # the one place tuning/ reaches up

        try:
            run_search(
                engine,
                runner,
                self.max_concurrent_trials,
                task_runner=self.task_runner,
                dask_address=self.dask_address,
            )
        finally:
            heap.thaw()
        self.on_search_end()

    def _engine(self) -> SearchEngine:
        if self.engine is None:
            raise RuntimeError("This tuner was sent to a worker process: search from the original.")
        return self.engine

    def _runner(self, fit_args: tuple, fit_kwargs: dict) -> TrialRunner:
        """Where the trials train, as ``isolation``, ``dask_address`` and ``task_runner`` say.

        Raises:
            FatalTypeError: Trials train in other processes but the tuner or the
                arguments of ``fit`` cannot be pickled.
        """
        on_dask = (
            bool(self.dask_address)
            if self.task_runner is None
            else (type(self.task_runner).__module__.split(".")[0] == "prefect_dask")
        )
        if self.isolation == "none" and not on_dask:
            return InProcessRunner(self.executor, fit_args, fit_kwargs)
        payload = pickle_payload(self, fit_args, fit_kwargs, self.isolation)
        if on_dask:
            from tuning.cluster import ClusterRunner  # imports Dask

            return ClusterRunner(payload, self.isolation, self.max_trial_time)
        return LocalWorkersRunner(payload, self.isolation, self.max_trial_time)

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

    def search_space(self) -> HyperParameters:
        """The search space, learned by building the hypermodel before any trial.

        The hypermodel is built with the defaults, then once per conditional
        branch, so that every hyperparameter it declares is known (KerasTuner
        does this when a search begins). Done once; a ``run_trial`` override
        without a hypermodel reveals its space during its first trial instead.

        Returns:
            A copy of the oracle's space.
        """
        if not self._space_populated and self.hypermodel is not None:
            discover_space(self._engine(), self.hypermodel, self._build_for_space)
            self._space_populated = True
        return self.oracle.get_space()

    def _build_for_space(self, hp: HyperParameters) -> None:
        """Builds a model only to declare its hyperparameters."""
        import keras

        keras.backend.clear_session()
        model = self.builder.build(hp)
        if not self._run_trial_overridden():
            self.builder.check_keras_model(model)

    def _run_trial_overridden(self) -> bool:
        """Whether a user's subclass replaced ``run_trial`` (and may build anything)."""
        return type(self).run_trial.__module__ != __name__

    # One trial (called where the trial trains) ---------------------------------------

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
        return self.executor.run_executions(trial, *args, **kwargs)

    def _build_and_fit_model(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """Builds the trial's model (seeded, checked) and fits it with the hypermodel."""
        return self.executor.build_and_fit(trial, *args, **kwargs)

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Saves ``model``'s weights as the trial's checkpoint (a hook KerasTuner offers)."""
        self.executor.save_weights(trial_id, model)

    # Results --------------------------------------------------------------------------

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The hyperparameters of the best trials, best first."""
        self._engine().load_latest()
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models, rebuilt with their best-epoch weights loaded."""
        self._engine().load_latest()
        return [self.load_model(t) for t in self.oracle.get_best_trials(num_models)]

    def load_model(self, trial: Trial) -> Any:
        """Rebuilds ``trial``'s model and loads its best-epoch weights from MLflow."""
        run_id = self.trial_run_ids[trial.trial_id]
        connection = self.store.connection
        model = self.builder.build_checked(trial.hyperparameters)
        with tempfile.TemporaryDirectory() as folder:
            if not model.built:
                build_config = connection.download(run_id, BUILD_CONFIG_ARTIFACT, folder)
                with open(build_config) as file:
                    model.build_from_config(json.load(file))
            with warnings.catch_warnings():
                # The checkpoint also holds the optimizer's state, which a rebuilt,
                # untrained model has no slots for; the model's weights all load.
                warnings.filterwarnings("ignore", "Skipping variable loading for optimizer")
                model.load_weights(connection.download(run_id, WEIGHTS_ARTIFACT, folder))
        return model

    def search_space_summary(self, extended: bool = False) -> None:
        """Prints the search space: each hyperparameter's class and configuration."""
        space = self.search_space().space
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
        self._engine().load_latest()
        print("Results summary")
        print(f"Results in {self.project_dir}")
        print(f"Showing {num_trials} best trials")
        print(self.oracle.objective)
        for trial in self.oracle.get_best_trials(num_trials):
            print()
            print(trial.summary())

    @property
    def remaining_trials(self) -> int | None:
        if self.oracle.max_trials is None:
            return None
        return self.oracle.max_trials - len(self.oracle.trials)


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
