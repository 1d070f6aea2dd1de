"""The front door: KerasTuner's tuners, each search a Prefect flow, each trial an MLflow run.

Example::

    import tuning as kt

    tuner = kt.RandomSearch(build_model, objective="val_accuracy", max_trials=5)
    tuner.search(x, y, epochs=2, validation_data=(x_val, y_val))
    best_model = tuner.get_best_models(num_models=1)[0]
"""

from __future__ import annotations

import functools
import json
import tempfile
import warnings
from collections.abc import Callable
from typing import Any

from tuning.base_tuner import BaseTuner, check_positive_int
from tuning.checkpoints import check_checkpoint_every
from tuning.executor import BUILD_CONFIG_ARTIFACT, WEIGHTS_ARTIFACT, TrialExecutor
from tuning.fit_arguments import check_fit_arguments
from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters
from tuning.model_builder import ModelBuilder
from tuning.oracles.base import Oracle
from tuning.oracles.bayesian import BayesianOptimizationOracle
from tuning.oracles.grid_search import GridSearchOracle
from tuning.oracles.hyperband import HyperbandOracle
from tuning.oracles.random_search import RandomSearchOracle
from tuning.oracles.tpe import TPEOracle
from tuning.pruning import MedianStoppingRule
from tuning.space import check_enqueued
from tuning.trial import Trial

__all__ = [
    "BayesianOptimization",
    "GridSearch",
    "Hyperband",
    "RandomSearch",
    "TPESearch",
    "Tuner",
]


def __getattr__(name: str) -> Any:
    # KerasTuner's ``keras_tuner.tuners.SklearnTuner``, imported on first use:
    # scikit-learn is an optional dependency.
    if name == "SklearnTuner":
        from tuning.sklearn_tuner import SklearnTuner

        return SklearnTuner
    raise AttributeError(f"module 'tuning.tuners' has no attribute {name!r}")


class Tuner(BaseTuner):
    """A ``BaseTuner`` for Keras models: builds, compiles, trains and checkpoints them.

    Args:
        oracle: The search algorithm, an ``Oracle``.
        hypermodel: A ``HyperModel`` or a function ``build_model(hp)``; may be
            None when ``run_trial`` is overridden.
        max_model_size: The most parameters a model may have; bigger ones fail.
        optimizer: Overrides the optimizer the model was compiled with.
        loss: Overrides the loss.
        metrics: Overrides the metrics.
        distribution_strategy: A ``tf.distribute.Strategy`` to build models under.
        executions_per_trial: Models trained per trial; their results are averaged.
        checkpoint_every: When a training trial saves its latest weights and
            optimizer state to its run, so that a search resumed after its
            process died continues the trial from there: ``"auto"`` (the
            default) whenever that costs at most 4 % of the trial's time so far
            (the first epoch always), n every n epochs, None never.
        **kwargs: ``BaseTuner`` arguments (``directory``, ``project_name``,
            ``overwrite``, ``max_concurrent_trials``, ``isolation``, ...).

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
        executions_per_trial: int = 1,
        checkpoint_every: int | str | None = "auto",
        **kwargs: Any,
    ) -> None:
        check_positive_int("executions_per_trial", executions_per_trial)
        check_checkpoint_every(checkpoint_every)
        self.checkpoint_every = checkpoint_every
        if max_model_size is not None:
            check_positive_int("max_model_size", max_model_size)
        self.max_model_size = max_model_size
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.distribution_strategy = distribution_strategy
        self.executions_per_trial = int(executions_per_trial)
        super().__init__(oracle, hypermodel, **kwargs)

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
            self.oracle.objective,
            self.oracle.pruning,
            self.project_dir,
            builder=self.builder,
            executions=self.executions_per_trial,
            checkpoint_every=self.checkpoint_every,
        )

    def check_search_arguments(self, fit_args: tuple, fit_kwargs: dict) -> None:
        """Refuses, before any trial runs, ``fit`` arguments every trial would fail on.

        With the default ``run_trial`` and ``HyperModel.fit``, building the
        hypermodel declares every value a trial uses, so each trial queued
        with ``oracle.enqueue_trial`` is built with its values and checked.

        Raises:
            ValueError: See ``tuning.fit_arguments.check_fit_arguments``; or an
                enqueued value names a hyperparameter the space does not have.
        """
        default_fit = (
            not self._run_trial_overridden() and type(self.hypermodel).fit is HyperModel.fit
        )
        check_fit_arguments(fit_args, fit_kwargs, self.oracle.objective, default_fit)
        if default_fit:  # then building declares every value a trial can use
            self.search_space()
            check_enqueued(self._engine(), self._build_for_space)

    def _search_params(self) -> dict[str, Any]:
        return {**super()._search_params(), "executions_per_trial": self.executions_per_trial}

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
        pruning: As ``RandomSearch`` (refused with ``multi_objective="pareto"``).
        multi_objective: ``"signed_sum"`` (KerasTuner's score of a list of
            objectives, the default) or ``"pareto"`` (search for the Pareto
            front; see ``get_pareto_trials``).
        sampler: ``"gp"`` (the Gaussian process), ``"tpe"`` or ``"auto"``
            (see ``BayesianOptimizationOracle``).
        **kwargs: ``Tuner`` arguments.

    Example:
        >>> tuner = BayesianOptimization(  # doctest: +SKIP
        ...     build_model,
        ...     objective=["val_accuracy", kt.Objective("params", "min")],
        ...     multi_objective="pareto",
        ...     max_trials=30,
        ... )
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
        multi_objective: str = "signed_sum",
        sampler: str = "gp",
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
            multi_objective=multi_objective,
            sampler=sampler,
        )
        super().__init__(oracle, hypermodel, **kwargs)


class TPESearch(Tuner):
    """The Tree-structured Parzen Estimator (see ``TPEOracle``): for large,
    categorical or conditional spaces.

    Args:
        hypermodel: As ``RandomSearch``.
        objective: As ``RandomSearch``.
        max_trials: The most trials to run.
        num_initial_points: Random trials before the model takes over (default 10).
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
        num_initial_points: int = 10,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        tune_new_entries: bool = True,
        allow_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        pruning: MedianStoppingRule | None = None,
        **kwargs: Any,
    ) -> None:
        oracle = TPEOracle(
            objective=objective,
            max_trials=max_trials,
            num_initial_points=num_initial_points,
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
        sampler: ``"random"`` (KerasTuner's behaviour) or ``"model"``: new
            configurations proposed by a model of the results (BOHB); see
            ``HyperbandOracle``.
        random_fraction: With ``sampler="model"``, the share of new
            configurations still drawn at random.
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
        sampler: str = "random",
        random_fraction: float = 0.15,
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
            sampler=sampler,
            random_fraction=random_fraction,
        )
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial: Trial, *args: Any, **kwargs: Any) -> Any:
        values = trial.hyperparameters.values
        if "tuner/epochs" in values:
            kwargs["epochs"] = values["tuner/epochs"]
            kwargs["initial_epoch"] = values["tuner/initial_epoch"]
        return super().run_trial(trial, *args, **kwargs)
