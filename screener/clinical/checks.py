"""Argument checks shared by the clinical functions: real, finite, positive numbers."""

from __future__ import annotations

import math
from numbers import Real


def number(name: str, value: float) -> float:
    """``value`` as a float; TypeError if not a real number, ValueError if not finite."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def positive(name: str, value: float) -> float:
    """As :func:`number`, and > 0."""
    result = number(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return result
