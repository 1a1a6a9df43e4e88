from __future__ import annotations

from datetime import date

import pytest

from screener.model.patient import patient_from_data
from screener.model.rules import load_ruleset
from screener.tui.editing import FactInputError
from screener.tui.history import apply_history, history_fields, parse_history
from screener.yamlio import LineMap
from tests.conftest import RULES_DIR

AS_OF = date(2026, 11, 25)
RULESET = load_ruleset(RULES_DIR)


def test_choices_come_from_the_rule_set_and_the_schema() -> None:
    fields = {f.name: f for f in history_fields(RULESET, "medication")}
    assert {"prednisone", "rituximab", "hydroxychloroquine", "belimumab"} <= set(fields["drug"].choices)
    assert "bid" in fields["frequency"].choices and "inefficacy" in fields["outcome"].choices
    conditions = {f.name: f for f in history_fields(RULESET, "condition")}
    assert {"sle", "neoplasia", "heart_failure"} <= set(conditions["name"].choices)


def test_a_medication_period_is_parsed_and_appended() -> None:
    fields = history_fields(RULESET, "medication")
    typed = {
        "drug": "prednisone",
        "dose": "10",
        "unit": "mg",
        "route": "oral",
        "frequency": "daily",
        "start": "2026-11-20",
        "outcome": "ongoing",
    }
    record = parse_history(fields, typed, AS_OF)
    assert record == {
        "drug": "prednisone",
        "dose": 10,
        "unit": "mg",
        "route": "oral",
        "frequency": "daily",
        "start": "2026-11-20",
        "outcome": "ongoing",
    }
    raw = {"schema_version": "1", "patient_id": "p", "demographics": {}}
    new, description = apply_history(raw, "medication", record)
    assert "medications" not in raw  # the old record is untouched
    assert new["medications"] == [record] and description == "added medication prednisone from 2026-11-20"
    assert patient_from_data(new, LineMap("<t>", {})).medications[0].dose_mg == 10


def test_every_bad_field_is_named() -> None:
    fields = history_fields(RULESET, "medication")
    typed = {"drug": "aspirin", "dose": "ten", "start": "2027-01-01", "end": "2026-01-01"}
    with pytest.raises(FactInputError) as info:
        parse_history(fields, typed, AS_OF)
    errors = info.value.errors
    assert set(errors) >= {"drug", "dose", "start"}
    assert "after the screening date" in errors["start"]


def test_dose_without_unit_and_end_before_start_are_refused() -> None:
    fields = history_fields(RULESET, "medication")
    with pytest.raises(FactInputError) as info:
        parse_history(
            fields, {"drug": "prednisone", "dose": "5", "start": "2026-02-01", "end": "2026-01-01"}, AS_OF
        )
    assert set(info.value.errors) == {"unit", "end"}


def test_a_condition_with_classification_is_parsed() -> None:
    fields = history_fields(RULESET, "condition")
    record = parse_history(
        fields, {"name": "sle", "classification": "acr_1997", "criteria_met": "5", "controlled": "no"}, AS_OF
    )
    assert record == {"name": "sle", "classification": "acr_1997", "criteria_met": 5, "controlled": False}


def _raw() -> dict:
    return {
        "schema_version": "1",
        "patient_id": "h",
        "demographics": {"birth_date": "1980-01-01", "sex": "female"},
        "medications": [
            {"drug": "prednisone", "dose": 10, "unit": "mg", "start": "2026-01-01"},
            {"drug": "rituximab", "dose": 1000, "unit": "mg", "start": "2025-01-01"},
        ],
        "conditions": [{"name": "sle", "onset": "2020-01-01"}],
    }


def test_a_record_is_corrected_in_place_and_the_change_described() -> None:
    from screener.tui.history import replace_history, typed_from_record

    fields = history_fields(RULESET, "medication")
    raw = _raw()
    typed = typed_from_record(fields, raw["medications"][0])
    assert typed == {"drug": "prednisone", "dose": "10", "unit": "mg", "start": "2026-01-01"}
    record = parse_history(fields, {**typed, "dose": "15", "frequency": "daily"}, AS_OF)
    new, description = replace_history(raw, "medication", 0, record, fields)
    assert raw["medications"][0]["dose"] == 10  # the input is never modified
    assert new["medications"][0] == {
        "drug": "prednisone",
        "dose": 15,
        "unit": "mg",
        "start": "2026-01-01",
        "frequency": "daily",
    }
    assert len(new["medications"]) == 2
    assert description == (
        "corrected medication prednisone from 2026-01-01: dose 10 -> 15; frequency — -> daily"
    )
    patient_from_data(new, LineMap("memory", {}))


def test_a_record_is_removed_and_a_wrong_index_is_refused() -> None:
    from screener.tui.history import remove_history

    new, description = remove_history(_raw(), "medication", 1)
    assert [m["drug"] for m in new["medications"]] == ["prednisone"]
    assert description == "removed medication rituximab from 2025-01-01"
    with pytest.raises(IndexError):
        remove_history(_raw(), "condition", 1)


@pytest.mark.parametrize(
    ("dose", "unit", "ok"), [("1000", "g", True), ("1001", "g", False), ("1e9", "mg", False)]
)
def test_a_dose_is_checked_against_the_plausibility_guard(dose: str, unit: str, ok: bool) -> None:
    fields = history_fields(RULESET, "medication")
    typed = {"drug": "prednisone", "dose": dose, "unit": unit, "start": "2026-01-01"}
    if ok:
        assert parse_history(fields, typed, AS_OF)["dose"] == float(dose)
    else:
        with pytest.raises(FactInputError) as problem:
            parse_history(fields, typed, AS_OF)
        assert set(problem.value.errors) == {"dose"} and "impossible dose" in problem.value.errors["dose"]
