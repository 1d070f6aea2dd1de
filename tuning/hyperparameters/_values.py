"""The plain values hyperparameters and conditions hold: bool, int, float and str."""

from __future__ import annotations

from typing import Any

import numpy as np

# bool first: bool is a subclass of int.
PLAIN_TYPES = (bool, int, float, str)


def plain(value: Any) -> Any:
    """``value`` with a numpy scalar turned into the Python one."""
    return value.item() if isinstance(value, np.generic) else value


def plain_type(value: Any) -> type | None:
    """Which of bool, int, float and str ``value`` is; None if it is none of them."""
    return next((kind for kind in PLAIN_TYPES if isinstance(value, kind)), None)
