"""Differential test over every rule set's fixture cases: the DuckDB fast path agrees with the
rule engine, criterion by criterion, through both of its routes (patients prepared in Python,
and a columnar registry prepared in SQL), at each case's screening date and at later dates
(when washouts and windows have moved on)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from screener.cases import collect_cases
from screener.engine.evaluate import Engine
from screener.model.patient import Patient
from screener.model.rules import load_ruleset

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.tables.write import TablesWriter
from screener.vectorized import VectorizedScreener
from screener.vectorized.sql import OUTCOME_CODES

ROOT = Path(__file__).resolve().parents[1]
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))
SHIFTS = (0, 200)


def _patients(rules_dir: Path) -> list[tuple[Patient, date]]:
    """One (patient, screening date) per distinct patient id of the rule set's cases."""
    cases, errors = collect_cases(rules_dir, load_ruleset(rules_dir))
    assert not errors
    seen: dict[str, tuple[Patient, date]] = {}
    for case in cases:
        seen.setdefault(case.patient.patient_id, (case.patient, case.as_of))
    return list(seen.values())


@pytest.fixture(scope="module", params=RULE_SET_DIRS, ids=lambda p: p.name)
def rule_set(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[Engine, VectorizedScreener, list[tuple[Patient, date]]]]:
    ruleset = load_ruleset(request.param)
    engine, fast = Engine(ruleset), VectorizedScreener(ruleset)
    try:
        yield engine, fast, _patients(request.param)
    finally:
        engine.close()
        fast.close()


def test_python_route_agrees_with_the_engine(
    rule_set: tuple[Engine, VectorizedScreener, list[tuple[Patient, date]]],
) -> None:
    engine, fast, patients = rule_set
    dates = sorted({as_of for _, as_of in patients})
    checked = 0
    for as_of in dates:
        group = [p for p, d in patients if d == as_of]
        for shift in SHIFTS:
            when = as_of + timedelta(days=shift)
            got = fast.screen(group, when)
            for patient, outcomes in zip(group, got, strict=True):
                want = engine.outcomes(patient, when)
                assert outcomes == want, (
                    patient.patient_id,
                    when,
                    {k: (want[k], outcomes[k]) for k in want if want[k] != outcomes[k]},
                )
                checked += 1
    assert checked >= len(patients) * len(SHIFTS)


def test_table_route_agrees_with_the_engine(
    rule_set: tuple[Engine, VectorizedScreener, list[tuple[Patient, date]]], tmp_path: Path
) -> None:
    engine, fast, patients = rule_set
    directory = tmp_path / "registry"
    with TablesWriter(directory, 1000) as writer:
        for patient, _ in patients:
            writer.add(patient)
    checked = 0
    for shift in SHIFTS:
        # one registry, one screening date for all: the date of the most cases, moved on
        when = max({d for _, d in patients}, key=[d for _, d in patients].count) + timedelta(days=shift)
        for chunk in fast.iter_tables(directory, when):
            assert not chunk.errors
            for i, pid in enumerate(chunk.pids):
                patient = patients[pid][0]
                got = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in chunk.codes}
                want = engine.outcomes(patient, when)
                assert got == want, (
                    patient.patient_id,
                    when,
                    {k: (want[k], got[k]) for k in want if want[k] != got[k]},
                )
                checked += 1
    assert checked == len(patients) * len(SHIFTS)
