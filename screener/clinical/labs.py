"""Laboratory arithmetic: values relative to the lab's own reference limits."""

from __future__ import annotations

from screener.clinical.checks import number, positive

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
    limit = positive("upper_limit", upper_limit)
    result = number("value", value)
    if result < 0:
        raise ValueError(f"value must be >= 0, got {value}")
    return result / limit
