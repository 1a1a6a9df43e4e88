"""Batch inputs read through screener.importers, chosen by extension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from screener.batch.inputs import iter_records
from screener.batch.runner import BatchOptions, run_batch

from .conftest import AS_OF, ROOT, RULES, base_patient

pytest.importorskip("screener.importers")

LOINC = "http://loinc.org"


def fhir_patient(pid: str, birth: str) -> list[dict[str, Any]]:
    return [
        {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": "female"},
        {
            "resourceType": "Observation",
            "id": f"{pid}-wt",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "29463-7"}]},
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": "2026-11-10",
            "valueQuantity": {"value": 60, "system": "http://unitsofmeasure.org", "code": "kg"},
        },
    ]


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_csv_registry_with_its_mapping_goes_through_the_importer(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    report = run_batch(BatchOptions((str(ROOT / "fixtures" / "registry"),), RULES, AS_OF, out, fmt="jsonl"))
    rows = read_jsonl(out)
    assert report.complete and len(rows) == report.rows >= 1
    assert all(r["source"].endswith("lupus_registry.csv") for r in rows)
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert errors and all(e["source"].endswith("lupus_registry.csv") and e["line"] for e in errors)
    bad_number = [e for e in errors if "is not a number" in e["message"]]
    assert bad_number and bad_number[0]["field"] and bad_number[0]["line"] > 1  # column and CSV line


def test_csv_without_mapping_is_a_clear_record_error(tmp_path: Path) -> None:
    (tmp_path / "plain.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (record,) = iter_records([tmp_path / "plain.csv"])
    assert record.error is not None and "plain.mapping.yaml" in record.error.message


def test_fhir_bundles_and_native_files_side_by_side(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bundle.json").write_text(
        json.dumps(bundle(*fhir_patient("f1", "1990-01-02"), *fhir_patient("f2", "2010-01-02"))),
        encoding="utf-8",
    )
    (folder / "b_native.json").write_text(json.dumps(base_patient()), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = run_batch(BatchOptions((str(folder),), RULES, AS_OF, out, fmt="jsonl"))
    rows = {r["patient_id"]: r for r in read_jsonl(out)}
    assert report.rows == 3 and set(rows) == {"f1", "f2", "story-eligible-001"}
    assert rows["story-eligible-001"]["decision"] == "eligible"
    assert "I1" in rows["f2"]["failing"]  # 16 years old on the screening date
    assert "I1" not in rows["f1"]["failing"] and "I1" not in {u["id"] for u in rows["f1"]["unknown"]}


def test_ndjson_directory_is_one_bulk_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    resources = fhir_patient("n1", "1980-06-01")
    (export / "Patient.ndjson").write_text(json.dumps(resources[0]) + "\n", encoding="utf-8")
    (export / "Observation.ndjson").write_text(json.dumps(resources[1]) + "\n", encoding="utf-8")
    records = list(iter_records([export]))
    assert [r.data["patient_id"] for r in records if r.data] == ["n1"]
    weights = [o for o in records[0].data["observations"] if o["name"] == "weight"]  # type: ignore[index]
    assert weights and weights[0]["value"] == 60
