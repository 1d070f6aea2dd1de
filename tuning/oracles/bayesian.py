"""Bayesian optimisation with a Gaussian process and a lower confidence bound.

The first trials are quasi-random (scrambled Sobol points); after that each
proposal fits a Gaussian process (``tuning.oracles._gp``) to the (log-warped)
losses of the scored trials and picks the untried configuration that minimises
``mu - beta * sigma``, every other time within a trust region around the best
point (``_trust_region``). With ``sampler="tpe"`` or ``"auto"`` the proposals may
come from the TPE instead (``tuning.oracles.tpe``). With
``multi_objective="pareto"`` each proposal models a fresh random scalarisation
of the objectives instead (ParEGO, ``_parego``), with the Gaussian process.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import scipy.optimize
from scipy.stats import qmc

from tuning.hyperparameters import (
    Boolean,
    Choice,
    Fixed,
    Float,
    HyperParameter,
    HyperParameters,
    Int,
)
from tuning.objective import MultiObjective
from tuning.oracles import _gp, _parego, _trust_region
from tuning.oracles._trials import pareto_trials
from tuning.oracles.base import _MAX_COLLISIONS, Oracle, values_key
from tuning.oracles.tpe import tpe_values
from tuning.trial import Trial, TrialStatus

__all__ = ["BayesianOptimizationOracle"]

_SAMPLERS = ("gp", "tpe", "auto")
# "auto" uses the TPE beyond this many tuned hyperparameters, or with unordered or
# conditional ones.
_AUTO_MAX_GP_DIMS = 10
# Random (Sobol) trials before the TPE takes over, as Optuna's default.
_TPE_INITIAL = 10
# A value of the seed sequence that keeps the Sobol scrambling apart from ``_rng()``'s draws.
_SOBOL_STREAM = 0x50B01
# Encoded value of an ordinal column whose hyperparameter is inactive (see ``_Encoding``).
_INACTIVE = 0.5
# Finite spaces up to this many configurations are searched exhaustively.
_MAX_ENUMERATED = 2048
# Acquisition: random points screened, the best of them refined by L-BFGS-B together with
# perturbed copies of the best observed points, and how far those copies move.
_SCREENED_POINTS = 1000
_RANDOM_STARTS = 10
_OBSERVED_STARTS = 5
_PERTURBATION = 0.05
_ACQUISITION_MAXITER = 200
# Screened points kept as fallback candidates should every refined optimum be tried already.
_SCREENED_CANDIDATES = 64
# Kernel hyperparameters are fitted afresh when the data grew by this fraction since the last
# fit (every trial while there are fewer than 1 / fraction observations); otherwise reused.
_REFIT_FRACTION = 0.05
# Below this many observations per input dimension, one length scale serves every dimension:
# fewer points cannot tell the dimensions' length scales apart.
_ISOTROPIC_POINTS_PER_DIM = 4
# What ``multi_objective`` may be: KerasTuner's signed sum, or a search for the Pareto front.
_MULTI_OBJECTIVE_MODES = ("signed_sum", "pareto")
# Random restarts of a fit, besides the warm start, while the data are small and then after.
_RESTARTS_SMALL, _RESTARTS_LARGE, _SMALL = 2, 1, 100


def _num_values(hp: HyperParameter) -> int | None:
    """How many values ``hp`` takes (None: continuous), without listing a long grid.

    A stepped ``Int`` or ``Float`` puts its smallest value at the first bucket
    centre, ``0.5 / size``, which gives the size of a grid of any length.
    """
    if isinstance(hp, (Int, Float)):
        return None if hp.step is None else round(0.5 / hp.value_to_prob(hp.min_value))
    return len(hp.values)


class _Encoding:
    """Maps active values to points of the unit cube and back, for one search space.

    Each tuned hyperparameter gets one column holding ``value_to_prob`` of its
    value (discrete values sit at their bucket centres), except an unordered
    ``Choice``, which gets one column per value (one-hot). ``Fixed`` and
    untuned hyperparameters get none: they always take their value.

    An inactive hyperparameter is imputed at a constant: 0.5 in an ordinal
    column and all zeros in a one-hot block. Two configurations where it is
    inactive therefore agree on its columns, so it adds nothing to their
    distance in the kernel; against a configuration where it is active it adds
    a fixed amount, whatever the inactive one's value would have been.

    Args:
        space: The hyperparameters, parents before their children.
        is_tuned: Whether a hyperparameter (by name) is searched.
    """

    def __init__(self, space: Sequence[HyperParameter], is_tuned: Callable[[str], bool]) -> None:
        self.space = list(space)
        self.columns: list[slice | None] = []
        self.one_hot: list[bool] = []
        width = 0
        for hp in self.space:
            if isinstance(hp, Fixed) or not is_tuned(hp.name):
                self.columns.append(None)
                self.one_hot.append(False)
                continue
            one_hot = isinstance(hp, Choice) and not hp.ordered
            size = len(hp.values) if one_hot else 1
            self.columns.append(slice(width, width + size))
            self.one_hot.append(one_hot)
            width += size
        self.dim = width
        self.num_tuned = sum(c is not None for c in self.columns)

    @staticmethod
    def _active(hp: HyperParameter, values: Mapping[str, Any]) -> bool:
        """Whether ``hp`` is active given the active values decided so far."""
        return all(condition.is_met(values) for condition in hp.conditions)

    def _fill(self, pick: Callable[[int, HyperParameter], Any]) -> dict[str, Any]:
        """Active values, walking the space in order; ``pick`` decides tuned ones."""
        values: dict[str, Any] = {}
        for index, hp in enumerate(self.space):
            if self._active(hp, values):
                values[hp.name] = hp.default if self.columns[index] is None else pick(index, hp)
        return values

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """The point of a configuration (its active values)."""
        point = np.zeros(self.dim)
        for hp, cols, one_hot in zip(self.space, self.columns, self.one_hot, strict=True):
            if cols is None:
                continue
            active = hp.name in values and self._active(hp, values)
            if not one_hot:
                point[cols] = hp.value_to_prob(values[hp.name]) if active else _INACTIVE
            elif active and values[hp.name] in hp.values:
                point[cols.start + hp.values.index(values[hp.name])] = 1.0
        return point

    def decode(self, point: np.ndarray) -> dict[str, Any]:
        """The configuration at a point; one-hot blocks take their largest column."""

        def pick(index: int, hp: HyperParameter) -> Any:
            cols = self.columns[index]
            if self.one_hot[index]:
                return hp.values[int(np.argmax(point[cols]))]
            return hp.prob_to_value(float(np.clip(point[cols.start], 0.0, 1.0)))

        return self._fill(pick)

    def from_probs(self, probs: np.ndarray) -> dict[str, Any]:
        """The configuration with ``prob_to_value(probs[j])`` for the j-th tuned hyperparameter."""
        order = np.cumsum([c is not None for c in self.columns]) - 1
        return self._fill(lambda index, hp: hp.prob_to_value(float(probs[order[index]])))

    def enumerate(self, limit: int) -> list[dict[str, Any]] | None:
        """Every configuration of a finite space, or None if continuous or over ``limit``."""
        configs: list[dict[str, Any]] = [{}]
        for index, hp in enumerate(self.space):
            grown: list[dict[str, Any]] = []
            for values in configs:
                if not self._active(hp, values):
                    grown.append(values)
                elif self.columns[index] is None:
                    grown.append({**values, hp.name: hp.default})
                elif _num_values(hp) is None or len(grown) + _num_values(hp) > limit:
                    return None
                else:
                    grown.extend({**values, hp.name: value} for value in hp.values)
                if len(grown) > limit:
                    return None
            configs = grown
        return configs


class BayesianOptimizationOracle(Oracle):
    """Bayesian optimisation with a Gaussian process (KerasTuner's algorithm, improved).

    The first ``num_initial_points`` scored trials come from a scrambled Sobol
    sequence. Then, at each proposal, the losses of the scored trials (the
    objective's score, negated for "max" objectives; pruned trials count with
    the score they reached), after a monotone log warp that tames a heavy
    upper tail (``_gp.warp``), are modelled by a Gaussian process with a Matérn
    5/2 kernel with one length scale per column (one for all columns while
    there are at most 4 observations per column), fitted by maximum a
    posteriori under log-normal priors on the length scales and the noise
    (see ``tuning.oracles._gp``), and the next trial minimises
    ``mu - beta * sigma``: over the whole space at every other proposal, and
    at the others over a trust region around the best point seen (a box
    that shrinks while the search fails to improve and grows while it
    improves, after TuRBO; see ``tuning.oracles._trust_region``), falling
    back to the whole space when the box holds no untried candidate. The
    global steps explore; the local ones refine the incumbent, which the
    bound alone neglects once its uncertainty draws it to the corners of the
    space (Levy-5). Running
    trials enter the model as if they had scored the worst loss seen so far
    (a "constant liar"), so parallel workers spread out.

    Values are encoded in the unit cube: one column per hyperparameter at its
    ``value_to_prob`` (discrete values at bucket centres), one-hot columns for
    unordered ``Choice`` values; inactive conditional hyperparameters sit at a
    constant so that they do not separate configurations that both lack them.
    The acquisition is minimised by L-BFGS-B from the best of many random
    points and from perturbed best observations; the optimum is decoded and
    the best candidate not tried before (finished or running) is proposed. A
    finite space of at most 2048 configurations is searched exhaustively
    instead, and the search stops once every configuration has been tried.

    ``warm_start`` adds the scored trials of earlier searches to the model's
    data as prior observations (not trials of this search).

    With several objectives the default models KerasTuner's signed sum (the
    minimised values minus the maximised ones), which finds one point of the
    trade-off. ``multi_objective="pareto"`` searches for the whole Pareto
    front instead (ParEGO, Knowles 2006): each proposal draws random weights
    on the simplex, rescales each objective's losses to [0, 1] over the scored
    trials, and models their augmented Chebyshev scalarisation
    ``max_j(w_j f_j) + sum_j(w_j f_j)`` in place of the signed sum.
    ``get_pareto_trials()`` then returns the front found. Pruning is refused
    in this mode (a trial's curve has no single "median" to compare with),
    and ``warm_start`` enqueues the earlier searches' Pareto front.

    Kernel hyperparameters are refitted (warm-started from the last fit plus a
    random restart or two) every trial at first, then whenever the number of
    observations has grown by 5 %; in between the last fit is reused. With
    300 scored trials in 6 dimensions a proposal takes well under a second.

    Args:
        objective: See ``Oracle``.
        max_trials: The most trials to run (default 10).
        num_initial_points: How many scored trials to gather at quasi-random
            points before the model is used; default
            ``max(3 * number of tuned hyperparameters, 3)``.
        alpha: The smallest noise variance of the model, in units of the
            normalised losses' variance (it is also the jitter that keeps the
            kernel matrix positive definite).
        beta: The weight of the uncertainty in the acquisition; larger
            explores more.
        seed: Makes the sequence of trials repeatable.
        hyperparameters: Part of the space declared in advance.
        allow_new_entries: See ``Oracle``.
        tune_new_entries: See ``Oracle``.
        max_retries_per_trial: See ``Oracle``.
        max_consecutive_failed_trials: See ``Oracle``.
        multi_objective: ``"signed_sum"`` (default, KerasTuner's score) or
            ``"pareto"`` (search for the Pareto front of a list of objectives,
            with the Gaussian process).
        sampler: ``"gp"`` (default): the Gaussian process. ``"tpe"``: the
            Tree-structured Parzen Estimator of ``TPEOracle`` after 10
            quasi-random trials (``alpha``, ``beta`` and
            ``num_initial_points`` then do not apply). ``"auto"``: decided
            at each proposal from the space as it stands: the TPE when a
            tuned hyperparameter is an unordered ``Choice``, a ``Boolean``
            or conditional, or when more than 10 are tuned; else the GP.
        **kwargs: Further ``Oracle`` options (``pruning``).

    Raises:
        ValueError: ``num_initial_points``, ``alpha`` or ``beta`` is negative;
            ``sampler`` is not one of the three; ``multi_objective`` is
            unknown, or ``"pareto"`` with fewer than two objectives, with
            ``pruning`` or with a sampler other than ``"gp"``.

    Example:
        >>> oracle = BayesianOptimizationOracle(objective="val_loss", max_trials=20, seed=1)
        >>> oracle.hyperparameters.Float("lr", 1e-4, 1e-1, sampling="log")
        0.0001
        >>> trial = oracle.create_trial("worker-0")
        >>> trial.status.value
        'RUNNING'
    """

    def __init__(
        self,
        objective: Any = None,
        max_trials: int | None = 10,
        num_initial_points: int | None = None,
        alpha: float = 1e-4,
        beta: float = 2.6,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        multi_objective: str = "signed_sum",
        sampler: str = "gp",
        **kwargs: Any,
    ) -> None:
        if multi_objective not in _MULTI_OBJECTIVE_MODES:
            raise ValueError(
                f"multi_objective must be one of {_MULTI_OBJECTIVE_MODES}, got {multi_objective!r}."
            )
        if sampler not in _SAMPLERS:
            raise ValueError(f"sampler must be one of {_SAMPLERS}, got {sampler!r}.")
        if multi_objective == "pareto" and sampler != "gp":
            raise ValueError(
                f'multi_objective="pareto" searches with the Gaussian process: sampler must be '
                f'"gp", got {sampler!r}.'
            )
        self.sampler = sampler
        if num_initial_points is not None and int(num_initial_points) < 0:
            raise ValueError(f"num_initial_points must be >= 0, got {num_initial_points!r}.")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}.")
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta!r}.")
        self.num_initial_points = None if num_initial_points is None else int(num_initial_points)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.multi_objective = multi_objective
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            **kwargs,
        )
        if multi_objective == "pareto":
            if not isinstance(self.objective, MultiObjective) or len(self.objective.names) < 2:
                raise ValueError(
                    'multi_objective="pareto" needs a list of at least two objectives, '
                    f"got objective={self.objective}."
                )
            if self.pruning is not None:
                raise ValueError(
                    'pruning is not supported with multi_objective="pareto": a trial that is '
                    "worse than the median on one objective may be on the Pareto front. "
                    "Pass pruning=None, or search the signed sum."
                )

    @property
    def pareto(self) -> bool:
        """Whether the search is for the Pareto front of several objectives."""
        return self.multi_objective == "pareto"

    def _reset_state(self) -> None:
        super()._reset_state()
        self._sobol_index = 0
        self._theta: list[float] | None = None
        self._theta_size = 0
        # Scored trials of earlier searches (``warm_start``): modelled, never counted as trials.
        self._priors: list[dict[str, Any]] = []

    @property
    def _noise_floor(self) -> float:
        return max(self.alpha, 1e-8)

    # Proposals ----------------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Proposes quasi-random values first, then the model's choice.

        Called by ``create_trial`` when no retry or enqueued trial comes first.

        Returns:
            RUNNING with values never tried before, or STOPPED once the space
            is exhausted.
        """
        encoding = _Encoding(self.hyperparameters.space, self._is_tuned)
        observed = self.scored_trials()
        initial = self.num_initial_points
        if initial is None:
            initial = max(3 * encoding.num_tuned, 3)
        known = len(observed) + len(self._priors)
        if self._uses_tpe(encoding):
            values = tpe_values(self, observed) if len(observed) >= _TPE_INITIAL else None
            if values is None:
                values = self._sobol_values(encoding)
        elif not known or known < initial:
            values = self._sobol_values(encoding)
        else:
            values = self._model_values(encoding, observed, initial)
        if values is None:
            values = self._random_values() or self._any_untried(encoding)
        if values is None:
            return {"status": TrialStatus.STOPPED}
        return {"status": TrialStatus.RUNNING, "values": values}

    def _uses_tpe(self, encoding: _Encoding) -> bool:
        """Whether this proposal comes from the TPE (see ``sampler``)."""
        if self.sampler != "auto":
            return self.sampler == "tpe"
        tuned = [hp for hp, cols in zip(encoding.space, encoding.columns, strict=True) if cols]
        return len(tuned) > _AUTO_MAX_GP_DIMS or any(
            hp.conditions or isinstance(hp, Boolean) or (isinstance(hp, Choice) and not hp.ordered)
            for hp in tuned
        )

    def _sobol_values(self, encoding: _Encoding) -> dict[str, Any] | None:
        """The next untried Sobol point, or None after ``_MAX_COLLISIONS`` repeats."""
        for _ in range(_MAX_COLLISIONS):
            probs = self._sobol_point(encoding.num_tuned, self._sobol_index)
            self._sobol_index += 1
            values = encoding.from_probs(probs)
            if values_key(values) not in self._tried:
                return values
        return None

    def _sobol_point(self, dim: int, index: int) -> np.ndarray:
        """Point ``index`` of the scrambled Sobol sequence in ``dim`` dimensions."""
        if dim == 0:
            return np.zeros(0)
        seed = np.random.SeedSequence([self.seed, _SOBOL_STREAM, dim])
        sampler = qmc.Sobol(dim, scramble=True, seed=np.random.default_rng(seed))
        # The sequence is extensible: the first 2**m points do not depend on m.
        return sampler.random_base2(max(index, 1).bit_length())[index]

    def _any_untried(self, encoding: _Encoding) -> dict[str, Any] | None:
        """A random untried configuration of a small finite space, else None."""
        configs = encoding.enumerate(_MAX_ENUMERATED) or []
        untried = [c for c in configs if values_key(c) not in self._tried]
        if not untried:
            return None
        return untried[int(self._rng().integers(len(untried)))]

    def _model_values(
        self, encoding: _Encoding, observed: list[Trial], initial: int
    ) -> dict[str, Any] | None:
        """The untried configuration with the lowest confidence bound, or None.

        Every other proposal searches the trust region first (``_trust_box``)
        and the whole space only if the region holds no untried candidate.
        """
        configs = encoding.enumerate(_MAX_ENUMERATED)
        if configs is not None:
            configs = [c for c in configs if values_key(c) not in self._tried]
            if not configs:
                return None
        gp = self._model(encoding, observed)
        box = self._trust_box(gp, observed, initial)
        if configs is not None and box is not None:
            points = np.array([encoding.encode(c) for c in configs]).reshape(len(configs), -1)
            inside = np.all((points >= box[0]) & (points <= box[1]), axis=1)
            configs = [c for c, keep in zip(configs, inside, strict=True) if keep] or configs
        if configs is None:
            whole = (np.zeros(encoding.dim), np.ones(encoding.dim))
            for low, high in [box, whole] if box is not None else [whole]:
                minima = self._acquisition_minima(gp, low, high)
                configs = [
                    c for c in map(encoding.decode, minima) if values_key(c) not in self._tried
                ]
                if configs:
                    break
            if not configs:
                return None
        # Rank by the bound at each configuration's own encoding, inactive columns included.
        points = np.array([encoding.encode(c) for c in configs]).reshape(len(configs), -1)
        return configs[int(np.argmin(gp.lower_confidence_bound(points, self.beta)[0]))]

    def _trust_box(
        self, gp: _gp.GaussianProcess, observed: list[Trial], initial: int
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The trust region around the best point for a local proposal, else None.

        Model proposals alternate between the whole space and this box (see
        ``_trust_region``), whose side is replayed from the losses of the
        trials since the quasi-random ones. A Pareto search has no single
        incumbent and always searches the whole space.
        """
        if self.pareto or (len(self.trials) - initial) % 2 == 0:
            return None
        losses = [self.objective.loss(float(t.score)) for t in observed]
        first = max(0, initial - len(self._priors))
        before = losses[:first] + [self.objective.loss(float(p["score"])) for p in self._priors]
        length = _trust_region.side_length(
            losses[first:], min(before, default=math.inf), gp.x.shape[1]
        )
        return _trust_region.bounds(gp.x[int(np.argmin(gp.y))], length, gp.length_scales)

    def _model(self, encoding: _Encoding, observed: list[Trial]) -> _gp.GaussianProcess:
        """The GP of the scored trials' (and priors') losses, running trials at the worst loss."""
        points = [(t.values, t.score) for t in observed]
        points += [(p["values"], p["score"]) for p in self._priors]
        x = np.array([encoding.encode(v) for v, _ in points]).reshape(len(points), -1)
        if self.pareto:
            losses = self._scalarised_losses(observed)
        else:
            losses = np.array([self.objective.loss(float(score)) for _, score in points])
        finite = losses[np.isfinite(losses)]
        # An infinite loss (a diverged run) counts as the worst finite one, -inf as the best.
        losses = (
            np.clip(losses, finite.min(), finite.max()) if finite.size else np.zeros(len(losses))
        )
        # ParEGO's scalarisations are bounded already (normalised objectives): no warp.
        y, _, _ = _gp.normalise(losses if self.pareto else _gp.warp(losses))
        theta = self._kernel_hyperparameters(x, y)
        scored = {t.trial_id for t in observed}
        pending = [t for t in self.ongoing_trials.values() if t.trial_id not in scored]
        if pending:
            x = np.vstack([x, [encoding.encode(t.values) for t in pending]])
            y = np.concatenate([y, np.full(len(pending), y.max())])
        return _gp.GaussianProcess(x, y, theta, self._noise_floor)

    def _scalarised_losses(self, observed: list[Trial]) -> np.ndarray:
        """ParEGO's target: a random scalarisation of the trials' objective losses."""
        objectives = self.objective.objectives  # type: ignore[attr-defined]
        losses = np.array(
            [
                [o.loss(v) for o, v in zip(objectives, self.objective_values(t), strict=True)]
                for t in observed
            ]
        ).reshape(len(observed), len(objectives))
        weights = _parego.random_weights(len(objectives), self._rng())
        return _parego.scalarise(losses, weights)

    def _kernel_hyperparameters(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The last fit's ``theta``, or a fresh fit when due (see the class docstring)."""
        n, dim = x.shape
        previous = None
        if self._theta is not None and len(self._theta) == dim + 2:
            previous = np.array(self._theta)
            if n - self._theta_size < max(1, math.ceil(_REFIT_FRACTION * self._theta_size)):
                return previous
        floor = self._noise_floor
        rng = self._rng()
        restarts = _RESTARTS_SMALL if n <= _SMALL else _RESTARTS_LARGE
        starts = [previous if previous is not None else _gp.default_theta(dim, floor)]
        starts += [_gp.random_theta(dim, floor, rng) for _ in range(restarts)]
        isotropic = n <= _ISOTROPIC_POINTS_PER_DIM * dim
        theta = _gp.fit_theta(x, y, starts, floor, isotropic=isotropic)
        self._theta, self._theta_size = [float(v) for v in theta], n
        return theta

    def _acquisition_minima(
        self, gp: _gp.GaussianProcess, low: np.ndarray, high: np.ndarray
    ) -> np.ndarray:
        """Local minima of the bound in the box ``[low, high]``, then the best screened points.

        All starts are refined by one L-BFGS-B run on the sum of their bounds
        (the problems are independent, so its gradient is theirs side by side).
        """
        rng = self._rng()
        screened = low + (high - low) * rng.random((_SCREENED_POINTS, len(low)))
        order = np.argsort(gp.lower_confidence_bound(screened, self.beta)[0])
        best_seen = gp.x[np.argsort(gp.y)[:_OBSERVED_STARTS]]
        perturbed = np.clip(best_seen + rng.normal(0.0, _PERTURBATION, best_seen.shape), low, high)
        starts = np.vstack([screened[order[:_RANDOM_STARTS]], perturbed])

        def total(flat: np.ndarray) -> tuple[float, np.ndarray]:
            values, grads = gp.lower_confidence_bound(flat.reshape(starts.shape), self.beta)
            return float(values.sum()), grads.ravel()

        result = scipy.optimize.minimize(
            total,
            starts.ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(np.tile(low, len(starts)), np.tile(high, len(starts)), strict=True)),
            options={"maxiter": _ACQUISITION_MAXITER},
        )
        return np.vstack([result.x.reshape(starts.shape), screened[order[:_SCREENED_CANDIDATES]]])

    # Warm start ---------------------------------------------------------------

    def warm_start(self, trials: Sequence[Trial], best_k: int = 5) -> int:
        """Models the trials of earlier searches as prior observations of the GP.

        Every usable earlier trial (see ``Oracle.warm_start``) joins the
        model's data and counts towards ``num_initial_points``, so the model
        takes over sooner. Prior observations are not trials of this search:
        they do not count against ``max_trials``, are not in ``trials`` and
        may be proposed again (on today's data). They are part of the state.

        Args:
            trials: Trials of earlier searches, in any order.
            best_k: Unused outside a Pareto search: every usable trial informs the model.

        In a Pareto search the earlier searches' Pareto front is enqueued
        instead (at most ``best_k`` of its trials), as ``Oracle.warm_start``
        does with the best trials: their per-objective values are not part of
        the state the model keeps.

        Returns:
            How many earlier trials this search uses.
        """
        if self.pareto:
            return super().warm_start(pareto_trials(trials, self.objective), best_k)
        points = self._warm_start_points(trials)
        self._priors.extend({"values": values, "score": score} for score, values in points)
        return len(points)

    # State --------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The search state, with the Sobol position, the last kernel fit and the priors."""
        state = super().get_state()
        state["sobol_index"] = self._sobol_index
        state["kernel_theta"] = self._theta
        state["kernel_fit_size"] = self._theta_size
        state["prior_observations"] = [dict(p) for p in self._priors]
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores ``get_state``'s output; the search continues identically."""
        super().set_state(state)
        self._sobol_index = int(state.get("sobol_index", 0))
        theta = state.get("kernel_theta")
        self._theta = None if theta is None else [float(v) for v in theta]
        self._theta_size = int(state.get("kernel_fit_size", 0))
        self._priors = [dict(p) for p in state.get("prior_observations", [])]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            num_initial_points=self.num_initial_points,
            alpha=self.alpha,
            beta=self.beta,
            multi_objective=self.multi_objective,
            sampler=self.sampler,
        )
        return config
