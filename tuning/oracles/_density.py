"""A density-ratio model of good and bad configurations: TPE, as BOHB uses it.

Bergstra et al., "Algorithms for Hyper-Parameter Optimization" (TPE, 2011);
Falkner et al., "BOHB: Robust and Efficient Hyperparameter Optimization at
Scale" (ICML 2018). The observed configurations are split by loss into the
best ``gamma`` fraction and the rest; each part gets a kernel density
estimate ``l`` (good) and ``g`` (bad), and the proposal is the candidate,
drawn from a widened ``l``, with the largest ``l(x) / g(x)``.

Each estimate is a mixture with one product kernel per observation (so that
values that did well together are proposed together, as BOHB's multivariate
KDE does) plus one uniform component, which keeps every configuration
possible. A tuned hyperparameter is a column: numbers (``Int``, ``Float``,
ordered ``Choice``) at ``value_to_prob`` of their value in [0, 1] with a
Gaussian kernel truncated to [0, 1]; unordered ``Choice`` and ``Boolean`` by
the index of their value, with a kernel that keeps the observed value with
probability ``1 - spread`` and spreads the rest over the other values. An
inactive hyperparameter (a conditional one whose parent has another value)
is uniform in the kernel of that observation; in a candidate where it is
inactive it does not enter the density at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import logsumexp, ndtr, ndtri

from tuning.hyperparameters import Boolean, Choice, Fixed, HyperParameter

__all__ = ["DensityRatio", "modelled"]

# The narrowest kernel of a continuous column (a grid's is half a bucket).
_MIN_BANDWIDTH = 1e-3
# The probability mass an unordered value's kernel puts on the other values.
_CATEGORY_SPREAD = 0.2
# Candidates are drawn from the good density with kernels this much wider (BOHB's
# ``bandwidth_factor``), so that proposals explore around the good points.
_BANDWIDTH_FACTOR = 2.0
# The narrowest kernel of n points is ``_CLIP / (n + 1)`` of the range.
_CLIP = 0.5


def _categorical(hp: HyperParameter) -> bool:
    return isinstance(hp, Boolean) or (isinstance(hp, Choice) and not hp.ordered)


def modelled(
    space: Sequence[HyperParameter], is_tuned: Callable[[str], bool]
) -> list[HyperParameter]:
    """The hyperparameters of ``space`` that the model has a column for: the tuned ones."""
    return [hp for hp in space if not isinstance(hp, Fixed) and is_tuned(hp.name)]


def _floor(hp: HyperParameter) -> float:
    """The narrowest kernel of a numeric column: half a bucket of a grid (``value_to_prob``
    of the smallest value is the first bucket's centre), ``_MIN_BANDWIDTH`` if continuous."""
    if _categorical(hp):
        return 0.0
    smallest = hp.min_value if hasattr(hp, "min_value") else hp.values[0]
    return max(_MIN_BANDWIDTH, hp.value_to_prob(smallest))


def _active(hp: HyperParameter, values: Mapping[str, Any]) -> bool:
    return all(condition.is_met(values) for condition in hp.conditions)


class DensityRatio:
    """Good and bad densities of observed configurations, and proposals that maximise their ratio.

    Args:
        space: The hyperparameters, parents before their children.
        is_tuned: Whether a hyperparameter (by name) is searched; the others
            keep their defaults.
        configs: The observed configurations (active values).
        losses: Their losses, lower is better (``inf`` for a failure).
        num_good: How many of the lowest losses make the good density (at
            least 1 and fewer than ``len(configs)``).
    """

    def __init__(
        self,
        space: Sequence[HyperParameter],
        is_tuned: Callable[[str], bool],
        configs: Sequence[Mapping[str, Any]],
        losses: Sequence[float],
        num_good: int,
    ) -> None:
        if not 1 <= num_good < len(configs):
            raise ValueError(f"num_good must be in [1, {len(configs) - 1}], got {num_good}.")
        self.space = list(space)
        self.columns = modelled(self.space, is_tuned)
        self.sizes = np.array([len(hp.values) if _categorical(hp) else 0 for hp in self.columns])
        self.floors = np.array([_floor(hp) for hp in self.columns])
        order = np.argsort(np.asarray(losses, float), kind="stable")
        points = np.array([self.encode(configs[i]) for i in order]).reshape(len(order), -1)
        self.good = points[:num_good]
        self.bad = points[num_good:]
        self.good_bandwidths = self._bandwidths(self.good)
        self.bad_bandwidths = self._bandwidths(self.bad)

    # Encoding -------------------------------------------------------------------

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        """The point of a configuration: NaN where a hyperparameter is inactive."""
        point = np.full(len(self.columns), np.nan)
        for j, hp in enumerate(self.columns):
            if hp.name not in values:
                continue
            value = values[hp.name]
            if _categorical(hp):
                point[j] = hp.values.index(value) if value in hp.values else np.nan
            else:
                point[j] = hp.value_to_prob(value)
        return point

    def _bandwidths(self, points: np.ndarray) -> np.ndarray:
        """Scott's rule per continuous column (BOHB's ``normal_reference``), floored."""
        n, dim = points.shape
        widths = np.ones(dim)
        for j in range(dim):
            active = points[~np.isnan(points[:, j]), j]
            spread = float(np.std(active)) if len(active) > 1 else 1.0
            widths[j] = 1.06 * spread * max(len(active), 1) ** (-1.0 / (dim + 4))
        # After Optuna's "magic clip": while the data are few, no kernel is very narrow.
        floors = np.maximum(self.floors, _CLIP / (n + 1))
        return np.clip(widths, floors, 1.0)

    # Densities ------------------------------------------------------------------

    def _log_density(
        self, candidates: np.ndarray, centres: np.ndarray, widths: np.ndarray
    ) -> np.ndarray:
        """Log of the mixture at each candidate: one kernel per centre plus a uniform one."""
        m, n = len(candidates), len(centres)
        logs = np.zeros((m, n + 1))
        for j in range(len(self.columns)):
            x = candidates[:, j][:, None]
            mu = centres[:, j][None, :]
            on = ~np.isnan(x)
            if self.sizes[j]:
                size = int(self.sizes[j])
                uniform = -math.log(size)
                same = math.log(1.0 - _CATEGORY_SPREAD) if size > 1 else 0.0
                other = math.log(_CATEGORY_SPREAD / (size - 1)) if size > 1 else 0.0
                kernel = np.where(x == mu, same, other)
            else:
                uniform = 0.0
                sigma = widths[j]
                mass = ndtr((1.0 - mu) / sigma) - ndtr(-mu / sigma)
                z = (x - mu) / sigma
                kernel = -0.5 * z**2 - math.log(sigma * math.sqrt(2 * math.pi)) - np.log(mass)
            kernel = np.where(np.isnan(mu), uniform, kernel)
            logs[:, :n] += np.where(on, kernel, 0.0)
            logs[:, n] += np.where(on[:, 0], uniform, 0.0)
        return logsumexp(logs, axis=1) - math.log(n + 1)

    def log_ratio(self, candidates: np.ndarray) -> np.ndarray:
        """``log l(x) - log g(x)`` at each row of ``candidates`` (encoded points)."""
        good = self._log_density(candidates, self.good, self.good_bandwidths)
        bad = self._log_density(candidates, self.bad, self.bad_bandwidths)
        return good - bad

    # Proposals ------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Active values drawn from the good density with widened kernels.

        One mixture component is picked (the uniform one with probability
        ``1 / (n + 1)``); walking the space parents first, each active tuned
        hyperparameter is drawn around the component's value, or uniformly
        where the component has none.
        """
        index = int(rng.integers(len(self.good) + 1))
        centre = self.good[index] if index < len(self.good) else None
        column = {hp.name: j for j, hp in enumerate(self.columns)}
        values: dict[str, Any] = {}
        for hp in self.space:
            if not _active(hp, values):
                continue
            j = column.get(hp.name)
            if j is None:
                values[hp.name] = hp.default
                continue
            mu = np.nan if centre is None else centre[j]
            if np.isnan(mu):
                values[hp.name] = hp.prob_to_value(float(rng.random()))
            elif self.sizes[j]:
                size = int(self.sizes[j])
                keep = size == 1 or rng.random() >= _CATEGORY_SPREAD
                others = [k for k in range(size) if k != int(mu)]
                pick = int(mu) if keep else others[int(rng.integers(len(others)))]
                values[hp.name] = hp.values[pick]
            else:
                sigma = min(1.0, _BANDWIDTH_FACTOR * self.good_bandwidths[j])
                # Inverse-CDF sampling of the normal truncated to [0, 1].
                low, high = ndtr(-mu / sigma), ndtr((1.0 - mu) / sigma)
                prob = mu + sigma * float(ndtri(low + (high - low) * rng.random()))
                values[hp.name] = hp.prob_to_value(min(max(prob, 0.0), 1.0 - 1e-12))
        return values

    def propose(self, rng: np.random.Generator, count: int) -> list[dict[str, Any]]:
        """``count`` candidates from the good density, best ratio first.

        The ratio is evaluated at each candidate's own values (a value drawn
        between two grid points counts where it was rounded to).
        """
        candidates = [self.sample(rng) for _ in range(count)]
        points = np.array([self.encode(c) for c in candidates]).reshape(count, -1)
        order = np.argsort(-self.log_ratio(points), kind="stable")
        return [candidates[i] for i in order]
