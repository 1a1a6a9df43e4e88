from __future__ import annotations

from datetime import date

import pytest

from screener.errors import PatientDataError
from screener.facts import cumulative_days_at_dose, prepare, window_end, window_start
from screener.model.patient import parse_patient
from screener.model.rules import RuleSet, Window

D = date.fromisoformat


def test_taper_counts_as_one_course_at_the_lower_dose() -> None:
    periods = [(D("2026-01-01"), D("2026-01-20"), 10.0), (D("2026-01-21"), D("2026-02-09"), 8.0)]
    assert cumulative_days_at_dose(periods, 1) == 40  # 20 days at 10 + 20 days at 8, all >= 8
    assert cumulative_days_at_dose(periods, 0) == 20  # only the first period is >= 10


def test_escalation_counts_forward_too() -> None:
    periods = [(D("2026-01-01"), D("2026-01-20"), 8.0), (D("2026-01-21"), D("2026-02-09"), 10.0)]
    assert cumulative_days_at_dose(periods, 0) == 40


def test_a_gap_of_more_than_one_day_breaks_the_course() -> None:
    periods = [(D("2026-01-01"), D("2026-01-20"), 10.0), (D("2026-01-23"), D("2026-02-09"), 10.0)]
    assert cumulative_days_at_dose(periods, 1) == 18
    touching = [(D("2026-01-01"), D("2026-01-20"), 10.0), (D("2026-01-21"), D("2026-02-09"), 10.0)]
    assert cumulative_days_at_dose(touching, 1) == 40


def test_unknown_dose_gives_no_cumulative_days() -> None:
    assert cumulative_days_at_dose([(D("2026-01-01"), D("2026-01-20"), None)], 0) is None


def test_calendar_windows_clamp_to_month_end() -> None:
    assert window_start(D("2026-08-31"), Window(months=6)) == D("2026-02-28")
    assert window_end(D("2026-08-31"), Window(months=6)) == D("2027-02-28")
    assert window_start(D("2026-11-25"), Window(days=30)) == D("2026-10-26")


def test_wrong_type_for_a_fact_is_a_patient_error(ruleset: RuleSet) -> None:
    patient = parse_patient(
        'schema_version: "1"\npatient_id: p\ndemographics: {}\n'
        "statuses:\n  - {name: pregnant, value: maybe, date: 2026-11-20}\n",
        "p.yaml",
    )
    with pytest.raises(PatientDataError, match="expected true or false") as info:
        prepare(patient, ruleset, D("2026-11-25"))
    assert info.value.location is not None and info.value.location.file == "p.yaml"


def test_coded_value_outside_the_allowed_list_is_refused(ruleset: RuleSet) -> None:
    patient = parse_patient(
        'schema_version: "1"\npatient_id: p\ndemographics: {}\n'
        "observations:\n  - {name: hiv, value: pos, date: 2026-11-20}\n"
    )
    with pytest.raises(PatientDataError, match="not one of"):
        prepare(patient, ruleset, D("2026-11-25"))


def test_latest_value_not_after_the_screening_date_is_used(ruleset: RuleSet) -> None:
    patient = parse_patient(
        'schema_version: "1"\npatient_id: p\ndemographics: {}\n'
        "observations:\n"
        "  - {name: weight, value: 60, unit: kg, date: 2026-11-01}\n"
        "  - {name: weight, value: 62, unit: kg, date: 2026-11-20}\n"
        "  - {name: weight, value: 70, unit: kg, date: 2026-12-01}\n"
    )
    facts = prepare(patient, ruleset, D("2026-11-25")).by_id()
    assert facts["f:weight"]["value"] == 62
    assert facts["f:weight"]["date"] == "2026-11-20"


def test_quantity_declared_by_the_rule_set_converts_units(ruleset: RuleSet) -> None:
    patient = parse_patient(
        'schema_version: "1"\npatient_id: p\ndemographics: {}\n'
        "observations:\n"
        "  - {name: creatinine_clearance_measured, value: 25, unit: ml/min, date: 2026-11-20}\n"
    )
    fact = prepare(patient, ruleset, D("2026-11-25")).by_id()["f:creatinine_clearance_measured"]
    assert fact["value"] == 25 and fact["unit"] == "mL/min" and fact["original"] == "25 ml/min"


def test_unconvertible_unit_names_the_observation(ruleset: RuleSet) -> None:
    patient = parse_patient(
        'schema_version: "1"\npatient_id: p\ndemographics: {}\n'
        "observations:\n"
        "  - {name: creatinine_clearance_measured, value: 0.4, unit: mL/s, date: 2026-11-20}\n",
        "p.yaml",
    )
    with pytest.raises(PatientDataError, match="mL/s") as info:
        prepare(patient, ruleset, D("2026-11-25"))
    assert info.value.location is not None
    assert "creatinine_clearance_measured" in (info.value.location.field or "")
