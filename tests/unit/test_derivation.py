"""A derived value that cannot be computed is unknown on every route (issue 16 section 4):
the engine, the fast path's Python preparation and its SQL preparation, by the rules of
screener.derivation."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.cases import collect_cases
from screener.clinical import FUNCTIONS
from screener.derivation import (
    DERIVATION_ERRORS,
    ROUND_DIGITS,
    compute,
    fits,
    param_kind,
    param_kinds,
    rounded,
    sql_default,
)
from screener.model.patient import Patient
from screener.model.rules import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules" / "nct03562065"


def test_every_clinical_function_has_a_kind_for_every_parameter() -> None:
    for name, entry in FUNCTIONS.items():
        kinds = param_kinds(name)
        assert tuple(kinds) == entry.params
        assert set(kinds.values()) <= {"number", "string", "date", "boolean"}
    assert param_kind("age_in_years", "birth_date") == "date"
    assert param_kind("cockcroft_gault", "sex") == "string"
    assert param_kind("times_upper_limit", "upper_limit") == "number"


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("number", [0, 40, 40.5, -1e300], [True, False, "40", None, date(2020, 1, 1)]),
        ("string", ["", "female"], [1, True, None]),
        ("boolean", [True, False], [0, 1, "true", None]),
        ("date", [date(1, 1, 1), date(9999, 12, 31)], ["2020-01-01", 20200101, None]),
    ],
)
def test_fits_on_both_sides(kind: str, good: list[Any], bad: list[Any]) -> None:
    assert all(fits(kind, v) for v in good)
    assert not any(fits(kind, v) for v in bad)


def test_compute_is_unknown_for_each_refused_argument() -> None:
    assert compute("times_upper_limit", {"value": 100, "upper_limit": 40}) == 2.5
    assert compute("times_upper_limit", {"value": 100, "upper_limit": "forty"}) is None  # TypeError
    assert compute("times_upper_limit", {"value": 100, "upper_limit": 0}) is None  # ValueError
    assert compute("prednisone_equivalent_mg", {"drug": "aspirin", "dose_mg": 10}) is None
    assert compute("daily_dose_mg", {"dose_mg": 10, "frequency": "hourly"}) is None
    assert TypeError in DERIVATION_ERRORS and ValueError in DERIVATION_ERRORS


def test_rounding_keeps_the_shared_digits() -> None:
    assert ROUND_DIGITS == 4
    assert rounded(1.23456789) == 1.2346
    assert rounded(0.12344999) == 0.1234
    assert rounded(0.125) == 0.125
    assert rounded(7) == 7 and isinstance(rounded(7), int)


def test_a_default_of_the_wrong_type_is_null_in_sql() -> None:
    def literal(v: Any) -> str:
        return repr(v)

    assert sql_default("times_upper_limit", "upper_limit", 40, literal) == "40"
    assert sql_default("times_upper_limit", "upper_limit", 40.5, literal) == "40.5"
    assert sql_default("times_upper_limit", "upper_limit", "forty", literal) == "NULL"
    assert sql_default("times_upper_limit", "upper_limit", "40", literal) == "NULL"
    assert sql_default("times_upper_limit", "upper_limit", True, literal) == "NULL"


def _with_default(ruleset: RuleSet, value: Any) -> RuleSet:
    """The rule set with AST's default ULN replaced, as code could build it (past the load checks)."""
    derived = tuple(
        dataclasses.replace(d, defaults=(("upper_limit", value),)) if d.name == "ast_uln_ratio" else d
        for d in ruleset.derived
    )
    return dataclasses.replace(ruleset, derived=derived, sha256=f"{ruleset.sha256}-{value!r}")


def _e4_patients() -> list[tuple[Patient, date]]:
    cases, errors = collect_cases(RULES, load_ruleset(RULES))
    assert not errors
    seen: dict[str, tuple[Patient, date]] = {}
    for case in cases:
        if case.patient.patient_id.startswith("e4-"):
            seen.setdefault(case.patient.patient_id, (case.patient, case.as_of))
    return list(seen.values())


@pytest.mark.parametrize("default", ["forty", "40", True, 40, 80.0])
def test_every_route_gives_what_the_engine_gives_for_any_default(default: Any, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from screener.engine.evaluate import Engine
    from screener.tables.write import TablesWriter
    from screener.vectorized import VectorizedScreener
    from screener.vectorized.sql import OUTCOME_CODES

    ruleset = _with_default(load_ruleset(RULES), default)
    patients = _e4_patients()
    defaulted = [p for p, _ in patients if p.patient_id.startswith("e4-default")]
    assert defaulted, "the cases include patients whose lab gives no ULN"
    engine, fast = Engine(ruleset), VectorizedScreener(ruleset)
    try:
        with TablesWriter(tmp_path / "registry", 100) as writer:
            for patient, _ in patients:
                writer.add(patient)
        for as_of in sorted({d for _, d in patients}):
            chunks = list(fast.iter_tables(tmp_path / "registry", as_of))
            sql = {}
            for chunk in chunks:
                assert not chunk.errors
                for i, pid in enumerate(chunk.pids):
                    sql[pid] = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in chunk.codes}
            for pid, (patient, _) in enumerate(patients):
                want = engine.outcomes(patient, as_of)
                assert fast.screen([patient], as_of)[0] == want, (patient.patient_id, default)
                assert sql[pid] == want, (patient.patient_id, default)
                if patient in defaulted and not fits("number", default):
                    assert want["E4"] == "unknown", (patient.patient_id, default)
    finally:
        engine.close()
        fast.close()
