"""Laboratory arithmetic: values relative to the lab's own reference limits."""

from __future__ import annotations

import math

__all__ = ["times_upper_limit"]


def times_upper_limit(value: float, upper_limit: float) -> float:
    """``value`` as a multiple of the upper limit of normal (ULN). Unit: ``x ULN``.

    Source: the usual definition of "n x ULN" thresholds, e.g. NCI CTCAE v5.0
    (AST/ALT increased: grade 1 ">ULN - 3.0 x ULN" when baseline is normal), where the
    ULN is the reporting laboratory's reference range upper limit. Value and limit
    must be in the same unit (the caller converts both to U/L).

    >>> times_upper_limit(100, 40)
    2.5
    """
    for name, number in (("value", value), ("upper_limit", upper_limit)):
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise TypeError(f"{name} must be a number, got {number!r}")
        if not math.isfinite(number):
            raise ValueError(f"{name} must be finite, got {number!r}")
    if upper_limit <= 0:
        raise ValueError(f"upper_limit must be > 0, got {upper_limit}")
    if value < 0:
        raise ValueError(f"value must be >= 0, got {value}")
    return value / upper_limit
