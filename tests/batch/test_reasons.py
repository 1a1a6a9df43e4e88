"""Differential test of the full-reason rows (issue 17 §2): ``screener batch --engine vectorized``
writes each unknown criterion's missing facts, each failing criterion's near misses and the
decision reason computed in SQL (:mod:`screener.vectorized.reasons`), and they are the rule
engine's batch rows (:func:`screener.batch.runner.make_row`) on every fixture patient, every rule
case of the four rule sets, the language suite, and generated registries (JSONL and CSV).

``eligible_from`` is the engine's search (helper C's part of §2): compared only where the
engine has none. Most rows must come from the SQL: the engine screening every patient would
pass the comparison and prove nothing (``explained`` says which rows are the engine's).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.batch.fast import run_fast_batch
from screener.batch.runner import BatchOptions, run_batch, screen_row
from screener.cases import collect_cases, load_cases
from screener.engine.evaluate import Engine
from screener.errors import ScreenerError
from screener.model.patient import Patient, load_patient, parse_patient
from screener.model.rules import load_ruleset
from screener.tables.write import TablesWriter

from .conftest import AS_OF, RULES

ROOT = Path(__file__).resolve().parents[2]
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))
LANGUAGE = ROOT / "tests" / "data" / "language"
FIELDS = ("decision", "decision_reason", "failing", "unknown", "near_misses")


def _fast_rows(tmp: Path, rules: Path, patients: list[Patient], as_of: date) -> list[dict[str, Any]]:
    """The vectorized batch's JSONL rows for ``patients`` (a registry written from them)."""
    directory = tmp / f"registry-{as_of}"
    with TablesWriter(directory, 1000) as writer:
        for patient in patients:
            writer.add(patient)
    out = tmp / f"fast-{as_of}.jsonl"
    options = BatchOptions(
        inputs=(str(directory),), rules=rules, as_of=as_of, out=out, fmt="jsonl", chunk_size=100_000
    )
    report = run_fast_batch(options)
    assert report.complete
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _compare(engine: Engine, patients: list[Patient], rows: list[dict[str, Any]], as_of: date) -> int:
    """Compare each fast row with the engine's row of the same patient; return how many rows the
    SQL made (not the engine)."""
    by_id = {r["patient_id"]: r for r in rows}
    sql_made = 0
    for patient in patients:
        try:
            want = screen_row(engine, as_stored(patient), as_of, patient.file, None)
        except ScreenerError:  # a patient the engine cannot screen has no row on either path
            assert patient.patient_id not in by_id
            continue
        got = by_id.pop(patient.patient_id)
        diff = {k: (want[k], got[k]) for k in FIELDS if want[k] != got[k]}
        assert not diff, (patient.patient_id, as_of, diff)
        if want["eligible_from"] is None:  # eligible-from dates: the engine's search (C's part)
            assert got["eligible_from"] is None, patient.patient_id
        sql_made += not got["explained"]
    assert not by_id  # no row of a patient not screened
    return sql_made


def as_stored(patient: Patient) -> Patient:
    """The patient as a columnar registry keeps it (:mod:`screener.tables.read`): without
    ``Observation.original`` (the value as written before its unit was converted) and with a
    whole number as an int, which only the text of a contradiction between two values shows."""

    def stored(value: Any) -> Any:
        return int(value) if isinstance(value, float) and value.is_integer() else value

    observations = tuple(replace(o, original=None, value=stored(o.value)) for o in patient.observations)
    return replace(patient, observations=observations)


def _by_date(pairs: Iterable[tuple[Patient, date]]) -> tuple[list[Patient], date]:
    """Distinct patients and the screening date of the most of them."""
    seen: dict[str, tuple[Patient, date]] = {}
    for patient, as_of in pairs:
        seen.setdefault(patient.patient_id, (patient, as_of))
    dates = [d for _, d in seen.values()]
    return [p for p, _ in seen.values()], max(set(dates), key=dates.count)


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
@pytest.mark.parametrize("shift", (0, 200))
def test_rule_cases_rows_are_the_engines(rules_dir: Path, shift: int, tmp_path: Path) -> None:
    """Every rule case's patient, at the date of most cases and 200 days later (washouts over)."""
    ruleset = load_ruleset(rules_dir)
    cases, errors = collect_cases(rules_dir, ruleset)
    assert not errors
    patients, as_of = _by_date((c.patient, c.as_of) for c in cases)
    as_of += timedelta(days=shift)
    with Engine(ruleset) as engine:
        sql_made = _compare(engine, patients, _fast_rows(tmp_path, rules_dir, patients, as_of), as_of)
    assert sql_made >= len(patients) // 2


@pytest.mark.parametrize("shift", (0, 200))
def test_language_suite_rows_are_the_engines(shift: int, tmp_path: Path) -> None:
    """Every operator and construct (not, ne, first_known, every, absent, unknown_when...)."""
    patients, as_of = _by_date((c.patient, c.as_of) for c in load_cases(LANGUAGE))
    as_of += timedelta(days=shift)
    with Engine(load_ruleset(LANGUAGE)) as engine:
        sql_made = _compare(engine, patients, _fast_rows(tmp_path, LANGUAGE, patients, as_of), as_of)
    assert sql_made >= len(patients) // 2


def test_fixture_patients_rows_are_the_engines(tmp_path: Path) -> None:
    patients = [load_patient(p) for p in sorted((ROOT / "fixtures" / "patients").glob("*.yaml"))]
    with Engine(load_ruleset(RULES)) as engine:
        rows = _fast_rows(tmp_path, RULES, patients, AS_OF)
        assert _compare(engine, patients, rows, AS_OF) == len(patients)
    assert any(u["missing"] for r in rows for u in r["unknown"])
    assert any(r["near_misses"] for r in rows)


def _generate(tmp: Path, n: int, seed: int) -> tuple[Path, Path]:
    jsonl, tables = tmp / "registry.jsonl", tmp / "registry.tables"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate_registry.py"),
            *("--n", str(n), "--seed", str(seed), "--out", str(jsonl), "--tables", str(tables)),
        ],
        check=True,
        capture_output=True,
    )
    return jsonl, tables


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("seed", (11,))
def test_generated_registry_rows_are_the_engines(seed: int, tmp_path: Path) -> None:
    """A generated registry (histories, stale and missing values, dose changes), JSONL and CSV
    rows; the 10k run of the issue is ``benchmarks/compare_reasons.py``."""
    jsonl, tables = _generate(tmp_path, 300, seed)  # 10k: benchmarks/compare_reasons.py
    rows: dict[str, list[Any]] = {}
    for fmt in ("jsonl", "csv"):
        for engine, inputs in (("rules", jsonl), ("vectorized", tables)):
            out = tmp_path / f"{engine}.{fmt}"
            options = BatchOptions(
                inputs=(str(inputs),), rules=RULES, as_of=AS_OF, out=out, fmt=fmt, chunk_size=300
            )
            report = run_fast_batch(options) if engine == "vectorized" else run_batch(options)
            assert report.complete and report.errors == 0
            if fmt == "jsonl":
                rows[engine] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            else:
                rows[f"{engine}.csv"] = _csv(out)
    want, got = rows["rules"], rows["vectorized"]
    assert [r["patient_id"] for r in got] == [r["patient_id"] for r in want]
    for w, g in zip(want, got, strict=True):
        assert {k: g[k] for k in FIELDS} == {k: w[k] for k in FIELDS}, w["patient_id"]
    csv_fields = ("patient_id", *FIELDS)
    for w, g in zip(rows["rules.csv"], rows["vectorized.csv"], strict=True):
        assert {k: g[k] for k in csv_fields} == {k: w[k] for k in csv_fields}, w["patient_id"]
    # the SQL made the rows, not the engine; and they have something to compare
    assert sum(not r["explained"] for r in got) >= 0.95 * len(got)
    assert sum(bool(u["missing"]) for r in got for u in r["unknown"]) > 100
    assert sum(len(r["near_misses"]) for r in got) > 20


def test_outcomes_only_rows_keep_their_old_form(tmp_path: Path) -> None:
    """``--explain outcomes``: the unknown criteria's ids without missing facts, no near misses."""
    patients = [load_patient(p) for p in sorted((ROOT / "fixtures" / "patients").glob("*.yaml"))]
    directory = tmp_path / "registry"
    with TablesWriter(directory, 1000) as writer:
        for patient in patients:
            writer.add(patient)
    out = tmp_path / "fast.jsonl"
    options = BatchOptions(inputs=(str(directory),), rules=RULES, as_of=AS_OF, out=out, fmt="jsonl")
    run_fast_batch(options, explain="outcomes")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert any(r["unknown"] for r in rows)
    assert all(u["missing"] is None for r in rows for u in r["unknown"])
    assert all(r["near_misses"] == [] for r in rows)


_FIRST_KNOWN_RULES = """
criteria:
  - id: I1
    type: inclusion
    title: first_known with a number second (the HIV result, else measured creatinine)
    protocol: {section: logic, quote: "first_known"}
    reading: the first child that is not unknown decides; a later one's value is not evidence
    test:
      first_known:
        - {fact: hiv, eq: negative}
        - {fact: creatinine, lte: 1.5, unit: mg/dL}
        - {fact: weight, gt: 50, unit: kg}
  - id: E1
    type: exclusion
    title: first_known of two numbers under any (creatinine, else weight; or PaO2)
    protocol: {section: logic, quote: "first_known"}
    reading: as I1, inside a group settled by its decisive value
    test:
      any:
        - first_known:
            - {fact: creatinine, gt: 1.5, unit: mg/dL}
            - {fact: weight, lt: 50, unit: kg}
        - {fact: pao2, lt: 70, unit: 'mm[Hg]'}
"""


def _agrees_with_the_engine(tmp_path: Path, criteria: str, observations: list[str]) -> None:
    """One patient with ``observations`` (YAML flow mappings dated 2026-11-20), screened on the
    language suite's facts with ``criteria`` (YAML): the SQL row is the engine's."""
    head = (LANGUAGE / "rules.yaml").read_text(encoding="utf-8").split("\ncriteria:\n")[0]
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rules.yaml").write_text(head + criteria, encoding="utf-8")
    lines = "".join(f"- {{{o}, date: '2026-11-20'}}\n" for o in observations)
    text = "schema_version: '1'\npatient_id: x\ndemographics: {birth_date: '1980-01-01', sex: female}\n"
    patients = [parse_patient(text + (f"observations:\n{lines}" if lines else ""))]
    as_of = date(2026, 11, 25)
    with Engine(load_ruleset(rules)) as engine:
        rows = _fast_rows(tmp_path, rules, patients, as_of)
        assert _compare(engine, patients, rows, as_of) == 1


@pytest.mark.parametrize(
    "observations",
    [
        # HIV known: only its (non-numeric) evidence decides I1, not creatinine 1.6 or weight 40
        [
            "name: hiv, value: positive",
            "name: creatinine, value: 1.6, unit: mg/dL",
            "name: weight, value: 40, unit: kg",
            "name: pao2, value: 80, unit: 'mm[Hg]'",
        ],
        [
            "name: hiv, value: negative",
            "name: creatinine, value: 1.6, unit: mg/dL",
            "name: weight, value: 40, unit: kg",
        ],
        # no HIV: creatinine decides (a near miss), weight is not evidence
        [
            "name: creatinine, value: 1.6, unit: mg/dL",
            "name: weight, value: 40, unit: kg",
            "name: pao2, value: 65, unit: 'mm[Hg]'",
        ],
        [
            "name: creatinine, value: 1.4, unit: mg/dL",
            "name: weight, value: 40, unit: kg",
            "name: pao2, value: 80, unit: 'mm[Hg]'",
        ],
        # no HIV, no creatinine: weight decides
        ["name: weight, value: 50, unit: kg", "name: pao2, value: 70, unit: 'mm[Hg]'"],
        ["name: weight, value: 49.5, unit: kg"],
        [],
    ],
)
def test_first_known_keeps_only_its_first_known_childs_near_misses(
    observations: list[str], tmp_path: Path
) -> None:
    """``first_known`` explains itself by its first known child alone: a later child's numeric
    test on the failing side is no near miss (the engine's ``explain``), in SQL too."""
    _agrees_with_the_engine(tmp_path, _FIRST_KNOWN_RULES, observations)


_UNKNOWN_WHEN_RULES = """
criteria:
  - id: E1
    type: exclusion
    title: unknown_when with no missing text (PaO2 < 70 excludes; on oxygen cannot clear)
    protocol: {section: unknown_when, quote: "unknown_when true"}
    reading: without missing, the engine says which test cannot settle the criterion
    test:
      any:
        - {fact: pao2, lt: 70, unit: 'mm[Hg]'}
        - {fact: pao2, field: on_oxygen, ne: false, unknown_when: true}
"""


@pytest.mark.parametrize("on_oxygen", ["true", "false"])
def test_unknown_when_without_missing_text_names_the_test_as_the_engine_does(
    on_oxygen: str, tmp_path: Path
) -> None:
    observation = f"name: pao2, value: 75, unit: 'mm[Hg]', on_oxygen: {on_oxygen}"
    _agrees_with_the_engine(tmp_path, _UNKNOWN_WHEN_RULES, [observation])
