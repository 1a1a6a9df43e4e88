"""The display words shared by the CLI text, the TUI and the reports."""

from __future__ import annotations

import pytest

from screener.explain.words import (
    clinical_number,
    evidence_words,
    human_unit,
    outcome_word,
    record_words,
    safe,
    value_words,
)


@pytest.mark.parametrize(
    ("kind", "outcome", "words"),
    [
        ("inclusion", "pass", "met"),
        ("inclusion", "fail", "not met"),
        ("exclusion", "pass", "not excluded"),
        ("exclusion", "fail", "excluded"),
        ("inclusion", "unknown", "unknown"),
        ("exclusion", "unknown", "unknown"),
    ],
)
def test_outcomes_read_for_eligibility(kind: str, outcome: str, words: str) -> None:
    assert outcome_word(kind, outcome) == words


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("10*9/L", "x10^9/L"),
        ("10*6/L", "x10^6/L"),
        ("mm[Hg]", "mmHg"),
        ("{score}", "points"),
        ("a", "years"),
        ("mg/kg/d", "mg/kg/day"),
        ("mL/min/{1.73_m2}", "mL/min/1.73 m²"),
        ("mg/dL", "mg/dL"),  # already as a clinician writes it
        ("{cells}/uL", "cells/uL"),  # other annotations lose their braces
        (None, ""),
    ],
)
def test_units_in_human_form(code: str | None, shown: str) -> None:
    assert human_unit(code) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (106.035, "106"),
        (99.95, "100"),  # 1 decimal just below 100 rounds up
        (45.67, "45.7"),
        (10.0, "10"),
        (9.996, "10"),
        (0.995475113122172, "0.995"),
        (2.5862, "2.59"),
        (3.4, "3.4"),
        (0.0042, "0.0042"),
        (61, "61"),
        (-12.345, "-12.3"),
    ],
)
def test_numbers_rounded_as_a_clinician_writes_them(value: float, shown: str) -> None:
    assert clinical_number(value) == shown


def test_values_with_units() -> None:
    assert value_words(3.4, "10*9/L") == "3.4 x10^9/L"
    assert value_words(True) == "yes" and value_words(False, "1") == "no"
    assert value_words(12, "{score}") == "12 points"


def test_evidence_test_loses_ucum_unit_and_record_ids() -> None:
    assert evidence_words("neutrophils < 0.5 10*9/L", "10*9/L") == "neutrophils < 0.5 x10^9/L"
    assert evidence_words("selena_sledai >= 6 {score}", "{score}") == "selena_sledai >= 6 points"
    assert record_words("sle (c0): criteria_met") == "sle: criteria_met"
    assert record_words("rituximab 2026-08-10..2026-08-24 (m2)") == "rituximab 2026-08-10..2026-08-24"
    assert record_words("lvef (LV ejection fraction)") == "lvef (LV ejection fraction)"  # not an id


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("p\x1b[31mred", "p\\x1b[31mred"),
        ("a\nPatient forged: ELIGIBLE", "a\\nPatient forged: ELIGIBLE"),
        ("tab\there", "tab\\there"),
        ("bell\x07", "bell\\x07"),
        ("csi\x9b2J", "csi\\x9b2J"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("plain id-01 é µ", "plain id-01 é µ"),
    ],
)
def test_control_characters_are_escaped(text: str, shown: str) -> None:
    assert safe(text) == shown
    assert safe(safe(text)) == shown  # idempotent


def test_multi_line_rule_text_keeps_its_lines() -> None:
    assert safe("one\ntwo\x1b", newlines=True) == "one\ntwo\\x1b"


def _waiting_result(collect: tuple, decision_reason: str | None = None):  # type: ignore[no-untyped-def]
    from datetime import date

    from screener.results import CriterionResult, EarliestPossible, ScreeningResult, ToCollect

    washout = CriterionResult(
        "E10", "exclusion", "Belimumab washout", "fail", "s", "q", "r", eligible_from=date(2026, 12, 21)
    )
    return ScreeningResult(
        patient_id="p",
        ruleset_id="r",
        trial="T",
        ruleset_version="1",
        ruleset_sha256="0" * 64,
        as_of=date(2026, 11, 25),
        decision="ineligible",
        criteria=(washout,),
        decision_reason=decision_reason,
        earliest_possible=EarliestPossible(
            date(2026, 12, 21), tuple(ToCollect(item, ("E2",), renew) for item, renew in collect)
        ),
    )


def test_eligible_from_only_when_nothing_else_is_open() -> None:
    from screener.explain.words import eligible_from_words, waiting_until

    settled = _waiting_result(())
    assert waiting_until(settled) is not None and waiting_until(settled)[1] is True
    assert eligible_from_words(settled) == "Only waiting periods stand in the way: eligible from 2026-12-21"
    open_ = _waiting_result((("creatinine", False), ("weight (too old by then)", True)))
    assert waiting_until(open_) is not None and waiting_until(open_)[1] is False
    words = eligible_from_words(open_) or ""
    assert words.startswith("Earliest possible date 2026-12-21, once 2 fact(s) are collected")
    assert "1 recorded today but too old by then" in words and "eligible from" not in words
    dead = _waiting_result((), decision_reason="died on 2026-01-02")
    assert dead.eligible_from is None and eligible_from_words(dead) is None
