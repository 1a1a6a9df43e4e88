"""Tests for screener.clinical.dates (calendar arithmetic, checked by hand)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from screener.clinical.dates import add_months, age_in_years, days_between

# --- age_in_years ---------------------------------------------------------------------------


def test_age_turns_on_the_birthday() -> None:
    born = date(2008, 11, 25)
    assert age_in_years(born, date(2026, 11, 24)) == 17  # day before 18th birthday
    assert age_in_years(born, date(2026, 11, 25)) == 18  # the birthday itself
    assert age_in_years(born, date(2026, 11, 26)) == 18


def test_age_month_boundaries() -> None:
    born = date(1980, 6, 15)
    assert age_in_years(born, date(2026, 5, 31)) == 45  # earlier month
    assert age_in_years(born, date(2026, 6, 14)) == 45
    assert age_in_years(born, date(2026, 6, 15)) == 46
    assert age_in_years(born, date(2026, 12, 31)) == 46  # later month


def test_age_zero_on_birth_date() -> None:
    assert age_in_years(date(2026, 1, 1), date(2026, 1, 1)) == 0
    assert age_in_years(date(2026, 1, 1), date(2026, 12, 31)) == 0


def test_age_29_february_non_leap_year_birthday_is_1_march() -> None:
    born = date(2008, 2, 29)
    assert age_in_years(born, date(2026, 2, 28)) == 17  # 2026 is not a leap year
    assert age_in_years(born, date(2026, 3, 1)) == 18


def test_age_29_february_leap_year() -> None:
    born = date(2008, 2, 29)
    assert age_in_years(born, date(2028, 2, 28)) == 19  # 2028 is a leap year
    assert age_in_years(born, date(2028, 2, 29)) == 20


def test_age_accepts_datetime() -> None:
    assert age_in_years(datetime(2008, 11, 25, 23, 0), datetime(2026, 11, 25, 1, 0)) == 18


def test_age_before_birth_is_an_error() -> None:
    with pytest.raises(ValueError, match="before birth"):
        age_in_years(date(2026, 11, 25), date(2026, 11, 24))


def test_age_rejects_non_dates() -> None:
    with pytest.raises(TypeError):
        age_in_years("2008-11-25", date(2026, 11, 25))  # type: ignore[arg-type]


# --- add_months -----------------------------------------------------------------------------


def test_add_months_end_of_month_clamped() -> None:
    assert add_months(date(2026, 8, 31), 1) == date(2026, 9, 30)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)  # non-leap
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)  # leap
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)


def test_add_months_plain() -> None:
    assert add_months(date(2026, 1, 15), 0) == date(2026, 1, 15)
    assert add_months(date(2026, 1, 15), 3) == date(2026, 4, 15)
    assert add_months(date(2026, 11, 15), 2) == date(2027, 1, 15)  # year roll-over
    assert add_months(date(2026, 1, 15), 24) == date(2028, 1, 15)


def test_add_months_negative() -> None:
    assert add_months(date(2026, 3, 31), -1) == date(2026, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2026, 1, 15), -1) == date(2025, 12, 15)  # year roll-back
    assert add_months(date(2026, 11, 24), -6) == date(2026, 5, 24)
    assert add_months(date(2026, 5, 31), -13) == date(2025, 4, 30)


def test_add_months_rejects_non_int() -> None:
    with pytest.raises(TypeError):
        add_months(date(2026, 1, 1), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        add_months(date(2026, 1, 1), True)


def test_add_months_out_of_range() -> None:
    with pytest.raises(ValueError):
        add_months(date(9999, 12, 1), 1)


# --- days_between ---------------------------------------------------------------------------


def test_days_between() -> None:
    assert days_between(date(2026, 1, 1), date(2026, 1, 31)) == 30
    assert days_between(date(2026, 1, 31), date(2026, 1, 1)) == -30
    assert days_between(date(2026, 1, 1), date(2026, 1, 1)) == 0
    # 2024 is a leap year: 1 Feb -> 1 Mar = 29 days; 2026: 28 days
    assert days_between(date(2024, 2, 1), date(2024, 3, 1)) == 29
    assert days_between(date(2026, 2, 1), date(2026, 3, 1)) == 28
    # a 60-day window: 2026-11-24 minus 60 days = 2026-09-25
    assert days_between(date(2026, 9, 25), date(2026, 11, 24)) == 60
