"""``convert --to tables`` from native JSONL through DuckDB SQL (``--reader sql``, the default)
against the Python reader (``--reader python``): the same registry, row for row, the same
manifest, and the same errors (file, line, field, message) on every input, clean or hostile."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

from screener.cli.main import main  # noqa: E402
from screener.tables import from_native  # noqa: E402
from screener.tables.layout import TABLES  # noqa: E402
from screener.tables.staged import Staged  # noqa: E402
from screener.tables.stagers import kind_of, staged_inputs  # noqa: E402
from screener.tables.write_staged import StagedWriter  # noqa: E402
from screener.yamlio import load_file  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted((REPO / "fixtures" / "patients").glob("*.yaml"))
HOSTILE = REPO / "tests" / "data" / "hostile" / "patients"
GENERATOR = REPO / "benchmarks" / "generate_registry.py"


def _convert(out: Path, inputs: list[Path], reader: str, *extra: str) -> tuple[int, dict[str, Any]]:
    report = out.with_name(out.name + ".report.json")
    code = main(
        ["convert", *map(str, inputs), "--to", "tables", "--out", str(out), "--reader", reader,
         "--report", str(report), *extra]
    )  # fmt: skip
    return code, json.loads(report.read_text(encoding="utf-8"))


def _rows(directory: Path, table: str) -> list[tuple[Any, ...]]:
    order = {"patients": "pid", "administrations": "pid, med_seq, date"}.get(table, "pid, seq")
    glob = str(directory / table / "*.parquet")
    return duckdb.sql(f"SELECT * FROM read_parquet('{glob}') ORDER BY {order}").fetchall()


def assert_same_registry(a: Path, b: Path) -> None:
    """Both registries hold the same rows (EXCEPT ALL empty both ways, ordered rows equal), the
    same files and the same manifest (but its time stamp)."""
    for table in TABLES:
        ga, gb = (str(d / table / "*.parquet") for d in (a, b))
        for x, y in ((ga, gb), (gb, ga)):
            extra = duckdb.sql(
                f"SELECT count(*) FROM (SELECT * FROM read_parquet('{x}') EXCEPT ALL "
                f"SELECT * FROM read_parquet('{y}'))"
            ).fetchall()[0][0]
            assert extra == 0, f"{table}: {extra} rows of {x} are not in {y}"
        assert _rows(a, table) == _rows(b, table), table
        types_a = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{ga}')").fetchall()
        types_b = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{gb}')").fetchall()
        assert types_a == types_b
    ma, mb = (json.loads((d / "manifest.json").read_text(encoding="utf-8")) for d in (a, b))
    del ma["created"], mb["created"]
    assert ma == mb
    files_a = sorted(p.relative_to(a).as_posix() for p in a.rglob("*.parquet"))
    files_b = sorted(p.relative_to(b).as_posix() for p in b.rglob("*.parquet"))
    assert files_a == files_b == sorted(ma["files"])


def both_readers(tmp_path: Path, inputs: list[Path], *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Convert with both readers; the registries and the reports must be the same."""
    code_py, report_py = _convert(tmp_path / "python", inputs, "python", *extra)
    code_sql, report_sql = _convert(tmp_path / "sql", inputs, "sql", *extra)
    assert code_sql == code_py
    for report in (report_py, report_sql):
        report.pop("out")
    assert report_sql == report_py  # the same issues: file, line, field, message, in order
    if code_py != 2:
        assert_same_registry(tmp_path / "python", tmp_path / "sql")
    return report_py, report_sql


def generate(path: Path, n: int, seed: int) -> Path:
    subprocess.run(
        [sys.executable, str(GENERATOR), "--n", str(n), "--seed", str(seed), "--as-of", "2026-11-25",
         "--out", str(path)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return path


def fallback_count(path: Path) -> tuple[int, int]:
    """(records, records left to Python) of one JSONL file through the SQL stager."""
    con = duckdb.connect()
    records = fallback = 0
    for staged in from_native.stage_native(con, [path]):
        records += staged.records
        fallback += len(list(staged.fallback))
    return records, fallback


# --------------------------------------------------------------------------- clean inputs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_registries_are_identical_and_read_in_sql(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = generate(tmp_path / "registry.jsonl", 240, seed)
    records, fallback = fallback_count(source)
    assert records == 240
    assert fallback == 0  # the SQL reads every generated patient: the comparison is not vacuous
    monkeypatch.setattr(from_native, "CHUNK_LINES", 55)  # several SQL chunks straddling parts
    report, _ = both_readers(tmp_path, [source], "--chunk-size", "70")
    assert report["patients"] == 240 and report["errors"] == 0


def test_a_partitioned_registry_is_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = generate(tmp_path / "registry.jsonl", 200, 7)
    monkeypatch.setattr(from_native, "CHUNK_LINES", 64)
    both_readers(tmp_path, [source], "--partitions", "4", "--chunk-size", "90")
    parts = sorted(p.name for p in (tmp_path / "sql" / "patients").iterdir())
    assert parts == [f"part-{i:05d}.p{k:04d}.parquet" for i in range(3) for k in range(4)]


def _json_lines(paths: list[Path]) -> list[str]:
    lines = []
    for path in paths:
        try:
            data, _ = load_file(path)
        except Exception:  # a file the loader refuses has no JSON line
            continue
        try:
            lines.append(json.dumps(data, ensure_ascii=False))
        except (TypeError, ValueError):  # a YAML value JSON cannot hold (a date, a set)
            continue
    return lines


def test_fixtures_and_hostile_patients_as_jsonl(tmp_path: Path) -> None:
    lines = _json_lines(FIXTURES)
    assert len(lines) == len(FIXTURES)
    hostile = _json_lines(sorted(HOSTILE.glob("*.yaml")))
    assert len(hostile) > 15
    # the hostile JSON files as they are, on one line each (duplicate key, NaN, lone surrogate...)
    raw = [
        p.read_bytes().replace(b"\n", b" ")
        for p in sorted(HOSTILE.glob("*.json"))
        if p.stat().st_size < 100_000
    ]
    source = tmp_path / "mixed.jsonl"
    with source.open("wb") as handle:
        for line in [*lines, *hostile]:
            handle.write(line.encode("utf-8") + b"\n")
        for line in raw:
            handle.write(line + b"\n")
        for line in lines:  # clean patients after the hostile ones keep their places
            handle.write(line.encode("utf-8") + b"\n")
    report, _ = both_readers(tmp_path, [source])
    assert report["errors"] >= 15
    assert report["patients"] >= 2 * len(FIXTURES)


def test_mixed_inputs_keep_their_order(tmp_path: Path) -> None:
    """A YAML folder (Python reader) before and after a JSONL (SQL): ords across inputs."""
    source = generate(tmp_path / "registry.jsonl", 30, 4)
    report, _ = both_readers(tmp_path, [REPO / "fixtures" / "patients", source, FIXTURES[0]])
    assert report["patients"] == 30 + len(FIXTURES) + 1


# --------------------------------------------------------------------------- hostile lines


def _base() -> dict[str, Any]:
    return {
        "schema_version": "1",
        "patient_id": "p-1",
        "demographics": {"sex": "female", "birth_date": "1980-02-03", "source": "registry"},
        "observations": [
            {"name": "creatinine", "value": 88.4, "unit": "umol/L", "date": "2026-10-01",
             "reference_range": {"low": 45, "high": 90, "unit": "umol/L"}},
            {"name": "weight", "value": 61, "unit": "kg", "date": "2026-10-01"},
            {"name": "ana", "value": "positive", "date": "2025-01-01"},
            {"name": "alt", "value": 30, "unit": "U/L", "date": "2026-10-01",
             "reference_range": {"high": 40}},
        ],
        "statuses": [
            {"name": "pregnant", "value": False, "date": "2026-11-01"},
            {"name": "informed_consent", "value": True, "confirmed_by": "nurse"},
        ],
        "assessments": [{"name": "selena_sledai", "score": 8, "date": "2026-10-01"}],
        "conditions": [
            {"name": "sle", "onset": "2019-01-01", "classification": "acr_1997", "criteria_met": 6},
            {"name": "neoplasia", "status": "resolved", "type": "basal_cell_carcinoma", "end": "2020-01-01"},
        ],
        "medications": [
            {"drug": "prednisone", "dose": 10, "unit": "mg", "route": "oral", "frequency": "daily",
             "start": "2026-01-01", "end": "2026-06-01", "outcome": "inefficacy"},
            {"drug": "cyclophosphamide", "dose": 0.75, "unit": "g", "route": "iv", "frequency": "monthly",
             "start": "2025-01-01", "administrations": ["2025-03-01", "2025-01-01", "2025-02-01"]},
        ],
    }  # fmt: skip


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    target = out
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return out


_DELETE = object()

# Each changes one thing of a clean patient: most are refused by the loader, some are read
# (another unit spelling, a conversion, a deceased patient); either way both readers agree.
MUTATIONS: list[tuple[tuple[Any, ...], Any]] = [
    (("schema_version",), "2"),
    (("schema_version",), 1),
    (("patient_id",), ""),
    (("patient_id",), 7),
    (("demographics",), _DELETE),
    (("demographics", "sex"), "F"),
    (("demographics", "birth_date"), "1980-02-30"),
    (("demographics", "birth_date"), "0000-01-01"),
    (("demographics", "birth_date"), "19800203"),
    (("demographics", "birth_date"), "2026-10-02"),  # after records: dated before birth
    (("demographics", "deceased"), "garbage"),
    (("demographics", "deceased"), "2026-11-01"),
    (("demographics", "deceased"), True),
    (("demographics", "deceased"), False),
    (("demographics", "deceased"), None),
    (("demographics", "observed"), [{"start": "2020-01-01", "end": "2019-01-01"}]),
    (("demographics", "observed"), [{"start": "2020-01-01", "end": "2021-01-01"}, {"start": "2022-01-01"}]),
    (("demographics", "observed"), [{"start": "2020-01-01", "until": "2021-01-01"}]),
    (("demographics", "nickname"), "x"),
    (("extra",), 1),
    (("observations",), None),
    (("observations",), {}),
    (("observations", 0, "value"), 5000),  # 5000 umol/L creatinine: implausible
    (("observations", 0, "value"), -1),
    (("observations", 0, "value"), "high"),
    (("observations", 0, "value"), True),
    (("observations", 0, "unit"), "umol/l"),  # another spelling Python accepts: read by Python
    (("observations", 0, "unit"), "mmol/L"),
    (("observations", 0, "unit"), _DELETE),
    (("observations", 0, "unit"), "mg/dL"),
    (("observations", 0, "reference_range"), {"low": 90, "high": 45}),
    (("observations", 0, "reference_range"), {"low": -1}),
    (("observations", 0, "reference_range"), {"low": 0.5, "high": 1.1, "unit": "mg/dL"}),
    (("observations", 0, "reference_range"), {"low": 0.5, "high": 1.1, "unit": ""}),
    (("observations", 0, "reference_range"), {"high": 1.1, "unit": "furlongs"}),
    (("observations", 0, "reference_range"), {"high": "1.1"}),
    (("observations", 0, "reference_range"), {"high": 1.1, "mid": 1}),
    (("observations", 0, "date"), "2026-13-01"),
    (("observations", 0, "date"), "1979-01-01"),  # before birth
    (("observations", 0, "method"), 3),
    (("observations", 0, "on_oxygen"), "yes"),
    (("observations", 0, "name"), "creatinin"),  # unknown name
    (("observations", 0, "name"), "Creatinine"),
    (("observations", 0, "name"), "pregnant"),  # a status under observations
    (("observations", 1, "unit"), "lb"),  # converted
    (("observations", 1, "value"), 0),
    (("observations", 1, "value"), 0.1),
    (("observations", 2, "value"), 12.5),
    (("observations", 2, "unit"), "titre"),
    (("observations", 3, "reference_range"), {"high": 40, "low": 50}),
    (("observations", 0, "extra"), 1),
    (("statuses", 0, "value"), "yes"),
    (("statuses", 0, "value"), "NO"),
    (("statuses", 0, "value"), "post"),
    (("statuses", 0, "value"), 2),
    (("statuses", 0, "value"), None),
    (("statuses", 0, "date"), "1970-01-01"),
    (("statuses", 0, "confirmed_by"), ["a"]),
    (("statuses", 1, "name"), "consent"),
    (("assessments", 0, "score"), 106),
    (("assessments", 0, "score"), -1),
    (("assessments", 0, "score"), 105),
    (("assessments", 0, "score"), "8"),
    (("assessments", 0, "date"), _DELETE),
    (("conditions", 0, "criteria_met"), 12),
    (("conditions", 0, "criteria_met"), 11),
    (("conditions", 0, "criteria_met"), -1),
    (("conditions", 0, "criteria_met"), 6.0),
    (("conditions", 0, "criteria_met"), 6.5),
    (("conditions", 0, "classification"), "slicc_2012"),
    (("conditions", 0, "status"), "chronic"),
    (("conditions", 0, "verification"), "unconfirmed"),
    (("conditions", 0, "verification"), "maybe"),
    (("conditions", 0, "severity"), "severe"),
    (("conditions", 0, "severity"), "extreme"),
    (("conditions", 0, "controlled"), True),
    (("conditions", 1, "type"), "Basal cell"),
    (("conditions", 1, "onset"), "1900-01-01"),  # before birth, but conditions are not checked
    (("conditions", 1, "name"), "neoplasm"),
    (("medications", 0, "dose"), 0),
    (("medications", 0, "dose"), 2_000_000),
    (("medications", 0, "unit"), _DELETE),
    (("medications", 0, "unit"), "mcg"),
    (("medications", 0, "unit"), "ml"),
    (("medications", 0, "end"), "2025-12-31"),  # ends before it starts
    (("medications", 0, "end"), "2026-01-01"),
    (("medications", 0, "route"), "oral route"),
    (("medications", 0, "frequency"), "hourly"),
    (("medications", 0, "outcome"), "failure"),
    (("medications", 0, "drug"), "methotrexat"),
    (("medications", 0, "start"), _DELETE),
    (("medications", 1, "administrations"), ["2025-03-01", "1970-01-01"]),  # before birth
    (("medications", 1, "administrations"), ["2025-03-01", "2025-03-01"]),
    (("medications", 1, "administrations"), ["2025-02-30"]),
    (("medications", 1, "administrations"), "2025-03-01"),
    (("medications", 1, "dose"), _DELETE),
]

# Lines that are not a patient, or not JSON Python accepts, written as they are.
RAW_LINES = [
    b"{not json",
    b"[1, 2]",
    b'"a string"',
    b"null",
    b"   ",  # blank: not a record
    b"",
    b'{"schema_version": "1", "schema_version": "1", "patient_id": "dup", "demographics": {}}',
    b'{"schema_version": "1", "patient_id": "nan", "demographics": {}, "assessments": '
    b'[{"name": "selena_sledai", "score": NaN, "date": "2026-01-01"}]}',
    b'{"schema_version": "1", "patient_id": "inf", "demographics": {}, "observations": '
    b'[{"name": "weight", "value": Infinity, "unit": "kg", "date": "2026-01-01"}]}',
    b'{"schema_version": "1", "patient_id": "big", "demographics": {}, "observations": '
    b'[{"name": "weight", "value": 60000000000000000000000000, "unit": "g", "date": "2026-01-01"}]}',
    b'{"schema_version": "1", "patient_id": "exp", "demographics": {}, "observations": '
    b'[{"name": "weight", "value": 6.1e1, "unit": "kg", "date": "2026-01-01"}]}',
    b'{"schema_version": "1", "patient_id": "esc\\u00e9", "demographics": {}}',
    b'{"schema_version": "1", "patient_id": "lone\\ud800", "demographics": {}}',
    b'{"schema_version": "1", "patient_id": "caf\xc3\xa9", "demographics": {"source": "h\xc3\xb4pital"}}',
    b'{"schema_version": "1", "patient_id": "latin\xe9", "demographics": {}}',
    b'{"schema_version": "1", "patient_id": "crlf", "demographics": {}}\r',
    b'{"schema_version": "1", "patient_id": "ctrl\x01", "demographics": {}}',
    b'{"schema_version": "1", "patient_id": "nul\x00", "demographics": {}}',
    b'\x00\x00\x00',
    b'{"schema_version": "1", "patient_id": "cr", "demographics": {}}\r{"x": 1}',
    b'\xef\xbb\xbf{"schema_version": "1", "patient_id": "bom", "demographics": {}}',
    b'  {"schema_version": "1", "patient_id": "spaces", "demographics": {}}  ',
    b'{"schema_version": "1", "patient_id": "trailing", "demographics": {}} x',
    b'{"schema_version": "1", "patient_id": "neg0", "demographics": {}, "statuses": '
    b'[{"name": "pregnant", "value": -0, "date": "2026-01-01"}]}',
    b'{"schema_version": "1", "patient_id": "deep", "demographics": {}, "observations": '
    + b"[" * 80
    + b"]" * 80
    + b"}",
]  # fmt: skip


def test_each_change_of_a_patient_gives_the_same_result_on_both_readers(tmp_path: Path) -> None:
    base = _base()
    lines = [json.dumps(base)]
    for i, (path, value) in enumerate(MUTATIONS):
        changed = _set(base, path, value)
        changed["patient_id"] = changed["patient_id"] if path == ("patient_id",) else f"m-{i}"
        lines.append(json.dumps(changed))
    source = tmp_path / "mutations.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    records, fallback = fallback_count(source)
    assert records == len(MUTATIONS) + 1 and fallback < records  # the clean ones go through SQL
    report, _ = both_readers(tmp_path, [source])
    # most changes are refused, each with its field, and the rest of the file is read
    assert report["errors"] > len(MUTATIONS) // 2
    assert all(issue["line"] is not None for issue in report["issues"])
    assert report["patients"] == report["records"] - report["errors"]


def test_broken_lines_are_reported_with_their_line_and_the_rest_is_read(tmp_path: Path) -> None:
    good = json.dumps(_base())
    source = tmp_path / "broken.jsonl"
    with source.open("wb") as handle:
        for i, raw in enumerate(RAW_LINES):
            handle.write(good.replace('"p-1"', f'"good-{i}"').encode() + b"\n")
            handle.write(raw + b"\n")
    report, _ = both_readers(tmp_path, [source])
    lines = {issue["line"] for issue in report["issues"]}
    assert 2 in lines  # "{not json" is the second line
    assert report["patients"] >= len(RAW_LINES)


def test_sql_only_takes_certainly_clean_lines() -> None:
    """Each line that the Python loader refuses, or reads in a way the SQL does not copy,
    is left to Python: checked directly on the stager, not only through the outcome."""
    con = duckdb.connect()
    base = _base()
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "m.jsonl"
        changed = [_set(base, path, value) for path, value in MUTATIONS]
        source.write_text("\n".join(json.dumps(c) for c in [base, *changed]) + "\n", encoding="utf-8")
        fallback = set()
        for staged in from_native.stage_native(con, [source]):
            fallback |= {o for o, _ in staged.fallback}
            taken = {r[0] for r in con.execute(f"SELECT ord FROM {staged.tables['patients']}").fetchall()}
            assert taken.isdisjoint(fallback)
    assert 0 not in fallback  # the clean patient is read in SQL
    refused = {i + 1 for i, (path, value) in enumerate(MUTATIONS) if _loader_refuses(_set(base, path, value))}
    assert refused <= fallback


def _loader_refuses(data: dict[str, Any]) -> bool:
    from screener.errors import InputError
    from screener.model.patient import patient_from_data
    from screener.yamlio import LineMap

    try:
        patient_from_data(data, LineMap("x", {}))
    except InputError:
        return True
    return False


# --------------------------------------------------------------------------- writer


def test_an_interrupted_conversion_leaves_nothing_that_looks_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = generate(tmp_path / "registry.jsonl", 120, 5)
    out = tmp_path / "out"
    calls = []

    def boom(self: StagedWriter) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        original(self)

    original = StagedWriter._write_part
    monkeypatch.setattr(StagedWriter, "_write_part", boom)
    code = main(["convert", str(source), "--to", "tables", "--out", str(out), "--chunk-size", "50"])
    assert code != 0 and len(calls) == 2  # interrupted while writing the second part
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["registry.jsonl"]  # no tmp-, no spill- folder


def test_a_staged_relation_with_the_wrong_columns_is_refused(tmp_path: Path) -> None:
    with StagedWriter(tmp_path / "out") as writer:
        writer.con.execute("CREATE TEMP TABLE bad AS SELECT 1 AS pid, 'x' AS patient_id")
        with pytest.raises(Exception, match="layout needs"):
            writer.add(Staged(tables={"patients": "bad"}, fallback=(), issues=(), records=1))


def test_kinds_of_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("x: 1\n", encoding="utf-8")
    (tmp_path / "c.ndjson").write_text("", encoding="utf-8")
    assert kind_of(tmp_path / "a.jsonl") == "native"
    assert kind_of(tmp_path / "b.yaml") is None
    assert kind_of(tmp_path / "c.ndjson") == "fhir"
    con = duckdb.connect()
    runs = [(offset, s.records, dict(s.tables)) for offset, s in staged_inputs(con, [tmp_path / "b.yaml"])]
    assert runs == [(0, 1, {})]  # a YAML file is read by Python


def test_reader_python_and_sql_print_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "r.jsonl"
    source.write_text(json.dumps(_base()) + "\n{oops\n", encoding="utf-8")
    assert (
        main(["convert", str(source), "--to", "tables", "--out", str(tmp_path / "a"), "--reader", "python"])
        == 1
    )
    python = capsys.readouterr().err.replace(str(tmp_path / "a"), "OUT")
    assert main(["convert", str(source), "--to", "tables", "--out", str(tmp_path / "b")]) == 1
    sql = capsys.readouterr().err.replace(str(tmp_path / "b"), "OUT")
    assert sql == python
    assert f"{source}:2" in sql


def test_a_file_that_cannot_be_read_on_is_reported_as_by_the_python_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An I/O error midway (a disk failing): the lines before it are read, the error is one
    record at the last line read, and the next input is read, on both readers."""
    from screener.batch import inputs

    first = generate(tmp_path / "a.jsonl", 6, 8)
    second = generate(tmp_path / "b.jsonl", 4, 9)
    lines = inputs._jsonl_lines

    def failing(path: Path):  # type: ignore[no-untyped-def]
        for number, raw in lines(path):
            if path.name == "a.jsonl" and number == 4:
                raise OSError(5, "Input/output error")
            yield number, raw

    monkeypatch.setattr(inputs, "_jsonl_lines", failing)
    report, _ = both_readers(tmp_path, [first, second])
    assert report["patients"] == 3 + 4
    assert [(i["line"], i["message"]) for i in report["issues"]] == [(3, "cannot read: Input/output error")]


def test_an_empty_jsonl_gives_the_same_empty_registry(tmp_path: Path) -> None:
    source = tmp_path / "empty.jsonl"
    source.write_text("\n  \n\n", encoding="utf-8")
    report, _ = both_readers(tmp_path, [source])
    assert (report["patients"], report["records"], report["errors"]) == (0, 0, 0)
