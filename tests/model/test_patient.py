from __future__ import annotations

import pytest

from screener.errors import PatientDataError
from screener.model.patient import parse_patient

HEAD = 'schema_version: "1"\npatient_id: p1\ndemographics: {birth_date: 1990-01-01, sex: female}\n'


def test_units_are_converted_to_canonical_units() -> None:
    p = parse_patient(
        HEAD
        + "observations:\n"
        + "  - {name: creatinine, value: 88.4, unit: umol/L, date: 2026-01-01}\n"
        + "  - {name: hemoglobin, value: 79, unit: g/L, date: 2026-01-01}\n"
        + "  - {name: pao2, value: 10, unit: kPa, date: 2026-01-01}\n"
    )
    values = {o.name: o.value for o in p.observations}
    assert values["creatinine"] == pytest.approx(1.0)
    assert values["hemoglobin"] == pytest.approx(7.9)
    assert values["pao2"] == pytest.approx(75.0062)
    assert p.observations[0].original == "88.4 umol/L"


def test_wrong_unit_names_file_line_and_quantity() -> None:
    text = HEAD + "observations:\n  - {name: creatinine, value: 1, unit: mmol/mol, date: 2026-01-01}\n"
    with pytest.raises(PatientDataError) as info:
        parse_patient(text, "p.yaml")
    assert info.value.location is not None
    assert info.value.location.file == "p.yaml"
    assert info.value.location.line == 5
    assert "creatinine" in str(info.value) and "mmol/mol" in str(info.value)


def test_impossible_value_is_refused_with_its_field() -> None:
    text = HEAD + "observations:\n  - {name: weight, value: 900, unit: kg, date: 2026-01-01}\n"
    with pytest.raises(PatientDataError, match="impossible weight"):
        parse_patient(text, "p.yaml")


def test_missing_unit_on_a_quantity_is_an_error() -> None:
    text = HEAD + "observations:\n  - {name: creatinine, value: 1.0, date: 2026-01-01}\n"
    with pytest.raises(PatientDataError, match="no unit"):
        parse_patient(text)


def test_malformed_yaml_names_the_line() -> None:
    with pytest.raises(PatientDataError) as info:
        parse_patient(HEAD + "observations: [\n  {name: x\n", "bad.yaml")
    assert "malformed YAML" in str(info.value)
    assert info.value.location is not None and info.value.location.line is not None


def test_schema_error_names_the_field() -> None:
    text = HEAD + "medications:\n  - {drug: prednisone, start: 2026-13-01}\n"
    with pytest.raises(PatientDataError) as info:
        parse_patient(text, "p.yaml")
    assert info.value.location is not None
    assert info.value.location.field == "medications[0].start"
    assert info.value.location.line == 5


def test_sledai_out_of_range_is_refused() -> None:
    text = HEAD + "assessments:\n  - {name: selena_sledai, score: 106, date: 2026-01-01}\n"
    with pytest.raises(PatientDataError, match=r"0\.\.105"):
        parse_patient(text)


def test_medication_ending_before_it_starts_is_refused() -> None:
    text = HEAD + "medications:\n  - {drug: prednisone, start: 2026-02-01, end: 2026-01-01}\n"
    with pytest.raises(PatientDataError, match="before it starts"):
        parse_patient(text)
