"""OMOP CDM 5.3/5.4 CSV importer on the Eunomia Synthea27Nj data and on hand-made tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from screener.engine.evaluate import Engine
from screener.importers import iter_patients
from screener.importers.omop import iter_omop
from tests.importers.conftest import shared_path

AS_OF = date(2026, 11, 25)


def test_eunomia_persons_convert_and_screen_ineligible(engine: Engine) -> None:
    cdm = shared_path("data", "synthea27nj-omop")
    run = iter_patients([cdm])  # format detected from PERSON.csv
    records = list(run)
    assert len(records) == 28  # README: 28 persons
    report = run.report
    assert report.format == "omop-cdm-5.4" and report.errors == () and report.patients_failed == 0
    decisions = set()
    for record in records:
        # Observation periods end by 2022: on 2026-11-25 the record does not cover the screening
        # date, so "no SLE recorded" is not "no SLE" (I2 unknown); at the end of the observed
        # period it is (I2 fails).
        observed = record.data["demographics"]["observed"]
        last = max(date.fromisoformat(p["end"]) for p in observed)
        assert last < AS_OF
        result = engine.screen(record.patient(), AS_OF)
        decisions.add(result.decision)
        assert {c.id: c.outcome for c in result.criteria}["I2"] == "unknown", record.patient_id
        assert engine.outcomes(record.patient(), last)["I2"] == "fail", record.patient_id
    assert "eligible" not in decisions and "incomplete" in decisions  # no SLE is unknown after 2022
    # README: 3 deaths (DEATH.csv)
    dead = [r for r in records if r.data["demographics"].get("deceased")]
    assert len(dead) == 3
    assert all(engine.screen(r.patient(), AS_OF).decision_reason for r in dead)
    with_hf = [r for r in records if any(c["name"] == "heart_failure" for c in r.data.get("conditions", []))]
    assert len(with_hf) >= 1
    assert all(
        {c.id: c.outcome for c in engine.screen(r.patient(), AS_OF).criteria}["E3"] == "fail" for r in with_hf
    )
    # AST/ALT have no unit concept (0) and come in through unit_source_value U/L.
    names = {o["name"] for r in records for o in r.data.get("observations", [])}
    assert {"ast", "alt", "creatinine", "weight", "height", "hemoglobin", "platelets", "lvef"} <= names
    assert all(
        o["source"].startswith(("measurement/", "observation/"))
        for r in records
        for o in r.data.get("observations", [])
    )
    # README: HIV antigen is SNOMED 31676001 in the measurement table; not in the mapping, so counted.
    assert report.unmapped_count("http://snomed.info/sct", "31676001") > 0
    # cyclosporine 241834 (product) -> ingredient
    assert any(m["drug"] == "cyclosporine" for r in records for m in r.data.get("medications", []))


def test_limit_samples_persons() -> None:
    cdm = shared_path("data", "synthea27nj-omop")
    assert [r.patient_id for r in iter_omop([cdm], limit=3)] == ["1", "2", "3"]
    assert [r.patient_id for r in iter_omop([cdm], person_ids=["7", "28"])] == ["7", "28"]


PERSON = (
    "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,gender_source_value\n"
    "1,0,1990,5,4,,F\n"
    "2,0,1960,,,,M\n"
)
MEASUREMENT = (
    "measurement_id,person_id,measurement_concept_id,measurement_date,value_as_number,value_as_concept_id,"
    "unit_concept_id,unit_source_value,measurement_source_value,measurement_source_concept_id,range_low,range_high\n"
    "10,1,0,2026-11-01,88.4,0,0,umol/L,14682-9,0,,\n"
    "11,1,0,2026-11-01,abc,0,0,U/L,1920-8,0,,\n"
    "12,1,0,,30,0,0,U/L,1742-6,0,,\n"
    "13,1,0,2026-11-02,31,0,0,U/L,1920-8,0,10,35\n"
    "14,1,0,2026-11-02,5,0,0,furlongs,718-7,0,,\n"
    "15,1,0,2026-11-02,5,0,0\n"
    "16,2,0,2026-11-02,98,0,0,mmHg,9999-9,0,,\n"
)


def test_handmade_tables_without_concept_file(tmp_path: Path) -> None:
    (tmp_path / "person.csv").write_text(PERSON, encoding="utf-8")
    (tmp_path / "measurement.csv").write_text(MEASUREMENT, encoding="utf-8")
    run = iter_omop([tmp_path])
    records = {r.patient_id: r for r in run}
    assert set(records) == {"1", "2"}
    p1 = records["1"].patient()
    assert [(o.name, round(o.value, 3)) for o in p1.observations] == [("creatinine", 1.0), ("ast", 31.0)]
    ast = next(o for o in p1.observations if o.name == "ast")
    assert ast.reference_high == 35 and ast.source == "measurement/13"
    assert p1.sex == "female" and p1.birth_date == date(1990, 5, 4)
    issues = {(Path(i.file).name, i.line, i.field): i for i in run.report.issues}
    assert "not a number" in issues[("measurement.csv", 3, "value_as_number")].message
    assert "not a full date" in issues[("measurement.csv", 4, "measurement_date")].message
    assert "furlongs" in issues[("measurement.csv", 6, "value_as_number")].message
    assert ("measurement.csv", 7, None) in issues  # short row
    assert any(i.level == "warning" and "no CONCEPT table" in i.message for i in run.report.issues)
    assert records["2"].data["demographics"] == {"source": "person/2", "sex": "male"}
    assert run.report.unmapped_count("http://loinc.org", "9999-9") == 1


def test_censored_measurement_and_concepts(tmp_path: Path) -> None:
    (tmp_path / "PERSON.csv").write_text(
        "person_id,gender_concept_id,birth_datetime,gender_source_value\n1,8532,1990-05-04 00:00:00,\n",
        encoding="utf-8",
    )
    (tmp_path / "MEASUREMENT.csv").write_text(
        "measurement_id,person_id,measurement_concept_id,measurement_date,value_as_number,value_as_concept_id,"
        "operator_concept_id,unit_concept_id,unit_source_value,measurement_source_value\n"
        "1,1,100,2026-11-01,0.5,0,900,0,10*9/L,x\n"
        "2,1,100,2026-11-02,0.4,0,901,0,10*9/L,x\n"
        "3,1,101,2026-11-02,,200,0,0,,y\n",
        encoding="utf-8",
    )
    (tmp_path / "CONCEPT.csv").write_text(
        "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code\n"
        "8532,FEMALE,Gender,Gender,Gender,S,F\n"
        "100,Neutrophils [#/volume] in Blood,Measurement,LOINC,Lab Test,S,26499-4\n"
        "101,Nuclear Ab [Presence] in Serum,Measurement,LOINC,Lab Test,S,8061-4\n"
        "200,Positive,Meas Value,SNOMED,Qualifier Value,S,10828004\n"
        "900,<,Meas Value Operator,Meas Value Operator,Meas Value Operator,S,4171756\n"
        "901,=,Meas Value Operator,Meas Value Operator,Meas Value Operator,S,4172703\n",
        encoding="utf-8",
    )
    (tmp_path / "CDM_SOURCE.csv").write_text("cdm_source_name,cdm_version\nx,v5.3.1\n", encoding="utf-8")
    run = iter_omop([tmp_path])
    (record,) = list(run)
    assert run.report.format == "omop-cdm-5.3.1"  # CDM 5.3 read, and labelled as such
    assert record.data["demographics"]["sex"] == "female"
    assert [(o["name"], o["value"]) for o in record.data["observations"]] == [
        ("neutrophils", 0.4),
        ("ana", "positive"),
    ]
    (issue,) = run.report.issues
    assert issue.line == 2 and issue.level == "warning" and "censored value <0.5" in issue.message


PERSONS = "person_id,gender_source_value,birth_datetime\n1,F,1990-05-04\n2,M,1980-01-01\n3,F,1985-01-01\n"


def test_death_observation_period_and_cdm_version(tmp_path: Path, engine: Engine) -> None:
    (tmp_path / "person.csv").write_text(PERSONS, encoding="utf-8")
    (tmp_path / "death.csv").write_text(
        "person_id,death_date\n2,2025-02-03\n3,not a date\n", encoding="utf-8"
    )
    (tmp_path / "observation_period.csv").write_text(
        "observation_period_id,person_id,observation_period_start_date,observation_period_end_date\n"
        "1,1,2010-01-01,2020-12-31\n2,1,2024-01-01,\n3,2,2010-01-01,2026-11-24\n",
        encoding="utf-8",
    )
    (tmp_path / "condition_occurrence.csv").write_text(
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_source_value\n",
        encoding="utf-8",
    )
    (tmp_path / "cdm_source.csv").write_text("cdm_source_name,cdm_version\nx,6.0\n", encoding="utf-8")
    run = iter_omop([tmp_path])
    records = {r.patient_id: r.data["demographics"] for r in run}
    assert records["1"]["observed"] == [{"start": "2010-01-01", "end": "2020-12-31"}, {"start": "2024-01-01"}]
    assert records["2"]["deceased"] == "2025-02-03" and "deceased" not in records["1"]
    assert records["3"]["deceased"] is True  # an unreadable death date is still a death
    assert run.report.format == "omop-cdm-6.0"
    messages = [i.message for i in run.report.issues]
    assert any("neither 5.3 nor 5.4" in m for m in messages)
    assert any("deceased on an unknown date" in m for m in messages)
    assert not any("no clinical table" in m for m in messages)


def test_an_extract_without_clinical_tables_says_so(tmp_path: Path) -> None:
    (tmp_path / "person.csv").write_text(PERSONS, encoding="utf-8")
    run = iter_omop([tmp_path])
    assert len(list(run)) == 3
    assert run.report.format == "omop-cdm"
    warnings = [i.message for i in run.report.issues if i.level == "warning"]
    assert any("no clinical table" in m for m in warnings)
    assert any("CDM version not stated" in m for m in warnings)
