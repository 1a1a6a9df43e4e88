"""benchmarks/generate_fhir.py: the synthetic registry as FHIR Bulk Data NDJSON converts, in
DuckDB, into the patients it carries: the same outcome on every criterion as the native records of
what was written (issue 17 §6 runs end to end "from FHIR NDJSON")."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

from screener.engine.evaluate import Engine  # noqa: E402
from screener.importers.mapping import load_mapping  # noqa: E402
from screener.model.patient import patient_from_data  # noqa: E402
from screener.model.rules import load_ruleset  # noqa: E402
from screener.tables.from_fhir import stage_fhir  # noqa: E402
from screener.tables.read import read_patients  # noqa: E402
from screener.yamlio import LineMap  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_fhir import write_fhir  # noqa: E402

AS_OF = date(2026, 11, 25)


def test_two_hundred_generated_patients_screen_as_their_native_records(tmp_path: Path) -> None:
    bulk = tmp_path / "bulk"
    counts = write_fhir(bulk, 200, seed=7, as_of=AS_OF, compress=True, native=tmp_path / "carried.jsonl")
    assert {"Patient", "Observation", "Condition", "MedicationRequest"} <= set(counts)
    con = duckdb.connect()
    staged = stage_fhir(con, [bulk], load_mapping())
    assert staged.records == 200 and not staged.issues and not tuple(staged.fallback)
    relations = {t: f"(SELECT ord AS pid, * EXCLUDE (ord) FROM {r})" for t, r in staged.tables.items()}
    converted = read_patients(con, relations, list(range(200)))
    carried = [json.loads(line) for line in (tmp_path / "carried.jsonl").read_text().splitlines()]
    differ = []
    decided = set()
    with Engine(load_ruleset(ROOT / "rules" / "nct03562065")) as engine:
        for data, patient in zip(carried, converted, strict=True):
            assert patient.patient_id == data["patient_id"]
            native = engine.screen(patient_from_data(data, LineMap("<carried>", {})), AS_OF)
            fhir = engine.screen(patient, AS_OF)
            a = {c.id: c.outcome for c in native.criteria}
            b = {c.id: c.outcome for c in fhir.criteria}
            differ += [(data["patient_id"], k, a[k], b.get(k)) for k in a if a[k] != b.get(k)]
            decided.update(a.values())
    assert differ == []
    assert {"pass", "fail", "unknown"} <= decided  # the registry crosses the thresholds both ways
