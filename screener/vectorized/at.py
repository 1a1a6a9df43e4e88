"""The screening date inside the SQL preparation: one date for every patient, or one per key.

The vectorized screen of a registry prepares every patient at one date, written into the
SQL as a constant (:class:`At` with ``when``). The eligible-from search
(:mod:`screener.vectorized.eligible_from`) screens each patient at dates of its own: the
registry's rows are re-keyed by ``screen_at(key, pid, as_of)`` (a patient may appear under
several keys, one per date) and carry their key's date in the column :data:`COLUMN`; the
same preparation then reads that column wherever it read the constant (:class:`At` without
``when``).

The calendar arithmetic has SQL twins of :func:`screener.clinical.dates.add_months` and
:func:`screener.facts.window_start` / :func:`screener.facts.window_end`: DuckDB's month
arithmetic clamps to the month's end as ``add_months`` does (2024-03-31 - 1 month =
2024-02-29; 2024-02-29 + 12 months = 2025-02-28), and the tests compare them day by day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from screener.facts import window_start
from screener.model.rules import Window

#: The column of a re-keyed row that holds its key's screening date.
COLUMN = "__as_of"


def sql_date(d: date) -> str:
    return f"DATE '{d.isoformat()}'"


def add_months_sql(d: str, months: str) -> str:
    """SQL: :func:`screener.clinical.dates.add_months` of the DATE ``d`` (``months`` an integer
    expression, negative allowed), clamped to the month's end."""
    return f"CAST(({d}) + to_months({months}) AS DATE)"


def _moved_sql(d: str, window: Window, sign: int) -> str:
    if window.years:
        return add_months_sql(d, str(sign * 12 * window.years))
    if window.months:
        return add_months_sql(d, str(sign * window.months))
    return f"CAST(({d}) {'+' if sign > 0 else '-'} {int(window.days)} AS DATE)"


def window_start_sql(d: str, window: Window) -> str:
    """SQL: :func:`screener.facts.window_start` of the DATE ``d``."""
    return _moved_sql(d, window, -1)


def window_end_sql(d: str, window: Window) -> str:
    """SQL: :func:`screener.facts.window_end` of the DATE ``d``."""
    return _moved_sql(d, window, 1)


@dataclass(frozen=True)
class At:
    """The screening date as the preparation writes it: the constant ``when``, or (``when``
    None) each row's own date in :data:`COLUMN`, qualified by a table alias where needed."""

    when: date | None = None

    @property
    def per_key(self) -> bool:
        return self.when is None

    def sql(self, alias: str = "") -> str:
        """The screening date (``alias``: e.g. ``"x."``, for the per-key column)."""
        if self.when is not None:
            return sql_date(self.when)
        return f'{alias}"{COLUMN}"'

    def window_start(self, window: Window, alias: str = "") -> str:
        """The first day of ``window`` before the screening date."""
        if self.when is not None:
            return sql_date(window_start(self.when, window))
        return window_start_sql(self.sql(alias), window)

    def carried(self, alias: str = "") -> str:
        """``, <alias>"__as_of"`` to carry the per-key date through a SELECT list; empty for a
        constant date (the single-date SQL stays as it was)."""
        return "" if self.when is not None else f", {self.sql(alias)}"


def at_of(as_of: date | At) -> At:
    return as_of if isinstance(as_of, At) else At(as_of)
