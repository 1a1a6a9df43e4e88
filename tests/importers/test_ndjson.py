"""FHIR Bulk Data NDJSON importer: a bundle split per resource type gives the same patient."""

from __future__ import annotations

import json
from pathlib import Path

from screener.importers import detect_format, iter_patients
from screener.importers.fhir import iter_bundles, iter_ndjson, split_bundle_to_ndjson
from tests.importers.conftest import shared_path
from tests.importers.fhir_builders import bundle, patient, quantity_obs

MARTINA = "Martina_Murazik_9e4fc9b4-aaad-4bcf-a24a-d665f3aa99ec.json"


def test_split_sample_bundle_imports_like_the_bundle(tmp_path: Path) -> None:
    source = shared_path("data", "smart-r4-synthea-sample", MARTINA)
    files = split_bundle_to_ndjson(source, tmp_path)
    assert {f.name for f in files} >= {"Patient.ndjson", "Observation.ndjson", "Condition.ndjson"}
    assert detect_format([tmp_path]) == "ndjson"
    from_bundle = list(iter_bundles([source]))
    run = iter_patients([tmp_path])
    from_ndjson = list(run)
    assert len(from_bundle) == len(from_ndjson) == 1
    assert from_ndjson[0].data == from_bundle[0].data
    assert run.report.errors == ()
    assert run.report.facts["observations"] > 20


def test_malformed_lines_orphans_and_missing_subject_are_reported(tmp_path: Path) -> None:
    split_bundle_to_ndjson_data = bundle(
        patient("p1"),
        quantity_obs("w1", "29463-7", 60, "kg"),
        quantity_obs("c1", "14682-9", 176.8, "umol/L"),
    )
    b = tmp_path / "b.json"
    b.write_text(json.dumps(split_bundle_to_ndjson_data), encoding="utf-8")
    out = tmp_path / "bulk"
    split_bundle_to_ndjson(b, out)
    obs = out / "Observation.ndjson"
    with obs.open("a", encoding="utf-8") as fh:
        fh.write('{"resourceType": "Observation", "id": "broken"\n')  # line 3: bad JSON
        fh.write("\n")  # blank lines are ignored
        fh.write(json.dumps(quantity_obs("o2", "29463-7", 61, "kg", pid="ghost")) + "\n")  # line 5
        no_subject = quantity_obs("o3", "29463-7", 62, "kg")
        del no_subject["subject"]
        fh.write(json.dumps(no_subject) + "\n")  # line 6
        fh.write(json.dumps(quantity_obs("w2", "29463-7", 62.5, "kg", when="2026-11-20")) + "\n")  # line 7
    with (out / "Patient.ndjson").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(patient("p2", birth="1970")) + "\n")  # partial birth date
    run = iter_ndjson([out])
    records = {r.patient_id: r for r in run}
    assert set(records) == {"p1", "p2"}
    weights = [o["value"] for o in records["p1"].data["observations"] if o["name"] == "weight"]
    assert weights == [60, 62.5]  # the line after the bad ones is still read
    creat = records["p1"].patient().observations
    assert [round(o.value, 3) for o in creat if o.name == "creatinine"] == [2.0]
    by_line = {(Path(i.file).name, i.line): i for i in run.report.issues}
    assert "malformed JSON" in by_line[("Observation.ndjson", 3)].message
    assert "Patient/ghost" in by_line[("Observation.ndjson", 5)].message
    assert by_line[("Observation.ndjson", 6)].field == "subject"
    assert ("Observation.ndjson", 4) not in by_line
    p2 = [i for i in run.report.issues if i.patient_id == "p2"]
    assert len(p2) == 1 and p2[0].field == "birthDate" and p2[0].line == 2
