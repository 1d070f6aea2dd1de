"""The Tree-structured Parzen Estimator's proposal (Bergstra et al., 2011); numpy only.

The scored configurations are split into the best ``gamma(n)`` ("good") and
the rest ("bad"). Each set gives a density over whole configurations (the
multivariate TPE, Optuna's default since 4.x): a mixture with one kernel per
configuration, plus one prior kernel, each a product over hyperparameters.
Candidates are drawn from the good density, one kernel at a time, walking the
space in order so that only active hyperparameters are drawn; the candidate
that maximises ``log l(x) - log g(x)`` is proposed. In a conditional space a
kernel uses the prior for a hyperparameter its configuration lacked.

Numerical hyperparameters and ordered choices live in ``value_to_prob``
space, the unit interval: a kernel is a normal truncated to [0, 1]; the prior
is centred at 0.5 with width 1. A kernel's width is the larger gap to its
neighbours among the set's values (the outermost use their inner gap), clipped
between ``1 / min(100, n + 2)`` and 1 (Optuna's rule). A value on a grid is
scored at its bucket centre, so candidates are compared after rounding.
An unordered choice's kernel puts mass ``1 + 1 / (n + 1)`` on its value and
``1 / (n + 1)`` on the others (normalised); the prior is uniform. The bad
set's older configurations weigh less once it holds more than 25 (Optuna's
ramp).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp, ndtr

from tuning.hyperparameters import Boolean, Choice, Fixed, HyperParameter

__all__ = ["CANDIDATES", "gamma", "propose"]

# Candidates drawn from the good densities at each proposal (Optuna's default).
CANDIDATES = 24
_PRIOR_MU, _PRIOR_SIGMA = 0.5, 1.0
_MAX_GOOD = 25


def gamma(n: int) -> int:
    """How many of ``n`` scored configurations count as good: 10 %, at least 1, at most 25."""
    return min(max(math.ceil(0.1 * n), 1), _MAX_GOOD)


def _is_categorical(hp: HyperParameter) -> bool:
    return isinstance(hp, Boolean) or (isinstance(hp, Choice) and not hp.ordered)


class _Kernels:
    """One hyperparameter's kernels: one per configuration of a set, then the prior.

    Args:
        hp: The hyperparameter.
        configs: The set's configurations (active values).
    """

    def __init__(self, hp: HyperParameter, configs: Sequence[Mapping[str, Any]]) -> None:
        n = len(configs)
        self.categorical = _is_categorical(hp)
        if self.categorical:
            size = len(hp.values)
            self.weights = np.full((n + 1, size), 1.0 / size)
            for j, config in enumerate(configs):
                if hp.name in config:
                    row = np.full(size, 1.0 / (n + 1))
                    row[hp.values.index(config[hp.name])] += 1.0
                    self.weights[j] = row / row.sum()
            return
        self.mus = np.full(n + 1, _PRIOR_MU)
        self.sigmas = np.full(n + 1, _PRIOR_SIGMA)
        where = np.array([j for j, c in enumerate(configs) if hp.name in c], dtype=int)
        if where.size:
            points = np.array([hp.value_to_prob(configs[j][hp.name]) for j in where])
            self.mus[where] = points
            self.sigmas[where] = _widths(points)
        self.mass = ndtr((1.0 - self.mus) / self.sigmas) - ndtr(-self.mus / self.sigmas)

    def sample(self, j: int, rng: np.random.Generator) -> float | int:
        """A draw from kernel ``j``: a value index, or a point of [0, 1]."""
        if self.categorical:
            return int(rng.choice(self.weights.shape[1], p=self.weights[j]))
        for _ in range(16):
            x = rng.normal(self.mus[j], self.sigmas[j])
            if 0.0 <= x <= 1.0:
                return float(x)
        return float(rng.random())

    def log_pdf(self, x: float | int) -> np.ndarray:
        """The log density of every kernel at ``x``."""
        if self.categorical:
            return np.log(self.weights[:, int(x)])
        z = (x - self.mus) / self.sigmas
        return -0.5 * z * z - np.log(math.sqrt(2 * math.pi) * self.sigmas * self.mass)


def _widths(points: np.ndarray) -> np.ndarray:
    """Each point's kernel width: the larger gap to a neighbour, clipped (Optuna's rule)."""
    order = np.argsort(points)
    ordered = points[order]
    padded = np.concatenate([[0.0], ordered, [1.0]])
    gaps = np.maximum(padded[1:-1] - padded[:-2], padded[2:] - padded[1:-1])
    if len(ordered) >= 2:  # the outermost kernels ignore the box's ends
        gaps[0], gaps[-1] = ordered[1] - ordered[0], ordered[-1] - ordered[-2]
    widths = np.empty_like(gaps)
    widths[order] = gaps
    return np.clip(widths, 1.0 / min(100, len(points) + 2), 1.0)


def _log_weights(n: int, ramp: bool) -> np.ndarray:
    """Log mixture weights of ``n`` kernels (oldest first) and the prior."""
    weights = np.ones(n)
    if ramp and n > _MAX_GOOD:
        weights[: n - _MAX_GOOD] = np.linspace(1.0 / n, 1.0, num=n - _MAX_GOOD)
    weights = np.append(weights, 1.0)
    return np.log(weights / weights.sum())


class _Density:
    """The mixture of product kernels of one set of configurations."""

    def __init__(
        self, space: Sequence[HyperParameter], tuned: set[str], configs: Sequence[Mapping[str, Any]]
    ) -> None:
        self.kernels = {hp.name: _Kernels(hp, configs) for hp in space if hp.name in tuned}
        self.log_weights = _log_weights(len(configs), ramp=True)

    def log_pdf(self, draws: Mapping[str, float | int]) -> float:
        """The log density at a candidate, given its active tuned draws by name."""
        total = self.log_weights.copy()
        for name, x in draws.items():
            total += self.kernels[name].log_pdf(x)
        return float(logsumexp(total))


def propose(
    space: Sequence[HyperParameter],
    is_tuned: Callable[[str], bool],
    observations: Sequence[tuple[Mapping[str, Any], float]],
    rng: np.random.Generator,
    is_new: Callable[[dict[str, Any]], bool],
) -> dict[str, Any] | None:
    """The TPE's choice among ``CANDIDATES`` draws from the good density.

    Args:
        space: The hyperparameters, parents before their children.
        is_tuned: Whether a hyperparameter (by name) is searched; the others
            keep their defaults.
        observations: ``(active values, loss)`` of the scored configurations
            (at least one), oldest first, lower loss better.
        rng: The source of the draws.
        is_new: Whether a configuration may be proposed (not tried before).

    Returns:
        The best new candidate's active values, or None if every draw was tried.
    """
    order = sorted(range(len(observations)), key=lambda i: observations[i][1])
    split = gamma(len(order))
    good = [observations[i][0] for i in sorted(order[:split])]
    bad = [observations[i][0] for i in sorted(order[split:])]
    tuned = {hp.name for hp in space if is_tuned(hp.name) and not isinstance(hp, Fixed)}
    below, above = _Density(space, tuned, good), _Density(space, tuned, bad)
    good_weights = np.exp(below.log_weights)
    best: tuple[float, dict[str, Any]] | None = None
    for _ in range(CANDIDATES):
        j = int(rng.choice(len(good_weights), p=good_weights))
        values: dict[str, Any] = {}
        draws: dict[str, float | int] = {}
        for hp in space:
            if not all(condition.is_met(values) for condition in hp.conditions):
                continue
            if hp.name not in tuned:
                values[hp.name] = hp.default
                continue
            kernels = below.kernels[hp.name]  # an inactive kernel is the prior
            if kernels.categorical:
                draws[hp.name] = kernels.sample(j, rng)
                values[hp.name] = hp.values[int(draws[hp.name])]
            else:
                values[hp.name] = hp.prob_to_value(kernels.sample(j, rng))
                draws[hp.name] = hp.value_to_prob(values[hp.name])  # rounded onto its grid
        if not is_new(values):
            continue  # near the end of a small space most draws were tried: not scored
        score = below.log_pdf(draws) - above.log_pdf(draws)
        if best is None or score > best[0]:
            best = (score, values)
    return None if best is None else best[1]
