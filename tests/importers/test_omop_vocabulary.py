"""OMOP vocabulary tables in a CDM extract: Maps to, CONCEPT_ANCESTOR descendants, DRUG_STRENGTH."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from screener.engine.evaluate import Engine
from screener.importers import iter_patients
from screener.importers.omop import iter_omop
from tests.importers.conftest import shared_path
from tests.importers.fhir_builders import bundle, patient

AS_OF = date(2026, 11, 25)

# Concept ids are made up (> 2 000 000 000, the OMOP range for local concepts) except where the
# code itself matters: the codes are the real ones (SNOMED, ICD-10-CM, RxNorm).
_CONCEPTS = [
    ("2000000001", "Non-small cell lung cancer", "Condition", "SNOMED", "S", "254637007"),
    ("2000000002", "Adenocarcinoma of lung made-up child", "Condition", "SNOMED", "S", "999000001"),
    ("2000000003", "Malignant neoplasm of breast", "Condition", "ICD10CM", "", "C50.9"),
    ("2000000004", "Leiomyoma of uterus", "Condition", "ICD10CM", "", "D25.9"),
    ("2000000005", "Something unheard of", "Condition", "SNOMED", "S", "999000002"),
    ("2000000006", "Breast cancer standard", "Condition", "SNOMED", "S", "254837009"),
    ("2000000010", "prednisone", "Drug", "RxNorm", "S", "8640"),
    ("2000000011", "prednisone 20 MG Oral Tablet", "Drug", "RxNorm", "S", "312615"),
    ("2000000012", "a local prednisone product", "Drug", "RxNorm Extension", "S", "OMOP000001"),
    ("8576", "milligram", "Unit", "UCUM", "S", "mg"),
]
CONCEPT = (
    "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,"
    "valid_start_date,valid_end_date,invalid_reason\n"
    + "".join(f"{i},{n},{d},{v},X,{s},{c},1970-01-01,2099-12-31,\n" for i, n, d, v, s, c in _CONCEPTS)
)
PERSON = (
    "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,gender_source_value\n"
    "1,0,1980,1,2,,F\n"
)
CONDITIONS = (
    "condition_occurrence_id,person_id,condition_concept_id,condition_source_concept_id,condition_source_value,"
    "condition_start_date,condition_end_date\n"
    "11,1,2000000002,0,,2024-01-01,\n"  # descendant of NSCLC (CONCEPT_ANCESTOR)
    "12,1,0,2000000003,C50.9,2024-01-01,\n"  # ICD-10-CM source concept only
    "13,1,0,2000000004,D25.9,2024-01-01,\n"  # benign: not used
    "14,1,2000000005,0,metastatic carcinoma,2024-01-01,\n"  # unknown code, suspicious text
)
DRUGS = (
    "drug_exposure_id,person_id,drug_concept_id,drug_source_concept_id,drug_source_value,"
    "drug_exposure_start_date,drug_exposure_end_date,quantity,days_supply,route_concept_id,route_source_value\n"
    "21,1,2000000012,0,,2026-10-01,2026-10-30,30,30,0,\n"  # strength from DRUG_STRENGTH
    "22,1,2000000011,0,,2026-09-01,2026-09-30,60,30,0,\n"  # strength from the RxNorm name
)
ANCESTOR = (
    "ancestor_concept_id,descendant_concept_id,min_levels_of_separation,max_levels_of_separation\n"
    "2000000001,2000000002,1,1\n2000000002,2000000002,0,0\n2000000010,2000000012,1,1\n"
)
RELATIONSHIP = (
    "concept_id_1,concept_id_2,relationship_id,valid_start_date,valid_end_date,invalid_reason\n"
    "2000000003,2000000006,Maps to,1970-01-01,2099-12-31,\n"
)
STRENGTH = (
    "drug_concept_id,ingredient_concept_id,amount_value,amount_unit_concept_id,numerator_value,"
    "numerator_unit_concept_id,denominator_value,denominator_unit_concept_id,box_size,valid_start_date,"
    "valid_end_date,invalid_reason\n"
    "2000000012,2000000010,5,8576,,,,,,1970-01-01,2099-12-31,\n"
)


def _cdm(tmp_path: Path, vocabulary: bool = True) -> Path:
    files = {
        "PERSON.csv": PERSON,
        "CONCEPT.csv": CONCEPT,
        "CONDITION_OCCURRENCE.csv": CONDITIONS,
        "DRUG_EXPOSURE.csv": DRUGS,
    }
    if vocabulary:
        files |= {
            "CONCEPT_ANCESTOR.csv": ANCESTOR,
            "CONCEPT_RELATIONSHIP.csv": RELATIONSHIP,
            "DRUG_STRENGTH.csv": STRENGTH,
        }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_vocabulary_tables_classify_descendants_source_concepts_and_strengths(tmp_path: Path) -> None:
    run = iter_omop([_cdm(tmp_path)])
    (record,) = list(run)
    conditions = {c["source"]: c for c in record.data["conditions"]}
    assert conditions["condition_occurrence/11"]["type"] == "malignant_neoplasm"  # via CONCEPT_ANCESTOR
    assert conditions["condition_occurrence/12"]["type"] == "malignant_neoplasm"  # C50.9 range (and Maps to)
    assert "condition_occurrence/13" not in conditions  # benign
    assert conditions["condition_occurrence/14"]["verification"] == "unconfirmed"
    meds = {m["source"]: m for m in record.data["medications"]}
    assert (meds["drug_exposure/21"]["drug"], meds["drug_exposure/21"]["dose"]) == (
        "prednisone",
        5.0,
    )  # 30 x 5 mg / 30 d
    assert (meds["drug_exposure/22"]["drug"], meds["drug_exposure/22"]["dose"]) == (
        "prednisone",
        40.0,
    )  # 60 x 20 / 30
    report = run.report
    assert report.answered == {
        "condition_occurrence: OMOP CONCEPT_ANCESTOR": 1,
        "condition_occurrence: ICD-10-CM C00-C96 range": 1,
        "condition_occurrence: text safety net": 1,
        "drug_exposure: OMOP DRUG_STRENGTH": 1,
        "drug_exposure: RxNorm name parse": 1,
    }
    assert report.skipped == {"condition_occurrence (benign neoplasm: not an active neoplasia (E7))": 1}


def test_without_vocabulary_tables_descendants_are_not_guessed(tmp_path: Path) -> None:
    (record,) = list(iter_omop([_cdm(tmp_path, vocabulary=False)]))
    conditions = {c["source"]: c for c in record.data["conditions"]}
    # no hierarchy: the descendant is not classified, but its name names a malignancy, so the
    # safety net keeps it as an unconfirmed neoplasia (never a silent pass)
    assert conditions["condition_occurrence/11"]["verification"] == "unconfirmed"
    assert "type" not in conditions["condition_occurrence/11"]
    assert conditions["condition_occurrence/12"]["type"] == "malignant_neoplasm"
    meds = {m["source"] for m in record.data.get("medications", []) if m["drug"] != "other_medication"}
    assert meds == {"drug_exposure/22"}  # the local product needs DRUG_STRENGTH or CONCEPT_ANCESTOR


def test_source_concept_maps_to_standard_one(tmp_path: Path) -> None:
    concept = CONCEPT.replace(
        "2000000003,Malignant neoplasm of breast,Condition,ICD10CM,X,,C50.9",
        "2000000003,Local breast code,Condition,Local,X,,XYZ",
    )
    assert concept != CONCEPT
    _cdm(tmp_path)
    (tmp_path / "CONCEPT.csv").write_text(concept, encoding="utf-8")
    (record,) = list(iter_omop([tmp_path]))
    conditions = {c["source"]: c for c in record.data["conditions"]}
    assert conditions["condition_occurrence/12"]["type"] == "malignant_neoplasm"  # XYZ -> 254837009


def test_same_patient_from_fhir_and_omop_gives_the_same_conditions(tmp_path: Path, engine: Engine) -> None:
    """Differential: the codes of the OMOP rows, written as FHIR Conditions, import and screen alike."""
    omop_dir = tmp_path / "omop"
    omop_dir.mkdir()
    (omop,) = list(iter_omop([_cdm(omop_dir)]))
    fhir_conditions = [
        {
            "resourceType": "Condition",
            "id": f"c{i}",
            "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": system, "code": code}], "text": text},
            "onsetDateTime": "2024-01-01",
        }
        for i, (system, code, text) in enumerate(
            [
                ("http://snomed.info/sct", "254637007", None),
                ("http://hl7.org/fhir/sid/icd-10-cm", "C50.9", None),
                ("http://hl7.org/fhir/sid/icd-10-cm", "D25.9", None),
                ("http://snomed.info/sct", "999000002", "metastatic carcinoma"),
            ]
        )
    ]
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(birth="1980-01-02"), *fhir_conditions)), encoding="utf-8")
    (fhir,) = list(iter_patients([path], format="fhir"))

    def shape(record) -> list[tuple]:
        return sorted(
            (c["name"], c.get("type") or "", c.get("verification") or "", c["status"])
            for c in record.data["conditions"]
        )

    assert shape(fhir) == shape(omop)
    outcomes = [
        {c.id: c.outcome for c in engine.screen(r.patient(), AS_OF).criteria}["E7"] for r in (fhir, omop)
    ]
    assert outcomes == ["fail", "fail"]


def test_shared_eunomia_extract_reads_its_empty_vocabulary_tables() -> None:
    cdm = shared_path("data", "synthea27nj-omop")
    run = iter_omop([cdm])
    records = list(run)
    assert len(records) == 28 and run.report.errors == ()
    # CONCEPT_ANCESTOR and DRUG_STRENGTH ship with headers only: answers come from the mapping
    assert set(run.report.answered) <= {
        "condition_occurrence: bundled map",
        "condition_occurrence: text safety net",
        "condition_occurrence: ICD-10-CM C00-C96 range",
        "drug_exposure: bundled map",
        "drug_exposure: RxNorm name parse",
        "procedure_occurrence: bundled map",  # contraceptive procedures (issue 11 §5)
    }
    assert run.report.answered["drug_exposure: bundled map"] > 0
    # README: "drug misuse" - SNOMED 361055000 "Misuses drugs" is in no value set; the safety net
    # keeps it as an unconfirmed substance abuse (E11 unknown with a to-do), not a silent pass
    assert run.report.answered["condition_occurrence: text safety net"] == 1
    (misuse,) = [c for r in records for c in r.data.get("conditions", []) if c.get("verification")]
    assert (misuse["name"], misuse["verification"]) == ("substance_abuse", "unconfirmed")
