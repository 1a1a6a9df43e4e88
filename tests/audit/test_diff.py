"""Criterion-level differences between rule sets (screener.audit.diff)."""

from __future__ import annotations

import json
from pathlib import Path

from screener.audit.diff import diff_rulesets, render_text
from screener.model.rules import load_ruleset, parse_ruleset
from tests.audit.conftest import DATA, clean_text, variant

REPO = Path(__file__).resolve().parents[2]
TRIAL = REPO / "rules" / "nct03562065" / "rules.yaml"


def _trial_variant(*subs: tuple[str, str]):
    text = TRIAL.read_text(encoding="utf-8")
    for old, new in subs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_ruleset(text, "new/rules.yaml")


def _messages(old, new) -> list[str]:
    return [str(c) for c in diff_rulesets(old, new).changes]


def test_same_rule_set_has_no_changes() -> None:
    ruleset = load_ruleset(TRIAL)
    diff = diff_rulesets(ruleset, load_ruleset(TRIAL))
    assert diff.changes == ()
    assert render_text(diff).endswith("no criterion-level changes\n")


def test_threshold_change_names_criterion_fact_values_and_unit() -> None:
    old = load_ruleset(TRIAL)
    new = _trial_variant(
        (
            "- {fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}",
            "- {fact: crcl_cockcroft_gault, lt: 40, unit: mL/min}",
        )
    )
    assert _messages(old, new) == ["E2: crcl_cockcroft_gault lt 30 -> 40 mL/min"]


def test_window_change() -> None:
    new = _trial_variant(
        ("where: {field: last_dose, max_ago: {months: 2}}", "where: {field: last_dose, max_ago: {months: 3}}")
    )
    assert _messages(load_ruleset(TRIAL), new) == ["E10: last_dose max_ago 2 months -> 3 months"]


def test_operator_change_shows_both_operators() -> None:
    new = variant(("{fact: age, lt: 70, unit: a}", "{fact: age, lte: 70, unit: a}"))
    assert _messages(load_ruleset(DATA / "clean.yaml"), new) == ["I1: age lt 70 -> lte 70 a"]


def test_drug_list_change_of_a_quantifier() -> None:
    new = _trial_variant(
        (
            'match: {drug: [belimumab]}\n          absent: "false"\n'
            "          where: {field: last_dose, max_ago: {months: 2}}",
            'match: {drug: [belimumab, anifrolumab]}\n          absent: "false"\n'
            "          where: {field: last_dose, max_ago: {months: 2}}",
        )
    )
    assert _messages(load_ruleset(TRIAL), new) == ["E10: medication periods matched on drug adds anifrolumab"]


def test_logic_change_shows_old_and_new_in_words() -> None:
    new = variant(
        (
            "    test: {fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}",
            "    test:\n      any:\n        - {fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}\n"
            "        - {fact: creatinine, gt: 4, unit: mg/dL}",
        )
    )
    assert _messages(load_ruleset(DATA / "clean.yaml"), new) == [
        "E1: logic changed: crcl_cockcroft_gault < 30 mL/min -> "
        "any of: crcl_cockcroft_gault < 30 mL/min; creatinine > 4 mg/dL"
    ]


def test_criteria_added_removed_quote_and_reading() -> None:
    old = load_ruleset(DATA / "clean.yaml")
    new = load_ruleset(DATA / "unknown_criterion_id.yaml")  # adds E9
    assert _messages(old, new) == [
        "E9: criterion added (High creatinine): creatinine > 5 mg/dL",
    ]
    assert _messages(new, old) == ["E9: criterion removed (High creatinine)"]
    changed = variant(
        ("quote: Creatinine clearance < 30 mL/min.", "quote: Creatinine clearance below 30 mL/min."),
        ("reading: Cockcroft-Gault with actual body weight.", "reading: Cockcroft-Gault, ideal body weight."),
    )
    assert _messages(old, changed) == ["E1: protocol quote changed", "E1: reading changed"]


def test_whitespace_only_reflow_of_a_quote_is_not_a_change() -> None:
    reflowed = variant(
        ("quote: Creatinine clearance < 30 mL/min.}", 'quote: "Creatinine  clearance < 30 mL/min."}')
    )
    assert _messages(load_ruleset(DATA / "clean.yaml"), reflowed) == []


def test_derived_and_fact_changes() -> None:
    old = load_ruleset(TRIAL)
    new = _trial_variant(
        ("function: bsa_mosteller", "function: bsa_dubois"),
        (
            "inputs: {value: ast, upper_limit: ast.reference_high}\n    defaults: {upper_limit: 40}",
            "inputs: {value: ast, upper_limit: ast.reference_high}\n    defaults: {upper_limit: 35}",
        ),
        (
            "weight: {kind: observation, type: number, unit: kg, max_age_days: 90,",
            "weight: {kind: observation, type: number, unit: kg, max_age_days: 30,",
        ),
        (
            "height: {kind: observation, type: number, unit: cm, max_age_days: 3650,",
            "height: {kind: observation, type: number, unit: cm,",
        ),
        (
            "inputs: {age_years: age, weight_kg: weight, creatinine_mg_dl: creatinine, sex: sex}",
            "inputs: {age_years: age, weight_kg: height, creatinine_mg_dl: creatinine, sex: sex}",
        ),
    )
    assert _messages(old, new) == [
        "derived crcl_cockcroft_gault: input weight_kg: weight -> height",
        "derived bsa: function bsa_mosteller -> bsa_dubois",
        "derived ast_uln_ratio: default upper_limit: 40 -> 35",
        "fact weight: max_age 90 days -> 30 days",
        "fact height: max_age 3650 days -> no limit",
    ]


def test_json_document() -> None:
    old = load_ruleset(DATA / "clean.yaml")
    new = variant(('version: "1.0.0"', 'version: "1.1.0"'), ("gte: 18, unit: a", "gte: 16, unit: a"))
    doc = json.loads(json.dumps(diff_rulesets(old, new).to_dict()))
    assert doc["schema_version"] == "1"
    assert doc["old"]["version"] == "1.0.0" and doc["new"]["version"] == "1.1.0"
    assert doc["old"]["sha256"] == old.sha256
    assert doc["changes"] == [
        {"kind": "version", "subject": "ruleset", "message": "version 1.0.0 -> 1.1.0"},
        {"kind": "threshold", "subject": "I1", "message": "age gte 18 -> 16 a"},
    ]


def test_text_header_names_both_files() -> None:
    old = load_ruleset(DATA / "clean.yaml")
    text = render_text(diff_rulesets(old, variant(file="other.yaml")))
    assert text.splitlines()[0].startswith(f"--- {old.file} (clean 1.0.0, sha256 {old.sha256[:12]})")
    assert text.splitlines()[1].startswith("+++ other.yaml")
    assert clean_text()  # the base file is readable
