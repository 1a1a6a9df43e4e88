"""FHIR records read as a clinician would (issue 11 §2-§4, §6; issue 12 point 2; issue 13 §4):
statuses, verification, death, sex, coverage, participation, malformed records and the ways
FHIR data is exported (Bulk Data folders, gzip, loose resource files, long bundles)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.importers import fhir_json_kind, iter_patients, load_patient_file
from screener.importers.fhir import iter_bundles, iter_ndjson
from tests.importers.fhir_builders import RXNORM, SNOMED, bundle, patient, quantity_obs

AS_OF = date(2026, 11, 25)
VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _one(tmp_path: Path, *resources: dict[str, Any]) -> tuple[Any, Any]:
    run = iter_bundles([_write(tmp_path, "b.json", bundle(*resources))])
    records = list(run)
    assert len(records) == 1, run.report.issues
    return records[0], run.report


def hiv(cid: str, verification: str | None = None, clinical: str = "active", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SNOMED, "code": "86406008", "display": "HIV infection"}]},
        "clinicalStatus": {"coding": [{"system": CLIN, "code": clinical}]},
        "onsetDateTime": "2020-01-01",
        **extra,
    }
    if verification is not None:
        res["verificationStatus"] = {"coding": [{"system": VER, "code": verification}]}
    return res


def med(kind: str, mid: str, status: str, rxcui: str = "121191", **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": kind,
        "id": mid,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": rxcui}]},
        **extra,
    }
    if kind == "MedicationRequest":
        res.setdefault("intent", "order")
        res.setdefault("authoredOn", "2026-10-01")
    elif kind == "MedicationStatement":
        res.setdefault("effectivePeriod", {"start": "2026-10-01"})
    else:
        res.setdefault("effectiveDateTime", "2026-10-01")
    return res


# ------------------------------------------------------------------------------- §2 statuses


@pytest.mark.parametrize(
    ("verification", "clinical", "expected"),
    [
        (None, "active", ("active", None)),
        ("confirmed", "active", ("active", None)),
        ("provisional", "active", ("active", "unconfirmed")),
        ("differential", "active", ("active", "unconfirmed")),
        ("unconfirmed", "active", ("active", "unconfirmed")),
        ("confirmed", "resolved", ("resolved", None)),
        ("confirmed", "remission", ("resolved", None)),
        ("confirmed", "recurrence", ("active", None)),
        ("confirmed", "relapse", ("active", None)),
    ],
)
def test_condition_clinical_and_verification_status(
    tmp_path: Path, verification: str | None, clinical: str, expected: tuple[str, str | None]
) -> None:
    record, _ = _one(tmp_path, patient(), hiv("c1", verification, clinical))
    (cond,) = record.data["conditions"]
    assert (cond["status"], cond.get("verification")) == expected


@pytest.mark.parametrize("verification", ["refuted", "entered-in-error"])
def test_refuted_and_entered_in_error_conditions_are_set_aside_by_reason(
    tmp_path: Path, verification: str
) -> None:
    record, report = _one(tmp_path, patient(), hiv("c1", verification))
    assert "conditions" not in record.data
    assert report.skipped[f"Condition ({verification})"] == 1


def test_provisional_hiv_makes_e9_unknown_confirmed_fails_it(tmp_path: Path, engine: Engine) -> None:
    provisional, _ = _one(tmp_path, patient(), hiv("c1", "provisional"))
    e9 = engine.screen(provisional.patient(), AS_OF).criterion("E9")
    assert e9.outcome == "unknown"
    assert any("Condition/c1" in m and "confirm" in m for m in e9.missing)
    confirmed, _ = _one(tmp_path, patient(), hiv("c1", "confirmed"))
    assert engine.screen(confirmed.patient(), AS_OF).criterion("E9").outcome == "fail"


@pytest.mark.parametrize(
    ("resource", "exposure", "reason"),
    [
        (med("MedicationRequest", "m", "active"), True, None),
        (med("MedicationRequest", "m", "completed"), True, None),
        (
            med("MedicationRequest", "m", "active", intent="proposal"),
            False,
            "MedicationRequest (intent proposal)",
        ),
        (med("MedicationRequest", "m", "active", intent="plan"), False, "MedicationRequest (intent plan)"),
        (med("MedicationRequest", "m", "draft"), False, "MedicationRequest (draft)"),
        (med("MedicationRequest", "m", "cancelled"), False, "MedicationRequest (cancelled)"),
        (med("MedicationRequest", "m", "entered-in-error"), False, "MedicationRequest (entered-in-error)"),
        (med("MedicationStatement", "m", "active"), True, None),
        (med("MedicationStatement", "m", "intended"), False, "MedicationStatement (intended)"),
        (med("MedicationStatement", "m", "not-taken"), False, "MedicationStatement (not-taken)"),
        (med("MedicationAdministration", "m", "completed"), True, None),
        (med("MedicationAdministration", "m", "in-progress"), True, None),
        (med("MedicationAdministration", "m", "not-done"), False, "MedicationAdministration (not-done)"),
    ],
)
def test_medication_exposure_only_from_what_was_taken_or_given(
    tmp_path: Path, engine: Engine, resource: dict[str, Any], exposure: bool, reason: str | None
) -> None:
    record, report = _one(tmp_path, patient(), resource)
    assert ("medications" in record.data) is exposure
    if reason is not None:
        assert report.skipped[reason] == 1
    e10 = engine.screen(record.patient(), AS_OF).criterion("E10")  # rituximab 8 weeks ago
    # set aside, the record has no medication history at all: E10 cannot pass (rule set 1.1.0)
    assert e10.outcome == ("fail" if exposure else "unknown")


@pytest.mark.parametrize(
    ("status", "kept"),
    [
        ("final", True),
        ("amended", True),
        ("corrected", True),
        ("preliminary", False),
        ("registered", False),
        ("cancelled", False),
        ("entered-in-error", False),
    ],
)
def test_observation_status(tmp_path: Path, status: str, kept: bool) -> None:
    obs = quantity_obs("w", "29463-7", 60, "kg")
    obs["status"] = status
    record, report = _one(tmp_path, patient(), obs)
    assert ("observations" in record.data) is kept
    if not kept:
        assert report.skipped[f"Observation ({status})"] == 1


# ------------------------------------------------------------------------------ §3 death


@pytest.mark.parametrize(
    ("fields", "decision", "deceased"),
    [
        ({"deceasedDateTime": "2025-03-01T10:00:00Z"}, "ineligible", "2025-03-01"),
        ({"deceasedBoolean": True}, "ineligible", True),
        ({"deceasedBoolean": False}, None, None),
        ({"deceasedDateTime": "2026-11-26"}, None, "2026-11-26"),  # after the screening date
    ],
)
def test_death_is_read_and_decides(
    tmp_path: Path, engine: Engine, fields: dict[str, Any], decision: str | None, deceased: Any
) -> None:
    record, _ = _one(tmp_path, {**patient(), **fields})
    assert record.data["demographics"].get("deceased") == deceased
    result = engine.screen(record.patient(), AS_OF)
    if decision is None:
        alive, _ = _one(tmp_path, patient())
        assert result.decision_reason is None
        assert result.decision == engine.screen(alive.patient(), AS_OF).decision
    else:
        assert result.decision == decision and result.decision_reason


# ------------------------------------------------------------------------- §4 demographics

BIRTHSEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"
INDIVIDUAL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-individual-sex"


@pytest.mark.parametrize(
    ("extra", "sex", "source", "warned"),
    [
        ({"gender": "female"}, "female", "Patient.gender", False),
        ({"gender": "other"}, None, None, False),
        (
            {"extension": [{"url": INDIVIDUAL, "valueCoding": {"system": SNOMED, "code": "248152002"}}]},
            "female",
            "US Core us-core-individual-sex extension",
            False,
        ),
        (
            {"gender": "female", "extension": [{"url": BIRTHSEX, "valueCode": "M"}]},
            "male",
            "US Core birth-sex extension",
            True,
        ),
        ({"gender": "martian"}, None, None, True),
    ],
)
def test_sex_and_which_element_gave_it(
    tmp_path: Path, extra: dict[str, Any], sex: str | None, source: str | None, warned: bool
) -> None:
    res = {"resourceType": "Patient", "id": "p1", "birthDate": "1990-05-04", **extra}
    record, report = _one(tmp_path, res)
    demo = record.data["demographics"]
    assert (demo.get("sex"), demo.get("sex_source")) == (sex, source)
    warnings = [
        i for i in report.issues if i.level == "warning" and ("sex" in i.message or "gender" in i.message)
    ]
    assert bool(warnings) is warned


def coverage(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Coverage",
        "id": "cov",
        "status": "active",
        "beneficiary": {"reference": "Patient/p1"},
        **extra,
    }


@pytest.mark.parametrize(
    ("resources", "affiliated"),
    [
        ([coverage(payor=[{"display": "Caisse Primaire d'Assurance Maladie de Paris"}])], True),
        (
            [
                coverage(payor=[{"reference": "Organization/o1"}], type={"coding": [{"code": "PUBLICPOL"}]}),
                {
                    "resourceType": "Organization",
                    "id": "o1",
                    "name": "Caisse",
                    "address": [{"country": "FR"}],
                },
            ],
            True,
        ),
        ([coverage(payor=[{"display": "Aetna"}], type={"coding": [{"code": "EHCPOL"}]})], False),
        (
            [
                coverage(payor=[{"reference": "Organization/o1"}], type={"coding": [{"code": "PUBLICPOL"}]}),
                {
                    "resourceType": "Organization",
                    "id": "o1",
                    "name": "Medicare",
                    "address": [{"country": "US"}],
                },
            ],
            False,
        ),
        ([coverage(status="cancelled", payor=[{"display": "CPAM"}])], False),
    ],
)
def test_social_security_only_from_what_identifies_it(
    tmp_path: Path, resources: list[dict[str, Any]], affiliated: bool
) -> None:
    record, _ = _one(tmp_path, patient(), *resources)
    statuses = [s for s in record.data.get("statuses", []) if s["name"] == "social_security"]
    assert bool(statuses) is affiliated


# ------------------------------------------------------------------- issue 12 point 2 (E14)


@pytest.mark.parametrize(
    ("period", "outcome"),
    [
        ({"start": "2019-01-01"}, "fail"),  # began long ago, no end: current
        ({"start": "2019-01-01", "end": "2026-11-20"}, "fail"),  # ended 5 days ago
        ({"start": "2019-01-01", "end": "2026-09-01"}, "unknown"),  # ended long ago: stale
        ({"start": "2019-01-01", "end": "2099-01-01"}, "fail"),  # ends in the future: current
    ],
)
def test_ongoing_participation_is_current(
    tmp_path: Path, engine: Engine, period: dict[str, str], outcome: str
) -> None:
    rs = {
        "resourceType": "ResearchSubject",
        "id": "rs",
        "status": "on-study",
        "individual": {"reference": "Patient/p1"},
        "study": {"display": "Another lupus study"},
        "period": period,
    }
    record, _ = _one(tmp_path, patient(), rs)
    assert engine.screen(record.patient(), AS_OF).criterion("E14").outcome == outcome


# ------------------------------------------------------------- issue 13 §4: never silent


def _issues(report: Any) -> list[str]:
    return [str(i) for i in report.issues]


def test_two_different_patients_with_one_id_are_refused_not_merged(tmp_path: Path) -> None:
    path = _write(tmp_path, "b.json", bundle(patient("p1"), {**patient("p1"), "birthDate": "2010-01-01"}))
    path.write_text(path.read_text().replace('"urn:uuid:p1"', '"urn:uuid:p1a"', 1))
    run = iter_bundles([path])
    assert list(run) == []
    assert any("Patient/p1" in i and "not imported" in i and "entry[1]" in i for i in _issues(run.report))
    same = _write(tmp_path, "c.json", bundle(patient("p1"), {**patient("p1")}))
    assert len(list(iter_bundles([same]))) == 1  # an exact repeat is the same patient


def test_duplicate_patient_in_ndjson_is_refused(tmp_path: Path) -> None:
    lines = [patient("p1"), {**patient("p1"), "birthDate": "2010-01-01"}, patient("p2")]
    (tmp_path / "Patient.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    run = iter_ndjson([tmp_path])
    assert [r.patient_id for r in run] == ["p2"]
    assert any("Patient.ndjson:2" in i and "not imported" in i for i in _issues(run.report))


@pytest.mark.parametrize(
    ("resource", "field", "words"),
    [
        ({**hiv("c1"), "onsetDateTime": "2999-01-01"}, "onsetDateTime", "in the future"),
        ({k: v for k, v in hiv("c1").items() if k != "code"}, "code", "no coded code"),
        ({**hiv("c1"), "code": {"text": "breast cancer"}}, "code", "breast cancer"),
        ({**hiv("c1"), "onsetDateTime": ""}, "onsetDateTime", "empty"),
        (
            {**quantity_obs("w", "29463-7", 60, "kg"), "code": {"coding": {"code": "29463-7"}}},
            "code.coding",
            "not a list",
        ),
        (
            {
                k: v
                for k, v in med("MedicationStatement", "m", "active").items()
                if k != "medicationCodeableConcept"
            },
            "medicationCodeableConcept",
            "no coded medication",
        ),
    ],
)
def test_malformed_records_get_an_import_warning_naming_the_field(
    tmp_path: Path, resource: dict[str, Any], field: str, words: str
) -> None:
    _, report = _one(tmp_path, patient(), resource)
    found = [i for i in report.issues if i.field and i.field.endswith(field) and words in i.message]
    assert found, _issues(report)


def test_a_bundle_whose_resource_type_comes_late_is_still_a_bundle(tmp_path: Path) -> None:
    doc = bundle(patient("p1"), quantity_obs("w", "29463-7", 60, "kg"))
    late = {
        "meta": {"tag": [{"code": "x" * 200}] * 400},
        "entry": doc["entry"],
        "type": "collection",
        "resourceType": "Bundle",
    }
    path = _write(tmp_path, "late.json", late)
    assert path.stat().st_size > 65536
    assert fhir_json_kind(path) == "bundle"
    assert load_patient_file(path).patient_id == "p1"


# ---------------------------------------------------------------- §6 inputs as exported


def _bulk(folder: Path, gz: bool = False, manifest: bool = False) -> None:
    folder.mkdir()
    files = {
        "Patient": [patient("p1"), patient("p2", gender="male")],
        "Observation": [
            quantity_obs("w1", "29463-7", 60, "kg"),
            quantity_obs("w2", "29463-7", 80, "kg", pid="p2"),
        ],
    }
    for kind, rows in files.items():
        text = "\n".join(json.dumps(r) for r in rows) + "\n"
        if gz:
            with gzip.open(folder / f"{kind}.ndjson.gz", "wt", encoding="utf-8") as fh:
                fh.write(text)
        else:
            (folder / f"{kind}.ndjson").write_text(text)
    (folder / "log.ndjson").write_text('{"eventId": "kickoff", "timestamp": "2024-01-01"}\n')
    if manifest:
        ext = ".ndjson.gz" if gz else ".ndjson"
        (folder / "manifest.json").write_text(
            json.dumps(
                {
                    "transactionTime": "2024-01-01T00:00:00Z",
                    "request": "x",
                    "requiresAccessToken": False,
                    "output": [{"type": k, "url": f"https://server/files/{k}{ext}"} for k in files],
                    "error": [],
                }
            )
        )


@pytest.mark.parametrize(("gz", "manifest"), [(False, False), (True, False), (False, True), (True, True)])
def test_bulk_data_folder(tmp_path: Path, gz: bool, manifest: bool) -> None:
    folder = tmp_path / "export"
    _bulk(folder, gz, manifest)
    run = iter_patients([folder])
    weights = {r.patient_id: r.data["observations"][0]["value"] for r in run}
    assert weights == {"p1": 60, "p2": 80}
    assert run.report.errors == ()
    assert run.report.skipped["log.ndjson (Bulk Data client log)"] == 1


def test_bulk_data_folder_in_batch_has_no_error_records(tmp_path: Path) -> None:
    from screener.batch.inputs import iter_records

    folder = tmp_path / "export"
    _bulk(folder, gz=True, manifest=True)
    records = list(iter_records([folder]))
    assert [r.error for r in records] == [None, None]


def test_loose_resource_files_are_joined_by_subject(tmp_path: Path) -> None:
    from screener.batch.inputs import iter_records

    folder = tmp_path / "loose"
    folder.mkdir()
    _write(folder, "Patient-p1.json", patient("p1"))
    _write(folder, "Observation-1.json", quantity_obs("w1", "29463-7", 60, "kg"))
    _write(folder, "Observation-2.json", quantity_obs("w2", "29463-7", 61, "kg", pid="nobody"))
    run = iter_bundles([folder])
    (record,) = list(run)
    assert record.data["observations"][0]["value"] == 60
    assert any("Observation/w2" in i and "nobody" in i for i in _issues(run.report))
    records = list(iter_records([folder]))
    assert [r.data["patient_id"] for r in records if r.data] == ["p1"]
    assert any(r.error and "nobody" in r.error.message for r in records)
    assert load_patient_file(folder / "Patient-p1.json").patient_id == "p1"


# ------------------------------------------------------------------ §5 blood-gas oxygen state

LOINC_URI = "http://loinc.org"


def o2(code: str, value: float, unit: str) -> dict[str, Any]:
    return {
        "code": {"coding": [{"system": LOINC_URI, "code": code}]},
        "valueQuantity": {"value": value, "system": "http://unitsofmeasure.org", "code": unit},
    }


@pytest.mark.parametrize(
    ("components", "state"),
    [
        ([o2("3151-8", 2, "L/min")], True),
        ([o2("3151-8", 0, "L/min")], False),
        ([o2("3150-0", 21, "%")], False),
        ([o2("3150-0", 28, "%")], True),
        ([o2("3150-0", 0.4, "1")], True),
        ([o2("3150-0", 12, "%")], None),  # below room air: not a FiO2 that can be read
        ([], None),
    ],
)
def test_blood_gas_oxygen_state_from_components(
    tmp_path: Path, components: list[dict[str, Any]], state: bool | None
) -> None:
    gas = quantity_obs("g", "2703-7", 9.0, "kPa", component=components)
    record, _ = _one(tmp_path, patient(), gas)
    (item,) = record.data["observations"]
    assert item.get("on_oxygen") == state


@pytest.mark.parametrize(("same_time", "state"), [(True, True), (False, None)])
def test_blood_gas_oxygen_state_from_a_linked_observation(
    tmp_path: Path, same_time: bool, state: bool | None
) -> None:
    gas = quantity_obs("g", "2703-7", 9.0, "kPa")
    flow = {**quantity_obs("f", "3151-8", 3, "L/min"), "effectiveDateTime": gas["effectiveDateTime"]}
    if not same_time:
        flow["effectiveDateTime"] = "2026-11-10T09:30:00+01:00"
    record, report = _one(tmp_path, patient(), flow, gas)
    (item,) = record.data["observations"]
    assert item.get("on_oxygen") == state
    assert report.unmapped_count(LOINC_URI, "3151-8") == 0  # read, not unmapped


# ------------------------------------------------------------------------- §5 SLEDAI by text


@pytest.mark.parametrize(
    ("words", "score"),
    [
        ("SELENA-SLEDAI score", 8.0),
        ("SLEDAI-2K total", 8.0),
        ("SLEDAI descriptor: arthritis", None),
        ("Pain score", None),
    ],
)
def test_sledai_read_from_the_code_text_with_a_warning(
    tmp_path: Path, words: str, score: float | None
) -> None:
    obs = {
        "resourceType": "Observation",
        "id": "s",
        "status": "final",
        "code": {"text": words},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-11-18",
        "valueInteger": 8,
    }
    record, report = _one(tmp_path, patient(), obs)
    assessments = [a["score"] for a in record.data.get("assessments", [])]
    assert assessments == ([score] if score is not None else [])
    messages = [i.message for i in report.issues if i.level == "warning"]
    if score is not None:
        assert any("SELENA-SLEDAI score read from the code's words" in m for m in messages)
    else:
        assert any("no coded code" in m and words in m for m in messages)
