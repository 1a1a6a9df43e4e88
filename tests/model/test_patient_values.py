"""Implausible and unreadable values in a native patient file are errors at their line,
never a silently different decision (issue 13 sections 2 and 4); boundaries on both sides."""

from __future__ import annotations

import pytest

from screener.errors import PatientDataError
from screener.model.patient import parse_patient

HEAD = 'schema_version: "1"\npatient_id: p1\ndemographics: {birth_date: 1990-01-01, sex: female}\n'


def med(**fields: object) -> str:
    row = {"drug": "prednisone", "start": "2026-01-01", **fields}
    inner = ", ".join(f"{k}: {v}" for k, v in row.items())
    return HEAD + "medications:\n  - {" + inner + "}\n"


def refused(text: str) -> PatientDataError:
    with pytest.raises(PatientDataError) as info:
        parse_patient(text, "p.yaml")
    return info.value


def test_dose_at_the_plausibility_limit_loads_just_above_is_refused() -> None:
    assert parse_patient(med(dose=1_000_000, unit="mg")).medications[0].dose_mg == 1_000_000
    assert parse_patient(med(dose=1000, unit="g")).medications[0].dose_mg == 1_000_000
    error = refused(med(dose=1_000_001, unit="mg"))
    assert "impossible dose value" in error.message and error.location and error.location.line == 5


@pytest.mark.parametrize(
    ("dose", "fragment"),
    [("1e308", "impossible dose value"), ("9" * 400, "is not a usable number")],
)
def test_an_absurd_dose_is_refused_not_turned_into_unknown(dose: str, fragment: str) -> None:
    assert fragment in refused(med(dose=dose, unit="g")).message


def test_a_dose_in_g_that_overflows_is_refused() -> None:
    assert "not a finite number" in refused(med(dose="1e308", unit="g")).message


def obs(ref: str, name: str = "ast", value: object = 31, unit: str = "U/L") -> str:
    row = f"{{name: {name}, value: {value}, unit: {unit}, date: 2026-01-01, reference_range: {ref}}}"
    return HEAD + f"observations:\n  - {row}\n"


def test_reference_range_low_equal_to_high_loads_inverted_is_refused() -> None:
    p = parse_patient(obs("{low: 35, high: 35}"))
    assert (p.observations[0].reference_low, p.observations[0].reference_high) == (35, 35)
    error = refused(obs("{low: 36, high: 35}"))
    assert "reference range is inverted: low 36 is above high 35" in error.message
    assert error.location is not None and error.location.line == 5


def test_reference_range_zero_loads_negative_is_refused() -> None:
    assert parse_patient(obs("{low: 0, high: 35}")).observations[0].reference_low == 0
    assert "reference range low -1 is negative" in refused(obs("{low: -1, high: 35}")).message


def test_reference_range_in_another_unit_is_converted() -> None:
    p = parse_patient(obs("{low: 45, high: 90, unit: umol/L}", name="creatinine", value=0.8, unit="mg/dL"))
    assert p.observations[0].reference_high == pytest.approx(90 / 88.4)


def sle(met: int, classification: str = "acr_1997") -> str:
    return HEAD + f"conditions:\n  - {{name: sle, classification: {classification}, criteria_met: {met}}}\n"


def test_acr_criteria_met_11_loads_12_is_refused() -> None:
    assert parse_patient(sle(11)).conditions[0].criteria_met == 11
    error = refused(sle(12))
    assert "12 criteria met, but acr_1997 has only 11" in error.message
    assert error.location is not None and error.location.line == 5
    assert "acr_1982 has only 11" in refused(sle(12, "acr_1982")).message


def test_a_medication_started_on_the_birth_date_loads_the_day_before_is_refused() -> None:
    assert parse_patient(med(start="1990-01-01")).medications[0].start.isoformat() == "1990-01-01"
    error = refused(med(start="1989-12-31"))
    assert "prednisone is dated 1989-12-31, before birth (1990-01-01)" in error.message
    assert error.location is not None and error.location.field == "medications[0].start"


def test_an_administration_before_birth_is_refused() -> None:
    text = med(start="1990-01-01", administrations="[1989-06-01]")
    assert "prednisone administration is dated 1989-06-01" in refused(text).message


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("demographics.birth_date", HEAD.replace("1990-01-01", "0000-01-01")),
        ("medications[0]", med(start="0000-01-01")),
        ("statuses[0].date", HEAD + "statuses:\n  - {name: pregnant, value: false, date: 0000-12-31}\n"),
    ],
)
def test_year_zero_is_not_a_date(where: str, text: str) -> None:
    error = refused(text)
    assert "is not a calendar date" in error.message
    assert error.location is not None and error.location.field == where


def test_year_one_is_a_date() -> None:
    text = (
        HEAD.replace("1990-01-01", "0001-01-01")
        + "statuses:\n  - {name: pregnant, value: false, date: 0001-01-01}\n"
    )
    assert parse_patient(text).birth_date.isoformat() == "0001-01-01"


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "No"])
def test_a_yes_no_word_in_a_status_is_refused_not_read_as_text(word: str) -> None:
    error = refused(HEAD + f"statuses:\n  - {{name: pregnant, value: {word}}}\n")
    assert f"pregnant is the text '{word}'; write true or false" in error.message
    assert error.location is not None and error.location.line == 5


def test_a_sexagesimal_looking_value_is_text_not_61() -> None:
    error = refused(HEAD + "observations:\n  - {name: weight, value: 1:01, unit: kg, date: 2026-01-01}\n")
    assert "weight must be a number, got '1:01'" in error.message


def test_a_duplicate_value_key_is_refused_not_last_wins() -> None:
    error = refused(
        HEAD + "observations:\n  - {name: weight, value: 61, value: 20, unit: kg, date: 2026-01-01}\n"
    )
    assert "key 'value' is given twice" in error.message and error.location and error.location.line == 5
