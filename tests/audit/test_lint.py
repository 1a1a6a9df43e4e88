"""Semantic lint of rule sets (screener.audit.lint)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from screener.audit.lint import canonical, covered, find_catalogue, lint, parse_catalogue
from screener.model.logic import GROUPS, GroupLogic, Truth
from screener.model.operators import OPERATORS
from screener.model.rules import (
    Comparison,
    FactTest,
    FieldTest,
    Group,
    Quantifier,
    load_ruleset,
    parse_ruleset,
)
from tests.audit.conftest import DATA, I1_TEST, clean_text, line_of, variant

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = parse_catalogue((DATA / "catalogue.md").read_text(encoding="utf-8"))


def _codes(ruleset, catalogue=CATALOGUE) -> list[str]:
    return [f.code for f in lint(ruleset, catalogue)]


def _i1(*tests: str):
    body = "    test:\n      all:\n" + "".join(f"        - {t}\n" for t in tests)
    return variant((I1_TEST, body))


# --------------------------------------------------------------------------- fixture files


@pytest.mark.parametrize(
    ("name", "code", "snippet"),
    [
        ("unused_fact.yaml", "SCR001", "height:"),
        ("uncovered_criterion.yaml", "SCR002", "criteria:"),
        ("unknown_criterion_id.yaml", "SCR003", "id: E9"),
        ("missing_quote.yaml", "SCR004", "quote: TODO"),
        ("empty_reading.yaml", "SCR005", "reading: TBD"),
        ("contradictory_thresholds.yaml", "SCR007", "lt: 40"),
        ("redundant_thresholds.yaml", "SCR008", "gt: 16"),
        ("unused_derived.yaml", "SCR009", "name: bsa"),
        ("person_only_mismatch.yaml", "SCR010", "    person_only: true"),
        ("person_only_fact.yaml", "SCR011", "id: I2"),
    ],
)
def test_each_defect_file_gives_its_one_finding_at_its_line(name: str, code: str, snippet: str) -> None:
    path = DATA / name
    ruleset = load_ruleset(path)
    findings = lint(ruleset, CATALOGUE)
    assert [f.code for f in findings] == [code]
    assert findings[0].location.file == str(path)
    assert findings[0].location.line == line_of(path, snippet)
    assert str(findings[0]).startswith(f"{path}:{findings[0].location.line}: ")


def test_duplicate_rule_names_both_criteria() -> None:
    path = DATA / "duplicate_rule.yaml"
    catalogue = parse_catalogue((DATA / "catalogue_with_e2.md").read_text(encoding="utf-8"))
    findings = lint(load_ruleset(path), catalogue)
    assert [f.code for f in findings] == ["SCR006"]
    assert "E2 has the same test as E1" in findings[0].message
    assert findings[0].location.line == line_of(path, "title: Renal failure again") + 3


def test_clean_rule_set_has_no_findings() -> None:
    assert lint(load_ruleset(DATA / "clean.yaml"), CATALOGUE) == []


def test_trial_rule_set_is_clean_against_shared_catalogue() -> None:
    ruleset = load_ruleset(REPO / "rules" / "nct03562065")
    found = find_catalogue(ruleset)
    if found is None:
        pytest.skip("shared/protocol/criteria.md is not next to this checkout")
    ids = parse_catalogue(found.read_text(encoding="utf-8"))
    assert {"I1", "I9", "E1", "E16"} <= set(ids)
    assert lint(ruleset, ids) == []


def test_coverage_is_skipped_without_catalogue() -> None:
    ruleset = load_ruleset(DATA / "uncovered_criterion.yaml")
    assert "SCR002" in _codes(ruleset)
    assert "SCR002" not in _codes(ruleset, None)


# --------------------------------------------------------------------------- catalogue


def test_parse_catalogue_reads_first_cell_of_table_rows() -> None:
    text = "| id | text |\n|---|---|\n| I1 | Adult |\n| I4 | Failure |\n|E10| Washout |\nI2 in prose\n"
    assert parse_catalogue(text) == ["I1", "I4", "E10"]


def test_parent_id_is_covered_by_its_lettered_parts_only() -> None:
    assert covered("I4", {"I4a", "I4b"})
    assert covered("I4", {"I4"})
    assert not covered("I4", {"I40", "I41"})
    assert not covered("I4a", {"I4b"})
    assert covered("I4a", {"I4"})  # a rule for the whole of I4 covers its parts
    assert not covered("E1", {"E10"})


def test_rule_for_whole_criterion_matches_lettered_catalogue_ids() -> None:
    ruleset = variant(("id: I1", "id: I1a"))
    assert _codes(ruleset) == []  # I1a is part of catalogue I1
    catalogue = ["I1a", "I1b", "I2", "E1"]
    assert _codes(load_ruleset(DATA / "clean.yaml"), catalogue) == []  # I1 covers I1a and I1b
    assert _codes(variant(("id: I1", "id: I3")), catalogue) == ["SCR002", "SCR002", "SCR003"]


def test_find_catalogue_follows_criteria_catalogue_relative_to_rule_file() -> None:
    assert find_catalogue(load_ruleset(DATA / "clean.yaml")) == DATA / "catalogue.md"


def test_find_catalogue_none_when_nothing_on_disk(tmp_path: Path) -> None:
    text = clean_text().replace("  criteria_catalogue: catalogue.md\n", "")
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    assert find_catalogue(load_ruleset(path)) is None


# --------------------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    ("tests", "contradictory"),
    [
        (["{fact: age, gte: 40, unit: a}", "{fact: age, lte: 40, unit: a}"], False),  # one value left
        (["{fact: age, gt: 40, unit: a}", "{fact: age, lte: 40, unit: a}"], True),
        (["{fact: age, gte: 40, unit: a}", "{fact: age, lt: 40, unit: a}"], True),
        (["{fact: age, gt: 50, unit: a}", "{fact: age, lt: 40, unit: a}"], True),
        (["{fact: age, gt: 39, unit: a}", "{fact: age, lt: 40, unit: a}"], False),
        (["{fact: sex, eq: female}", "{fact: sex, eq: male}"], True),
        (["{fact: sex, in: [female, male]}", "{fact: sex, ne: male}"], False),
        (["{fact: sex, in: [male]}", "{fact: sex, ne: male}"], True),
        (["{fact: age, eq: 30}", "{fact: age, gte: 40, unit: a}"], True),
        (["{fact: age, eq: 40}", "{fact: age, gte: 40, unit: a}"], False),
    ],
)
def test_contradictory_tests_in_one_all_group(tests: list[str], contradictory: bool) -> None:
    assert ("SCR007" in _codes(_i1(*tests))) is contradictory


def test_contradiction_across_nested_all_groups_is_reported_once() -> None:
    body = (
        "    test:\n      all:\n        - {fact: age, gt: 50, unit: a}\n        - all:\n"
        "            - {fact: age, lt: 40, unit: a}\n            - {fact: sex, eq: female}\n"
    )
    assert _codes(variant((I1_TEST, body))) == ["SCR007"]


def test_contradiction_inside_any_group_is_not_reported() -> None:
    body = (
        "    test:\n      any:\n"
        "        - {fact: age, gt: 50, unit: a}\n        - {fact: age, lt: 40, unit: a}\n"
    )
    assert "SCR007" not in _codes(variant((I1_TEST, body)))


def test_contradiction_on_different_fields_of_one_fact_is_not_reported() -> None:
    ruleset = _i1("{fact: age, gt: 50, unit: a}", "{fact: weight, lt: 40, unit: kg}")
    assert "SCR007" not in _codes(ruleset)


@pytest.mark.parametrize(
    ("windows", "contradictory"),
    [
        (("{months: 6}", "{months: 2}"), True),  # at least 6 months ago and at most 2 months ago
        (("{months: 1}", "{months: 2}"), False),
        (("{days: 60}", "{months: 2}"), False),  # 60 days < 2 months (60.9 days)
        (("{days: 61}", "{months: 2}"), True),
    ],
)
def test_contradictory_windows_in_a_where_group(windows: tuple[str, str], contradictory: bool) -> None:
    low, high = windows
    body = (
        '    test:\n      exists: exposure\n      match: {drug: [rituximab]}\n      absent: "false"\n'
        "      where:\n        all:\n"
        f"          - {{field: last_dose, min_ago: {low}}}\n"
        f"          - {{field: last_dose, max_ago: {high}}}\n"
    )
    assert ("SCR007" in _codes(variant((I1_TEST, body)))) is contradictory


@pytest.mark.parametrize(
    ("tests", "weaker"),
    [
        (["{fact: age, gte: 18, unit: a}", "{fact: age, gt: 18, unit: a}"], "age >= 18 a"),
        (["{fact: age, gt: 18, unit: a}", "{fact: age, gt: 20, unit: a}"], "age > 18 a"),
        (["{fact: age, lt: 70, unit: a}", "{fact: age, lte: 70, unit: a}"], "age <= 70 a"),
    ],
)
def test_redundant_bound_names_the_weaker_test(tests: list[str], weaker: str) -> None:
    findings = [f for f in lint(_i1(*tests), CATALOGUE) if f.code == "SCR008"]
    assert len(findings) == 1
    assert f"'{weaker}' is redundant" in findings[0].message


def test_range_with_both_bounds_is_not_redundant() -> None:
    assert _codes(_i1("{fact: age, gte: 18, unit: a}", "{fact: age, lt: 70, unit: a}")) == []


def test_same_test_twice_is_redundant() -> None:
    codes = _codes(_i1("{fact: age, gte: 18, unit: a}", "{fact: age, gte: 18, unit: a}"))
    assert codes == ["SCR008"]


# --------------------------------------------------------------------------- duplicates, person-only


def test_duplicates_ignore_order_inside_all() -> None:
    text = clean_text().replace(
        "    test: {fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}",
        "    test:\n      all:\n"
        "        - {fact: age, lt: 70, unit: a}\n        - {fact: age, gte: 18, unit: a}",
    )
    findings = lint(parse_ruleset(text, "dup.yaml"), None)
    assert [f.code for f in findings] == ["SCR009", "SCR006"]  # crcl is now unused too (earlier line)
    assert "E1 has the same test as I1" in findings[1].message


def test_first_known_order_matters_for_duplicates() -> None:
    low, high = "        - {fact: age, gte: 18, unit: a}\n", "        - {fact: age, lt: 70, unit: a}\n"
    first = "      first_known:\n" + low + high
    second = "      first_known:\n" + high + low
    text = (
        clean_text()
        .replace(I1_TEST, "    test:\n" + first)
        .replace("    test: {fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}\n", "    test:\n" + second)
    )
    assert "SCR006" not in [f.code for f in lint(parse_ruleset(text, "x.yaml"), None)]


# --------------------------------------------------------------------------- canonical trees
# What is unordered comes from the truth table (screener.model.logic.GROUPS) and the operator
# table (screener.model.operators.OPERATORS): these tests run over the tables' entries, so a
# construct added to either is covered without a change here.

_A = FactTest("a", Comparison("eq", True), ("a",))
_B = FactTest("b", Comparison("gte", 18), ("b",))


@pytest.mark.parametrize("op", [op for op in GROUPS if op != "not"])
def test_a_groups_children_are_unordered_exactly_where_the_truth_table_says(op: str) -> None:
    forward = canonical(Group(op, (_A, _B), ("x",)))
    backward = canonical(Group(op, (_B, _A), ("y",)))
    assert (forward == backward) is GROUPS[op].unordered
    assert forward == canonical(Group(op, (_A, _B), ("z",)))  # positions never count
    assert forward != canonical(Group(op, (_A, _A), ("x",)))  # nor is every tree the same


def test_a_group_added_to_the_truth_table_is_read_by_canonical(monkeypatch: pytest.MonkeyPatch) -> None:
    # an unordered construct the language does not have yet ("at least two"), and an ordered one
    def two(values: Sequence[Truth]) -> Truth:
        return None

    monkeypatch.setitem(GROUPS, "two_of", GroupLogic("two_of", None, two, "?", "two of", unordered=True))
    monkeypatch.setitem(GROUPS, "then", GroupLogic("then", None, two, "?", "then", unordered=False))
    assert canonical(Group("two_of", (_A, _B), ())) == canonical(Group("two_of", (_B, _A), ()))
    assert canonical(Group("then", (_A, _B), ())) != canonical(Group("then", (_B, _A), ()))


@pytest.mark.parametrize("op", list(OPERATORS))
def test_a_comparisons_values_are_unordered_exactly_for_list_operators(op: str) -> None:
    listed = OPERATORS[op].value == "list"
    first, second = (["x", "y"], ["y", "x"]) if listed else ("x", "y")
    a = canonical(FieldTest("f", Comparison(op, first), ("p",)))
    b = canonical(FieldTest("f", Comparison(op, second), ("q",)))
    assert (a == b) is listed
    assert a == canonical(FieldTest("f", Comparison(op, first), ("r",)))


def test_a_list_operator_added_to_the_operator_table_is_read_by_canonical(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    added = dataclasses.replace(OPERATORS["in"], name="one_of", negation="not_in")
    monkeypatch.setitem(OPERATORS, "one_of", added)
    a = canonical(FieldTest("f", Comparison("one_of", ["x", "y"]), ()))
    assert a == canonical(FieldTest("f", Comparison("one_of", ["y", "x"]), ()))
    assert a != canonical(FieldTest("f", Comparison("in", ["y", "x"]), ()))  # the operator counts


def test_a_quantifiers_match_values_are_unordered_but_its_where_is_compared() -> None:
    def exists(names: tuple[str, ...], where: FieldTest | None) -> Quantifier:
        return Quantifier("exists", "condition", (("name", names),), where, "false", ("p",))

    same = exists(("sle", "lupus"), None)
    assert canonical(same) == canonical(exists(("lupus", "sle"), None))
    controlled = FieldTest("controlled", Comparison("eq", True), ())
    assert canonical(same) != canonical(exists(("sle", "lupus"), controlled))


def test_findings_serialise_with_location() -> None:
    finding = lint(load_ruleset(DATA / "unused_fact.yaml"), CATALOGUE)[0]
    doc = finding.to_dict()
    assert doc["code"] == "SCR001"
    assert doc["name"] == "unused-fact"
    assert doc["line"] == line_of(DATA / "unused_fact.yaml", "height:")
    assert doc["field"] == "facts.height"
