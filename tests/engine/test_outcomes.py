"""Outcome-only evaluation (re-screening for eligible-from dates) agrees with the full one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest

from screener.cases import Case, collect_cases
from screener.engine.evaluate import Engine
from screener.errors import EngineError
from screener.facts import prepare
from screener.model.patient import load_patient
from screener.model.rules import FactTest, RuleSet, load_ruleset, walk
from tests.conftest import EXAMPLE_PATIENT

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 25)
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))


def _cases() -> list[tuple[RuleSet, list[Case]]]:
    out = []
    for d in RULE_SET_DIRS:
        ruleset = load_ruleset(d)
        cases, _ = collect_cases(d, ruleset)
        out.append((ruleset, cases))
    return out


@pytest.fixture(scope="module")
def rule_cases() -> Iterator[list[tuple[Engine, list[Case]]]]:
    made = [(Engine(ruleset), cases) for ruleset, cases in _cases()]
    try:
        yield made
    finally:
        for engine, _ in made:
            engine.close()


def test_outcomes_agree_with_screen_on_every_rule_case(rule_cases: list[tuple[Engine, list[Case]]]) -> None:
    checked = 0
    for engine, cases in rule_cases:
        for case in cases:
            for shift in (0, 45, 200):  # later dates too: other windows open and close
                when = case.as_of + timedelta(days=shift)
                full = engine.screen(case.patient, when)
                assert engine.outcomes(case.patient, when) == {c.id: c.outcome for c in full.criteria}, (
                    case.where
                )
                checked += 1
    assert checked >= 200 * 3


def test_one_criterion_sessions_agree_with_the_whole_rule_set(
    rule_cases: list[tuple[Engine, list[Case]]],
) -> None:
    """Re-screening a criterion runs only the rules it needs: same outcome as the whole set."""
    checked = 0
    for engine, cases in rule_cases:
        for case in cases:
            for shift in (0, 100):
                when = case.as_of + timedelta(days=shift)
                everything = engine.outcomes(case.patient, when)
                for criterion in engine.ruleset.criteria:
                    assert engine.outcome(criterion, case.patient, when) == everything[criterion.id], (
                        case.where,
                        criterion.id,
                    )
                    checked += 1
    assert checked >= 200 * 2 * 20


def test_batch_screening_differs_from_the_full_one_only_by_what_rows_never_show(
    rule_cases: list[tuple[Engine, list[Case]]],
) -> None:
    """explain=False, evidence="failing": only failing criteria carry evidence, without facts used."""
    for engine, cases in rule_cases:
        for case in cases:
            full = engine.screen(case.patient, case.as_of)
            lean = engine.screen(case.patient, case.as_of, explain=False, evidence="failing")
            assert lean.decision == full.decision and lean.eligible_from == full.eligible_from
            for a, b in zip(full.criteria, lean.criteria, strict=True):
                evidence = [replace(e, facts=()) for e in a.evidence] if a.outcome == "fail" else []
                assert replace(a, evidence=()) == replace(b, evidence=()), case.where
                assert list(b.evidence) == evidence, case.where


@pytest.mark.parametrize("on_a_field", [False, True], ids=["value", "field"])
def test_outcomes_raise_like_screen_on_a_value_of_the_wrong_type(engine: Engine, on_a_field: bool) -> None:
    """Neither rule of a test fired although its fact (or the fact's field, e.g. E4's
    ``attributed_to_sle``) is there: both paths refuse the same way."""
    patient = load_patient(EXAMPLE_PATIENT)
    prepared = prepare(patient, engine.ruleset, AS_OF)
    fired = engine.fire(prepared)
    criterion, node = next(
        (c, n)
        for c in engine.ruleset.criteria
        for n in walk(c.test)
        if isinstance(n, FactTest)
        and f"f:{n.fact}" in fired.facts
        and (n.field in fired.facts[f"f:{n.fact}"] if on_a_field else n.field is None)
    )
    fired.tests.pop(engine.compiled.test_of_node[id(node)], None)  # as if the value matched neither
    with pytest.raises(EngineError, match="wrong type of value") as full:
        engine._criterion(criterion, fired, prepared)
    with pytest.raises(EngineError, match="wrong type of value") as lean:
        engine._outcome(criterion, fired, prepared)
    assert str(full.value) == str(lean.value)


def test_a_field_the_fact_does_not_have_is_unknown_on_both_paths(engine: Engine) -> None:
    """The fact is there without the field its test reads (E8's ``attributed_to_sle`` on a
    count recorded without it): unknown naming the field, never an error."""
    patient = load_patient(EXAMPLE_PATIENT)
    prepared = prepare(patient, engine.ruleset, AS_OF)
    fired = engine.fire(prepared)
    node = next(
        n
        for n in walk(engine.ruleset.criterion("E8").test)
        if isinstance(n, FactTest)
        and n.field is not None
        and f"f:{n.fact}" in fired.facts
        and n.field not in fired.facts[f"f:{n.fact}"]
    )
    assert engine._outcomes._truth_fn(node)(fired, prepared) is None  # the outcome-only value
    verdict = engine._explainer.test(node, fired, prepared)
    assert verdict.value is None and verdict.missing == (f"{node.fact}: {node.field}",)
