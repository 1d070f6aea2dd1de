"""Learning the search space before the first trial, as KerasTuner does when a search begins.

The hypermodel is built with the default values, then once more for each
conditional branch that the defaults left inactive, so that every
hyperparameter it can declare is known before the oracle proposes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tuning.hypermodel import HyperModel
from tuning.hyperparameters import HyperParameters
from tuning.search_engine import SearchEngine

__all__ = ["check_enqueued", "discover_space"]

_MAX_BRANCHES = 100  # a bound: each build activates one more branch


def discover_space(
    engine: SearchEngine, hypermodel: HyperModel, build: Callable[[HyperParameters], Any]
) -> None:
    """Declares every hyperparameter ``hypermodel`` can declare to the engine's oracle.

    Args:
        engine: The search whose space is learnt.
        hypermodel: Its ``declare_hyperparameters`` is called first.
        build: Builds (and checks) a model from hyperparameters, declaring them.
    """
    hp = engine.oracle.get_space()
    hypermodel.declare_hyperparameters(hp)
    build(hp)
    engine.declare(hp)
    explored: set[tuple[str, str]] = set()
    for _ in range(_MAX_BRANCHES):
        branch = _next_inactive_branch(engine.oracle.get_space(), explored)
        if branch is None:
            return
        build(branch)
        engine.declare(branch)


def _next_inactive_branch(
    hp: HyperParameters, explored: set[tuple[str, str]]
) -> HyperParameters | None:
    """``hp`` with the parent of one unexplored inactive hyperparameter set to activate it."""
    for candidate in hp.space:
        if hp.is_active(candidate):
            continue
        for condition in candidate.conditions:
            key = (condition.name, repr(condition.values))
            if key in explored:
                continue
            explored.add(key)
            hp.values = {**hp.values, condition.name: condition.values[0]}
            return hp
    return None


def check_enqueued(engine: SearchEngine, build: Callable[[HyperParameters], Any]) -> None:
    """Builds each trial queued with ``enqueue_trial`` with its values, before any trial runs.

    A build declares what those values activate (the units of a third layer,
    say); a queued name that no build declares is a mistake (a typo) that
    would otherwise be carried along and never tried. Names of the trials a
    warm start queued are the model's own, active or not. The search's space
    is left as it was: the trial declares what it activates when it runs.

    Args:
        engine: The search, its space discovered (``discover_space``).
        build: Builds (and checks) a model from hyperparameters, declaring them.

    Raises:
        ValueError: A queued value names a hyperparameter the model does not declare.
    """
    if engine.oracle.trials:
        return  # a resumed search: its queue was checked when it was made
    for values in engine.oracle.enqueued_trials:
        hp = engine.oracle.get_space()
        hp.values = {**hp.values, **values}
        build(hp)
        declared = {candidate.name for candidate in hp.space} | engine.warm_started_names
        unknown = sorted(n for n in values if n not in declared and not n.startswith("tuner/"))
        if unknown:
            raise ValueError(
                f"enqueue_trial({values}): {unknown} are not hyperparameters of the search "
                f"space, which has {sorted(declared)}."
            )
