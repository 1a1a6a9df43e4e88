"""Issue 11 §1 end to end: hierarchies decide E7 from FHIR, the safety net keeps unclassified
records, the report says who answered."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.importers import iter_patients
from screener.importers.mapping import TERMINOLOGY_ENV, load_mapping
from tests.importers.fhir_builders import SNOMED, bundle, patient

AS_OF = date(2026, 11, 25)
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _condition(
    cid: str, system: str | None, code: str | None, display: str = "", text: str | None = None
) -> dict:
    concept: dict = {}
    if code is not None:
        concept["coding"] = [{"system": system, "code": code, "display": display}]
    if text is not None:
        concept["text"] = text
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": concept,
        "onsetDateTime": "2024-01-01",
    }


def _import(tmp_path: Path, *conditions: dict):
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), *conditions)), encoding="utf-8")
    run = iter_patients([path], format="fhir")
    records = list(run)
    assert len(records) == 1
    return records[0], run.report


@pytest.mark.parametrize(
    ("system", "code", "display", "e7"),
    [
        (SNOMED, "254637007", "Non-small cell lung cancer (disorder)", "fail"),
        (SNOMED, "254837009", "Malignant neoplasm of breast (disorder)", "fail"),
        (ICD10CM, "C50.9", "Malignant neoplasm of breast of unspecified site", "fail"),
        (ICD10CM, "C43.9", "Malignant melanoma of skin, unspecified", "fail"),
        (ICD10CM, "C44.91", "Basal cell carcinoma of skin, unspecified", "pass"),
        (ICD10CM, "C44.1221", "Squamous cell carcinoma of skin of right upper eyelid", "pass"),
        (ICD10CM, "D06.9", "Carcinoma in situ of cervix, unspecified", "pass"),
        (ICD10CM, "D05.10", "Intraductal carcinoma in situ of unspecified breast", "fail"),
        (ICD10CM, "C44.00", "Unspecified malignant neoplasm of skin of lip", "unknown"),
        (ICD10CM, "D25.9", "Leiomyoma of uterus, unspecified", "pass"),
    ],
)
def test_e7_from_a_coded_condition(
    tmp_path: Path, engine: Engine, system: str, code: str, display: str, e7: str
) -> None:
    # with the SLE diagnosis beside it the record has a diagnosis list, so "no neoplasia
    # recorded" can count as none (rule set 1.1.0: without any diagnosis E7 is unknown)
    sle = _condition("c0", ICD10CM, "M32.14", "Glomerular disease in systemic lupus erythematosus")
    record, report = _import(tmp_path, sle, _condition("c1", system, code, display))
    outcome = {c.id: c.outcome for c in engine.screen(record.patient(), AS_OF).criteria}["E7"]
    assert outcome == e7
    if code == "D25.9":
        assert report.skipped == {"Condition (benign neoplasm: not an active neoplasia (E7))": 1}
        # the benign neoplasm names no criterion: only the diagnosis-list marker stands for it
        assert [c["name"] for c in record.data["conditions"]] == ["sle", "other_diagnosis"]


def test_report_says_which_terminology_answered(tmp_path: Path) -> None:
    _record, report = _import(
        tmp_path,
        _condition("c1", ICD10CM, "C50.9"),
        _condition("c2", SNOMED, "254637007"),
        _condition("c3", ICD10CM, "M32.14"),
    )
    assert report.answered == {"Condition: ICD-10-CM C00-C96 range": 1, "Condition: bundled map": 2}
    assert report.to_dict()["answered_by"] == report.answered
    text = report.render_text()
    assert "codes answered by: Condition: ICD-10-CM C00-C96 range 1" in text
    # each code answered outside the bundled map is listed with who answered it
    assert [a.to_dict() for a in report.answered_codes] == [
        {"kind": "Condition", "via": "ICD-10-CM C00-C96 range", "code": f"{ICD10CM}|C50.9", "count": 1}
    ]
    assert f"Condition  {ICD10CM}|C50.9  by ICD-10-CM C00-C96 range" in text


def test_rxnorm_312615_from_fhir_is_a_daily_dose_of_prednisone_in_mg(tmp_path: Path, engine: Engine) -> None:
    from tests.importers.fhir_builders import RXNORM

    request = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-10-01",
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "312615", "display": "predniSONE 20 MG Oral Tablet"}]
        },
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB"}}],
            }
        ],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), request)), encoding="utf-8")
    run = iter_patients([path], format="fhir")
    (record,) = list(run)
    (med,) = record.data["medications"]
    assert (med["drug"], med["dose"], med["unit"], med["route"], med["frequency"]) == (
        "prednisone",
        20.0,
        "mg",
        "oral",
        "daily",
    )
    assert run.report.answered == {"MedicationRequest: RxNorm name parse": 1}
    assert record.patient().medications[0].dose_mg == 20.0


@pytest.mark.parametrize(
    ("code", "text", "name"),
    [
        (None, "Adenocarcinoma of the lung, stage IV", "neoplasia"),
        ("999999999", "HIV infection, on treatment", "hiv_infection"),
        (None, "chronic hepatitis B", "chronic_hepatitis_b"),
        (None, "First-episode psychosis", "psychotic_disorder"),
        (None, "Opioid use disorder", "substance_abuse"),
    ],
)
def test_unclassified_condition_naming_a_criterion_is_kept_unconfirmed(
    tmp_path: Path, code: str | None, text: str, name: str
) -> None:
    record, report = _import(tmp_path, _condition("c9", SNOMED if code else None, code, text=text))
    (cond,) = record.data["conditions"]
    assert (cond["name"], cond["verification"], cond["source"]) == (name, "unconfirmed", "Condition/c9")
    assert "type" not in cond  # never one of E7's exceptions
    warnings = [i for i in record.issues if "to confirm" in i.message]
    assert len(warnings) == 1 and text in warnings[0].message
    assert report.answered == {"Condition: text safety net": 1}
    (answered,) = report.answered_codes
    assert answered.via == "text safety net" and (text in answered.code or code in answered.code)
    assert record.patient().conditions[0].verification == "unconfirmed"


@pytest.mark.parametrize("text", ["Sprain of ankle", "Family history of cancer", "Benign tumour of skin"])
def test_text_naming_no_criterion_stays_unmapped(tmp_path: Path, text: str) -> None:
    record, report = _import(tmp_path, _condition("c9", SNOMED, "44465007", text, text=text))
    # only the marker that the record has a diagnosis list (record_lists), no criterion's condition
    assert [c["name"] for c in record.data["conditions"]] == ["other_diagnosis"]
    assert record.data["conditions"][0].get("verification") is None
    assert report.unmapped_count(SNOMED, "44465007") == 1


def test_unconfirmed_neoplasia_never_passes_e7(tmp_path: Path, engine: Engine) -> None:
    record, _report = _import(tmp_path, _condition("c9", None, None, text="metastatic melanoma"))
    assert {c.id: c.outcome for c in engine.screen(record.patient(), AS_OF).criteria}["E7"] != "pass"


def test_mapping_is_parsed_once_per_file_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TERMINOLOGY_ENV, raising=False)
    assert load_mapping() is load_mapping()
    copy = tmp_path / "m.yaml"
    copy.write_text((Path(load_mapping().file)).read_text(encoding="utf-8"), encoding="utf-8")
    first = load_mapping(copy)
    assert load_mapping(copy) is first
    copy.write_text(copy.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert load_mapping(copy) is not first  # changed file: parsed again


def test_terminology_directory_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screener.terminology.local import TerminologyError

    monkeypatch.setenv(TERMINOLOGY_ENV, str(tmp_path / "missing"))
    with pytest.raises(TerminologyError, match="does not exist"):
        load_mapping()
    monkeypatch.setenv(TERMINOLOGY_ENV, str(tmp_path))
    with pytest.raises(TerminologyError, match="no terminology found"):
        load_mapping()
