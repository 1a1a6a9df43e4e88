"""Rule-file mistakes that would load and silently change decisions are errors at their line
(issue 13 sections 1 and 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from screener.errors import RuleSpecError
from screener.model.rules import parse_ruleset, ruleset_errors

ROOT = Path(__file__).resolve().parents[2]
FILE = str(ROOT / "rules" / "nct03562065" / "rules.yaml")
TEXT = Path(FILE).read_text(encoding="utf-8")
I1 = "        - {fact: age, gte: 18, unit: a}\n"


def line_of(snippet: str, text: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


def errors_of(text: str) -> list[RuleSpecError]:
    return ruleset_errors(text, FILE)


def first_error(old: str, new: str) -> tuple[RuleSpecError, str]:
    assert old in TEXT, old
    text = TEXT.replace(old, new, 1)
    with pytest.raises(RuleSpecError) as info:
        parse_ruleset(text, FILE)
    assert errors_of(text), "rules check reports it too"
    assert str(errors_of(text)[0]) == str(info.value)
    return info.value, text


def test_the_bundled_rule_set_passes_these_checks() -> None:
    assert errors_of(TEXT) == []


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        (
            "{fact: ana, eq: positive}",
            "{fact: ana, eq: positve}",
            "'positve' is not a value ana can take (negative, positive); did you mean 'positive'?",
        ),
        (
            "{fact: ana, eq: positive}",
            "{fact: ana, in: [positive, negatve]}",
            "'negatve' is not a value ana can take",
        ),
        (
            "{field: classification, in: [acr_1997, acr_1982]}",
            "{field: status, eq: actve}",
            "'actve' is not a value condition status can take",
        ),
    ],
)
def test_a_value_an_enumerated_fact_or_field_cannot_take(old: str, new: str, fragment: str) -> None:
    error, text = first_error(old, new)
    assert fragment in error.message
    assert error.location is not None and error.location.line == line_of(new, text)


@pytest.mark.parametrize(
    ("old", "new", "name", "meant"),
    [
        (
            "methotrexate, leflunomide, rituximab",
            "methotrexat, leflunomide, rituximab",
            "methotrexat",
            "methotrexate",
        ),
        (
            "match: {name: [neoplasia, myelodysplasia]}",
            "match: {name: [neoplasm, myelodysplasia]}",
            "neoplasm",
            "neoplasia",
        ),
        (
            "match: {drug: [mycophenolate_mofetil, mycophenolic_acid]}",
            "match: {drug: [mycophenolate_mofetl, mycophenolic_acid]}",
            "mycophenolate_mofetl",
            "mycophenolate_mofetil",
        ),
    ],
)
def test_an_unknown_name_in_a_match_list(old: str, new: str, name: str, meant: str) -> None:
    error, text = first_error(old, new)
    assert f"'{name}'" in error.message and f"did you mean '{meant}'?" in error.message
    assert error.location is not None and error.location.line == line_of(new, text)


def test_a_fact_unit_that_is_not_the_canonical_unit() -> None:
    old = "weight: {kind: observation, type: number, unit: kg,"
    error, text = first_error(old, old.replace("unit: kg", "unit: lb"))
    assert "weight is stated in lb, but patient values of weight are converted to kg" in error.message
    assert error.location is not None and error.location.field == "facts.weight.unit"
    assert error.location.line == line_of("weight: {kind: observation, type: number, unit: lb", text)


def test_an_unknown_quantity() -> None:
    error, _ = first_error("quantity: creatinine_clearance", "quantity: creatinine_clearence")
    assert "unknown quantity 'creatinine_clearence'; did you mean 'creatinine_clearance'?" in error.message


def test_derived_values_in_a_cycle_are_reported_as_a_cycle_first() -> None:
    text = TEXT.replace(
        "inputs: {height_cm: height, weight_kg: weight}",
        "inputs: {height_cm: height, weight_kg: crcl_cockcroft_gault}",
    ).replace("inputs: {age_years: age, weight_kg: weight,", "inputs: {age_years: age, weight_kg: bsa,", 1)
    errors = errors_of(text)
    assert (
        errors[0].message
        == "derived values form a cycle: crcl_cockcroft_gault -> bsa -> crcl_cockcroft_gault"
    )
    with pytest.raises(RuleSpecError, match="form a cycle"):
        parse_ruleset(text, FILE)


@pytest.mark.parametrize(
    ("new", "field", "fragment"),
    [
        (
            I1.replace("gte:", "gtee:"),
            "criteria[0].test.all[0].gtee",
            "unknown key 'gtee'; did you mean 'gte'?",
        ),
        (
            I1.replace("gte: 18", "gte: '18'"),
            "criteria[0].test.all[0].gte",
            "gte must be a number, not the text '18'",
        ),
        (
            I1.replace("gte: 18", "gte: 18, lt: 99"),
            "criteria[0].test.all[0]",
            "has lt and gte: give exactly one of them",
        ),
        (
            I1.replace("fact: age, gte: 18", "fact: age"),
            "criteria[0].test.all[0]",
            "needs one of: eq, ne, lt",
        ),
        (
            I1.replace("{fact:", "{fakt:"),
            "criteria[0].test.all[0].fakt",
            "unknown key 'fakt'; did you mean 'fact'?",
        ),
    ],
)
def test_a_wrong_operator_or_threshold_type_points_at_the_key(new: str, field: str, fragment: str) -> None:
    error, text = first_error(I1, new)
    assert error.location is not None
    assert (error.location.field, error.location.line) == (field, line_of(new, text))
    assert fragment in error.message


def test_an_empty_group_points_at_the_group() -> None:
    old = "      all:\n" + I1 + "        - {fact: age, lt: 70, unit: a}\n"
    error, _ = first_error(old, "      all: []\n")
    assert error.location is not None and error.location.field == "criteria[0].test.all"
    assert "all must list at least 1 item(s); it is empty" in error.message


@pytest.mark.parametrize("threshold", [".nan", ".inf", "-.inf", "1e999"])
def test_a_non_finite_threshold_is_refused_with_file_and_line(threshold: str) -> None:
    error, text = first_error(I1, I1.replace("gte: 18", f"gte: {threshold}"))
    assert error.location is not None and error.location.file == FILE
    assert error.location.line == line_of("{fact: age, gte: " + threshold, text)
    assert "not a finite number" in error.message


def test_600_nested_nots_are_refused_not_a_recursion_error() -> None:
    test = "{fact: age, gte: 18, unit: a}"
    for _ in range(600):
        test = "{not: " + test + "}"
    error, _ = first_error(I1, f"        - {test}\n")
    assert "nested deeper than 64 levels" in error.message


def test_nesting_a_real_test_within_the_cap_still_loads() -> None:
    test = "{fact: age, gte: 18, unit: a}"
    for _ in range(20):
        test = "{not: {not: " + test + "}}"
    parse_ruleset(TEXT.replace(I1, f"        - {test}\n", 1), FILE)
