"""The ``Oracle``: the one writer of a search's state, asked for trials and told results.

A worker (the search flow) calls ``create_trial`` to get the next trial,
``update_trial`` with intermediate metrics, and ``end_trial`` when the trial
has ended. Subclasses only decide *which* values to try next, in
``populate_space``; retries, the trial budget, duplicate avoidance, enqueued
configurations, pruning and the failure limit live here.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

import numpy as np

from tuning.errors import FatalRuntimeError
from tuning.hyperparameters import HyperParameters
from tuning.objective import Objective, best_point, create_objective
from tuning.oracles._trials import (
    active_values,
    best_trials,
    direction_of,
    objective_curve,
    objective_values,
    pareto_trials,
    sample_values,
    scored_trials,
    warm_start_points,
)
from tuning.pruning import MedianStoppingRule
from tuning.trial import Trial, TrialStatus

__all__ = ["Oracle", "synchronized"]

# KerasTuner's rule: this many collisions in a row and the space counts as exhausted.
_MAX_COLLISIONS = 20

_Method = TypeVar("_Method", bound=Callable[..., Any])
# One re-entrant lock per oracle, kept outside it: an oracle is copied and pickled
# (to worker processes), a lock cannot be.
_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def synchronized(method: _Method) -> _Method:
    """Lets one thread at a time into the decorated methods of the same oracle.

    KerasTuner's decorator, for oracle subclasses whose methods may be
    called from several threads. Calls on one oracle wait for each other,
    whichever decorated methods they are; calls on different oracles do not.
    The lock is re-entrant: a decorated override may call a decorated
    ``super()`` method. The lock is not part of the oracle, which still
    copies and pickles. Hyperflow's own oracles are not decorated: the
    search engine, their only caller, makes one call at a time.

    Args:
        method: A method of an ``Oracle`` subclass.

    Returns:
        The method, holding the oracle's lock while it runs.

    Example:
        >>> class MyOracle(RandomSearchOracle):  # doctest: +SKIP
        ...     @synchronized
        ...     def end_trial(self, trial):
        ...         super().end_trial(trial)
        ...         self.finished.append(trial.trial_id)
    """

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCKS_GUARD:
            lock = _LOCKS.get(self)
            if lock is None:
                lock = _LOCKS[self] = threading.RLock()
        with lock:
            return method(self, *args, **kwargs)

    return cast(_Method, locked)


def values_key(values: Mapping[str, Any]) -> str:
    """A canonical string for a set of active values, used to spot duplicates."""
    return json.dumps({k: values[k] for k in sorted(values)}, sort_keys=True, default=str)


class Oracle:
    """Base class of the search algorithms.

    Args:
        objective: A metric name, an ``Objective``, a list of these, or None
            for the number the trial returns, minimised.
        max_trials: The most trials to run; None for no limit (the oracle
            stops when its space is exhausted).
        hyperparameters: A ``HyperParameters`` with part of the space declared
            in advance (for example to fix or narrow some values).
        allow_new_entries: Whether the model may declare hyperparameters that
            ``hyperparameters`` does not hold.
        tune_new_entries: Whether such new hyperparameters are tuned (else they
            keep their defaults).
        seed: Makes the sequence of trials repeatable.
        max_retries_per_trial: How often a crashed (INVALID) trial is rerun.
        max_consecutive_failed_trials: Consecutive FAILED trials that end the
            search with an error.
        pruning: A ``MedianStoppingRule`` to stop bad trials early, or None.

    Raises:
        ValueError: A budget or limit is out of range.
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = None,
        hyperparameters: HyperParameters | None = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        seed: int | None = None,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        pruning: MedianStoppingRule | None = None,
    ) -> None:
        if max_trials is not None and (isinstance(max_trials, bool) or int(max_trials) < 1):
            raise ValueError(f"max_trials must be at least 1 (or None), got {max_trials!r}.")
        if max_retries_per_trial < 0:
            raise ValueError(f"max_retries_per_trial must be >= 0, got {max_retries_per_trial!r}.")
        if max_consecutive_failed_trials < 1:
            raise ValueError(
                "max_consecutive_failed_trials must be >= 1, "
                f"got {max_consecutive_failed_trials!r}."
            )
        if hyperparameters is not None and not isinstance(hyperparameters, HyperParameters):
            raise TypeError(
                f"hyperparameters must be a HyperParameters, got {type(hyperparameters).__name__}."
            )
        if not allow_new_entries and tune_new_entries:
            # KerasTuner's rule: tuning entries that may not exist makes no sense.
            tune_new_entries = False
        self.objective: Objective = create_objective(objective)
        self.max_trials = None if max_trials is None else int(max_trials)
        self.hyperparameters = hyperparameters.copy() if hyperparameters else HyperParameters()
        self.allow_new_entries = allow_new_entries
        self.tune_new_entries = tune_new_entries
        self.seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else int(seed)
        self.max_retries_per_trial = int(max_retries_per_trial)
        self.max_consecutive_failed_trials = int(max_consecutive_failed_trials)
        self.pruning = pruning
        self._reset_state()

    def _reset_state(self) -> None:
        self.trials: dict[str, Trial] = {}
        self.ongoing_trials: dict[str, Trial] = {}
        self._fixed_names = {hp.name for hp in self.hyperparameters.space}
        self._tried: set[str] = set()
        self._retry_queue: list[str] = []
        self._retries: dict[str, int] = {}
        self._enqueued: list[dict[str, Any]] = []
        self._draws = 0
        self._consecutive_failures = 0
        self._end_order: list[str] = []

    # Subclass interface -------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Decides the next trial's values; called by ``create_trial``.

        Args:
            trial_id: The id the new trial will get.

        Returns:
            ``{"status": TrialStatus.RUNNING, "values": {...}}`` to start a
            trial, ``{"status": TrialStatus.IDLE}`` to ask the worker to wait,
            or ``{"status": TrialStatus.STOPPED}`` when the search is over.
        """
        raise NotImplementedError

    def _after_end_trial(self, trial: Trial) -> None:
        """Hook for subclasses, called once a trial has finished for good."""

    # Randomness ---------------------------------------------------------------

    def _rng(self) -> np.random.Generator:
        """A fresh generator; the sequence of draws is fixed by ``seed``."""
        self._draws += 1
        return np.random.default_rng(np.random.SeedSequence([self.seed, self._draws]))

    def _random_values(self) -> dict[str, Any] | None:
        """Random active values never tried before, or None if the space seems exhausted."""
        for _ in range(_MAX_COLLISIONS):
            values = self._sample(self._rng())
            if values_key(values) not in self._tried:
                return values
        return None

    def _sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return sample_values(self.hyperparameters, rng, self._is_tuned)

    def _is_tuned(self, name: str) -> bool:
        return self.tune_new_entries or name in self._fixed_names

    def _active_values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return active_values(self.hyperparameters, values)

    # Ask ----------------------------------------------------------------------

    def _next_trial_id(self) -> str:
        width = max(2, len(str(self.max_trials - 1))) if self.max_trials else 2
        return str(len(self.trials)).zfill(width)

    def _budget_spent(self) -> bool:
        return self.max_trials is not None and len(self.trials) >= self.max_trials

    def create_trial(self, tuner_id: str) -> Trial:
        """Starts the next trial for the worker ``tuner_id``.

        A worker that asks again while its trial runs gets the same trial.
        INVALID trials waiting for a retry come first, then enqueued values,
        then the algorithm's own proposal.

        Returns:
            A trial with status RUNNING (train it), IDLE (wait and ask again)
            or STOPPED (the search is over; the trial is not recorded).
        """
        if tuner_id in self.ongoing_trials:
            return self.ongoing_trials[tuner_id]
        if self._consecutive_failures >= self.max_consecutive_failed_trials:
            return Trial(self.hyperparameters.copy(), status=TrialStatus.STOPPED)
        if self._retry_queue:
            trial = self.trials[self._retry_queue.pop(0)]
            trial.status = TrialStatus.RUNNING
            trial.message = None
            trial.score = trial.best_step = None
            trial.metrics = type(trial.metrics)()
            self.ongoing_trials[tuner_id] = trial
            return trial
        if self._budget_spent():
            return Trial(self.hyperparameters.copy(), status=TrialStatus.STOPPED)
        if not self.hyperparameters.space and self.ongoing_trials and not self._enqueued:
            # The running trial will reveal the space (a run_trial that declares
            # its hyperparameters): wait for it rather than propose blind.
            return Trial(self.hyperparameters.copy(), status=TrialStatus.IDLE)
        trial_id = self._next_trial_id()
        if self._enqueued:
            response = {"status": TrialStatus.RUNNING, "values": self._enqueued.pop(0)}
        else:
            response = self.populate_space(trial_id)
        status = TrialStatus(response["status"])
        if status != TrialStatus.RUNNING or response.get("values") is None:
            stop = status if status == TrialStatus.IDLE else TrialStatus.STOPPED
            return Trial(self.hyperparameters.copy(), status=stop)
        hps = self.hyperparameters.copy()
        hps.values = dict(response["values"])
        trial = Trial(hps, trial_id=trial_id, status=TrialStatus.RUNNING)
        self.trials[trial_id] = trial
        self.ongoing_trials[tuner_id] = trial
        self._tried.add(values_key(trial.values))
        return trial

    def requeue_ongoing(self) -> list[str]:
        """Puts the trials that were running back at the head of the queue.

        Called when a search resumes after its process died: those trials run
        again under the same ids, without counting as retries.

        Returns:
            The ids of the requeued trials.
        """
        requeued = [trial.trial_id for trial in self.ongoing_trials.values()]
        self._retry_queue = requeued + [t for t in self._retry_queue if t not in requeued]
        self.ongoing_trials = {}
        return requeued

    def enqueue_trial(self, values: Mapping[str, Any]) -> None:
        """Tries ``values`` next, before the algorithm's own proposals.

        Values not given take their defaults; a hyperparameter not yet in the
        space is kept and used once the model declares it.

        Example:
            >>> oracle = RandomSearchOracle(max_trials=5)  # doctest: +SKIP
            >>> oracle.enqueue_trial({"units": 128, "lr": 1e-3})  # doctest: +SKIP
        """
        if not isinstance(values, Mapping):
            raise TypeError(f"enqueue_trial takes a dict of values, got {type(values).__name__}.")
        for hp in self.hyperparameters.space:
            if hp.name in values and not hp.contains(values[hp.name]):
                raise ValueError(
                    f"Enqueued value {values[hp.name]!r} for {hp.name!r} is outside the values "
                    f"{hp!r} allows."
                )
        self._enqueued.append(self._active_values(values) | dict(values))

    # Warm start ---------------------------------------------------------------

    def warm_start(self, trials: Sequence[Trial], best_k: int = 5) -> int:
        """Starts from the trials of earlier searches: enqueues the values of the best ``best_k``.

        Called once, before the search's first trial, with the trials of
        earlier searches over the same space and objective (the nightly flow
        passes those of the previous nights). Only COMPLETED trials with a
        finite score and values this space allows are used; values already
        tried or enqueued in this search are skipped. Subclasses may use the
        trials differently (``BayesianOptimizationOracle`` models them).

        Args:
            trials: Trials of earlier searches, in any order.
            best_k: How many of the best ones to enqueue.

        Returns:
            How many earlier trials this search uses.
        """
        seen = set(self._tried) | {values_key(v) for v in self._enqueued}
        used = 0
        for _, values in self._warm_start_points(trials):
            if used >= best_k:
                break
            if values_key(values) not in seen:
                seen.add(values_key(values))
                self.enqueue_trial(values)
                used += 1
        return used

    def _warm_start_points(self, trials: Sequence[Trial]) -> list[tuple[float, dict[str, Any]]]:
        return warm_start_points(trials, self.hyperparameters, self.objective)

    # Tell ---------------------------------------------------------------------

    def update_space(self, hyperparameters: HyperParameters) -> None:
        """Adds the hyperparameters a trial declared to the search space.

        Raises:
            RuntimeError: New hyperparameters appeared with ``allow_new_entries=False``.
        """
        known = {(hp.name, tuple(hp.conditions)) for hp in self.hyperparameters.space}
        new = [hp for hp in hyperparameters.space if (hp.name, tuple(hp.conditions)) not in known]
        if new and not self.allow_new_entries:
            names = ", ".join(repr(hp.name) for hp in new)
            raise RuntimeError(
                f"The model declared new hyperparameters ({names}) but allow_new_entries=False."
            )
        if new:
            self.hyperparameters.merge(new, overwrite=False)

    def update_trial(
        self, trial_id: str, metrics: Mapping[str, float], step: int = 0, prune: bool = True
    ) -> TrialStatus:
        """Records metrics a trial reported at ``step`` (an epoch, say).

        Args:
            trial_id: The trial's id.
            metrics: Metric names to values; several calls at one step (one
                per execution) are averaged.
            step: The step (epoch) the values belong to.
            prune: Whether to apply the pruning rule. False when a finished
                trial's curve is recorded after the fact.

        Returns:
            The trial's status: STOPPED means "stop training this trial", as
            the pruning rule decided; RUNNING means go on.
        """
        trial = self.trials[trial_id]
        for name in self.objective.names:
            if name in metrics and not trial.metrics.exists(name):
                trial.metrics.register(name, direction_of(self.objective, name))
        for name, value in metrics.items():
            trial.metrics.update(name, float(value), step)
        if (
            prune
            and self.pruning is not None
            and trial.status == TrialStatus.RUNNING
            and self.pruning.should_stop(
                self.objective_curve(trial), self.pruning_reference(), self.objective.direction
            )
        ):
            trial.status = TrialStatus.STOPPED
            trial.message = f"Pruned at step {step}: worse than the median of completed trials."
        return trial.status

    def objective_curve(self, trial: Trial) -> dict[int, float]:
        """``{step: objective value}`` of a trial, at steps where all its metrics are."""
        return objective_curve(trial, self.objective)

    def pruning_reference(self) -> dict[int, float]:
        """The pruning rule's reference from completed trials (empty without a rule)."""
        if self.pruning is None:
            return {}
        completed = (t for t in self.trials.values() if t.status == TrialStatus.COMPLETED)
        curves = [objective_curve(t, self.objective) for t in completed]
        return self.pruning.reference(curves, self.objective.direction)

    def score_trial(self, trial: Trial) -> None:
        """Sets ``trial.score`` and ``trial.best_step`` from its best objective value.

        A score the caller already set (the tuner's mean over executions) is kept.
        """
        if trial.score is not None:
            return
        curve = self.objective_curve(trial)
        best = best_point(curve.items(), self.objective.direction)
        if best is None:
            trial.score = float("nan") if curve else None
            return
        trial.best_step, trial.score = best

    def end_trial(self, trial: Trial) -> None:
        """Records that ``trial`` ended, with the status and message it carries.

        COMPLETED trials are scored (a NaN score makes them INVALID). INVALID
        trials are queued for a retry while ``max_retries_per_trial`` allows,
        else they become FAILED.

        Raises:
            FatalRuntimeError: ``max_consecutive_failed_trials`` trials in a row
                failed; the message carries the last one's error.
        """
        recorded = self.trials[trial.trial_id]
        recorded.status, recorded.message = TrialStatus(trial.status), trial.message
        if trial is not recorded:
            recorded.score, recorded.best_step = trial.score, trial.best_step
            recorded.hyperparameters = trial.hyperparameters
        # The model may have declared new hyperparameters while it ran.
        self._tried.add(values_key(recorded.values))
        for tuner_id, ongoing in list(self.ongoing_trials.items()):
            if ongoing.trial_id == recorded.trial_id:
                del self.ongoing_trials[tuner_id]
        if recorded.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED):
            self.score_trial(recorded)
            if recorded.status == TrialStatus.COMPLETED and (
                recorded.score is None or math.isnan(recorded.score)
            ):
                recorded.status = TrialStatus.INVALID
                recorded.message = recorded.message or "The objective's value is NaN or missing."
        if recorded.status == TrialStatus.INVALID:
            retries = self._retries.get(recorded.trial_id, 0)
            if retries < self.max_retries_per_trial:
                self._retries[recorded.trial_id] = retries + 1
                self._retry_queue.append(recorded.trial_id)
                return
            recorded.status = TrialStatus.FAILED
        self._end_order.append(recorded.trial_id)
        if recorded.status == TrialStatus.FAILED:
            self._consecutive_failures += 1
        else:
            self._consecutive_failures = 0
        self._after_end_trial(recorded)
        if self._consecutive_failures >= self.max_consecutive_failed_trials:
            raise FatalRuntimeError(
                f"{self._consecutive_failures} consecutive trials failed, the limit set by "
                f"max_consecutive_failed_trials. The last error:\n{recorded.message}"
            )

    # Read ---------------------------------------------------------------------

    @property
    def failed_too_often(self) -> bool:
        """Whether ``max_consecutive_failed_trials`` has been reached."""
        return self._consecutive_failures >= self.max_consecutive_failed_trials

    def scored_trials(self) -> list[Trial]:
        """Trials that finished with a usable score (COMPLETED or pruned)."""
        return scored_trials(self.trials.values())

    def get_best_trials(self, num_trials: int = 1) -> list[Trial]:
        """The best COMPLETED trials, best first."""
        return best_trials(self.trials.values(), self.objective)[:num_trials]

    def get_pareto_trials(self) -> list[Trial]:
        """COMPLETED trials that no other trial beats on every objective.

        With a single objective this is the best trial.
        """
        return pareto_trials(self.trials.values(), self.objective)

    def objective_values(self, trial: Trial) -> list[float]:
        """A scored trial's value of each objective at its best step (NaN where missing)."""
        return objective_values(trial, self.objective)

    def without_history(self) -> Oracle:
        """A copy with this oracle's configuration and space but none of its trials.

        What a worker process gets: it tells the objective and the pruning rule.
        """
        blank = copy.copy(self)
        blank._reset_state()
        return blank

    @property
    def enqueued_trials(self) -> list[dict[str, Any]]:
        """The values ``enqueue_trial`` queued that no trial has taken yet, in order."""
        return [dict(values) for values in self._enqueued]

    @property
    def start_order(self) -> list[str]:
        """The trials' ids in the order they started (a retry keeps its place)."""
        return list(self.trials)

    @property
    def end_order(self) -> list[str]:
        """The ids of the trials that ended for good, in the order they did.

        A trial waiting for a retry is not there yet.
        """
        return list(self._end_order)

    def get_trial(self, trial_id: str) -> Trial:
        return self.trials[trial_id]

    def get_space(self) -> HyperParameters:
        return self.hyperparameters.copy()

    # State --------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The whole search state as JSON-safe data; ``set_state`` restores it."""
        return {
            "class_name": type(self).__name__,
            "config": self.get_config(),
            "hyperparameters": self.hyperparameters.get_config(),
            "fixed_names": sorted(self._fixed_names),
            "trials": [t.get_state() for t in self.trials.values()],
            "ongoing_trials": {k: t.trial_id for k, t in self.ongoing_trials.items()},
            "retry_queue": list(self._retry_queue),
            "retries": dict(self._retries),
            "enqueued": list(self._enqueued),
            "draws": self._draws,
            "consecutive_failures": self._consecutive_failures,
            "end_order": list(self._end_order),
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores what ``get_state`` returned; the search continues identically."""
        self.hyperparameters = HyperParameters.from_config(state["hyperparameters"])
        self._reset_state()
        self._fixed_names = set(state["fixed_names"])
        for trial_state in state["trials"]:
            trial = Trial.from_state(trial_state)
            self.trials[trial.trial_id] = trial
            self._tried.add(values_key(trial.values))
        self.ongoing_trials = {
            k: self.trials[trial_id] for k, trial_id in state["ongoing_trials"].items()
        }
        self._retry_queue = list(state["retry_queue"])
        self._retries = dict(state["retries"])
        self._enqueued = list(state["enqueued"])
        self._draws = int(state["draws"])
        self._consecutive_failures = int(state["consecutive_failures"])
        self._end_order = list(state["end_order"])

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-safe (for the tracking store)."""
        return {
            "objective": self.objective.get_config(),
            "max_trials": self.max_trials,
            "allow_new_entries": self.allow_new_entries,
            "tune_new_entries": self.tune_new_entries,
            "seed": self.seed,
            "max_retries_per_trial": self.max_retries_per_trial,
            "max_consecutive_failed_trials": self.max_consecutive_failed_trials,
            "pruning": None if self.pruning is None else self.pruning.get_config(),
        }
