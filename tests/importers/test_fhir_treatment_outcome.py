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


# ----------------------------------------------------- AllergyIntolerance and AdverseEvent (§5)

VER = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def allergy(onset: str, verification: str | None = "confirmed", rxcui: str = MMF) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "id": "a1",
        "patient": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": RXNORM, "code": rxcui}]},
        "onsetDateTime": onset,
    }
    if verification is not None:
        res["verificationStatus"] = {"coding": [{"system": VER, "code": verification}]}
    return res


def adverse_event(day: str, instance: dict[str, Any], actuality: str = "actual") -> dict[str, Any]:
    return {
        "resourceType": "AdverseEvent",
        "id": "ae1",
        "actuality": actuality,
        "subject": {"reference": "Patient/p1"},
        "date": day,
        "suspectEntity": [{"instance": instance}],
    }


def _items(tmp_path: Path, *resources: dict[str, Any]) -> tuple[list[dict[str, Any]], Any, Any]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), *resources)), encoding="utf-8")
    run = iter_bundles([path])
    (record,) = list(run)
    return record.data.get("medications", []), run.report, record


@pytest.mark.parametrize(
    ("onset", "outcome"),
    [
        ("2020-02-01", "adverse_effect"),  # first day of the period
        ("2021-04-30", "adverse_effect"),  # 30 days after its end (2021-03-31)
        ("2021-05-01", None),  # 31 days after: another story
        ("2020-01-31", None),  # before she took it
    ],
)
def test_confirmed_allergy_to_the_drug_during_or_just_after_a_period(
    tmp_path: Path, onset: str, outcome: str | None
) -> None:
    (item,), _, record = _items(tmp_path, stopped("MedicationStatement"), allergy(onset))
    assert item.get("outcome") == outcome
    warned = [i for i in record.issues if "AllergyIntolerance/a1" in i.message]
    assert bool(warned) is (outcome is not None)


@pytest.mark.parametrize("verification", ["unconfirmed", "refuted", "entered-in-error"])
def test_unconfirmed_allergy_is_not_used(tmp_path: Path, verification: str) -> None:
    (item,), report, _ = _items(tmp_path, stopped("MedicationStatement"), allergy("2020-06-01", verification))
    assert "outcome" not in item
    assert report.skipped[f"AllergyIntolerance ({verification})"] == 1


def test_allergy_to_another_drug_or_an_ongoing_treatment_changes_nothing(tmp_path: Path) -> None:
    (item,), _, _ = _items(tmp_path, stopped("MedicationStatement"), allergy("2020-06-01", rxcui="8640"))
    assert "outcome" not in item  # prednisone allergy: the MMF period is untouched
    ongoing = stopped("MedicationStatement")
    ongoing.update(status="active", effectivePeriod={"start": "2020-02-01"})
    (item,), _, _ = _items(tmp_path, ongoing, allergy("2020-06-01"))
    assert "outcome" not in item  # still taken: not a failed treatment


def test_stated_outcome_is_kept(tmp_path: Path) -> None:
    res = stopped("MedicationStatement", (SNOMED, "266721009"))
    (item,), _, _ = _items(tmp_path, res, allergy("2020-06-01"))
    assert item["outcome"] == "inefficacy"


@pytest.mark.parametrize(("actuality", "outcome"), [("actual", "adverse_effect"), ("potential", None)])
def test_adverse_event_naming_the_medication_record(
    tmp_path: Path, actuality: str, outcome: str | None
) -> None:
    event = adverse_event("2021-03-20", {"reference": "MedicationStatement/m1"}, actuality)
    (item,), report, _ = _items(tmp_path, stopped("MedicationStatement"), event)
    assert item.get("outcome") == outcome
    if outcome is None:
        assert report.skipped["AdverseEvent (potential)"] == 1


def test_adverse_event_naming_a_medication_resource(tmp_path: Path) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "med-mmf",
        "code": {"coding": [{"system": RXNORM, "code": MMF}]},
    }
    event = adverse_event("2021-03-20", {"reference": "Medication/med-mmf"})
    (item,), _, _ = _items(tmp_path, medication, stopped("MedicationStatement"), event)
    assert item["outcome"] == "adverse_effect"
