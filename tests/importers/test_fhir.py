"""FHIR R4 Bundle importer: the SMART Synthea sample and hand-made bundles."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.importers import iter_patients
from screener.importers.fhir import iter_bundles
from tests.importers.conftest import shared_path
from tests.importers.fhir_builders import LOINC, RXNORM, SNOMED, bundle, coded_obs, patient, quantity_obs

AS_OF = date(2026, 11, 25)


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _one(tmp_path: Path, *resources: dict) -> tuple:
    run = iter_bundles([_write(tmp_path, "b.json", bundle(*resources))])
    records = list(run)
    assert len(records) == 1
    return records[0], run.report


def test_every_sample_patient_converts_and_screens_ineligible_for_no_sle(engine: Engine) -> None:
    sample = shared_path("data", "smart-r4-synthea-sample")
    run = iter_patients([sample])
    records = list(run)
    assert len(records) == 11
    report = run.report
    assert report.patients == 11 and report.patients_failed == 0
    assert report.errors == ()
    by_file = {Path(r.file).name.split("_")[0] + "_" + Path(r.file).name.split("_")[1]: r for r in records}
    for record in records:
        result = engine.screen(record.patient(), AS_OF)
        assert result.decision == "ineligible", record.patient_id
        outcomes = {c.id: c.outcome for c in result.criteria}
        assert outcomes["I2"] == "fail"  # no SLE diagnosis in any of them
        for obs in record.data.get("observations", []):
            assert obs["source"].startswith("Observation/")
    # CHF patients: coded heart failure (SNOMED 88805009, VSAC Heart Failure) excludes by E3.
    for name in ("Martina_Murazik", "Tiera_Boyle"):
        record = by_file[name]
        assert [c["name"] for c in record.data["conditions"]] == ["heart_failure", "other_diagnosis"]
        outcomes = {c.id: c.outcome for c in engine.screen(record.patient(), AS_OF).criteria}
        assert outcomes["E3"] == "fail"
    # The others have no heart-failure record.
    assert [c["name"] for c in by_file["Angelic_Mueller"].data["conditions"]] == ["other_diagnosis"]
    # Creatinine 38483-4 arrives in mg/dL with its source; methotrexate 105586 maps to the ingredient.
    creat = [o for o in by_file["Martina_Murazik"].data["observations"] if o["name"] == "creatinine"]
    assert creat and all(o["unit"] == "mg/dL" for o in creat)
    assert {m["drug"] for m in by_file["Willy_Koepp"].data["medications"]} == {
        "methotrexate",
        "other_medication",
    }
    # Unmapped codes are counted, not dropped: systolic BP appears in every bundle.
    assert report.unmapped_count("http://loinc.org", "8480-6") > 11
    assert report.skipped["Encounter"] > 0


def test_creatinine_umol_converted_and_bad_unit_reported(tmp_path: Path) -> None:
    record, report = _one(
        tmp_path,
        patient(),
        quantity_obs("cr", "14682-9", 88.4, "umol/L"),
        quantity_obs("hb", "718-7", 112, "g/L"),
        quantity_obs("hb2", "718-7", 7.0, "mmol/L"),  # refused unit: reported, not imported
        quantity_obs("wt", "29463-7", "heavy", "kg"),  # non-numeric
    )
    p = record.patient()
    creat = [o for o in p.observations if o.name == "creatinine"]
    assert len(creat) == 1 and creat[0].value == pytest.approx(1.0) and creat[0].unit == "mg/dL"
    assert creat[0].original == "88.4 umol/L" and creat[0].source == "Observation/cr"
    assert creat[0].date == date(2026, 11, 10)  # date as written, no time-zone shift
    assert [o.value for o in p.observations if o.name == "hemoglobin"] == [pytest.approx(11.2)]
    fields = {(i.field, i.patient_id) for i in report.issues}
    assert ("entry[3].resource.value", "p1") in fields
    assert ("entry[4].resource.value", "p1") in fields
    assert any("mmol/L" in i.message for i in report.issues)
    assert any("'heavy'" in i.message or "heavy" in i.message for i in report.issues)


def test_coded_answers_statuses_and_unknown_answer(tmp_path: Path) -> None:
    record, report = _one(
        tmp_path,
        patient(),
        coded_obs("ana", "8061-4", SNOMED, "10828004"),
        coded_obs("hiv", "56888-1", LOINC, "LA6577-6"),
        coded_obs("hbs", "5196-1", SNOMED, "999999999", display="Equivocal"),
        coded_obs("preg", "82810-3", SNOMED, "77386006"),
        coded_obs("bf", "63895-7", LOINC, "LA29253-4"),
        coded_obs("unk", "82810-3", LOINC, "LA4489-6", when="2026-11-11"),
    )
    values = {o["name"]: o["value"] for o in record.data["observations"]}
    assert values == {"ana": "positive", "hiv": "negative"}
    statuses = {(s["name"], s["value"]) for s in record.data["statuses"]}
    assert statuses == {("pregnant", True), ("breastfeeding", False)}  # "unknown" answer gives no fact
    assert report.unmapped_count(SNOMED, "999999999") == 1
    assert [i.field for i in report.issues] == ["entry[3].resource.value"]


def test_medications_contained_reference_administrations_and_statuses(tmp_path: Path) -> None:
    pred = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "urn:uuid:p1"},
        "authoredOn": "2026-06-01",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m",
                "code": {"text": "local"},
                "ingredient": [{"itemCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]}}],
            }
        ],
        "medicationReference": {"reference": "#m"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "route": {"text": "Oral route"},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 10,
                            "unit": "mg",
                            "system": "http://unitsofmeasure.org",
                            "code": "mg",
                        }
                    }
                ],
            }
        ],
    }
    ritux = [
        {
            "resourceType": "MedicationAdministration",
            "id": f"ma{i}",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": d,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "121191"}]},
            "dosage": {
                "dose": {"value": 1, "unit": "g", "system": "http://unitsofmeasure.org", "code": "g"},
                "route": {"text": "Intravenous"},
            },
        }
        for i, d in enumerate(["2026-03-01", "2026-03-15"])
    ]
    cancelled = {**ritux[0], "id": "ma9", "status": "entered-in-error", "effectiveDateTime": "2026-10-01"}
    unknown_drug = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-01-01",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "1", "display": "Thing"}]},
    }
    record, report = _one(tmp_path, patient(), pred, *ritux, cancelled, unknown_drug)
    meds = {m["drug"]: m for m in record.data["medications"]}
    assert set(meds) == {"prednisone", "rituximab", "other_medication"}  # the unknown drug: a history
    assert meds["prednisone"] == {
        "drug": "prednisone",
        "start": "2026-06-01",
        "source": "MedicationRequest/mr1",
        "route": "oral",
        "frequency": "daily",
        "dose": 10.0,
        "unit": "mg",
    }
    assert meds["rituximab"]["administrations"] == ["2026-03-01", "2026-03-15"]
    assert meds["rituximab"]["route"] == "iv" and meds["rituximab"]["dose"] == 1.0
    assert report.unmapped_count(RXNORM, "1") == 1
    assert report.skipped["MedicationAdministration (entered-in-error)"] == 1


def test_consent_coverage_research_subject(tmp_path: Path, engine: Engine) -> None:
    consent = {
        "resourceType": "Consent",
        "id": "c1",
        "status": "active",
        "dateTime": "2026-11-20",
        "patient": {"reference": "Patient/p1"},
        "scope": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]
        },
    }
    privacy = {**consent, "id": "c2", "scope": {"coding": [{"code": "patient-privacy"}]}}
    coverage = {
        "resourceType": "Coverage",
        "id": "cov",
        "status": "active",
        "beneficiary": {"reference": "Patient/p1"},
        "period": {"start": "2020-01-01"},
    }
    on = {
        "resourceType": "ResearchSubject",
        "id": "rs1",
        "status": "on-study",
        "individual": {"reference": "Patient/p1"},
        "period": {"start": "2026-11-01"},
    }
    off = {**on, "id": "rs2", "status": "off-study"}
    ours = {
        **on,
        "id": "rs3",
        "study": {"identifier": {"value": "NCT03562065"}},
        "period": {"start": "2026-11-24"},
    }
    record, report = _one(tmp_path, patient(), consent, privacy, coverage, on, off, ours)
    statuses = {(s["name"], s["value"], s.get("date"), s["source"]) for s in record.data["statuses"]}
    # a coverage whose payor is not named is not read as French social security (I9);
    # an on-study participation with no end is current: undated, so never judged stale (E14)
    assert statuses == {
        ("informed_consent", True, "2026-11-20", "Consent/c1"),
        ("in_other_study", True, None, "ResearchSubject/rs1"),
    }
    assert report.skipped["Coverage (payor not identified as French social security)"] == 1
    assert report.unmapped_count("", "patient-privacy") == 1
    assert report.skipped["ResearchSubject (this trial)"] == 1
    outcomes = {c.id: c.outcome for c in engine.screen(record.patient(), AS_OF).criteria}
    assert outcomes["E14"] == "fail"  # currently in another study


def test_malformed_files_and_records_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    good = _write(tmp_path, "a.json", bundle(patient("p1"), quantity_obs("w", "29463-7", 60, "kg")))
    broken = tmp_path / "b.json"
    broken.write_text('{"resourceType": "Bundle",\n "entry": [\n', encoding="utf-8")
    orphan = _write(
        tmp_path,
        "c.json",
        bundle(
            patient("p2"),
            quantity_obs("nodate", "29463-7", 70, "kg", when=None, pid="p2"),
            quantity_obs("orph", "29463-7", 70, "kg", pid="nobody"),
            {
                "resourceType": "Condition",
                "id": "cd",
                "subject": {"reference": "Patient/p2"},
                "code": {"coding": [{"system": SNOMED, "code": "55464009"}]},
                "clinicalStatus": {"coding": [{"code": "resolved"}]},
                "onsetDateTime": "2019-05",
                "abatementDateTime": "2021-02-03",
            },
        ),
    )
    run = iter_bundles([good, broken, orphan])
    records = {r.patient_id: r for r in run}
    assert set(records) == {"p1", "p2"}
    issues = run.report.issues
    assert any(i.file == str(broken) and i.line is not None and "malformed JSON" in i.message for i in issues)
    assert any(i.file == str(orphan) and "nobody" in i.message for i in issues)
    nodate = [i for i in issues if i.field == "entry[1].resource.effectiveDateTime"]
    assert len(nodate) == 1 and nodate[0].patient_id == "p2"
    sle = records["p2"].data["conditions"][0]
    assert sle == {"name": "sle", "status": "resolved", "source": "Condition/cd", "end": "2021-02-03"}
    assert any("not a full date" in i.message and i.level == "warning" for i in issues)


def test_censored_and_absent_values_are_not_taken_as_exact(tmp_path: Path) -> None:
    censored = quantity_obs("n1", "751-8", 0.5, "10*9/L")
    censored["valueQuantity"]["comparator"] = "<"
    absent = quantity_obs("n2", "751-8", None, None)
    del absent["valueQuantity"]
    absent["dataAbsentReason"] = {"text": "not performed"}
    exact = quantity_obs("n3", "751-8", 0.49, "10*9/L", when="2026-11-01")
    issued_only = quantity_obs("n4", "751-8", 1.2, "10*9/L", when=None, issued="2026-11-03T10:00:00Z")
    record, report = _one(tmp_path, patient(), censored, absent, exact, issued_only)
    got = [(o["value"], o["date"], o["source"]) for o in record.data["observations"]]
    assert got == [(0.49, "2026-11-01", "Observation/n3"), (1.2, "2026-11-03", "Observation/n4")]
    messages = sorted((i.level, i.message) for i in report.issues)
    assert messages == [
        ("warning", "neutrophils: censored value <0.5 not imported"),
        ("warning", "neutrophils: no value (not performed); not imported"),
        ("warning", "no effective date; the report date 2026-11-03 is used"),
    ]


def test_icd10_codes_match_with_or_without_the_dot(tmp_path: Path) -> None:
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    conditions = [
        {
            "resourceType": "Condition",
            "id": f"c{i}",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": icd, "code": code}]},
            "onsetDateTime": "2020-01-01",
        }
        for i, code in enumerate(["M3214", "I50.23", "D46.9", "C44.91", "M32.0"])
    ]
    record, report = _one(tmp_path, patient(), *conditions)
    got = [(c["name"], c.get("type")) for c in record.data["conditions"]]
    assert got == [
        ("sle", None),
        ("heart_failure", None),
        ("myelodysplasia", None),
        ("neoplasia", "basal_cell_carcinoma"),
        ("other_diagnosis", None),  # M32.0, drug-induced lupus: read by no criterion
    ]
    assert report.unmapped_count(icd, "M32.0") == 1  # drug-induced lupus is not SLE for I2
