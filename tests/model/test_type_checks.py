"""Every rule constant and derived-value input is type-checked at load time, with file:line
(issue 16 section 4): a constant of the wrong kind would otherwise load and silently leave
values unknown or tests never matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from screener.errors import RuleSpecError
from screener.model.rules import parse_ruleset, ruleset_errors

ROOT = Path(__file__).resolve().parents[2]
FILE = str(ROOT / "rules" / "nct03562065" / "rules.yaml")
TEXT = Path(FILE).read_text(encoding="utf-8")
AST_DEFAULT = "inputs: {value: ast, upper_limit: ast.reference_high}\n    defaults: {upper_limit: 40}"


def _line(snippet: str, text: str) -> int:
    return text[: text.index(snippet)].count("\n") + 1


def _error(old: str, new: str) -> tuple[RuleSpecError, str]:
    assert old in TEXT, old
    text = TEXT.replace(old, new, 1)
    with pytest.raises(RuleSpecError) as info:
        parse_ruleset(text, FILE)
    assert str(ruleset_errors(text, FILE)[0]) == str(info.value), "rules check reports it first too"
    return info.value, text


@pytest.mark.parametrize(
    ("default", "shown"),
    [("forty", "'forty'"), ('"40"', "'40'"), ("true", "True")],
)
def test_a_default_of_the_wrong_type_is_an_error_at_its_line(default: str, shown: str) -> None:
    new = AST_DEFAULT.replace("{upper_limit: 40}", f"{{upper_limit: {default}}}")
    error, text = _error(AST_DEFAULT, new)
    assert f"default upper_limit = {shown} is not a number" in error.message
    assert "times_upper_limit takes a number for upper_limit" in error.message
    assert error.location is not None
    assert error.location.file == FILE
    assert error.location.line == _line("defaults: {upper_limit: " + default, text)
    assert error.location.field == "derived[3].defaults.upper_limit"


@pytest.mark.parametrize("default", ["40", "40.5", "0.5"])
def test_a_number_default_for_a_number_parameter_loads(default: str) -> None:
    text = TEXT.replace(AST_DEFAULT, AST_DEFAULT.replace("40}", f"{default}}}"), 1)
    ruleset = parse_ruleset(text, FILE)
    assert dict(ruleset.derived[3].defaults)["upper_limit"] == float(default)


def test_an_input_of_another_type_than_the_parameter_is_an_error() -> None:
    old = "inputs: {value: ast, upper_limit: ast.reference_high}"
    error, text = _error(old, old.replace("ast.reference_high", "ast.method"))
    assert "ast.method is text, but times_upper_limit takes a number for upper_limit" in error.message
    assert error.location is not None and error.location.line == _line("upper_limit: ast.method", text)


def test_a_date_fact_wired_into_a_number_parameter_is_an_error() -> None:
    old = "inputs: {value: ast, upper_limit: ast.reference_high}"
    error, _ = _error(old, old.replace("ast.reference_high", "ast.date"))
    assert "ast.date is a date, but times_upper_limit takes a number" in error.message


def test_a_match_value_of_the_wrong_type_is_an_error() -> None:
    old = "match: {drug: [belimumab]}"
    error, text = _error(old, "match: {drug: [belimumab], dose_mg: [high]}")
    assert "exposure dose_mg is a number; 'high' can never match it" in error.message
    assert error.location is not None and error.location.line == _line("dose_mg: [high]", text)


def test_an_in_list_constant_of_the_wrong_type_is_an_error() -> None:
    old = "          - {field: failed, eq: true}\n          - {field: route, in: [oral, iv, im, sc]}"
    new = "          - {field: failed, in: [true, yes]}\n          - {field: route, in: [oral, iv, im, sc]}"
    error, text = _error(old, new)
    assert "exposure failed is true or false; 'yes' can never equal it" in error.message
    assert error.location is not None and error.location.line == _line("in: [true, yes]", text)
    assert error.location.field is not None and error.location.field.endswith(".in[1]")


def test_a_text_fact_compared_with_a_number_is_an_error() -> None:
    error, _ = _error("{fact: ana, eq: positive}", "{fact: creatinine, field: method, eq: 1}")
    assert "creatinine.method is text; 1 can never equal it" in error.message


def test_a_prefer_value_of_the_wrong_type_is_an_error() -> None:
    old = "values: [positive, negative], prefer_value: positive"
    error, _ = _error(old, old.replace("prefer_value: positive", "prefer_value: true"))
    assert "ana is text; prefer_value True never matches" in error.message
    assert error.location is not None and error.location.field == "facts.ana.prefer_value"


def test_a_prefer_value_outside_the_listed_values_is_an_error() -> None:
    old = "values: [positive, negative], prefer_value: positive"
    error, _ = _error(old, old.replace("prefer_value: positive", "prefer_value: positiv"))
    assert "prefer_value 'positiv' is not one of ['positive', 'negative']" in error.message


def test_every_bundled_rule_set_passes_the_type_checks() -> None:
    from screener.model.type_checks import type_errors

    for path in sorted((ROOT / "rules").glob("*/rules.yaml")):
        ruleset = parse_ruleset(path.read_text(encoding="utf-8"), str(path))
        assert type_errors(ruleset) == [], path
