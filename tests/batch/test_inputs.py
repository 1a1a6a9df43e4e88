from __future__ import annotations

import json
from pathlib import Path

import yaml

from screener.batch import inputs
from screener.batch.inputs import count_records, iter_records, register_reader

from .conftest import base_patient, write_jsonl


def test_jsonl_records_carry_line_numbers_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text('{"a": 1}\n\n{not json\n[1, 2]\n{"b": 2}\n', encoding="utf-8")
    records = list(iter_records([path]))
    assert [(r.line, r.index) for r in records] == [(1, 0), (3, 1), (4, 2), (5, 3)]
    assert records[0].data == {"a": 1} and records[0].error is None
    assert records[1].data is None and records[1].error is not None
    assert "malformed JSON" in records[1].error.message
    assert records[2].error is not None and "got list" in records[2].error.message
    assert records[3].data == {"b": 2}


def test_skip_passes_over_records_without_changing_positions(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"i": i} for i in range(5)])
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "b.yaml").write_text(yaml.safe_dump({"i": 6}), encoding="utf-8")
    (folder / "a.json").write_text(json.dumps({"i": 5}), encoding="utf-8")
    (folder / "notes.txt").write_text("ignored", encoding="utf-8")
    everything = list(iter_records([path, folder]))
    assert [r.data for r in everything] == [{"i": i} for i in range(7)]  # directory sorted
    rest = list(iter_records([path, folder], skip=4))
    assert [(r.index, r.data) for r in rest] == [(4, {"i": 4}), (5, {"i": 5}), (6, {"i": 6})]
    assert list(iter_records([path, folder], skip=7)) == []
    assert count_records([path, folder]) == 7


def test_yaml_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("patient_id: x\ndemographics: {a: 1\nsex: [x\n", encoding="utf-8")
    (record,) = iter_records([bad])
    assert record.error is not None and record.data is None
    assert record.line == record.error.line == 3
    assert "malformed YAML" in record.error.message


def test_native_yaml_keeps_its_line_map(tmp_path: Path) -> None:
    good = tmp_path / "p.yaml"
    good.write_text(yaml.safe_dump(base_patient(), sort_keys=False), encoding="utf-8")
    (record,) = iter_records([good])
    assert record.error is None and record.lines is not None
    assert record.lines.line(("patient_id",)) is not None


def test_unknown_kind_of_file_and_missing_file_are_record_errors(tmp_path: Path) -> None:
    other = tmp_path / "bundle.xml"
    other.write_text("<x/>", encoding="utf-8")
    records = list(iter_records([other, tmp_path / "absent.jsonl"]))
    assert [r.index for r in records] == [0, 1]
    assert "no reader" in records[0].error.message  # type: ignore[union-attr]
    assert "no such file" in records[1].error.message  # type: ignore[union-attr]


def test_registered_reader_plugs_in(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(inputs, "READERS", dict(inputs.READERS))
    path = tmp_path / "x.fake.json"
    path.write_text("ignored", encoding="utf-8")

    def reader(p: Path):
        yield 7, {"patient_id": "from-importer"}, None, None

    register_reader(".fake.json", reader)  # more specific than ".json"
    (record,) = iter_records([path])
    assert record.data == {"patient_id": "from-importer"} and record.line == 7
