"""Which value of a fact counts at the screening date: the one specification.

A patient may have many values of one fact (creatinine measured monthly, a pregnancy status
each visit). Two implementations choose the one that counts: :func:`screener.facts.prepare`
(Python, patient by patient, for the engine and the fast path's Python route) and
:class:`screener.vectorized.prepare.TablePreparation` (DuckDB SQL over a columnar registry).
Both follow these rules, and both build each rule from the *same-named* pair of functions
below: ``f`` in Python and ``f_sql`` giving the SQL expression of the same thing (the
differential tests run each pair on the same values, boundaries included).

1. **Candidates.** A value counts only if it is dated on or before the screening date; a later
   one is set aside ("dated ..., after the screening date"). An undated status is a candidate
   and counts as older than any dated one (:data:`UNDATED_DAY`).
2. **Latest** (:func:`order_key`). Of the candidates, the latest date wins; of two on the
   same date, the one listed later in the record (higher ``seq``). Dates and listing order
   are packed into one integer ``day * SEQ_SPAN + seq`` (:func:`order_key`,
   :func:`decode_key`), so "the latest" is a maximum in both languages.
3. **Preferred** (:func:`is_preferred`). An observation fact with ``prefer_value`` (ANA ever
   positive) takes the latest candidate with that value when there is one (its key is
   lifted by :data:`PREFERRED`, above every date), else the latest. A value equals the
   preferred one only if of the same type (``1`` is not ``true``).
4. **Freshness** (:func:`is_fresh`). The chosen value counts only if at most
   ``max_age_days`` old at the screening date; an older one is set aside ("latest value
   dated ... is older than N days"): the rule does *not* fall back to an earlier value.
   An undated status is fresh.
5. **Person-only confirmation** (:func:`is_confirmed`). A ``person_only`` fact counts only
   when someone is named in ``confirmed_by`` (an imported Consent resource is not consent).
6. **Same day, different values** (:func:`disagree`). An observation fact without
   ``prefer_value`` whose chosen value has another record on the same day with a value that
   disagrees (numbers: by more than :data:`AGREEMENT` of the larger; anything else: not
   equal, or of another type) is set aside as a conflict a person must resolve.
7. **Declared contradictions** (the rule set's ``conflicts:``): both facts are set aside when
   both count with the declared values, dated at most ``within_days`` apart (an undated one
   counts as close): ``facts._declared_conflicts`` and ``TablePreparation._declared_conflicts``.

A value that does not count leaves its fact missing: every test reading it is unknown with a
to-do, never passed. How a derived value is computed from the values that count is
:mod:`screener.derivation`'s specification.
"""

from __future__ import annotations

from datetime import date
from typing import Any

#: Two numbers recorded for one fact on one day agree when they differ by at most this share of
#: the larger (rounding of a value reported in two units: 88 umol/L is 0.995 mg/dL); beyond it
#: they contradict each other and a person must say which is right. An engineering tolerance
#: for unit rounding (rule set 1.1.0 policy), not a clinical threshold.
AGREEMENT = 0.025

#: Day 0 of the order key's day numbers (the SQL literal is ``KEY_EPOCH_SQL``).
KEY_EPOCH = date(1900, 1, 1)
KEY_EPOCH_SQL = f"DATE '{KEY_EPOCH.isoformat()}'"
#: Records per patient and table the key can order: seq runs 0 .. SEQ_SPAN - 1.
SEQ_SPAN = 1_000_000
#: The lift of a preferred value's key: above the key of any date up to 9999-12-31
#: (2_958_463 days * SEQ_SPAN < PREFERRED / 2), and every key stays below 2**53, so a key is
#: exact as a DuckDB DOUBLE as well as a BIGINT.
PREFERRED = 10**15
#: The day number of an undated status: the day before 0001-01-01, older than any date.
UNDATED_DAY = (date.min - KEY_EPOCH).days - 1
_LAST_DAY = (date.max - KEY_EPOCH).days


# --------------------------------------------------------------------------- 2. latest


def day_of(when: date | None) -> int:
    """Day number of ``when`` for the order key (:data:`UNDATED_DAY` when undated)."""
    return UNDATED_DAY if when is None else (when - KEY_EPOCH).days


def day_of_sql(when: str, undated: bool = False) -> str:
    """SQL: :func:`day_of` of the DATE expression ``when`` (``undated``: NULL is undated)."""
    day = f"date_diff('day', {KEY_EPOCH_SQL}, {when})"
    return f"coalesce({day}, {UNDATED_DAY})" if undated else day


def date_of_day(day: int) -> date | None:
    """The date of a day number (None for :data:`UNDATED_DAY`)."""
    if day == UNDATED_DAY:
        return None
    return date.fromordinal(KEY_EPOCH.toordinal() + day)


def date_of_day_sql(day: str) -> str:
    """SQL: :func:`date_of_day` of the integer expression ``day``."""
    return f"(CASE WHEN {day} <> {UNDATED_DAY} THEN {KEY_EPOCH_SQL} + CAST({day} AS INTEGER) END)"


def order_key(day: int, seq: int, preferred: bool = False) -> int:
    """The packed order key of a record: a later day, then a later ``seq``, is a larger key;
    a preferred value's key is larger than any other's.

    Raises ValueError for a ``seq`` outside 0 .. SEQ_SPAN - 1 or a day outside the
    calendar (a key must never be read back as another record's).
    """
    if not 0 <= seq < SEQ_SPAN:
        raise ValueError(f"record position {seq} is outside 0..{SEQ_SPAN - 1}")
    if not UNDATED_DAY <= day <= _LAST_DAY:
        raise ValueError(f"day {day} is outside the calendar")
    return day * SEQ_SPAN + seq + (PREFERRED if preferred else 0)


def order_key_sql(day: str, seq: str, preferred: str | None = None) -> str:
    """SQL: :func:`order_key` of integer expressions ``day`` and ``seq`` (and a BOOLEAN
    ``preferred``); the table writer keeps ``seq`` below :data:`SEQ_SPAN`."""
    key = f"CAST({day} AS BIGINT) * {SEQ_SPAN} + {seq}"
    return key if preferred is None else lift_sql(key, preferred)


def lift_sql(key: str, preferred: str) -> str:
    """SQL: an order key lifted by :data:`PREFERRED` where the BOOLEAN ``preferred`` holds."""
    return f"{key} + CASE WHEN {preferred} THEN {PREFERRED} ELSE 0 END"


def decode_key(key: int) -> tuple[int, int, bool]:
    """(day, seq, preferred) of an order key: the inverse of :func:`order_key`."""
    preferred = key >= PREFERRED // 2
    day, seq = divmod(key - (PREFERRED if preferred else 0), SEQ_SPAN)
    return day, seq, preferred


def key_day_sql(key: str) -> str:
    """SQL: the day of an order key (:func:`decode_key`'s first item), as BIGINT."""
    base = f"({key} - CASE WHEN {key} >= {PREFERRED // 2} THEN {PREFERRED} ELSE 0 END)"
    return f"CAST(floor({base} / {SEQ_SPAN}.0) AS BIGINT)"


def same_day_sql(a: str, b: str) -> str:
    """SQL: whether two keys of one fact (both preferred or both not) are of the same day."""
    return f"floor({a} / {SEQ_SPAN}.0) = floor({b} / {SEQ_SPAN}.0)"


# --------------------------------------------------------------------------- 3. preferred


def is_preferred(value: Any, prefer: Any) -> bool:
    """Whether ``value`` is the fact's ``prefer_value`` (equal, and of the same type)."""
    return prefer is not None and value == prefer and isinstance(value, bool) == isinstance(prefer, bool)


def is_preferred_sql(column: str, literal: str) -> str:
    """SQL: :func:`is_preferred` of the value in its typed ``column`` and the SQL ``literal``."""
    return f"{column} IS NOT DISTINCT FROM {literal}"


# --------------------------------------------------------------------------- 4. freshness


def is_fresh(when: date | None, as_of: date, max_age_days: int | None) -> bool:
    """Whether a value dated ``when`` is recent enough at ``as_of`` (undated: yes)."""
    return when is None or max_age_days is None or (as_of - when).days <= max_age_days


def is_fresh_sql(when: str, as_of: str, max_age_days: int | None) -> str:
    """SQL: :func:`is_fresh` of DATE expressions ``when`` (NULL: undated) and ``as_of``."""
    if max_age_days is None:
        return "TRUE"
    return f"({when} IS NULL OR date_diff('day', {when}, {as_of}) <= {int(max_age_days)})"


# --------------------------------------------------------------------------- 5. confirmation


def is_confirmed(confirmed_by: str | None) -> bool:
    """Whether a person-only value names the person who confirmed it."""
    return bool(confirmed_by)


def is_confirmed_sql(confirmed_by: str) -> str:
    """SQL: :func:`is_confirmed` of a VARCHAR expression."""
    return f"coalesce({confirmed_by}, '') <> ''"


# --------------------------------------------------------------------------- 6. same day


def disagree(a: Any, b: Any) -> bool:
    """Whether two values recorded for one fact on one day contradict each other."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (a, b))
    if numbers:
        return abs(a - b) > AGREEMENT * max(abs(a), abs(b))
    return a != b or isinstance(a, bool) != isinstance(b, bool)


def disagree_sql(a: str, b: str, numbers: bool) -> str:
    """SQL: :func:`disagree` of two expressions of one typed column (``numbers``: DOUBLE)."""
    if not numbers:
        return f"{a} IS DISTINCT FROM {b}"
    share = f"CAST({AGREEMENT!r} AS DOUBLE)"
    differs = f"abs({a} - {b}) > {share} * greatest(abs({a}), abs({b}))"
    return f"coalesce({differs}, {a} IS DISTINCT FROM {b})"
