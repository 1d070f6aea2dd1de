"""KerasTuner's ``BaseTuner``: a search over anything, each search a Prefect flow.

Subclass it and override ``run_trial`` to tune code that is not a Keras model
(KerasTuner's "tune anything" guide): read values from
``trial.hyperparameters``, train, and return a number, a dict of metrics or a
list of these. ``save_model`` and ``load_model`` are the hooks
``get_best_models`` uses; ``get_trial_dir`` is a local folder whose files
become the trial's MLflow artifacts when it ends. ``Tuner`` adds what Keras
models need.

Example::

    class MyTuner(kt.BaseTuner):
        def run_trial(self, trial, x, y):
            model = self.hypermodel.build(trial.hyperparameters)
            model.fit(x, y)
            return {"score": model.score(x, y)}

    tuner = MyTuner(oracle=kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "max"), max_trials=5), hypermodel=build)
    tuner.search(x, y)
"""

from __future__ import annotations

import functools
import numbers
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from tuning import heap
from tuning.executor import TRIAL_DIR_ARTIFACTS, TrialExecutor, trial_dir
from tuning.hooks import TunerHooks
from tuning.hypermodel import HyperModel, get_hypermodel
from tuning.hyperparameters import HyperParameters
from tuning.oracles.base import Oracle
from tuning.runners import InProcessRunner, LocalWorkersRunner, TrialRunner
from tuning.search_engine import SearchEngine
from tuning.space import discover_space
from tuning.stopping import StopRule, as_rules
from tuning.store import TrialStore
from tuning.trial import Trial
from tuning.workers import pickle_payload

__all__ = ["BaseTuner"]

ISOLATIONS = ("process", "worker", "none")


class BaseTuner(TunerHooks):
    """Runs a search: the oracle proposes, ``run_trial`` trains, MLflow records.

    The front door: it checks its arguments, learns the search space, and
    hands the search to its ``SearchEngine`` (the search's state), its
    ``TrialExecutor`` (what running a trial means) and a runner (where trials
    run), driven by the ``hyperflow-search`` Prefect flow. Constructed on a
    project that was searched before (``overwrite=False``), it reloads that
    search, so that ``oracle.trials`` and the results are there at once.

    Args:
        oracle: The search algorithm, an ``Oracle``.
        hypermodel: A ``HyperModel`` or a function ``build_model(hp)``; may be
            None when ``run_trial`` declares the hyperparameters.
        directory: Where the default MLflow store lives (``mlflow.db`` and
            ``mlartifacts/``) and the trials' folders; the current directory
            when None.
        project_name: The MLflow experiment; ``"untitled_project"`` when None.
        tuner_id: This tuner's name among workers.
        overwrite: True starts a new search; False (the default) resumes the
            project's last one.
        tracking_uri: An MLflow tracking URI (a shared server, say); by default
            ``MLFLOW_TRACKING_URI`` or SQLite under ``directory``.
        max_concurrent_trials: How many trials run at once.
        isolation: Where a trial runs: ``"process"`` (a fresh child process
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
        stop_when: A stopping rule or a list of them (``tuning.stopping``:
            ``NoImprovement(patience=, min_delta=)``, ``TargetReached(value)``),
            asked after each completed trial; once one says the search is
            done it ends as at ``max_time``, and says why (on the console and
            as the search run's tag ``hyperflow.stop_reason``).
        dask_address: A Dask scheduler (``"tcp://host:8786"``) to run the
            trials on, through Prefect's Dask task runner.
        task_runner: A Prefect task runner for the train tasks, such as
            ``prefect_dask.DaskTaskRunner(...)``; overrides ``dask_address``.
        max_checkpoints: Keep the weights of the best k completed trials
            only: a trial's weights are removed from the artifact store when it
            falls out of the best k (its metrics, params and record stay), so
            ``get_best_models(k)`` still works. None (the default) keeps all.
        logger: Deprecated and ignored (as in KerasTuner): MLflow and Prefect
            record the search.

    Raises:
        ValueError: An unknown keyword argument or an out-of-range value.
        TypeError: ``oracle`` is not an ``Oracle``, or ``stop_when`` holds
            something other than stopping rules.
    """

    def __init__(
        self,
        oracle: Oracle,
        hypermodel: HyperModel | Callable[[HyperParameters], Any] | None = None,
        directory: str | os.PathLike | None = None,
        project_name: str | None = None,
        tuner_id: str | None = None,
        overwrite: bool = False,
        tracking_uri: str | None = None,
        max_concurrent_trials: int = 1,
        isolation: str | None = None,
        max_trial_time: float | None = None,
        max_time: float | None = None,
        stop_when: StopRule | Sequence[StopRule] | None = None,
        dask_address: str | None = None,
        task_runner: Any = None,
        max_checkpoints: int | None = None,
        logger: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise ValueError(
                f"Unrecognized arguments {sorted(kwargs)} for `{type(self).__name__}`."
            )
        if logger is not None:
            warnings.warn(
                "The `logger` argument is deprecated and ignored: MLflow and Prefect "
                "record the search.",
                DeprecationWarning,
                stacklevel=2,
            )
        if not isinstance(oracle, Oracle):
            raise TypeError(f"oracle must be an Oracle, got {type(oracle).__name__}.")
        check_positive_int("max_concurrent_trials", max_concurrent_trials)
        if max_checkpoints is not None:
            check_positive_int("max_checkpoints", max_checkpoints)
        if isolation is None:
            isolation = "none" if max_concurrent_trials == 1 else "worker"
        if isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {isolation!r}.")
        for name, seconds in (("max_trial_time", max_trial_time), ("max_time", max_time)):
            if seconds is not None and not seconds > 0:
                raise ValueError(f"{name} must be a positive number of seconds, got {seconds!r}.")
        if max_trial_time is not None and isolation == "none":
            raise ValueError(
                "max_trial_time needs isolation='process' or 'worker': a trial running in "
                "the search's own process cannot be stopped."
            )
        stop_rules = as_rules(stop_when)
        self.oracle = oracle
        self.hypermodel = get_hypermodel(hypermodel)
        self.directory = os.path.abspath(os.fspath(directory or "."))
        self.project_name = project_name or "untitled_project"
        self.tuner_id = tuner_id or "tuner0"
        self.overwrite = overwrite
        self.max_concurrent_trials = int(max_concurrent_trials)
        self.isolation = isolation
        self.max_trial_time = max_trial_time
        self.max_time = max_time
        self.dask_address = dask_address
        self.task_runner = task_runner
        self.max_checkpoints = max_checkpoints
        self.store = TrialStore(self.project_name, self.directory, tracking_uri)
        self.engine: SearchEngine | None = SearchEngine(
            oracle,
            self.store,
            self.tuner_id,
            max_time,
            on_trial_end=self.on_trial_end,
            max_checkpoints=max_checkpoints,
            stop_when=stop_rules,
        )
        self._space_populated = False
        if not overwrite and self.store.exists():
            self.reload()

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
        """``<directory>/<project_name>``: where the trials' local folders live."""
        return os.path.join(self.directory, self.project_name)

    def get_trial_dir(self, trial_id: str) -> str:
        """A local folder for the trial's files, created if missing.

        Whatever a trial writes there (a pickled model, a plot) is uploaded
        to the trial's MLflow run, under ``trial_dir/``, when the trial ends.
        Asked for a finished trial whose folder is not on this machine (it ran
        on a Dask worker, or the folder was deleted), the folder is downloaded
        from the run.
        """
        folder = trial_dir(self.project_dir, trial_id)
        run_id = self.trial_run_ids.get(trial_id)
        connection = self.store.connection
        if (
            not os.path.isdir(folder)
            and run_id is not None
            and connection.has_artifact(run_id, TRIAL_DIR_ARTIFACTS)
        ):
            with tempfile.TemporaryDirectory(dir=self.directory) as download:
                os.makedirs(self.project_dir, exist_ok=True)
                os.replace(connection.download(run_id, TRIAL_DIR_ARTIFACTS, download), folder)
        os.makedirs(folder, exist_ok=True)
        return folder

    @property
    def search_run_id(self) -> str | None:
        """The search's MLflow run, once opened (None in a worker process)."""
        return self.engine.search_run_id if self.engine is not None else None

    @property
    def trial_run_ids(self) -> dict[str, str]:
        """Each trial's MLflow run id (its latest attempt's)."""
        return self.engine.trial_run_ids if self.engine is not None else {}

    @functools.cached_property
    def executor(self) -> TrialExecutor:
        """Runs this tuner's trials, wherever this tuner was sent."""
        return TrialExecutor(
            self, self.store, self.oracle.objective, self.oracle.pruning, self.project_dir
        )

    # The search -----------------------------------------------------------------

    def search(self, *fit_args: Any, **fit_kwargs: Any) -> None:
        """Runs trials until the oracle's budget is spent or its space exhausted.

        Every argument goes to ``run_trial``.

        Raises:
            ValueError: An argument the trials cannot use (see ``check_search_arguments``).
            tuning.errors.FatalError: A trial raised one, or too many trials
                failed in a row; the trials that completed are kept.
        """
        self.check_search_arguments(fit_args, fit_kwargs)
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

    def check_search_arguments(self, fit_args: tuple, fit_kwargs: dict) -> None:
        """Refuses, before any trial runs, arguments that every trial would fail on.

        Called by ``search``; ``BaseTuner`` checks nothing (``run_trial`` is yours).
        """

    def _engine(self) -> SearchEngine:
        if self.engine is None:
            raise RuntimeError("This tuner was sent to a worker process: search from the original.")
        return self.engine

    def _runner(self, fit_args: tuple, fit_kwargs: dict) -> TrialRunner:
        """Where the trials run, as ``isolation``, ``dask_address`` and ``task_runner`` say.

        Raises:
            FatalTypeError: Trials run in other processes but the tuner or the
                arguments of ``search`` cannot be pickled.
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
            "max_concurrent_trials": self.max_concurrent_trials,
            "isolation": self.isolation,
            "project_name": self.project_name,
        }

    def search_space(self) -> HyperParameters:
        """The search space, learned by building the hypermodel before any trial.

        The hypermodel is built with the defaults, then once per conditional
        branch, so that every hyperparameter it declares is known (KerasTuner
        does this when a search begins). Done once; a ``run_trial`` that
        declares hyperparameters itself reveals them during its first trial.

        Returns:
            A copy of the oracle's space.
        """
        if not self._space_populated and self.hypermodel is not None:
            discover_space(self._engine(), self.hypermodel, self._build_for_space)
            self._space_populated = True
        return self.oracle.get_space()

    def _build_for_space(self, hp: HyperParameters) -> None:
        """Builds a model only to declare its hyperparameters."""
        self.hypermodel.build(hp)  # type: ignore[union-attr]

    # One trial (called where the trial runs) -----------------------------------------

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        """Runs one trial; override it.

        Read values from ``trial.hyperparameters``, train, and return a number
        (minimised unless an objective says otherwise), a dict of metrics, a
        Keras ``History``, or a list of these (one per execution).

        Args:
            trial: The trial to run.
            *args: What ``search`` received.
            **kwargs: What ``search`` received.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement run_trial().")

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Saves a trial's model; override it (with ``load_model``) for ``get_best_models``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement save_model().")

    def load_model(self, trial: Trial) -> Any:
        """Loads a trial's model; override it (with ``save_model``) for ``get_best_models``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement load_model().")

    # Results --------------------------------------------------------------------------

    def reload(self) -> bool:
        """Reads the project's last search (its trials, its space) from the store.

        Returns:
            Whether the project had a search to reload.

        Raises:
            ValueError: That search had another objective or another oracle.
        """
        return self._engine().load_latest(force=True)

    def save(self) -> None:
        """Saves the search's state to its MLflow run (done after every trial anyway)."""
        self._engine().save()

    def get_best_hyperparameters(self, num_trials: int = 1) -> list[HyperParameters]:
        """The hyperparameters of the best trials, best first."""
        self._engine().load_latest()
        return [t.hyperparameters for t in self.oracle.get_best_trials(num_trials)]

    def get_pareto_trials(self) -> list[Trial]:
        """The COMPLETED trials no other trial beats on every objective, in trial order.

        The front of a list of objectives (searched for with
        ``multi_objective="pareto"``, kept with the signed sum too); with one
        objective, the best trial.
        """
        self._engine().load_latest()
        return self.oracle.get_pareto_trials()

    def get_pareto_hyperparameters(self) -> list[HyperParameters]:
        """The hyperparameters of ``get_pareto_trials()``, in the same order."""
        return [t.hyperparameters for t in self.get_pareto_trials()]

    def get_best_models(self, num_models: int = 1) -> list[Any]:
        """The best trials' models (``load_model`` of each), best first."""
        self._engine().load_latest()
        return [self.load_model(t) for t in self.oracle.get_best_trials(num_models)]

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
            trial.summary()
        objectives = getattr(self.oracle.objective, "objectives", [])
        if len(objectives) > 1:
            front = self.oracle.get_pareto_trials()
            print()
            print(f"Pareto front: {len(front)} trials")
            for trial in front:
                values = self.oracle.objective_values(trial)
                scores = ", ".join(
                    f"{o.name}={v:.6g}" for o, v in zip(objectives, values, strict=True)
                )
                print(f"Trial {trial.trial_id}: {scores}")

    @property
    def remaining_trials(self) -> int | None:
        """Trials left in the budget (None without ``max_trials``)."""
        if self.oracle.max_trials is None:
            return None
        return self.oracle.max_trials - len(self.oracle.trials)


def check_positive_int(name: str, value: Any) -> None:
    """Raises ``ValueError`` naming ``name`` unless ``value`` is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
