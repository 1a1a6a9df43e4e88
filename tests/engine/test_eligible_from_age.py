"""The eligible-from date of a failing lower bound on age (issue 16 section 7).

A criterion failing only because the patient is too young passes from a birthday on: the
engine's eligible-from search tries the coming anniversaries of the birth date (and the day
after each, for 29 February births). Checked against a day-by-day scan with the same clinical
function (``age_in_years``), for ordinary, year-end and leap-day birthdays, ``>=`` and ``>``
thresholds; and the search is bounded: it re-screens the anniversaries the threshold needs and
two more, no further, when the criterion never passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from screener.clinical import FUNCTIONS
from screener.engine.evaluate import Engine

from .mutant_rules import AS_OF, EXCLUSIONS, LOGIC, SITES, patient, ruleset


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(ruleset()) as e:
        yield e


def _first_day_aged(birth: date, years: int, after: date) -> date:
    """The first day after ``after`` on which age_in_years reaches ``years`` (a plain scan)."""
    age = FUNCTIONS["age_in_years"].fn
    day = after + timedelta(days=1)
    while age(birth_date=birth, on=day) < years:
        day += timedelta(days=1)
    return day


BIRTHS = ["2010-06-15", "2012-02-29", "2009-12-31", "2009-03-10", "2009-03-11", "2012-03-01"]


@pytest.mark.parametrize("birth", BIRTHS)
def test_a_too_young_patient_is_eligible_from_the_birthday_a_daily_scan_finds(
    engine: Engine, birth: str
) -> None:
    p = patient(f"young-{birth}", birth_date=birth, sex="male")
    result = next(c for c in engine.screen(p, AS_OF).criteria if c.id == "I49")  # age >= 18 and male
    assert result.outcome == "fail"
    assert result.eligible_from == _first_day_aged(date.fromisoformat(birth), 18, AS_OF)


@pytest.mark.parametrize("birth", BIRTHS)
def test_a_strict_threshold_gives_the_same_birthday(engine: Engine, birth: str) -> None:
    """``age > 17`` is ``age >= 18`` in completed years: the same date."""
    p = patient(f"strict-{birth}", birth_date=birth, sex="male")
    result = next(c for c in engine.screen(p, AS_OF).criteria if c.id == "I52")  # age > 17 and male
    assert result.outcome == "fail"
    assert result.eligible_from == _first_day_aged(date.fromisoformat(birth), 18, AS_OF)


def test_an_adult_has_no_date_and_a_birthday_today_counts(engine: Engine) -> None:
    today = patient("eighteen-today", birth_date="2008-03-10", sex="male")
    assert next(c for c in engine.screen(today, AS_OF).criteria if c.id == "I49").outcome == "pass"
    eve = patient("eighteen-tomorrow", birth_date="2008-03-11", sex="male")
    result = next(c for c in engine.screen(eve, AS_OF).criteria if c.id == "I49")
    assert (result.outcome, result.eligible_from) == ("fail", date(2026, 3, 11))


def test_the_search_stops_a_few_anniversaries_after_the_threshold(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A woman never meets "age >= 18 and male": no date. Aged 15, the search re-screens each
    coming anniversary (and the day after) from the next one, her 16th, to her 21st: the years
    the threshold needs (18 - 15) and two more, counted from this calendar year's birthday."""
    tried: list[date] = []
    outcome = Engine.outcome

    def spy(self: Engine, criterion, p, when):  # type: ignore[no-untyped-def]
        if criterion.id == "I49":
            tried.append(when)
        return outcome(self, criterion, p, when)

    monkeypatch.setattr(Engine, "outcome", spy)
    p = patient("woman", birth_date="2010-06-15", sex="female")  # 15 on AS_OF
    result = next(c for c in engine.screen(p, AS_OF).criteria if c.id == "I49")
    assert result.outcome == "fail" and result.eligible_from is None
    birthdays = [date(2010 + k, 6, 15) for k in range(16, 22)]
    assert sorted(tried) == sorted([*birthdays, *(b + timedelta(days=1) for b in birthdays)])
    # a birthday on the screening date itself is not a coming one (17 today: the 18th to 20th)
    tried.clear()
    today = patient("woman-17-today", birth_date="2009-03-10", sex="female")
    assert next(c for c in engine.screen(today, AS_OF).criteria if c.id == "I49").eligible_from is None
    birthdays = [date(2009 + k, 3, 10) for k in range(18, 21)]
    assert sorted(tried) == sorted([*birthdays, *(b + timedelta(days=1) for b in birthdays)])


def test_the_criteria_a_patient_may_pass_later_are_date_windows_and_lower_bounds_on_age(
    engine: Engine,
) -> None:
    """``Engine.time_dependent`` (the batch explains a patient failing only these, for an
    eligible-from date): a criterion with a date window, or with a lower bound on a value
    that grows with the screening date (age); not a lower bound on a lab value."""
    tests = {**SITES, **EXCLUSIONS, **LOGIC}
    windows = {cid for cid, t in tests.items() if "min_ago:" in t or "max_ago:" in t}
    ages = {cid for cid, t in tests.items() if "fact: age, gt" in t}  # gt and gte
    assert windows and ages and not windows & ages  # each kind alone
    assert any("fact: platelets, gt" in t for t in tests.values())  # a bound that does not grow
    assert engine.time_dependent == windows | ages
