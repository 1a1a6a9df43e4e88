from __future__ import annotations

import json
from datetime import date

from screener.engine.compile import compile_ruleset
from screener.engine.evaluate import Engine
from screener.model.patient import patient_from_data
from screener.model.rules import RuleSet
from screener.yamlio import LineMap


def test_compiled_rule_set_is_plain_json_within_durable_limits(ruleset: RuleSet) -> None:
    compiled = compile_ruleset(ruleset)
    text = json.dumps(compiled.rules)  # raises if anything is not JSON (no callables, no dates)
    assert json.loads(text) == compiled.rules
    assert len(compiled.rules) < 1240  # durable_rules failed at 2,480 rules (error 108)
    for name, rule in compiled.rules.items():
        assert rule["run"] == name  # actions are resolved by name, never code


def test_every_test_has_a_rule_for_each_truth_value(ruleset: RuleSet) -> None:
    compiled = compile_ruleset(ruleset)
    for test_id in compiled.tests:
        assert f"{test_id}:true" in compiled.rules and f"{test_id}:false" in compiled.rules


def test_fields_are_those_the_rules_read(ruleset: RuleSet) -> None:
    """Only these cross into durable_rules (with identity and derived inputs): no dates as text."""
    fields = compile_ruleset(ruleset).fields()
    assert {"kind", "name", "value", "q", "drug", "last_dose_vs_m6"} <= fields
    assert not {"source", "date", "start", "unit", "original", "sid"} & fields
    assert not any(f.startswith("$") for f in fields)


def test_one_criterion_rules_are_its_tests_candidates_and_derived_chain(ruleset: RuleSet) -> None:
    compiled = compile_ruleset(ruleset)
    e2 = compiled.rules_for("E2")  # CrCl < 30: Cockcroft-Gault, which needs age
    tests = {t.id for t in compiled.tests.values() if t.criterion == "E2"}
    assert {name.split(":")[0] for name in e2 if not name.startswith("derive:")} == tests
    assert {"derive:crcl_cockcroft_gault", "derive:age"} <= set(e2)
    e10 = compiled.rules_for("E10")
    assert any(name.endswith(":candidate") for name in e10)
    for cid in (c.id for c in ruleset.criteria):
        assert set(compiled.rules_for(cid)) <= set(compiled.rules)


def test_a_patient_exposed_to_every_drug_screens_without_engine_errors(engine: Engine) -> None:
    """Regression: one record reaching many rules overflowed durable_rules' alpha stack (error 303)."""
    drugs = [
        "prednisone",
        "prednisolone",
        "methylprednisolone",
        "dexamethasone",
        "hydrocortisone",
        "hydroxychloroquine",
        "cyclophosphamide",
        "mycophenolate_mofetil",
        "mycophenolic_acid",
        "azathioprine",
        "methotrexate",
        "leflunomide",
        "rituximab",
        "cyclosporine",
        "belimumab",
        "ocrelizumab",
        "obinutuzumab",
    ]
    medications = [
        {
            "drug": d,
            "dose": 100,
            "unit": "mg",
            "route": "iv" if d in ("rituximab", "belimumab") else "oral",
            "frequency": "daily",
            "start": "2025-01-01",
            "end": "2025-06-30",
            "outcome": "inefficacy",
            "administrations": ["2025-01-01", "2025-01-15", "2025-02-01", "2025-03-01"],
        }
        for d in drugs
    ]
    data = {
        "schema_version": "1",
        "patient_id": "all-drugs",
        "demographics": {"birth_date": "1980-01-01", "sex": "male"},
        "observations": [
            {"name": "weight", "value": 70, "unit": "kg", "date": "2026-11-01"},
            {"name": "height", "value": 175, "unit": "cm", "date": "2026-11-01"},
        ],
        "medications": medications,
    }
    result = engine.screen(patient_from_data(data, LineMap("<test>", {})), date(2026, 11, 25))
    assert result.criterion("I4a").outcome == "pass"
    assert result.criterion("I4b").outcome == "pass"
    assert result.criterion("E10").outcome == "pass"  # last doses more than 6 months ago
