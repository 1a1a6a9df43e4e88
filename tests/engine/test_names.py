"""The names the compiler writes are the ones the engine reads back (screener.engine.names)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from screener.engine.compile import compile_ruleset
from screener.engine.names import (
    CANDIDATE,
    FAILS,
    HOLDS,
    base_fact_id,
    candidate_rule,
    derive_rule,
    rule_kind,
    truth_rule,
)
from screener.facts import prepare
from screener.model.patient import load_patient
from screener.model.rules import RuleSet

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "patients"


def test_every_compiled_rule_name_reads_back_as_what_it_is(ruleset: RuleSet) -> None:
    compiled = compile_ruleset(ruleset)
    assert {derive_rule(d.name) for d in ruleset.derived} == set(compiled.derived)
    kinds: dict[str, set[str]] = {}
    for rule in compiled.rules:
        if rule in compiled.derived:
            continue
        key, kind = rule_kind(rule)
        kinds.setdefault(key, set()).add(kind)
    assert {k for k, v in kinds.items() if v == {HOLDS, FAILS}} == set(compiled.tests)
    assert {k for k, v in kinds.items() if v == {CANDIDATE}} == set(compiled.quantifiers)
    for tid in compiled.tests:
        assert rule_kind(truth_rule(tid, True)) == (tid, HOLDS) and rule_kind(truth_rule(tid, False)) == (
            tid,
            FAILS,
        )
    for qid in compiled.quantifiers:
        assert rule_kind(candidate_rule(qid)) == (qid, CANDIDATE)


def test_base_facts_carry_the_ids_the_engine_looks_up(ruleset: RuleSet) -> None:
    """screener.facts writes the base facts' ids; the evaluators find them by base_fact_id."""
    patient = load_patient(FIXTURES / "eligible_refractory_lupus.yaml")
    prepared = prepare(patient, ruleset, date(2026, 11, 25))
    scalars = [f for f in prepared.facts if f["kind"] == "fact"]
    assert len(scalars) > 10
    assert all(f["id"] == base_fact_id(f["name"]) for f in scalars)
