"""Small FHIR R4 resources for importer tests (codes from shared/reference/terminology.yaml)."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"


def patient(pid: str = "p1", birth: str = "1990-05-04", gender: str = "female") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": birth, "gender": gender}


def quantity_obs(
    oid: str,
    code: str,
    value: Any,
    unit: str | None,
    when: str | None = "2026-11-10",
    pid: str = "p1",
    display: str = "",
    **extra: Any,
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": {"value": value, **({"system": UCUM, "code": unit} if unit else {})},
        **extra,
    }
    if when is not None:
        res["effectiveDateTime"] = when + "T08:00:00+01:00"
    return res


def coded_obs(
    oid: str,
    code: str,
    answer_system: str,
    answer_code: str,
    when: str = "2026-11-10",
    pid: str = "p1",
    display: str = "",
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {
            "coding": [{"system": answer_system, "code": answer_code, "display": display}]
        },
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources],
    }
