"""Fact form logic without textual: specs, validation and edits of the raw record."""

from __future__ import annotations

from datetime import date

import pytest

from screener.errors import PatientDataError
from screener.model.patient import load_patient, patient_from_data
from screener.model.rules import RuleSet
from screener.tui.editing import FactInputError, apply_fact, editable_facts, form_spec, parse_fact
from screener.yamlio import LineMap

from .conftest import AS_OF, MISSING_CREATININE


def spec(ruleset: RuleSet, name: str):
    return form_spec(ruleset.facts[name])


def test_vocabulary_is_the_rule_sets_base_facts(ruleset: RuleSet) -> None:
    names = [f.name for f in editable_facts(ruleset)]
    assert "creatinine" in names and "pregnancy_test" in names and "selena_sledai" in names
    assert "crcl_cockcroft_gault" not in names  # derived values are computed, never typed


def test_units_come_from_screener_units(ruleset: RuleSet) -> None:
    creatinine = spec(ruleset, "creatinine")
    assert creatinine.units[0] == "mg/dL" and "umol/L" in creatinine.units
    # Not converted on load: only the rule set's unit is offered.
    assert spec(ruleset, "creatinine_clearance_measured").units == ("mL/min",)
    assert spec(ruleset, "pregnancy_test").units == ()
    assert spec(ruleset, "pregnancy_test").choices == ("positive", "negative")
    assert spec(ruleset, "informed_consent").choices == ("yes", "no")


def test_number_with_unit_and_date(ruleset: RuleSet) -> None:
    entry = parse_fact(spec(ruleset, "creatinine"), value="68", unit="umol/L", when="2026-11-25", as_of=AS_OF)
    assert (entry.value, entry.unit, entry.date) == (68, "umol/L", date(2026, 11, 25))


@pytest.mark.parametrize(
    ("value", "unit", "when", "field"),
    [
        ("abc", "mg/dL", "2026-11-20", "value"),
        ("", "mg/dL", "2026-11-20", "value"),
        ("nan", "mg/dL", "2026-11-20", "value"),
        ("68", "mmol/L", "2026-11-20", "unit"),
        ("68", None, "2026-11-20", "unit"),
        ("0.8", "mg/dL", "2026-11-26", "date"),  # the day after the screening date
        ("0.8", "mg/dL", "20/11/2026", "date"),
        ("0.8", "mg/dL", "", "date"),
        ("400", "mg/dL", "2026-11-20", "value"),  # impossible creatinine
    ],
)
def test_bad_input_names_the_field(ruleset: RuleSet, value, unit, when, field) -> None:
    with pytest.raises(FactInputError) as problem:
        parse_fact(spec(ruleset, "creatinine"), value=value, unit=unit, when=when, as_of=AS_OF)
    assert set(problem.value.errors) == {field}


def test_date_on_the_screening_date_is_accepted(ruleset: RuleSet) -> None:
    entry = parse_fact(spec(ruleset, "creatinine"), value="0.8", unit="mg/dL", when="2026-11-25", as_of=AS_OF)
    assert entry.date == AS_OF


def test_coded_and_boolean_values(ruleset: RuleSet) -> None:
    test = parse_fact(
        spec(ruleset, "pregnancy_test"), value="negative", unit=None, when="2026-11-24", as_of=AS_OF
    )
    assert test.value == "negative"
    with pytest.raises(FactInputError) as problem:
        parse_fact(spec(ruleset, "pregnancy_test"), value="maybe", unit=None, when="2026-11-24", as_of=AS_OF)
    assert "positive, negative" in problem.value.errors["value"]
    consent = parse_fact(
        spec(ruleset, "informed_consent"), value="yes", unit=None, when="", as_of=AS_OF, confirmed_by="Dr M"
    )
    assert consent.value is True and consent.date is None and consent.confirmed_by == "Dr M"


def test_sledai_bounds(ruleset: RuleSet) -> None:
    s = spec(ruleset, "selena_sledai")
    assert parse_fact(s, value="105", unit=None, when="2026-11-20", as_of=AS_OF).value == 105
    with pytest.raises(FactInputError):
        parse_fact(s, value="106", unit=None, when="2026-11-20", as_of=AS_OF)


def test_apply_adds_then_corrects_without_touching_the_input(ruleset: RuleSet) -> None:
    raw = load_patient(MISSING_CREATININE).raw
    before = len(raw["observations"])
    s = spec(ruleset, "creatinine")
    first = parse_fact(s, value="68", unit="umol/L", when="2026-11-20", as_of=AS_OF, source="lab 1")
    added, text = apply_fact(raw, first)
    assert text.startswith("added creatinine = 68 umol/L")
    assert len(raw["observations"]) == before  # the original mapping is unchanged
    assert len(added["observations"]) == before + 1
    fixed, text = apply_fact(added, parse_fact(s, value="0.9", unit="mg/dL", when="2026-11-20", as_of=AS_OF))
    assert text.startswith("corrected")
    assert len(fixed["observations"]) == before + 1
    entry = next(o for o in fixed["observations"] if o["name"] == "creatinine")
    assert (entry["value"], entry["unit"], entry["source"]) == (0.9, "mg/dL", "lab 1")
    patient = patient_from_data(fixed, LineMap("edited", {}))
    assert next(o for o in patient.observations if o.name == "creatinine").value == 0.9


def test_impossible_record_is_refused_by_the_model(ruleset: RuleSet) -> None:
    raw = load_patient(MISSING_CREATININE).raw
    birth = parse_fact(spec(ruleset, "birth_date"), value="2026-11-19", unit=None, when="", as_of=AS_OF)
    edited, _ = apply_fact(raw, birth)
    with pytest.raises(PatientDataError):
        patient_from_data(edited, LineMap("edited", {}))
    assert raw["demographics"]["birth_date"] == "1992-03-14"


def test_person_only_fact_needs_who_confirmed_it() -> None:
    from datetime import date

    import pytest

    from screener.model.rules import load_ruleset
    from screener.tui.editing import FactInputError, form_spec, parse_fact
    from tests.conftest import RULES_DIR

    spec = form_spec(load_ruleset(RULES_DIR).facts["informed_consent"])
    with pytest.raises(FactInputError) as info:
        parse_fact(spec, value="yes", unit=None, when="2026-11-24", as_of=date(2026, 11, 25))
    assert "confirmed by" in info.value.errors["form"]
    entry = parse_fact(
        spec, value="yes", unit=None, when="2026-11-24", as_of=date(2026, 11, 25), confirmed_by="Dr Martin"
    )
    assert entry.value is True and entry.confirmed_by == "Dr Martin"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("0.62", False),
        ("0.99", False),
        ("1", True),
        ("62", True),
        ("100", True),
        ("100.5", False),
        ("0", True),
    ],
)
def test_lvef_is_a_percentage_not_a_fraction(ruleset: RuleSet, value: str, accepted: bool) -> None:
    lvef = form_spec(ruleset.facts["lvef"], ruleset)
    if accepted:
        assert parse_fact(lvef, value=value, unit="%", when="2026-11-20", as_of=AS_OF).value == float(value)
    else:
        with pytest.raises(FactInputError) as problem:
            parse_fact(lvef, value=value, unit="%", when="2026-11-20", as_of=AS_OF)
        assert set(problem.value.errors) == {"value"}


def test_hints_come_from_the_rule_sets_fact(ruleset: RuleSet) -> None:
    lvef = form_spec(ruleset.facts["lvef"], ruleset)
    assert lvef.hint == "a number in %, 0 to 100" and lvef.thresholds == ("E3: lvef < 40 %",)
    neutrophils = form_spec(ruleset.facts["neutrophils"], ruleset)
    assert neutrophils.hint == "a number in x10^9/L, 0 to 200"
    assert neutrophils.range_words() == "possible values 0 to 200 x10^9/L"
    assert form_spec(ruleset.facts["sex"], ruleset).hint == "choose: female / male"
    assert form_spec(ruleset.facts["birth_date"], ruleset).hint == "YYYY-MM-DD"
    # no number typed in the hint that could be mistaken for a usual value
    assert "0.8" not in form_spec(ruleset.facts["creatinine"], ruleset).hint
