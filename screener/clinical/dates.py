"""Calendar arithmetic for eligibility windows and ages.

All functions work on :class:`datetime.date` (proleptic Gregorian calendar, as implemented by
Python's ``datetime``). A :class:`datetime.datetime` is accepted and reduced to its date.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

__all__ = ["add_months", "age_in_years", "days_between"]


def _as_date(value: date, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if not isinstance(value, date):
        raise TypeError(f"{name} must be a datetime.date, got {type(value).__name__}")
    return value


def _birthday_in(year: int, birth_date: date) -> date:
    """The birthday of ``birth_date`` in ``year``; 29 February -> 1 March in non-leap years."""
    if birth_date.month == 2 and birth_date.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1)
    return date(year, birth_date.month, birth_date.day)


def age_in_years(birth_date: date, on: date) -> int:
    """Age in completed years on the date ``on``. Unit: ``a`` (years).

    The person turns ``n`` on their ``n``-th birthday: someone born 2008-11-25 is 17 on
    2026-11-24 and 18 on 2026-11-25.

    29 February birthdays: in a non-leap year the birthday is taken to be **1 March** (the
    person born 2008-02-29 is 17 on 2026-02-28 and 18 on 2026-03-01). This is the convention
    chosen for this screener (as the legal birthday in non-leap years); jurisdictions differ
    (some use 28 February), and no legal source was checked - a rule that depends on it should
    say so.

    Source: calendar arithmetic only (proleptic Gregorian calendar, Python ``datetime``). The
    screening protocol asks for the age at the screening date (notes.md, choice 1).

    Raises:
        ValueError: ``on`` is before ``birth_date``.
        TypeError: an argument is not a date.
    """
    birth_date = _as_date(birth_date, "birth_date")
    on = _as_date(on, "on")
    if on < birth_date:
        raise ValueError(f"date {on.isoformat()} is before birth date {birth_date.isoformat()}")
    years = on.year - birth_date.year
    if on < _birthday_in(on.year, birth_date):
        years -= 1
    return years


def add_months(d: date, months: int) -> date:
    """``d`` plus ``months`` calendar months (negative allowed), clamped to the month's end.

    2026-08-31 + 1 month = 2026-09-30; 2024-01-31 + 1 month = 2024-02-29;
    2024-03-31 - 1 month = 2024-02-29. Note the clamping differs from :func:`age_in_years`'s
    29 February rule: 2024-02-29 + 12 months = 2025-02-28.

    Source: calendar arithmetic only (proleptic Gregorian calendar).

    Raises:
        TypeError: ``d`` is not a date or ``months`` is not an int.
        OverflowError/ValueError: the result is outside ``datetime.date``'s range.
    """
    d = _as_date(d, "d")
    if isinstance(months, bool) or not isinstance(months, int):
        raise TypeError(f"months must be an int, got {months!r}")
    index = d.year * 12 + (d.month - 1) + months
    year, month0 = divmod(index, 12)
    month = month0 + 1
    if not 1 <= year <= 9999:
        raise ValueError(f"{d.isoformat()} + {months} months is outside the supported range")
    day = min(d.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def days_between(start: date, end: date) -> int:
    """Whole days from ``start`` to ``end`` (``end - start``); negative if ``end`` is earlier.

    Unit: ``d`` (days). ``days_between(2026-01-01, 2026-01-31) == 30``. Whether a window is
    inclusive of its end points is the rule's decision, not this function's.

    Source: calendar arithmetic only (proleptic Gregorian calendar).
    """
    start = _as_date(start, "start")
    end = _as_date(end, "end")
    return (end - start).days
