"""One adapter per tuner ("arm"), each driven through its own ask/tell interface.

Hyperflow's oracles and keras-tuner's oracles are driven directly, without a
tuner or a flow (``create_trial`` / ``update_trial`` / ``end_trial``, as
``benchmarks/bo_proposal_time.py`` does), and Optuna's samplers and pruners
through ``study.ask`` / ``study.tell``. Each library runs with its defaults
(initial random points, startup trials, kernels), as a user gets them; only
the seed, the budget and Hyperband's ``max_epochs`` and ``factor`` are set.

Single-fidelity arms return the objective of each trial in order. On an
epoch-based problem (``FidelityProblem``) every arm returns its evaluations
(one per epoch trained): full-fidelity arms train each trial to
``max_epochs``; Hyperband arms train the epochs their schedule asks for,
continuing the parent's state on a promotion; Optuna's pruned trials stop at
the epoch the pruner says.
"""

from __future__ import annotations

import contextlib
import io
import math
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from benchmarks.problems import FidelityProblem, Param, Problem

__all__ = ["ARMS", "Arm", "Evaluation", "available", "run_fidelity", "run_single"]

_METRIC = "loss"
_TUNER_PREFIX = "tuner/"
_FACTOR = 3
# Hyperband iterations to allow: arms stop on their budget long before.
_ITERATIONS = 1000


@dataclass(frozen=True)
class Arm:
    """A tuner under test.

    Args:
        name: The arm's name in tables (``library-algorithm``).
        library: ``"hyperflow"``, ``"keras-tuner"`` or ``"optuna"``.
        family: ``"random"``, ``"grid"``, ``"bayesian"`` or ``"hyperband"``:
            which of our arms it is compared with.
        multi_fidelity: Whether it trains trials for fewer epochs than the maximum.
        finite_only: Whether it runs only on finite spaces (grid search).
    """

    name: str
    library: str
    family: str
    multi_fidelity: bool = False
    finite_only: bool = False

    @property
    def ours(self) -> bool:
        return self.library == "hyperflow"


ARMS: dict[str, Arm] = {
    arm.name: arm
    for arm in (
        Arm("hyperflow-random", "hyperflow", "random"),
        Arm("hyperflow-grid", "hyperflow", "grid", finite_only=True),
        Arm("hyperflow-bayesian", "hyperflow", "bayesian"),
        Arm("hyperflow-tpe", "hyperflow", "bayesian"),
        Arm("hyperflow-auto", "hyperflow", "bayesian"),
        Arm("hyperflow-hyperband", "hyperflow", "hyperband", multi_fidelity=True),
        Arm("hyperflow-hyperband-async", "hyperflow", "hyperband", multi_fidelity=True),
        Arm("hyperflow-bohb", "hyperflow", "hyperband", multi_fidelity=True),
        Arm("hyperflow-bohb-async", "hyperflow", "hyperband", multi_fidelity=True),
        Arm("kt-random", "keras-tuner", "random"),
        Arm("kt-bayesian", "keras-tuner", "bayesian"),
        Arm("kt-hyperband", "keras-tuner", "hyperband", multi_fidelity=True),
        Arm("optuna-random", "optuna", "random"),
        Arm("optuna-tpe", "optuna", "bayesian"),
        Arm("optuna-tpe-hyperband", "optuna", "hyperband", multi_fidelity=True),
        Arm("optuna-tpe-sha", "optuna", "hyperband", multi_fidelity=True),
    )
}


@dataclass(frozen=True)
class Evaluation:
    """One epoch's result on an epoch-based problem.

    Args:
        cost: The cumulative cost of the run once this epoch was trained.
        epoch: The epoch (fidelity) the value was measured at.
        value: The objective there.
        config: The configuration (active values, no ``tuner/`` keys).
        trial: The index of the trial (0, 1, ...) in the run.
    """

    cost: float
    epoch: int
    value: float
    config: dict[str, Any]
    trial: int


# Search spaces in each library ---------------------------------------------------------


def _declare(hps: Any, param: Param) -> None:
    """Declares ``param`` on a Hyperflow or keras-tuner ``HyperParameters`` (same API)."""
    with contextlib.ExitStack() as scopes:
        for parent, allowed in param.conditions:
            scopes.enter_context(hps.conditional_scope(parent, list(allowed)))
        if param.kind == "float":
            hps.Float(param.name, param.low, param.high, sampling="log" if param.log else "linear")
        elif param.kind == "int":
            hps.Int(
                param.name,
                int(param.low),
                int(param.high),
                sampling="log" if param.log else "linear",
            )
        else:
            hps.Choice(param.name, list(param.values))


def _suggest(trial: Any, params: tuple[Param, ...]) -> dict[str, Any]:
    """Asks an Optuna trial for the active values, define-by-run."""
    values: dict[str, Any] = {}
    for param in params:
        if not param.is_active(values):
            continue
        if param.kind == "float":
            values[param.name] = trial.suggest_float(
                param.name, param.low, param.high, log=param.log
            )
        elif param.kind == "int":
            values[param.name] = trial.suggest_int(
                param.name, int(param.low), int(param.high), log=param.log
            )
        else:
            values[param.name] = trial.suggest_categorical(param.name, list(param.values))
    return values


def _config(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not k.startswith(_TUNER_PREFIX)}


# Oracles (ours and keras-tuner's) ------------------------------------------------------


class _OracleDriver:
    """Drives a Hyperflow or keras-tuner oracle: the two share the ask/tell API."""

    def __init__(self, oracle: Any, keras_tuner: bool) -> None:
        self.oracle = oracle
        self.keras_tuner = keras_tuner
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @contextlib.contextmanager
    def session(self, params: tuple[Param, ...]) -> Iterator[_OracleDriver]:
        """Declares the space; keras-tuner's oracle also gets a scratch project directory."""
        if not self.keras_tuner:
            for param in params:
                _declare(self.oracle.hyperparameters, param)
            yield self
            return
        import keras_tuner as kt

        hps = kt.HyperParameters()
        for param in params:
            _declare(hps, param)
        # keras-tuner writes every trial and its own state to disk, and prints a table.
        with tempfile.TemporaryDirectory() as directory, contextlib.redirect_stdout(io.StringIO()):
            self.oracle._set_project_dir(directory, "bench")
            self.oracle.update_space(hps)
            yield self

    def ask(self) -> tuple[str, dict[str, Any]] | None:
        """The next trial's id and values, or None when the oracle has no trial to run."""
        trial = self.oracle.create_trial("bench")
        if str(getattr(trial.status, "value", trial.status)) != "RUNNING":
            return None
        values = trial.hyperparameters.values if self.keras_tuner else trial.values
        return trial.trial_id, dict(values)

    def tell(self, trial_id: str, curve: list[float], first_step: int = 0) -> None:
        """Reports a trial's values (one per step from ``first_step``) and completes it."""
        for offset, value in enumerate(curve):
            self.oracle.update_trial(trial_id, {_METRIC: value}, step=first_step + offset)
        trial = self.oracle.trials[trial_id]
        if self.keras_tuner:
            trial.status = "COMPLETED"
        else:
            from tuning.trial import TrialStatus

            trial.status = TrialStatus.COMPLETED
        self.oracle.end_trial(trial)


def _keras_tuner_seed(seed: int) -> int:
    """A seed for keras-tuner's oracles whose stream does not overlap the next seed's.

    keras-tuner seeds its k-th draw with ``seed + k``, so seeds 1 and 2 share
    all but one draw; spacing them by a prime larger than any run's draws keeps
    the harness's consecutive seeds independent, as ours and Optuna's are.
    """
    return seed * 100_003


def _oracle(arm: str, budget: int | None, seed: int, max_epochs: int) -> _OracleDriver:
    """A fresh oracle of ``arm`` (Hyperflow's or keras-tuner's) wrapped in a driver."""
    if arm.startswith("hyperflow-"):
        from tuning.oracles import (
            BayesianOptimizationOracle,
            GridSearchOracle,
            HyperbandOracle,
            RandomSearchOracle,
            TPEOracle,
        )

        oracle: Any
        if arm == "hyperflow-random":
            oracle = RandomSearchOracle(objective=_METRIC, max_trials=budget, seed=seed)
        elif arm == "hyperflow-grid":
            oracle = GridSearchOracle(objective=_METRIC, max_trials=budget, seed=seed)
        elif arm == "hyperflow-bayesian":
            oracle = BayesianOptimizationOracle(objective=_METRIC, max_trials=budget, seed=seed)
        elif arm == "hyperflow-tpe":
            oracle = TPEOracle(objective=_METRIC, max_trials=budget, seed=seed)
        elif arm == "hyperflow-auto":
            oracle = BayesianOptimizationOracle(
                objective=_METRIC, max_trials=budget, seed=seed, sampler="auto"
            )
        else:
            oracle = HyperbandOracle(
                objective=_METRIC,
                max_epochs=max_epochs,
                factor=_FACTOR,
                hyperband_iterations=_ITERATIONS,
                seed=seed,
                asynchronous=arm.endswith("-async"),
                sampler="model" if arm.startswith("hyperflow-bohb") else "random",
            )
        return _OracleDriver(oracle, keras_tuner=False)
    import keras_tuner as kt

    objective = kt.Objective(_METRIC, "min")
    seed = _keras_tuner_seed(seed)
    if arm == "kt-random":
        oracle = kt.oracles.RandomSearchOracle(objective=objective, max_trials=budget, seed=seed)
    elif arm == "kt-bayesian":
        oracle = kt.oracles.BayesianOptimizationOracle(
            objective=objective, max_trials=budget, seed=seed
        )
    elif arm == "kt-hyperband":
        oracle = kt.oracles.HyperbandOracle(
            objective=objective,
            max_epochs=max_epochs,
            factor=_FACTOR,
            hyperband_iterations=_ITERATIONS,
            seed=seed,
        )
    else:
        raise ValueError(f"Unknown arm {arm!r}.")
    return _OracleDriver(oracle, keras_tuner=True)


# Optuna ---------------------------------------------------------------------------------


def _study(arm: str, seed: int, max_epochs: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if arm == "optuna-random":
        return optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    sampler = optuna.samplers.TPESampler(seed=seed)
    if arm == "optuna-tpe":
        return optuna.create_study(sampler=sampler)
    if arm == "optuna-tpe-hyperband":
        pruner: Any = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=_FACTOR
        )
    elif arm == "optuna-tpe-sha":
        pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=_FACTOR)
    else:
        raise ValueError(f"Unknown arm {arm!r}.")
    return optuna.create_study(sampler=sampler, pruner=pruner)


# Runs -----------------------------------------------------------------------------------


def run_single(arm: str, problem: Problem, trials: int, seed: int) -> list[float]:
    """Runs ``arm`` on a single-fidelity problem for ``trials`` trials.

    Args:
        arm: A name from ``ARMS`` (not a multi-fidelity one).
        problem: The problem.
        trials: The budget.
        seed: The tuner's seed.

    Returns:
        The objective of each trial, in the order they ran (fewer than
        ``trials`` if the tuner stopped early, as grid search may).
    """
    values: list[float] = []
    if arm.startswith("optuna-"):
        study = _study(arm, seed, max_epochs=1)
        for _ in range(trials):
            trial = study.ask()
            value = problem.function(_suggest(trial, problem.params))
            study.tell(trial, value)
            values.append(value)
        return values
    driver = _oracle(arm, trials, seed, max_epochs=1)
    with driver.session(problem.params):
        for _ in range(trials):
            asked = driver.ask()
            if asked is None:
                break
            trial_id, config = asked
            value = problem.function(config)
            driver.tell(trial_id, [value])
            values.append(value)
    return values


def run_fidelity(arm: str, problem: FidelityProblem, budget: float, seed: int) -> list[Evaluation]:
    """Runs ``arm`` on an epoch-based problem until its cost reaches ``budget``.

    A trial that starts within the budget runs to its end, so a run may
    overshoot the budget by up to one trial.

    Args:
        arm: A name from ``ARMS``.
        problem: The problem.
        budget: The cost to spend, in ``problem.cost`` units.
        seed: The tuner's seed; the problem's training seed too.

    Returns:
        Every epoch's evaluation, in order.
    """
    if arm in ("optuna-tpe-hyperband", "optuna-tpe-sha"):
        return _run_pruned(arm, problem, budget, seed)
    evaluations: list[Evaluation] = []
    spent = 0.0

    trials = 0

    def record(config: dict[str, Any], first: int, last: int, curve: list[float]) -> None:
        nonlocal spent, trials
        for epoch, value in zip(range(first + 1, last + 1), curve, strict=True):
            spent += problem.cost(epoch - 1, epoch)
            evaluations.append(Evaluation(spent, epoch, value, config, trials))
        trials += 1

    full_cost = problem.cost(0, problem.max_epochs)
    if arm.startswith("optuna-"):
        study = _study(arm, seed, problem.max_epochs)
        while spent < budget:
            trial = study.ask()
            config = _suggest(trial, problem.params)
            curve, _ = problem.train(config, 0, problem.max_epochs, None, seed)
            record(config, 0, problem.max_epochs, curve)
            study.tell(trial, min(curve))
        return evaluations
    max_trials = None if ARMS[arm].multi_fidelity else math.ceil(budget / full_cost) + 1
    driver = _oracle(arm, max_trials, seed, problem.max_epochs)
    states: dict[str, Any] = {}
    with driver.session(problem.params):
        while spent < budget:
            asked = driver.ask()
            if asked is None:
                break
            trial_id, values = asked
            config = _config(values)
            first = int(values.get("tuner/initial_epoch", 0))
            last = int(values.get("tuner/epochs", problem.max_epochs))
            parent = values.get("tuner/trial_id")
            state = states.get(parent) if parent is not None and first > 0 else None
            if state is None:
                first = 0  # nothing to continue from: train from scratch
            curve, states[trial_id] = problem.train(config, first, last, state, seed)
            record(config, first, last, curve)
            driver.tell(trial_id, curve, first_step=first)
    return evaluations


def _run_pruned(arm: str, problem: FidelityProblem, budget: float, seed: int) -> list[Evaluation]:
    """Optuna's TPE with a pruner: each trial reports every epoch and stops when pruned."""
    import optuna

    study = _study(arm, seed, problem.max_epochs)
    evaluations: list[Evaluation] = []
    spent = 0.0
    while spent < budget:
        trial = study.ask()
        config = _suggest(trial, problem.params)
        state, best, pruned = None, math.inf, False
        index = trial.number
        for epoch in range(1, problem.max_epochs + 1):
            (value,), state = problem.train(config, epoch - 1, epoch, state, seed)
            spent += problem.cost(epoch - 1, epoch)
            evaluations.append(Evaluation(spent, epoch, value, config, index))
            best = min(best, value)
            trial.report(value, epoch)
            if trial.should_prune():
                pruned = True
                break
        if pruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            study.tell(trial, best)
    return evaluations


def available(arm: str) -> bool:
    """Whether the library behind ``arm`` is installed (keras-tuner and Optuna are optional).

    Looks the module up without importing it (keras-tuner imports TensorFlow).
    """
    import importlib.util

    module = {"keras-tuner": "keras_tuner", "optuna": "optuna"}.get(ARMS[arm].library)
    return module is None or importlib.util.find_spec(module) is not None
