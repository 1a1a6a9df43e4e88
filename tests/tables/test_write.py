"""``screener.tables.write``: Parquet tables that read back as written, atomically, typed."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

from screener.cli.main import main  # noqa: E402
from screener.errors import InputError, PatientDataError, ScreenerError  # noqa: E402
from screener.model.patient import (  # noqa: E402
    Assessment,
    Condition,
    Medication,
    Observation,
    Patient,
    Status,
    load_patient,
)
from screener.tables.layout import FORMAT, TABLES  # noqa: E402
from screener.tables.write import TablesWriter, read_manifest, table_glob  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fixtures" / "patients").glob("*.yaml"))
REGISTRY = REPO / "fixtures" / "registry" / "lupus_registry.csv"
REGISTRY_MAPPING = REPO / "fixtures" / "registry" / "lupus_registry.mapping.yaml"

D1, D2, D3 = date(2026, 11, 18), date(2026, 8, 1), date(2026, 8, 15)

# Every record kind, every column filled somewhere, and the three kinds of scalar.
FULL = Patient(
    patient_id="hand-full",
    birth_date=date(1990, 5, 5),
    sex="female",
    demographics_source="admission",
    file="hand/full.yaml",
    observations=(
        Observation("creatinine", 0.9, "mg/dL", D1, reference_high=1.1, reference_low=0.5, source="lab 1"),
        Observation("ana", "positive", None, D2),
        Observation("pao2", 80, "mm[Hg]", D1, method="arterial", on_oxygen=True, attributed_to_sle=False),
        Observation("lupus_anticoagulant", True, None, D3),
        Observation("weight", 0, "kg", D1),  # 0 is a number, not false
    ),
    statuses=(
        Status("pregnant", False, D1, source="hCG"),
        Status("informed_consent", True, None, confirmed_by="Dr Martin"),  # no date
        Status("menopause_status", "post", D2),
        Status("children", 2),
        Status("ratio", 1.5, D3),
    ),
    assessments=(Assessment("selena_sledai", 10.0, D1, source="visit"),),
    conditions=(
        Condition(
            "sle",
            onset=date(2019, 5, 20),
            classification="acr_1997",
            criteria_met=6,
            source="letter",
        ),
        Condition(
            "neoplasia",
            status="resolved",
            type="basal_cell_carcinoma",
            end=date(2024, 2, 1),
            severity="mild",
            controlled=True,
        ),
    ),
    medications=(
        Medication(
            "prednisone",
            date(2019, 6, 10),
            dose_mg=20.0,
            route="oral",
            frequency="daily",
            end=date(2020, 1, 31),
            outcome="inefficacy",
            source="letters",
        ),
        Medication("rituximab", D2, dose_mg=1000.0, route="iv", administrations=(D2, D3)),
        Medication("hydroxychloroquine", D1),  # no dose
    ),
)
BARE = Patient(patient_id="hand-bare")  # no birth date, no sex, no records at all


def _con() -> Any:
    return duckdb.connect()


def _rows(con: Any, directory: Path, table: str) -> list[tuple[Any, ...]]:
    order = {"patients": "pid", "administrations": "pid, med_seq, date"}.get(table, "pid, seq")
    return con.execute(
        f"SELECT * FROM read_parquet('{table_glob(directory, table)}') ORDER BY {order}"
    ).fetchall()


def _types(con: Any, path: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]


def _write(directory: Path, patients: list[Patient], chunk_size: int = 50_000, **kw: Any) -> list[int]:
    with TablesWriter(directory, chunk_size, **kw) as writer:
        return [writer.add(p) for p in patients]


def test_round_trip_values(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    with TablesWriter(out) as writer:
        assert [writer.add(FULL, 12), writer.add(BARE)] == [0, 1]
    con = _con()
    assert _rows(con, out, "patients") == [
        # no death, no observed periods recorded (format 3 columns)
        (0, "hand-full", date(1990, 5, 5), "female", "admission", "hand/full.yaml", 12, None, False, None),
        (1, "hand-bare", None, None, None, "<memory>", None, None, False, None),
    ]
    assert _rows(con, out, "observations") == [
        (0, 0, "creatinine", D1, 0.9, None, None, "mg/dL", 1.1, 0.5, None, None, None, "lab 1"),
        (0, 1, "ana", D2, None, "positive", None, None, None, None, None, None, None, None),
        (0, 2, "pao2", D1, 80.0, None, None, "mm[Hg]", None, None, "arterial", True, False, None),
        (0, 3, "lupus_anticoagulant", D3, None, None, True, None, None, None, None, None, None, None),
        (0, 4, "weight", D1, 0.0, None, None, "kg", None, None, None, None, None, None),
    ]
    assert _rows(con, out, "statuses") == [
        (0, 0, "pregnant", D1, None, None, False, None, "hCG"),
        (0, 1, "informed_consent", None, None, None, True, "Dr Martin", None),
        (0, 2, "menopause_status", D2, None, "post", None, None, None),
        (0, 3, "children", None, 2.0, None, None, None, None),
        (0, 4, "ratio", D3, 1.5, None, None, None, None),
    ]
    assert _rows(con, out, "assessments") == [(0, 0, "selena_sledai", D1, 10.0, "visit")]
    assert _rows(con, out, "conditions") == [
        (
            0,
            0,
            "sle",
            "active",
            None,
            date(2019, 5, 20),
            None,
            None,
            "acr_1997",
            6,
            None,
            "letter",
            "confirmed",
        ),
        (
            0,
            1,
            "neoplasia",
            "resolved",
            "basal_cell_carcinoma",
            None,
            date(2024, 2, 1),
            "mild",
            None,
            None,
            True,
            None,
            "confirmed",
        ),
    ]
    assert _rows(con, out, "medications") == [
        (
            0,
            0,
            "prednisone",
            20.0,
            "oral",
            "daily",
            date(2019, 6, 10),
            date(2020, 1, 31),
            "inefficacy",
            "letters",
        ),
        (0, 1, "rituximab", 1000.0, "iv", None, D2, None, None, None),
        (0, 2, "hydroxychloroquine", None, None, None, D1, None, None, None),
    ]
    assert _rows(con, out, "administrations") == [(0, 1, D2), (0, 1, D3)]
    # false / 0 / "" are values, not NULL: exactly one of the three value columns is set
    counts = con.execute(
        f"SELECT count(*) FILTER (WHERE (value_num IS NOT NULL)::INT + (value_text IS NOT NULL)::INT"
        f" + (value_bool IS NOT NULL)::INT <> 1) FROM read_parquet('{table_glob(out, 'statuses')}')"
    ).fetchone()
    assert counts == (0,)


def _as_written(p: Patient) -> Patient:
    """What the tables keep of a patient: everything but the as-written text of converted values."""
    return replace(p, observations=tuple(replace(o, original=None) for o in p.observations))


def _read_back(con: Any, out: Path) -> list[Patient]:
    def value(num: Any, text: Any, flag: Any) -> Any:
        return flag if flag is not None else text if text is not None else num

    by_pid: dict[int, dict[str, list[Any]]] = {}
    for pid, *_ in _rows(con, out, "patients"):
        by_pid[pid] = {t: [] for t in TABLES}
    for r in _rows(con, out, "observations"):
        by_pid[r[0]]["observations"].append(
            Observation(r[2], value(*r[4:7]), r[7], r[3], r[8], r[9], r[10], r[11], r[12], r[13])
        )
    for r in _rows(con, out, "statuses"):
        by_pid[r[0]]["statuses"].append(Status(r[2], value(*r[4:7]), r[3], r[7], r[8]))
    for r in _rows(con, out, "assessments"):
        by_pid[r[0]]["assessments"].append(Assessment(r[2], r[4], r[3], r[5]))
    for r in _rows(con, out, "conditions"):
        by_pid[r[0]]["conditions"].append(Condition(*r[2:]))
    admins: dict[tuple[int, int], list[date]] = {}
    for pid, med_seq, day in _rows(con, out, "administrations"):
        admins.setdefault((pid, med_seq), []).append(day)
    for r in _rows(con, out, "medications"):
        pid, seq, drug, dose, route, freq, start, end, outcome, source = r
        by_pid[pid]["medications"].append(
            Medication(
                drug, start, dose, route, freq, end, tuple(admins.get((pid, seq), ())), outcome, source
            )
        )
    return [
        Patient(
            patient_id=pid_row[1],
            birth_date=pid_row[2],
            sex=pid_row[3],
            demographics_source=pid_row[4],
            file=pid_row[5],
            **{
                t: tuple(v) for t, v in by_pid[pid_row[0]].items() if t not in ("patients", "administrations")
            },
        )
        for pid_row in _rows(con, out, "patients")
    ]


def test_round_trip_fixtures_across_chunks_with_exact_types_per_part(tmp_path: Path) -> None:
    fixtures = [load_patient(p) for p in FIXTURES]
    assert [p.patient_id for p in fixtures] == [
        "story-eligible-001",
        "story-incomplete-003",
        "story-ineligible-002",
    ]
    assert not any(m.administrations for p in fixtures[:2] for m in p.medications)
    assert any(m.administrations for m in fixtures[2].medications)
    patients = [FULL, BARE, *fixtures]
    out = tmp_path / "reg"
    # chunk_size=2: parts [FULL, BARE], [eligible, incomplete] (no administrations), [ineligible]
    assert _write(out, patients, chunk_size=2) == [0, 1, 2, 3, 4]
    con = _con()
    assert _read_back(con, out) == [_as_written(p) for p in patients]
    manifest = read_manifest(out)
    assert manifest["parts"] == 3
    for table, columns in TABLES.items():
        parts = sorted((out / table).iterdir())
        assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
        for part in parts:
            assert _types(con, str(part)) == list(columns), part
        assert _types(con, table_glob(out, table)) == list(columns)
    empty = con.execute(f"SELECT count(*) FROM read_parquet('{out}/administrations/part-00001.parquet')")
    assert empty.fetchone() == (0,)
    per_part = con.execute(
        f"SELECT filename, list(pid ORDER BY pid) FROM read_parquet('{table_glob(out, 'patients')}', "
        "filename = true) GROUP BY filename ORDER BY filename"
    ).fetchall()
    assert [pids for _, pids in per_part] == [[0, 1], [2, 3], [4]]
    # converted on load: the eligible story's creatinine 68 umol/L and haemoglobin 112 g/L
    creat, hb = con.execute(
        f"SELECT value_num, unit FROM read_parquet('{table_glob(out, 'observations')}') "
        "WHERE pid = 2 AND name IN ('creatinine', 'hemoglobin') ORDER BY name"
    ).fetchall()
    assert creat == (pytest.approx(68 / 88.4), "mg/dL") and hb == (pytest.approx(11.2), "g/dL")
    assert manifest["rows"] == {
        "patients": 5,
        "observations": sum(len(p.observations) for p in patients),
        "statuses": sum(len(p.statuses) for p in patients),
        "assessments": sum(len(p.assessments) for p in patients),
        "conditions": sum(len(p.conditions) for p in patients),
        "medications": sum(len(p.medications) for p in patients),
        "administrations": sum(len(m.administrations) for p in patients for m in p.medications),
    }


def test_nan_stays_nan_and_null_stays_null(tmp_path: Path) -> None:
    odd = Patient("odd", statuses=(Status("x", float("nan")), Status("y", float("inf")), Status("z", "t")))
    out = tmp_path / "reg"
    _write(out, [odd])
    rows = _rows(_con(), out, "statuses")
    assert math.isnan(rows[0][4]) and rows[1][4] == math.inf and rows[2][4] is None


def test_empty_registry_has_typed_empty_parts(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    assert _write(out, []) == []
    con = _con()
    for table, columns in TABLES.items():
        assert _types(con, table_glob(out, table)) == list(columns)
        assert con.execute(f"SELECT count(*) FROM read_parquet('{table_glob(out, table)}')").fetchone() == (
            0,
        )
    assert read_manifest(out)["patients"] == 0 and read_manifest(out)["parts"] == 1


def test_a_value_the_layout_cannot_hold_refuses_only_that_patient(tmp_path: Path) -> None:
    huge = Patient("huge", file="h.yaml", conditions=(Condition("sle", criteria_met=2**70),))
    bad_text = Patient(
        "bad", file="b.json", observations=(Observation("ana", "neg", None, D1, source="\ud800"),)
    )
    out = tmp_path / "reg"
    with TablesWriter(out) as writer:
        assert writer.add(BARE) == 0
        with pytest.raises(PatientDataError) as caught:
            writer.add(huge)
        assert (
            caught.value.location is not None
            and str(caught.value.location) == "h.yaml: conditions[0].criteria_met"
        )
        with pytest.raises(PatientDataError) as caught:
            writer.add(bad_text)
        assert str(caught.value.location) == "b.json: observations[0].source"
        assert writer.add(FULL) == 1
    con = _con()
    assert [r[1] for r in _rows(con, out, "patients")] == ["hand-bare", "hand-full"]
    assert {r[0] for r in _rows(con, out, "conditions")} == {1}


def test_more_records_than_the_order_key_can_tell_apart_refuses_that_patient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import screener.tables.write

    monkeypatch.setattr(screener.tables.write, "SEQ_SPAN", 2)
    two = Patient(
        "two", file="t.yaml", statuses=(Status("pregnant", False, D1), Status("pregnant", False, D2))
    )
    three = replace(two, patient_id="three", statuses=(*two.statuses, Status("pregnant", True, D3)))
    with TablesWriter(tmp_path / "reg") as writer:
        assert writer.add(two) == 0  # SEQ_SPAN records fit
        with pytest.raises(PatientDataError, match="3 statuses: at most 2") as caught:
            writer.add(three)
        assert str(caught.value.location) == "t.yaml: statuses"
        assert writer.add(BARE) == 1


def test_manifest_contents(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    before = datetime.now(UTC).replace(microsecond=0)
    with TablesWriter(out, chunk_size=1, sources=["a.jsonl", Path("b.csv")]) as writer:
        writer.add(FULL)
        writer.add(BARE)
        writer.add_errors(3)
    summary = writer.close()  # already closed by the with block: the same summary
    assert summary.patients == 2 and summary.parts == 2 and summary.errors == 3
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert read_manifest(out) == manifest
    created = datetime.fromisoformat(manifest.pop("created"))
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0
    assert before <= created <= datetime.now(UTC)
    assert manifest == {
        "format": FORMAT,
        "patients": 2,
        "rows": {
            "patients": 2,
            "observations": 5,
            "statuses": 5,
            "assessments": 1,
            "conditions": 2,
            "medications": 3,
            "administrations": 2,
        },
        "parts": 2,
        "chunk_size": 1,
        "errors": 3,
        "sources": ["a.jsonl", "b.csv"],
        "screener_version": manifest["screener_version"],
        "files": [f"{t}/part-{i:05d}.parquet" for t in TABLES for i in (0, 1)],
    }
    assert all((out / f).is_file() for f in manifest["files"])
    assert summary.rows == manifest["rows"]


def test_read_manifest_names_the_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no manifest\.json") as caught:
        read_manifest(tmp_path)
    assert str(tmp_path) in str(caught.value)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": "screener-tables/0"}), encoding="utf-8")
    with pytest.raises(InputError, match="screener-tables/0") as caught:
        read_manifest(tmp_path)
    assert str(tmp_path) in str(caught.value)
    with pytest.raises(InputError, match="no such directory"):
        read_manifest(tmp_path / "absent")


def test_table_glob(tmp_path: Path) -> None:
    assert table_glob(tmp_path, "observations") == str(tmp_path / "observations" / "part-*.parquet")
    with pytest.raises(ScreenerError, match="unknown table"):
        table_glob(tmp_path, "labs")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


def test_an_exception_midway_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    with pytest.raises(RuntimeError, match="boom"), TablesWriter(out, chunk_size=1) as writer:
        writer.add(FULL)
        writer.add(BARE)  # two parts already written to the temporary directory
        assert any(tmp_path.glob("reg.tmp-*/patients/part-00001.parquet"))
        raise RuntimeError("boom")
    assert _leftovers(tmp_path) == []
    with pytest.raises(InputError):
        read_manifest(out)


def test_an_unfinished_writer_shows_no_registry(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    writer = TablesWriter(out, chunk_size=1)
    writer.add(FULL)
    writer.add(BARE)
    # as if the process had been killed here: no DIR, no manifest anywhere
    assert not out.exists()
    assert not list(tmp_path.rglob("manifest.json"))
    writer.abort()
    assert _leftovers(tmp_path) == []


def test_an_exception_keeps_a_previous_registry(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    _write(out, [FULL])
    with pytest.raises(RuntimeError), TablesWriter(out, overwrite=True) as writer:
        writer.add(BARE)
        raise RuntimeError("interrupted")
    assert read_manifest(out)["patients"] == 1
    assert _leftovers(tmp_path) == ["reg"]


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "reg"
    out.mkdir()  # an empty directory is fine
    _write(out, [FULL])
    with pytest.raises(InputError, match="not empty") as caught:
        TablesWriter(out)
    assert str(out) in str(caught.value)
    assert read_manifest(out)["patients"] == 1
    _write(out, [BARE, BARE], overwrite=True)  # a previous registry is replaced
    assert read_manifest(out)["patients"] == 2
    assert [r[1] for r in _rows(_con(), out, "patients")] == ["hand-bare", "hand-bare"]
    assert _leftovers(tmp_path) == ["reg"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(InputError, match="not empty"):
        TablesWriter(other)
    with pytest.raises(InputError, match="not a screener tables registry"):
        TablesWriter(other, overwrite=True)
    assert (other / "notes.txt").read_text(encoding="utf-8") == "keep me"


# --------------------------------------------------------------------------- screener convert --to tables


def _patient_ids(out: Path) -> list[str]:
    return [r[1] for r in _rows(_con(), out, "patients")]


@pytest.mark.parametrize("with_mapping", [True, False])
def test_convert_registry_csv_to_tables(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], with_mapping: bool
) -> None:
    out = tmp_path / "tables"
    report = tmp_path / "report.json"
    extra = ["--registry-mapping", str(REGISTRY_MAPPING)] if with_mapping else []
    code = main(["convert", "--to", "tables", str(out), str(REGISTRY), "--report", str(report), *extra])
    assert code == 1
    err = capsys.readouterr().err
    assert "lupus_registry.csv:3: creatinine_umol_l: error" in err
    assert "lupus_registry.csv:6: weight_kg: error: impossible weight value" in err
    assert err.splitlines()[-1] == f"4 patient(s) written to {out} as tables (1 part(s)), 8 error(s)"
    assert _patient_ids(out) == ["reg-001", "reg-002", "reg-003", "reg-005"]
    manifest = read_manifest(out)
    assert manifest["patients"] == 4 and manifest["errors"] == 8 and manifest["sources"] == [str(REGISTRY)]
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["format"] == "tables" and doc["patients"] == 4 and doc["errors"] == 8
    assert doc["issues"][0] == {
        "file": str(REGISTRY),
        "line": 3,
        "field": "creatinine_umol_l",
        "message": "creatinine: 'abc' is not a number; not imported",
        "patient_id": None,
        "level": "error",
    }
    # values are as validated and converted: reg-001's creatinine 68 umol/L in mg/dL
    con = _con()
    (creat,) = con.execute(
        f"SELECT value_num FROM read_parquet('{table_glob(out, 'observations')}') "
        "WHERE pid = 0 AND name = 'creatinine'"
    ).fetchone()
    assert creat == pytest.approx(68 / 88.4)


def test_convert_jsonl_with_one_bad_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [load_patient(p).raw for p in FIXTURES]
    bad = json.loads(json.dumps(records[0], default=str))
    bad["patient_id"] = "bad-weight"
    bad["observations"][0] = {"name": "weight", "value": 6100, "unit": "kg", "date": "2026-11-18"}
    lines = [json.dumps(r, default=str) for r in (records[0], bad, records[1], records[2])]
    source = tmp_path / "registry.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "tables"
    report = tmp_path / "report.json"
    assert main(["convert", "--to", "tables", str(out), str(source), "--report", str(report)]) == 1
    err = capsys.readouterr().err
    assert f"{source}:2: observations[0]: error: impossible weight value 6100" in err
    assert "[patient bad-weight]" in err
    assert err.splitlines()[-1] == f"3 patient(s) written to {out} as tables (1 part(s)), 1 error(s)"
    assert _patient_ids(out) == ["story-eligible-001", "story-incomplete-003", "story-ineligible-002"]
    (issue,) = json.loads(report.read_text(encoding="utf-8"))["issues"]
    assert (issue["line"], issue["field"], issue["patient_id"]) == (2, "observations[0]", "bad-weight")
    patients = _rows(_con(), out, "patients")
    assert {r[5] for r in patients} == {str(source)}


def test_convert_yaml_directory_to_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tables"
    assert main(["convert", "--to", "tables", str(out), str(REPO / "fixtures" / "patients")]) == 0
    assert _patient_ids(out) == ["story-eligible-001", "story-incomplete-003", "story-ineligible-002"]
    assert (
        capsys.readouterr()
        .err.splitlines()[-1]
        .endswith("3 patient(s) written to " + str(out) + " as tables (1 part(s)), 0 error(s)")
    )
    # an existing registry is kept unless --overwrite
    assert main(["convert", "--to", "tables", str(out), str(FIXTURES[0])]) == 2
    assert "not empty" in capsys.readouterr().err
    assert len(_patient_ids(out)) == 3
    assert (
        main(["convert", "--to", "tables", str(out), str(FIXTURES[0]), "--overwrite", "--chunk-size", "1"])
        == 0
    )
    assert _patient_ids(out) == ["story-eligible-001"]


def test_convert_to_tables_with_nothing_readable_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tables"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nope\n", encoding="utf-8")
    assert main(["convert", "--to", "tables", str(out), str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl:1: error:" in err and "nothing written" in err
    assert _leftovers(tmp_path) == [bad.name]
    # a missing input is refused before anything starts (tests/cli/test_batch_convert_cli.py)
    assert main(["convert", "--to", "tables", str(out), str(tmp_path / "absent.jsonl")]) == 2
    assert "absent.jsonl: no such file or directory" in capsys.readouterr().err
    assert _leftovers(tmp_path) == [bad.name]


def test_convert_to_tables_refuses_importer_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tables"
    other = tmp_path / "other.mapping.yaml"
    other.write_text(REGISTRY_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["convert", "--to", "tables", str(out), str(REGISTRY), "--registry-mapping", str(other)]) == 2
    assert "beside it" in capsys.readouterr().err
    assert main(["convert", "--to", "tables", str(out), str(REGISTRY), "--from", "csv"]) == 2
    assert "--from does not apply" in capsys.readouterr().err
    assert main(["convert", "--to", "tables", str(out)]) == 2
    assert "needs OUT_DIR and at least one INPUT" in capsys.readouterr().err
    assert main(["convert", str(REGISTRY)]) == 2
    assert "--to-native DIR, or --to tables" in capsys.readouterr().err
    assert not out.exists()


def test_convert_to_native_by_either_spelling(tmp_path: Path) -> None:
    mapping = ["--registry-mapping", str(REGISTRY_MAPPING)]
    assert main(["convert", str(REGISTRY), "--to-native", str(tmp_path / "a"), *mapping]) == 1
    assert main(["convert", "--to", "native", str(tmp_path / "b"), str(REGISTRY), *mapping]) == 1
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(names) == 4
