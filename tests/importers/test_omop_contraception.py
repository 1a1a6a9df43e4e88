"""Contraception from OMOP (issue 11 §5): PROCEDURE_OCCURRENCE (IUD and implant insertion and
removal, tubal ligation) and DRUG_EXPOSURE of a contraceptive -> effective_contraception, as the
FHIR importer reads the same codes."""

from __future__ import annotations

from pathlib import Path

from screener.importers.omop import iter_omop
from tests.importers.conftest import shared_path

PERSON = (
    "person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,gender_source_value\n"
    "1,,1990,5,4,,F\n"
    "2,,1990,5,4,,F\n"
    "3,,1990,5,4,,F\n"
)
# no CONCEPT table: codes read from *_source_value (SNOMED for procedures, RxNorm for drugs)
PROCEDURES = (
    "procedure_occurrence_id,person_id,procedure_concept_id,procedure_date,procedure_source_value\n"
    "10,1,,2026-11-02,65200003\n"  # IUD insertion
    "11,2,,2026-06-01,65200003\n"  # IUD insertion ...
    "12,2,,2026-11-01,68254000\n"  # ... removed later
    "13,3,,2026-11-02,761841000\n"  # another procedure: unmapped
)
DRUGS = (
    "drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,drug_source_value\n"
    "20,3,,2026-11-10,2026-12-08,757594\n"  # Jolivette 28 day pack
)


def _statuses(record: object) -> list[dict[str, object]]:
    data = record.data  # type: ignore[attr-defined]
    return [s for s in data.get("statuses", []) if s["name"] == "effective_contraception"]


def test_procedures_and_drug_exposures_give_contraception(tmp_path: Path) -> None:
    (tmp_path / "person.csv").write_text(PERSON, encoding="utf-8")
    (tmp_path / "procedure_occurrence.csv").write_text(PROCEDURES, encoding="utf-8")
    (tmp_path / "drug_exposure.csv").write_text(DRUGS, encoding="utf-8")
    run = iter_omop([tmp_path])
    records = {r.patient_id: r for r in run}
    (iud,) = _statuses(records["1"])
    assert iud["date"] == "2026-11-02" and "procedure_occurrence/10" in str(iud["source"])
    assert _statuses(records["2"]) == []  # removed after insertion
    (pill,) = _statuses(records["3"])
    assert pill["date"] == "2026-11-10" and "drug_exposure/20" in str(pill["source"])
    # not a trial drug: only the marker that the record has a medication history
    assert [m["drug"] for m in records["3"].data["medications"]] == ["other_medication"]
    assert run.report.unmapped_count("http://snomed.info/sct", "761841000") == 1


def test_synthea_omop_contraceptive_procedures_through_concept_ids() -> None:
    """Person 16 of the shared Synthea27NJ extract: IUD inserted 2016-10-29, removed 2019-04-14 (no
    method in place); person 12: tubal ligation 2021-04-23 (in place, dated by the procedure)."""
    folder = shared_path("data", "synthea27nj-omop")
    records = {r.patient_id: r for r in iter_omop([folder], person_ids=["12", "16"])}
    (ligation,) = [s for s in _statuses(records["12"]) if "(sterilisation)" in str(s["source"])]
    assert ligation["date"] == "2021-04-23" and "procedure_occurrence/" in str(ligation["source"])
    assert [s for s in _statuses(records["16"]) if "(iud)" in str(s["source"])] == []
