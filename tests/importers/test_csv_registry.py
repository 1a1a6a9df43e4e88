"""Flat CSV registry importer with the example column mapping in fixtures/registry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.importers import MappingError, iter_patients
from screener.importers.csv_registry import iter_registry, load_registry_mapping
from tests.importers.conftest import REPO

CSV = REPO / "fixtures/registry/lupus_registry.csv"
MAPPING = REPO / "fixtures/registry/lupus_registry.mapping.yaml"


def test_registry_rows_convert_with_issues_named_by_line_and_column(engine: Engine) -> None:
    run = iter_patients([CSV], format="csv", registry_mapping=MAPPING)
    records = {r.patient_id: r for r in run}
    assert set(records) == {"reg-001", "reg-002", "reg-003", "reg-005"}  # reg-004 is a short row
    issues = {(i.line, i.field, i.patient_id) for i in run.report.issues}
    assert issues == {
        (3, "creatinine_umol_l", "reg-002"),  # 'abc'
        (4, "lab_date", "reg-003"),  # creatinine, hemoglobin, platelets without a date
        (4, "ana", "reg-003"),  # 'weak' is not pos/neg
        (4, "prednisone_start", "reg-003"),  # month 13
        (5, None, None),  # row with 4 fields
        (6, "weight_kg", "reg-005"),  # 1200 kg is impossible
    }
    assert sum(1 for i in run.report.issues if i.field == "lab_date") == 3
    assert all(i.file == str(CSV) for i in run.report.issues)

    p1 = records["reg-001"].patient()
    creat = next(o for o in p1.observations if o.name == "creatinine")
    assert creat.value == pytest.approx(68 / 88.4) and creat.unit == "mg/dL"
    assert creat.source == "lupus_registry.csv:2:creatinine_umol_l"
    assert [o.value for o in p1.observations if o.name == "hemoglobin"] == [pytest.approx(11.2)]
    sle = p1.conditions[0]
    assert (sle.name, sle.classification, sle.criteria_met, sle.onset) == (
        "sle",
        "acr_1997",
        6,
        date(2019, 5, 20),
    )
    result = engine.screen(p1, date(2026, 11, 25))
    outcomes = {c.id: c.outcome for c in result.criteria}
    assert outcomes["I2"] == "pass" and outcomes["E2"] == "pass" and outcomes["I5"] == "pass"
    assert result.decision == "incomplete"  # consent etc. still to collect

    p2 = records["reg-002"].patient()
    assert [o.name for o in p2.observations if o.name == "creatinine"] == []
    assert p2.conditions == ()  # sle: no
    assert {c.id: c.outcome for c in engine.screen(p2, date(2026, 11, 25)).criteria}["I2"] == "fail"
    assert [o.name for o in records["reg-005"].patient().observations] == [
        "height",
        "creatinine",
        "hemoglobin",
        "platelets",
    ]


def test_registry_mapping_errors(tmp_path: Path) -> None:
    bad = tmp_path / "m.yaml"
    bad.write_text("registry:\n  id: x\n  observations:\n    - {column: a, name: weight}\n", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_registry_mapping(bad)
    assert "patient_id" in info.value.message and info.value.location.line == 1
    bad.write_text(
        "registry:\n  patient_id: id\n  medications:\n    - {column: a, drug: prednisone}\n", encoding="utf-8"
    )
    with pytest.raises(MappingError) as info:
        load_registry_mapping(bad)
    assert info.value.location.line == 4 and "start_column" in info.value.message


def test_semicolon_registry_and_missing_columns(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "registry:\n  patient_id: id\n  delimiter: ';'\n  demographics: {birth_date: {column: dob}}\n"
        "  observations:\n    - {column: crea, name: creatinine, unit_column: crea_unit, date_column: d}\n"
        "    - {column: nope, name: weight, unit: kg, date_column: d}\n",
        encoding="utf-8",
    )
    data = tmp_path / "r.csv"
    data.write_text(
        "id;dob;crea;crea_unit;d\nA;1980-01-01;1.2;mg/dL;2026-11-01\nB;1980-01-01;1,2;mg/dL;2026-11-01\n",
        encoding="utf-8",
    )
    run = iter_registry([data], mapping)
    records = {r.patient_id: r for r in run}
    assert records["A"].data["observations"][0]["value"] == 1.2
    assert "observations" not in records["B"].data  # a decimal comma is refused, not guessed
    fields = [(i.line, i.field, i.level) for i in run.report.issues]
    assert fields == [(1, "nope", "warning"), (3, "crea", "error")]


def test_item_refused_by_the_patient_loader_is_dropped_and_reported(tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "registry:\n  patient_id: id\n  demographics: {birth_date: {column: dob}}\n"
        "  medications:\n    - {column: mtx, drug: methotrexate, unit: mg, frequency: weekly,"
        " start_column: s, outcome_column: why}\n"
        "    - {column: hcq, drug: hydroxychloroquine, unit: mg, frequency: bid, start_column: s}\n",
        encoding="utf-8",
    )
    data = tmp_path / "r.csv"
    data.write_text("id,dob,mtx,hcq,s,why\nA,1980-01-01,25,200,2025-01-01,fed up\n", encoding="utf-8")
    run = iter_registry([data], mapping)
    (record,) = list(run)
    assert [m["drug"] for m in record.data["medications"]] == ["hydroxychloroquine"]
    (issue,) = run.report.issues
    assert (issue.line, issue.field, issue.patient_id) == (2, "mtx", "A")
    assert "fed up" in issue.message and issue.message.endswith("not imported")
    assert record.patient().medications[0].drug == "hydroxychloroquine"
