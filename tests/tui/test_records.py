"""Screening records: save, list and reload, and clear errors for bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.errors import InputError
from screener.model.patient import load_patient
from screener.tui.records import list_records, load_record, save_record

from .conftest import AS_OF, MISSING_CREATININE


def test_save_and_load_round_trip(engine: Engine, tmp_path: Path) -> None:
    patient = load_patient(MISSING_CREATININE)
    result = engine.screen(patient, AS_OF)
    now = datetime(2026, 11, 25, 16, 30, 5, tzinfo=UTC)
    path = save_record(tmp_path / "new", patient.raw, result, "nurse.a", now=now)
    assert path.name == "tui-missing-creatinine_2026-11-25_20261125T163005Z.json"
    second = save_record(tmp_path / "new", patient.raw, result, "nurse.a", now=now)
    assert second != path and second.exists()  # never overwrites

    document = json.loads(path.read_text())
    assert document["saved_at"] == "2026-11-25T16:30:05Z"
    assert document["ruleset"]["sha256"] == engine.ruleset.sha256
    assert document["ruleset"]["version"] == engine.ruleset.version
    assert document["screening"]["decision"] == "incomplete"
    assert {o["id"]: o["outcome"] for o in document["outcomes"]}["E2"] == "unknown"

    record = load_record(path)
    assert record.decision == result.decision == "incomplete"
    assert record.as_of == AS_OF and record.operator == "nurse.a"
    assert record.patient == patient.raw
    assert [o.id for o in record.outcomes] == [c.id for c in result.criteria]


def test_a_record_appearing_under_the_same_name_is_never_replaced(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another save may take the name between the check and the write: the file written first
    stays as it is, this one goes under the next free name, and no temporary file is left."""
    import screener.tui.records as records

    patient = load_patient(MISSING_CREATININE)
    result = engine.screen(patient, AS_OF)
    now = datetime(2026, 11, 25, 16, 30, 5, tzinfo=UTC)
    first = tmp_path / "tui-missing-creatinine_2026-11-25_20261125T163005Z.json"
    real = records.write_new

    def racing(path: Path, data: bytes, overwrite: bool = False) -> None:
        if path == first and not path.exists():
            path.write_text("another nurse's record", encoding="utf-8")  # appears just in time
        real(path, data, overwrite)

    monkeypatch.setattr(records, "write_new", racing)
    saved = save_record(tmp_path, patient.raw, result, "nurse.b", now=now)
    assert saved.name == first.name.replace(".json", "-2.json")
    assert first.read_text(encoding="utf-8") == "another nurse's record"
    assert json.loads(saved.read_text(encoding="utf-8"))["operator"] == "nurse.b"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, saved.name])


def test_listing_reports_bad_files_and_carries_on(engine: Engine, tmp_path: Path) -> None:
    patient = load_patient(MISSING_CREATININE)
    good = save_record(tmp_path, patient.raw, engine.screen(patient, AS_OF), "n")
    (tmp_path / "broken.json").write_text('{"format": \n', encoding="utf-8")
    listings = list_records(tmp_path)
    assert [x.path for x in listings if x.record] == [good]
    assert [x.path.name for x in listings if x.error] == ["broken.json"]
    assert list_records(tmp_path / "absent") == []


def test_bad_record_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n "format": ,\n}', encoding="utf-8")
    with pytest.raises(InputError) as problem:
        load_record(bad)
    assert problem.value.location is not None and problem.value.location.line == 2

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"format": "screener.screening-record", "record_version": "1"}))
    with pytest.raises(InputError) as problem:
        load_record(partial)
    assert problem.value.location is not None and problem.value.location.field == "ruleset"

    other = tmp_path / "other.json"
    other.write_text("[]")
    with pytest.raises(InputError, match="not a screening record"):
        load_record(other)
