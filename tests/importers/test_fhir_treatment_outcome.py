"""A prior treatment's outcome from FHIR (issue 11 §5): statusReason codes meaning no response or
intolerance become the native medication ``outcome`` (inefficacy / adverse_effect); any other
reason, or none, leaves the outcome unset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from screener.importers.fhir import iter_bundles
from tests.importers.fhir_builders import RXNORM, SNOMED, bundle, patient

THO = "http://terminology.hl7.org/CodeSystem/medicationrequest-status-reason"
MMF = "68149"  # mycophenolate mofetil (RxNorm ingredient, shared/reference terminology.yaml)


def stopped(kind: str, *reasons: tuple[str, str]) -> dict[str, Any]:
    concepts = [{"coding": [{"system": system, "code": code}]} for system, code in reasons]
    res: dict[str, Any] = {
        "resourceType": kind,
        "id": "m1",
        "status": "stopped",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": MMF}]},
    }
    if kind == "MedicationStatement":
        res["effectivePeriod"] = {"start": "2020-02-01", "end": "2021-03-31"}
        if concepts:
            res["statusReason"] = concepts
    else:
        res["intent"] = "order"
        res["authoredOn"] = "2020-02-01"
        res["dosageInstruction"] = [{"timing": {"repeat": {"boundsPeriod": {"end": "2021-03-31"}}}}]
        if concepts:
            res["statusReason"] = concepts[0]
    return res


def _medication(tmp_path: Path, res: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), res)), encoding="utf-8")
    run = iter_bundles([path])
    (record,) = list(run)
    (item,) = record.data["medications"]
    return item, run.report


@pytest.mark.parametrize("kind", ["MedicationStatement", "MedicationRequest"])
@pytest.mark.parametrize(
    ("reason", "outcome"),
    [
        ((SNOMED, "266721009"), "inefficacy"),  # no response to treatment
        ((SNOMED, "58848006"), "inefficacy"),  # lack of drug action
        ((SNOMED, "407563006"), "adverse_effect"),  # treatment not tolerated
        ((SNOMED, "281647001"), "adverse_effect"),  # adverse reaction
        ((THO, "sintol"), "adverse_effect"),
        ((THO, "salg"), "adverse_effect"),
        ((SNOMED, "182992009"), None),  # treatment completed: not a failure
        ((THO, "altchoice"), None),  # try another treatment first: not a failure
        ((SNOMED, "105480006"), None),  # refused by the patient: not a failure
    ],
)
def test_status_reason_gives_the_outcome(
    tmp_path: Path, kind: str, reason: tuple[str, str], outcome: str | None
) -> None:
    item, report = _medication(tmp_path, stopped(kind, reason))
    assert item["drug"] == "mycophenolate_mofetil"
    assert item.get("outcome") == outcome
    if outcome is None:  # a reason screener does not read is shown, not dropped
        assert report.unmapped_count(reason[0], reason[1]) == 1


def test_no_status_reason_no_outcome(tmp_path: Path) -> None:
    item, _ = _medication(tmp_path, stopped("MedicationStatement"))
    assert "outcome" not in item


def test_intolerance_wins_over_no_response(tmp_path: Path) -> None:
    item, _ = _medication(tmp_path, stopped("MedicationStatement", (SNOMED, "266721009"), (THO, "sintol")))
    assert item["outcome"] == "adverse_effect"


def test_reason_code_is_why_given_not_an_outcome(tmp_path: Path) -> None:
    res = stopped("MedicationStatement")
    res["reasonCode"] = [
        {"coding": [{"system": SNOMED, "code": "266721009"}]}
    ]  # started because another failed
    item, _ = _medication(tmp_path, res)
    assert "outcome" not in item
