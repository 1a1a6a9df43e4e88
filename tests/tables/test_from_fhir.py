"""FHIR into the columnar tables inside DuckDB (issue 17 §1): the same tables and the same
issues as the Python importer, on all the shared FHIR data, the fixtures and broken inputs."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

from screener.batch.inputs import iter_records  # noqa: E402
from screener.errors import ScreenerError  # noqa: E402
from screener.importers.fhir import split_bundle_to_ndjson  # noqa: E402
from screener.importers.mapping import load_mapping  # noqa: E402
from screener.model.patient import patient_from_data  # noqa: E402
from screener.tables.from_fhir import stage_fhir  # noqa: E402
from screener.tables.layout import TABLES  # noqa: E402
from screener.tables.write import TablesWriter  # noqa: E402
from screener.yamlio import LineMap  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SYNTHEA = ROOT.parent / "shared" / "data" / "smart-r4-synthea-sample"
FIXTURE = ROOT / "fixtures" / "fhir" / "eligible_refractory_lupus.bundle.json"
MAPPING = load_mapping()


def _write(records: list[tuple[int, Any]], out: Path) -> tuple[dict[int, int], list[tuple[Any, ...]]]:
    """Write (ord, Record) through the Python loader; pid -> ord, and the loader's refusals."""
    ords: dict[int, int] = {}
    refused = []
    with TablesWriter(out, chunk_size=100) as writer:
        for ord_, record in records:
            try:
                patient = patient_from_data(record.data, record.lines or LineMap(record.source, {}))
                ords[writer.add(patient, record.line)] = ord_
            except ScreenerError as error:
                refused.append((ord_, record.source, str(error)))
    return ords, refused


def _rows(con: Any, out: Path, ords: dict[int, int], table: str) -> list[tuple[Any, ...]]:
    rows = con.execute(f"SELECT * FROM read_parquet('{out}/{table}/*.parquet')").fetchall()
    return [(ords[r[0]], *r[1:]) for r in rows]


def python_path(
    inputs: list[Path], tmp: Path
) -> tuple[dict[str, list[tuple[Any, ...]]], list[Any], list[Any]]:
    data, issues = [], []
    for record in iter_records(inputs, mapping=MAPPING):
        if record.error is not None:
            e = record.error
            issues.append((record.index, record.source, record.line, e.field, e.message))
        else:
            data.append((record.index, record))
    ords, refused = _write(data, tmp / "python")
    con = duckdb.connect()
    return {t: sorted(_rows(con, tmp / "python", ords, t), key=repr) for t in TABLES}, issues, refused


def sql_path(
    inputs: list[Path], tmp: Path
) -> tuple[dict[str, list[tuple[Any, ...]]], list[Any], list[Any], Any]:
    con = duckdb.connect()
    staged = stage_fhir(con, inputs, MAPPING)
    ords, refused = _write(sorted(staged.fallback, key=lambda f: f[0]), tmp / "sql")
    tables = {}
    for table in TABLES:
        rows = _rows(con, tmp / "sql", ords, table)
        if table in staged.tables:
            rows += con.execute(f"SELECT * FROM {staged.tables[table]}").fetchall()
        tables[table] = sorted(rows, key=repr)
    issues = [(o, i.file, i.line, i.field, i.message) for o, i in staged.issues]
    return tables, sorted(issues), refused, (staged, con)


def assert_same(inputs: list[Path], tmp: Path) -> Any:
    expected, expected_issues, expected_refused = python_path(inputs, tmp)
    found, issues, refused, staged = sql_path(inputs, tmp)
    assert staged[0].records == len(list(iter_records(inputs, mapping=MAPPING)))
    for table in TABLES:
        assert found[table] == expected[table], table
    assert issues == expected_issues
    assert refused == expected_refused
    return staged


def _sql_share(staged: Any) -> tuple[int, int]:
    result, con = staged
    sql = con.execute(f"SELECT count(*) FROM {result.tables['patients']}").fetchone()[0]
    return sql, sql + len(result.fallback)


def test_synthea_bundles_give_the_python_tables(tmp_path: Path) -> None:
    staged = assert_same([SYNTHEA], tmp_path)
    sql, total = _sql_share(staged)
    assert total == 11 and sql >= 8  # most patients read in SQL, the rest by the Python converter


@pytest.mark.parametrize("gz", [False, True])
def test_synthea_as_bulk_ndjson_gives_the_python_tables(tmp_path: Path, gz: bool) -> None:
    bulk = tmp_path / "bulk"
    for bundle in sorted(SYNTHEA.glob("*.json")):
        part = tmp_path / "parts" / bundle.stem
        for f in split_bundle_to_ndjson(bundle, part):
            with (bulk / f.name).open("a") if (bulk.mkdir(exist_ok=True) or True) else None as out:
                out.write(f.read_text())
    if gz:
        for f in list(bulk.glob("*.ndjson")):
            with f.open("rb") as src, gzip.open(f.with_name(f.name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            f.unlink()
    staged = assert_same([bulk], tmp_path)
    sql, total = _sql_share(staged)
    assert total == 11 and sql >= 8


def test_fixture_bundle_and_its_ndjson(tmp_path: Path) -> None:
    assert_same([FIXTURE], tmp_path / "a")
    split_bundle_to_ndjson(FIXTURE, tmp_path / "nd")
    assert_same([tmp_path / "nd"], tmp_path / "b")


def _patient(pid: str, **more: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "birthDate": "1980-01-01", "gender": "female", **more}


def _obs(
    pid: str, oid: str, code: str, value: Any, unit: str, day: str = "2024-01-02", **more: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "effectiveDateTime": day,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
        **more,
    }


def test_broken_lines_are_reported_with_file_and_line_and_the_rest_is_read(tmp_path: Path) -> None:
    lines = [
        json.dumps(_patient("p1")),
        "{not json",
        "",
        json.dumps(_obs("p1", "o1", "2160-0", 1.1, "mg/dL")),
        '{"resourceType": "Observation", "value": NaN}',
        "[1, 2]",
        json.dumps(_patient("p2")),
        '{"resourceType": "Patient", "id": "p3", "id": "p4"}',
        json.dumps(_obs("p2", "o2", "2160-0", 97, "umol/L")),
        json.dumps(_obs("p2", "o3", "2160-0", 900, "mg/dL")),  # impossible: an error in Python
        json.dumps(_obs("p1", "o4", "718-7", 12.5, "g/dL", day="1970-01-01")),  # before birth
    ]
    f = tmp_path / "in.ndjson"
    f.write_text("\n".join(lines) + "\n")
    staged, _con = assert_same([f], tmp_path)
    found = {(i.line, i.message.split(":")[0]) for _, i in staged.issues}
    assert (2, "malformed JSON line") in found and (6, "not a FHIR resource") in found
    assert (5, "malformed JSON line") in found and (8, "malformed JSON line") in found


def test_statuses_units_and_boundaries_match(tmp_path: Path) -> None:
    rows = [_patient("a"), _patient("b", deceasedDateTime="2020-05-01"), _patient("c", deceasedBoolean=True)]
    for pid in "abc":
        rows += [
            _obs(pid, f"{pid}1", "2160-0", 0.05, "mg/dL"),  # creatinine at its lowest plausible value
            _obs(pid, f"{pid}2", "2160-0", 40, "mg/dL"),  # and its highest
            _obs(pid, f"{pid}3", "2160-0", 88.4, "umol/L"),  # converted
            _obs(pid, f"{pid}4", "2160-0", 1.0, "mg/dL", status="preliminary"),  # not a result
            _obs(pid, f"{pid}5", "2160-0", 1.0, "mg/dL", status="entered-in-error"),
        ]
    rows += [
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/a"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "55822004"}]},
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
            "onsetDateTime": "2010-01-01",
        },
        {
            "resourceType": "Condition",
            "id": "c2",
            "subject": {"reference": "Patient/a"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "86406008"}]},
            "verificationStatus": {"coding": [{"code": "provisional"}]},
            "onsetDateTime": "2011-01-01",
        },
        {
            "resourceType": "Condition",
            "id": "c3",
            "subject": {"reference": "Patient/b"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "86406008"}]},
            "verificationStatus": {"coding": [{"code": "refuted"}]},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m1",
            "status": "active",
            "intent": "proposal",
            "subject": {"reference": "Patient/b"},
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "312615",
                        "display": "predniSONE 20 MG Oral Tablet",
                    }
                ]
            },
            "authoredOn": "2020-01-01",
        },
        {
            "resourceType": "MedicationRequest",
            "id": "m2",
            "status": "stopped",
            "intent": "order",
            "subject": {"reference": "Patient/c"},
            "medicationCodeableConcept": {
                "coding": [
                    {
                        "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                        "code": "312615",
                        "display": "predniSONE 20 MG Oral Tablet",
                    }
                ]
            },
            "authoredOn": "2020-01-01",
            "dosageInstruction": [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 2}}],
                }
            ],
        },
    ]
    f = tmp_path / "in.ndjson"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    staged, con = assert_same([f], tmp_path)
    assert _sql_share((staged, con))[0] >= 2  # the common patients are read in SQL


def _generate(tmp: Path, n: int, compress: bool = False) -> Path:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from generate_fhir import write_fhir

    out = tmp / "bulk"
    write_fhir(out, n, seed=3, compress=compress, native=tmp / "carried.jsonl")
    return out


def test_generated_bulk_data_gives_the_python_tables_mostly_in_sql(tmp_path: Path) -> None:
    bulk = _generate(tmp_path, 120, compress=True)
    staged = assert_same([bulk], tmp_path)
    sql, total = _sql_share(staged)
    assert total == 120
    assert sql == 120  # the generated patient is all SQL: labs, blood gases, statuses, infusions...


def _procedure(pid: str, rid: str, code: str, day: str, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": rid,
        "status": status,
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": code}]},
        "performedDateTime": day,
    }


def _status(pid: str, rid: str, code: str, value: bool, day: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": "urn:screener:codes", "code": code}]},
        "effectiveDateTime": day,
        "valueBoolean": value,
    }


def test_contraception_statements_and_contacts_match(tmp_path: Path) -> None:
    iud, removal, implant = "65200003", "68254000", "169553002"  # mapping contraception: section
    rows = [_patient(p) for p in ("in", "out", "again", "planned", "same-day", "contact")]
    rows[-1]["contact"] = [{"relationship": [{"coding": [{"code": "GUARD"}]}]}]
    rows += [
        _procedure("in", "p1", iud, "2020-01-01"),  # in place
        _procedure("in", "p2", implant, "2019-01-01"),  # another method, in place too
        _procedure("out", "p3", iud, "2020-01-01"),
        _procedure("out", "p4", removal, "2020-01-01"),  # removed the same day: not in place
        _procedure("again", "p5", iud, "2018-01-01"),
        _procedure("again", "p6", removal, "2019-01-01"),
        _procedure("again", "p7", iud, "2021-01-01"),  # put back after the removal
        _procedure("planned", "p8", iud, "2021-01-01", status="preparation"),  # not done
        _status("same-day", "s1", "in-other-study", True, "2024-01-01"),
        _status("same-day", "s2", "in-other-study", False, "2024-01-01"),  # both left out
        _status("contact", "s3", "legal-protection", False, "2024-01-01"),
    ]
    f = tmp_path / "in.ndjson"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    staged, con = assert_same([f], tmp_path)
    kept = con.execute(
        f"SELECT ord, source FROM {staged.tables['statuses']} "
        "WHERE name = 'effective_contraception' ORDER BY ALL"
    ).fetchall()
    assert [o for o, _ in kept] == [0, 0, 2]  # two methods for "in", the IUD put back for "again"
    assert _sql_share((staged, con)) == (4, 6)  # same-day statements and a contact: Python


HOSTILE = ROOT / "tests" / "data" / "hostile" / "fhir"


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.json")))
def test_hostile_bundles_give_what_python_gives(tmp_path: Path, name: str) -> None:
    assert_same([HOSTILE / name], tmp_path)


def _deep(levels: int) -> str:
    return '{"url": "x", "extension": [' * levels + '{"url": "y"}' + "]}" * levels


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace('"id": "h"', '"id": "h", "id": "h2"'),  # a key given twice
        lambda t: t.replace('"female"', '"female", "multipleBirthInteger": NaN'),
        lambda t: t.replace('"female"', '"female", "multipleBirthInteger": 1e999'),  # overflows
        lambda t: t.replace('"female"', '"female", "name": [{"text": "\\udc00"}]'),  # lone surrogate
        lambda t: t.replace('"female"', '"female", "extension": [' + _deep(70) + "]"),  # too deep
        lambda t: t.replace('"female"', '"female", "name": [{"text": "caf\\u00e9"}]'),  # a fine escape
        lambda t: t.replace('"female"', '"female", "multipleBirthInteger": 1e2'),  # a fine exponent
    ],
)
def test_lines_python_refuses_are_refused_the_same_way(tmp_path: Path, mutate: Any) -> None:
    hostile = json.dumps(_patient("h"))
    lines = [
        json.dumps(_patient("ok")),
        mutate(hostile),
        json.dumps(_obs("ok", "o1", "2160-0", 1.1, "mg/dL")),
    ]
    f = tmp_path / "in.ndjson"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_same([f], tmp_path)


def test_latin1_bytes_and_the_importer_tests_broken_folder(tmp_path: Path) -> None:
    f = tmp_path / "latin1.ndjson"
    f.write_bytes(
        json.dumps(_patient("a")).encode()
        + b"\n"
        + json.dumps(_patient("b")).replace("female", "f\xe9male").encode("latin-1")
        + b"\n"
    )
    assert_same([f], tmp_path / "a")
    bulk = tmp_path / "bulk"
    bulk.mkdir()
    (bulk / "Patient.ndjson").write_text(
        json.dumps(_patient("p1")) + "\n" + json.dumps(_patient("p2", birthDate="1970")) + "\n"
    )
    (bulk / "Observation.ndjson").write_text(
        json.dumps(_obs("p1", "w1", "29463-7", 60, "kg"))
        + "\n"
        + '{"resourceType": "Observation", "id": "broken"\n\n'
        + json.dumps(_obs("ghost", "o2", "29463-7", 61, "kg"))
        + "\n"
    )
    (bulk / "log.ndjson").write_text('{"not": "a resource"}\n')  # the Bulk Data client's log: skipped
    assert_same([bulk], tmp_path / "b")


def test_a_patient_the_python_converter_fails_on_is_reported_as_python_reports_it(tmp_path: Path) -> None:
    rows = [_patient("a"), _patient("b", gender=["female"]), _patient("c")]  # a list: read_sex fails
    f = tmp_path / "in.ndjson"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    staged, _con = assert_same([f], tmp_path)
    assert any("internal error" in i.message for _, i in staged.issues)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: t.replace('"value": 1.1', '"value": 1.1, "value": 11'),  # the number read
        lambda t: t.replace('"unit": "mg/dL"', '"unit": "mg/dL", "unit": "mmol/L"'),  # its unit
        lambda t: t.replace('"code": "2160-0"', '"code": "2160-0", "code": "29463-7"'),  # the code
        lambda t: t.replace('"status": "final"', '"status": "final", "status": "entered-in-error"'),
    ],
)
def test_a_key_given_twice_inside_a_resource_is_refused_as_python_refuses_it(
    tmp_path: Path, mutate: Any
) -> None:
    """DuckDB reads the first of two values of one key, Python the last: neither may be
    read. The Python importer refuses the line (a value would be lost); so must the SQL."""
    hostile = mutate(json.dumps(_obs("ok", "o1", "2160-0", 1.1, "mg/dL")))
    assert hostile != json.dumps(_obs("ok", "o1", "2160-0", 1.1, "mg/dL"))
    f = tmp_path / "in.ndjson"
    f.write_text(json.dumps(_patient("ok")) + "\n" + hostile + "\n", encoding="utf-8")
    assert_same([f], tmp_path)
