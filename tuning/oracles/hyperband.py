"""Hyperband: successive halving run over brackets of decreasing aggressiveness.

Li, Jamieson et al., "Hyperband: A Novel Bandit-Based Approach to
Hyperparameter Optimization", JMLR 18 (2018); the asynchronous variant follows
Li et al., "A System for Massively Parallel Hyperparameter Tuning" (ASHA, 2018).

The schedule is KerasTuner's: bracket ``b`` (from ``num_brackets - 1``, the
most aggressive, down to 0) has ``b + 1`` rounds; round ``r`` holds
``ceil(ceil(1 + log_factor(max_epochs)) / (b + 1) * factor**(b - r))`` trials
trained to ``ceil(max_epochs / factor**(b - r))`` epochs. A trial of round
``r >= 1`` is a new trial that copies a trial of round ``r - 1`` of the same
bracket and continues its training from that trial's best-epoch weights.

With ``sampler="model"`` the new configurations of round 0 come from a model
of the results, as in BOHB (Falkner et al., "BOHB: Robust and Efficient
Hyperparameter Optimization at Scale", ICML 2018): a density-ratio model
(``tuning.oracles._density``) of the largest budget with enough results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tuning.hyperparameters import HyperParameters
from tuning.oracles._density import DensityRatio, modelled
from tuning.oracles.base import Oracle, values_key
from tuning.trial import Trial, TrialStatus

__all__ = ["HyperbandOracle"]

_TUNER_KEYS = (
    "tuner/epochs",
    "tuner/initial_epoch",
    "tuner/bracket",
    "tuner/round",
    "tuner/trial_id",
)
# Trials that will not run again; an INVALID trial still waits for its retry.
_FINAL = (TrialStatus.COMPLETED, TrialStatus.STOPPED, TrialStatus.FAILED)
_SAMPLERS = ("random", "model")
# The model: built once this many more configurations than tuned hyperparameters have a
# result; the best ``_GOOD_FRACTION`` of them (BOHB's ``top_n_percent``, at least
# ``_MIN_GOOD``) are the good ones, and each proposal is the best of ``_CANDIDATES`` draws
# (Optuna's TPE draws 24 too).
_EXTRA_POINTS = 2
_GOOD_FRACTION = 0.15
_MIN_GOOD = 2
_CANDIDATES = 24


def _without_tuner_keys(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in _TUNER_KEYS}


class HyperbandOracle(Oracle):
    """Trains many configurations briefly and the best of them for longer.

    Every trial's values carry the schedule for the tuner: ``tuner/epochs``
    (train up to this epoch), ``tuner/initial_epoch`` (start from this epoch),
    ``tuner/bracket``, ``tuner/round`` and, from round 1 on, ``tuner/trial_id``:
    the id of the trial whose best-epoch weights the trial continues from.
    Trial counts and epochs are KerasTuner's to the trial: one iteration runs
    30 trials for ``(max_epochs, factor) = (10, 3)``, 23 for ``(9, 3)``, 70 for
    ``(27, 3)``, 36 for ``(8, 2)`` and 254 for ``(100, 3)``.

    Synchronous mode (the default, KerasTuner's behaviour): a round's trials
    are promoted once every trial of the round before it has finished, the
    best first. While a bracket waits, idle workers start the next bracket of
    the schedule; when no bracket has work, ``create_trial`` answers IDLE.
    With one worker the sequence of trials is KerasTuner's. (KerasTuner starts
    promoting once more trials have finished than the next round drops; with
    several workers that can promote a trial that is not among the round's
    best, so this oracle waits for the whole round.)

    Asynchronous mode (``asynchronous=True``, ASHA): no worker waits while
    work remains. Asked for a trial, the oracle promotes, from the highest
    round of the oldest bracket where one qualifies, the best trial that is
    among the top ``1/factor`` of the results the round has so far (a failed
    trial counts as a result with the worst score) and that was not promoted
    yet; otherwise it starts a new round-0 trial. Brackets, rounds and epochs
    are those of the synchronous schedule, and an iteration starts as many
    round-0 trials as a synchronous one; the search ends when they have all
    started and nothing more can be promoted. A promotion is never undone, so
    a round may continue a few more trials than its synchronous size (a trial
    can drop out of the top after it was promoted). Workers wait (IDLE) only
    at the end, while running trials may still earn a promotion.

    Failed trials never block a round: they count as finished and are never
    promoted; a round that has fewer promotable trials than its size
    promotes them all. Neither are pruned (STOPPED) trials promoted.

    Sampling (``sampler``): by default every new configuration is drawn at
    random (KerasTuner's behaviour). With ``sampler="model"`` (BOHB; in
    either mode) a fraction ``random_fraction`` is still drawn at random and
    the others are proposed by a model of the results. Each configuration
    counts with its result at the largest budget (``tuner/epochs``) it
    reached; configurations rank by that budget, larger first, then by their
    result there (as Optuna's TPE ranks pruned trials below finished ones),
    so the good ones are those that went furthest and did best there. The
    best 15 % (at least two) and the rest each get a kernel density
    estimate, and the configuration proposed is, of 24 drawn from the good
    density with widened kernels, the untried one where good is most likely
    relative to bad (``tuning.oracles._density``). A failed trial ranks
    last. Until as many configurations as tuned hyperparameters plus two
    have a result, or when every candidate was tried already, the
    configuration is random. The schedule (brackets, rounds, epochs,
    promotions) is the same with either sampler.

    Args:
        objective: See ``Oracle``.
        max_epochs: The most epochs one model is trained (default 100).
        factor: How much fewer trials, and how many times more epochs, each
            round has than the one before (default 3; at least 2).
        hyperband_iterations: How often the whole schedule of brackets runs.
        seed: Makes the sequence of trials repeatable.
        hyperparameters: Part of the space declared in advance.
        allow_new_entries: See ``Oracle``.
        tune_new_entries: See ``Oracle``.
        max_retries_per_trial: See ``Oracle``.
        max_consecutive_failed_trials: See ``Oracle``.
        asynchronous: Promote as results arrive (ASHA) instead of round by round.
        max_trials: Caps the number of trials, promoted ones included; None
            for the schedule's own count.
        sampler: ``"random"`` (default) or ``"model"``: how new
            configurations are chosen (see above).
        random_fraction: With ``sampler="model"``, the share of new
            configurations still drawn at random (default 0.15; BOHB uses 1/3,
            which did worse in ``benchmarks/results/multifidelity.md``).
        **kwargs: Further ``Oracle`` options (``pruning``).

    Raises:
        ValueError: ``max_epochs`` is below 1, ``factor`` below 2 or
            ``hyperband_iterations`` below 1 (or one is not an integer);
            ``sampler`` is unknown or ``random_fraction`` not in [0, 1].

    Example:
        >>> oracle = HyperbandOracle(objective="val_loss", max_epochs=10, factor=3, seed=1)
        >>> oracle.hyperparameters.Float("x", -1.0, 1.0)
        -1.0
        >>> trial = oracle.create_trial("worker-0")
        >>> trial.values["tuner/epochs"], trial.values["tuner/bracket"]
        (2, 2)
    """

    def __init__(
        self,
        objective: Any = None,
        max_epochs: int = 100,
        factor: int = 3,
        hyperband_iterations: int = 1,
        seed: int | None = None,
        hyperparameters: HyperParameters | None = None,
        allow_new_entries: bool = True,
        tune_new_entries: bool = True,
        max_retries_per_trial: int = 0,
        max_consecutive_failed_trials: int = 3,
        asynchronous: bool = False,
        max_trials: int | None = None,
        sampler: str = "random",
        random_fraction: float = 0.15,
        **kwargs: Any,
    ) -> None:
        if sampler not in _SAMPLERS:
            raise ValueError(f"sampler must be one of {_SAMPLERS}, got {sampler!r}.")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], got {random_fraction!r}.")
        for name, value, least in (
            ("max_epochs", max_epochs, 1),
            ("factor", factor, 2),
            ("hyperband_iterations", hyperband_iterations, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} needs to be an integer >= {least}, got {value!r}.")
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
        self.max_epochs = max_epochs
        self.factor = factor
        self.hyperband_iterations = hyperband_iterations
        self.asynchronous = bool(asynchronous)
        self.sampler = sampler
        self.random_fraction = float(random_fraction)

    def _reset_state(self) -> None:
        super()._reset_state()
        # One record per started bracket, in schedule order:
        # {"bracket": b, "rounds": [[trial_id, ...] per round], "exhausted": bool}.
        # "exhausted" closes round 0 early when the space has no new values.
        self._brackets: list[dict[str, Any]] = []
        self._queued: list[dict[str, Any]] = []

    # Schedule -----------------------------------------------------------------

    @property
    def num_brackets(self) -> int:
        """How often ``max_epochs`` can be divided by ``factor`` before it drops below 1."""
        count = 0
        while self.factor**count <= self.max_epochs:
            count += 1
        return count

    def _size(self, bracket: int, round_: int) -> int:
        # Evaluated in floating point as KerasTuner does, so that the counts agree
        # even where rounding departs from exact arithmetic (max_epochs=7777, factor=6).
        final_size = math.ceil(1 + math.log(self.max_epochs, self.factor))
        return math.ceil(final_size / (bracket + 1) * self.factor ** (bracket - round_))

    def _epochs(self, bracket: int, round_: int) -> int:
        return -(-self.max_epochs // self.factor ** (bracket - round_))

    def _schedule_values(self, bracket: int, round_: int) -> dict[str, int]:
        return {
            "tuner/epochs": self._epochs(bracket, round_),
            "tuner/initial_epoch": self._epochs(bracket, round_ - 1) if round_ else 0,
            "tuner/bracket": bracket,
            "tuner/round": round_,
        }

    # Ask ----------------------------------------------------------------------

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        """Picks a promotion or a new round-0 trial; called by ``create_trial``.

        Starts the schedule's next bracket when the started ones have no work.

        Returns:
            RUNNING with the values, IDLE while running trials hold up the
            remaining work, or STOPPED once the schedule is done.
        """
        while True:
            response = (
                self._next_asynchronous(trial_id)
                if self.asynchronous
                else self._next_synchronous(trial_id)
            )
            if response is not None:
                return response
            if len(self._brackets) == self.num_brackets * self.hyperband_iterations:
                break
            bracket = self.num_brackets - 1 - len(self._brackets) % self.num_brackets
            self._brackets.append(
                {"bracket": bracket, "rounds": [[] for _ in range(bracket + 1)], "exhausted": False}
            )
        waiting = any(
            self.trials[t].status not in _FINAL
            for record in self._brackets
            for trials in record["rounds"]
            for t in trials
        )
        return {"status": TrialStatus.IDLE if waiting else TrialStatus.STOPPED}

    def _next_synchronous(self, trial_id: str) -> dict[str, Any] | None:
        for record in self._brackets:
            rounds = record["rounds"]
            for round_, trials in enumerate(rounds):
                target = self._target(record, round_)
                if target is None or len(trials) >= target:
                    continue
                if round_ == 0:
                    response = self._new_trial(trial_id, record)
                    if response is not None:
                        return response
                    continue
                promoted = self._promoted(record, round_)
                parent = next(
                    t for t in self._ranked(rounds[round_ - 1]) if t.trial_id not in promoted
                )
                return self._promote(trial_id, record, round_, parent)
        return None

    def _target(self, record: Mapping[str, Any], round_: int) -> int | None:
        """How many trials a synchronous round gets; None while the round before runs."""
        rounds = record["rounds"]
        if round_ == 0:
            return len(rounds[0]) if record["exhausted"] else self._size(record["bracket"], 0)
        previous = rounds[round_ - 1]
        if len(previous) != self._target(record, round_ - 1) or any(
            self.trials[t].status not in _FINAL for t in previous
        ):
            return None
        return min(self._size(record["bracket"], round_), len(self._ranked(previous)))

    def _next_asynchronous(self, trial_id: str) -> dict[str, Any] | None:
        for record in self._brackets:
            rounds = record["rounds"]
            for round_ in range(len(rounds) - 1, 0, -1):
                results = [t for t in rounds[round_ - 1] if self.trials[t].status in _FINAL]
                promoted = self._promoted(record, round_)
                for parent in self._ranked(results)[: len(results) // self.factor]:
                    if parent.trial_id not in promoted:
                        return self._promote(trial_id, record, round_, parent)
        if self._brackets:
            record = self._brackets[-1]
            if not record["exhausted"] and len(record["rounds"][0]) < self._size(
                record["bracket"], 0
            ):
                return self._new_trial(trial_id, record)
        return None

    def _ranked(self, trial_ids: list[str]) -> list[Trial]:
        """The promotable (COMPLETED, scored) trials among ``trial_ids``, best first."""
        sign = -1.0 if self.objective.direction == "max" else 1.0
        usable = [
            self.trials[t]
            for t in trial_ids
            if self.trials[t].status == TrialStatus.COMPLETED
            and self.trials[t].score is not None
            and not math.isnan(self.trials[t].score)  # type: ignore[arg-type]
        ]
        return sorted(usable, key=lambda trial: sign * trial.score)  # type: ignore[operator]

    def _promoted(self, record: Mapping[str, Any], round_: int) -> set[str]:
        """Ids of the trials of round ``round_ - 1`` already continued in ``round_``."""
        return {self.trials[t].values["tuner/trial_id"] for t in record["rounds"][round_]}

    def _new_trial(self, trial_id: str, record: dict[str, Any]) -> dict[str, Any] | None:
        """A round-0 trial with enqueued or sampled values; None (and the round closed) if none."""
        values = self._queued.pop(0) if self._queued else self._proposal()
        if values is None:
            record["exhausted"] = True
            return None
        # The base oracle remembers values with the tuner/ keys; remember the bare
        # configuration too, so that no later bracket draws it again.
        self._tried.add(values_key(values))
        record["rounds"][0].append(trial_id)
        return {
            "status": TrialStatus.RUNNING,
            "values": {**values, **self._schedule_values(record["bracket"], 0)},
        }

    def _proposal(self) -> dict[str, Any] | None:
        """The sampler's new configuration: the model's, else random (None if exhausted)."""
        if self.sampler == "model" and self._rng().random() >= self.random_fraction:
            model = self._model()
            if model is not None:
                for values in model.propose(self._rng(), _CANDIDATES):
                    if values_key(values) not in self._tried:
                        return values
        return self._random_values()

    def _model(self) -> DensityRatio | None:
        """The density-ratio model of every configuration's furthest result, or None if too few.

        A configuration's result is the one at the largest budget it reached;
        configurations rank by that budget (larger first), then by loss there.
        """
        furthest: dict[str, tuple[int, float, dict[str, Any]]] = {}
        for trial in self.trials.values():
            if trial.status == TrialStatus.FAILED:
                loss = math.inf
            elif trial.status in _FINAL and trial.score is not None and not math.isnan(trial.score):
                loss = self.objective.loss(float(trial.score))
            else:
                continue
            budget = int(trial.values.get("tuner/epochs", 0))
            config = _without_tuner_keys(trial.values)
            key = values_key(config)
            if key not in furthest or (-budget, loss) < (-furthest[key][0], furthest[key][1]):
                furthest[key] = (budget, loss, config)
        needed = len(modelled(self.hyperparameters.space, self._is_tuned)) + _EXTRA_POINTS
        if len(furthest) < needed:
            return None
        ranked = sorted(furthest.values(), key=lambda entry: (-entry[0], entry[1]))
        return DensityRatio(
            self.hyperparameters.space,
            self._is_tuned,
            [config for _, _, config in ranked],
            list(range(len(ranked))),
            max(_MIN_GOOD, math.ceil(_GOOD_FRACTION * len(ranked))),
        )

    def _promote(
        self, trial_id: str, record: dict[str, Any], round_: int, parent: Trial
    ) -> dict[str, Any]:
        record["rounds"][round_].append(trial_id)
        values = {
            **_without_tuner_keys(parent.values),
            **self._schedule_values(record["bracket"], round_),
            "tuner/trial_id": parent.trial_id,
        }
        return {"status": TrialStatus.RUNNING, "values": values}

    def enqueue_trial(self, values: Mapping[str, Any]) -> None:
        """Tries ``values`` in the next round-0 slot, before random values.

        Like every round-0 trial, an enqueued configuration is trained for its
        bracket's first-round epochs and promoted if it does well.
        """
        super().enqueue_trial(values)
        self._queued.append(self._enqueued.pop())

    # State --------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The search state, brackets and rounds included; see ``Oracle.get_state``."""
        return {
            **super().get_state(),
            "brackets": [
                {**record, "rounds": [list(trials) for trials in record["rounds"]]}
                for record in self._brackets
            ],
            "queued": [dict(values) for values in self._queued],
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restores what ``get_state`` returned; the search continues identically.

        Raises:
            ValueError: The state comes from a schedule with another
                ``max_epochs`` or ``factor``.
        """
        for name in ("max_epochs", "factor"):
            if state["config"][name] != getattr(self, name):
                raise ValueError(
                    f"The state was saved with {name}={state['config'][name]!r}, "
                    f"this oracle has {name}={getattr(self, name)!r}."
                )
        super().set_state(state)
        self._brackets = [
            {**record, "rounds": [list(trials) for trials in record["rounds"]]}
            for record in state["brackets"]
        ]
        self._queued = [dict(values) for values in state["queued"]]
        for trial in self.trials.values():
            self._tried.add(values_key(_without_tuner_keys(trial.values)))

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, JSON-safe."""
        return {
            **super().get_config(),
            "max_epochs": self.max_epochs,
            "factor": self.factor,
            "hyperband_iterations": self.hyperband_iterations,
            "asynchronous": self.asynchronous,
            "sampler": self.sampler,
            "random_fraction": self.random_fraction,
        }
