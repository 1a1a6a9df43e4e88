"""Issue 11 §5 point 2: a record whose diagnoses and medications are all beside the point still has a
diagnosis list and a medication history (screener/importers/record_lists.py), so rule set 1.1.0's
"none recorded counts as none when the record has a list" (E6, E7, E11, E10) can apply to it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from screener.engine.evaluate import Engine
from screener.importers.fhir import iter_bundles
from screener.importers.omop import iter_omop
from screener.model.patient import patient_from_data
from screener.yamlio import LineMap
from tests.importers.conftest import shared_path
from tests.importers.fhir_builders import RXNORM, SNOMED, bundle, patient

AS_OF = date(2026, 11, 25)
LIST_CRITERIA = ("E6", "E7", "E11")
THO = "http://terminology.hl7.org/CodeSystem"


def _outcomes(engine: Engine, data: dict[str, Any], as_of: date = AS_OF) -> dict[str, str]:
    p = patient_from_data(data, LineMap("<test>", {}))
    return {c.id: c.outcome for c in engine.screen(p, as_of).criteria}


def _without(data: dict[str, Any], section: str, key: str, name: str) -> dict[str, Any]:
    out = dict(data)
    out[section] = [x for x in data.get(section, []) if x[key] != name]
    return out


def test_synthea_records_with_unrelated_diagnoses_have_a_diagnosis_list(engine: Engine) -> None:
    folder = shared_path("data", "smart-r4-synthea-sample")
    records = {Path(r.file).name.split("_")[0]: r for r in iter_bundles([folder])}
    angelic = records["Angelic"].data  # hypertension-type history only, no criterion's condition
    assert [c["name"] for c in angelic["conditions"]] == ["other_diagnosis"]
    assert "Condition/" in angelic["conditions"][0]["source"]
    outcomes = _outcomes(engine, angelic)
    assert all(outcomes[c] == "pass" for c in LIST_CRITERIA), outcomes
    assert outcomes["E10"] == "pass"  # a medication history without belimumab or rituximab
    # not vacuous: without the markers the same record cannot show the absence
    bare = _without(
        _without(angelic, "conditions", "name", "other_diagnosis"), "medications", "drug", "other_medication"
    )
    bare_outcomes = _outcomes(engine, bare)
    assert all(bare_outcomes[c] == "unknown" for c in (*LIST_CRITERIA, "E10")), bare_outcomes
    # a record with no medication at all still has no medication history
    assert (
        "medications" not in records["Annetta"].data
        and _outcomes(engine, records["Annetta"].data)["E10"] == "unknown"
    )
    # every sample patient with a Condition has the list; one with none has not
    for name, record in records.items():
        has_conditions = bool(record.data.get("conditions"))
        assert (_outcomes(engine, record.data)["E7"] != "unknown") is has_conditions, name


def test_eunomia_persons_have_their_lists_on_an_observed_date(engine: Engine) -> None:
    cdm = shared_path("data", "synthea27nj-omop")
    (record,) = list(iter_omop([cdm], person_ids=["1"]))
    data = record.data
    assert [c["name"] for c in data["conditions"]] == ["other_diagnosis"]
    assert "condition_occurrence/" in data["conditions"][0]["source"]
    last = max(date.fromisoformat(p["end"]) for p in data["demographics"]["observed"])
    outcomes = _outcomes(engine, data, last)
    assert all(outcomes[c] == "pass" for c in (*LIST_CRITERIA, "E10")), outcomes
    bare = _without(data, "conditions", "name", "other_diagnosis")
    assert _outcomes(engine, bare, last)["E7"] == "unknown"


def _condition(cid: str, clinical: str, onset: str, verification: str = "confirmed") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"system": f"{THO}/condition-clinical", "code": clinical}]},
        "verificationStatus": {"coding": [{"system": f"{THO}/condition-ver-status", "code": verification}]},
        "code": {"coding": [{"system": SNOMED, "code": "38341003", "display": "Hypertensive disorder"}]},
        "onsetDateTime": onset,
    }


def _medication(mid: str, status: str = "active", intent: str = "order") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": intent,
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-02-01",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "197361", "display": "amlodipine 5 MG Oral Tablet"}]
        },
    }


def _import(tmp_path: Path, *resources: dict[str, Any]) -> dict[str, Any]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), *resources)), encoding="utf-8")
    (record,) = list(iter_bundles([path]))
    return record.data


def test_the_marker_is_active_when_one_record_is_and_starts_with_the_earliest(tmp_path: Path) -> None:
    data = _import(
        tmp_path, _condition("c1", "resolved", "2015-03-01"), _condition("c2", "active", "2020-01-01")
    )
    (marker,) = data["conditions"]
    assert (marker["status"], marker["onset"]) == ("active", "2015-03-01")
    data = _import(tmp_path, _condition("c1", "resolved", "2015-03-01"))
    assert data["conditions"][0]["status"] == "resolved"


def test_set_aside_records_show_no_list(tmp_path: Path, engine: Engine) -> None:
    """A refuted diagnosis or a proposed prescription is not a list of what she has or took."""
    data = _import(
        tmp_path, _condition("c1", "active", "2020-01-01", "refuted"), _medication("m1", intent="proposal")
    )
    assert "conditions" not in data and "medications" not in data
    outcomes = _outcomes(engine, data)
    assert outcomes["E7"] == "unknown" and outcomes["E10"] == "unknown"
    data = _import(tmp_path, _condition("c1", "active", "2020-01-01"), _medication("m1"))
    outcomes = _outcomes(engine, data)
    assert outcomes["E7"] == "pass" and outcomes["E10"] == "pass"
    assert (
        data["medications"][0]["drug"] == "other_medication"
        and "MedicationRequest/m1" in data["medications"][0]["source"]
    )
