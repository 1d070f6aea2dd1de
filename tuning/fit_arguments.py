"""The checks ``Tuner.search`` makes on ``fit``'s arguments before any trial runs.

An argument every trial would fail on is refused once, naming the argument,
instead of failing each trial (and the search after three of them).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from typing import Any

from tuning.objective import Objective

__all__ = ["check_fit_arguments"]

# Where fit's arguments sit when passed positionally (keras.Model.fit's order).
_POSITIONS = {
    "x": 0,
    "y": 1,
    "batch_size": 2,
    "callbacks": 5,
    "validation_split": 6,
    "validation_data": 7,
}


def check_fit_arguments(
    fit_args: tuple, fit_kwargs: Mapping[str, Any], objective: Objective, default_fit: bool
) -> None:
    """Raises ``ValueError`` for ``fit`` arguments that no trial could train with.

    Args:
        fit_args: ``search``'s positional arguments (``keras.Model.fit``'s order).
        fit_kwargs: ``search``'s keyword arguments.
        objective: The search's objective.
        default_fit: Whether the arguments reach ``keras.Model.fit`` unchanged
            (neither ``run_trial`` nor ``HyperModel.fit`` is overridden); only
            then is a missing validation set for a ``val_`` objective an error.

    Raises:
        ValueError: ``callbacks`` is not a list or holds a callback that cannot
            be deep-copied; ``batch_size`` is not a positive integer;
            ``validation_data`` is not ``(x, y)`` or ``(x, y, sample_weight)``
            matching the training data; the objective is a ``val_`` metric and
            there is neither ``validation_data`` nor ``validation_split``.
    """
    arguments = {name: fit_args[i] for name, i in _POSITIONS.items() if i < len(fit_args)}
    arguments.update(fit_kwargs)
    _check_callbacks(arguments.get("callbacks"))
    batch_size = arguments.get("batch_size")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    validation_data = arguments.get("validation_data")
    if isinstance(validation_data, (tuple, list)):
        _check_validation_data(validation_data, arguments.get("x"), arguments.get("y"))
    validation_metrics = [name for name in objective.names if name.startswith("val_")]
    if (
        default_fit
        and validation_metrics
        and validation_data is None
        and not arguments.get("validation_split")
    ):
        raise ValueError(
            f"The objective {validation_metrics[0]!r} is measured on validation data, but "
            "search() received neither validation_data nor validation_split."
        )


def _check_callbacks(callbacks: Any) -> None:
    if callbacks is None:
        return
    if not isinstance(callbacks, (list, tuple)):
        raise ValueError(
            f"callbacks must be a list of Keras callbacks, got {type(callbacks).__name__}."
        )
    for callback in callbacks:
        try:
            copy.deepcopy(callback)
        except Exception as error:
            raise ValueError(
                "All callbacks used during a search should be deep-copyable (since they "
                f"are reused across trials). It is not possible to do "
                f"`copy.deepcopy({callback})`: {error}"
            ) from error


def _check_validation_data(validation_data: tuple | list, x: Any, y: Any) -> None:
    """``(x_val, y_val[, sample_weight])`` with as many rows each and the training data's shape."""
    if len(validation_data) not in (2, 3):
        raise ValueError(
            "validation_data must be (x_val, y_val) or (x_val, y_val, sample_weight), got a "
            f"{type(validation_data).__name__} of {len(validation_data)} items."
        )
    x_val, y_val = validation_data[0], validation_data[1]
    rows = {name: _rows(value) for name, value in (("x_val", x_val), ("y_val", y_val))}
    if None not in rows.values() and rows["x_val"] != rows["y_val"]:
        raise ValueError(
            f"validation_data has {rows['x_val']} rows of x_val but {rows['y_val']} of y_val."
        )
    for name, train, val in (("x", x, x_val), ("y", y, y_val)):
        train_shape, val_shape = _shape(train), _shape(val)
        if train_shape is not None and val_shape is not None and train_shape[1:] != val_shape[1:]:
            raise ValueError(
                f"validation_data's {name}_val has samples of shape {val_shape[1:]}, but the "
                f"training {name} has samples of shape {train_shape[1:]}."
            )


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None and len(shape) > 0 else None


def _rows(value: Any) -> int | None:
    shape = _shape(value)
    return shape[0] if shape is not None else None
