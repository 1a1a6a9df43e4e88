"""OMOP CDM 5.4 cohort exports: CSV and database inserts, read back and compared with the rows."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from screener.model.rules import load_ruleset
from screener.outputs.cohort import COHORT_COLUMNS, DEFINITION_COLUMNS

from ..batch.conftest import AS_OF, RULES, variant
from .conftest import batch, make_patients, read_csv

duckdb = pytest.importorskip("duckdb")
SHARED_OMOP = Path(__file__).resolve().parents[3] / "shared" / "data" / "synthea27nj-omop"


def _expected(rows: list[dict[str, str]], *decisions: str) -> set[tuple[int, int, date, date]]:
    ids = {"eligible": 1, "incomplete": 2}
    return {
        (ids[r["decision"]], int(r["patient_id"]), AS_OF, AS_OF) for r in rows if r["decision"] in decisions
    }


def test_csv_cohort_round_trips_and_has_the_cdm_columns(tmp_path: Path, omop_patients: Path) -> None:
    out, cohort = tmp_path / "rows.csv", tmp_path / "cohort.csv"
    assert batch(omop_patients, out, "--omop-cohort", str(cohort)) == 0
    rows = read_csv(out)
    got = read_csv(cohort)
    assert tuple(got[0]) == COHORT_COLUMNS
    if SHARED_OMOP.exists():  # the same header as an OMOP CDM 5.4 extract's COHORT table
        header = (SHARED_OMOP / "COHORT.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(COHORT_COLUMNS)
        header = (SHARED_OMOP / "COHORT_DEFINITION.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(DEFINITION_COLUMNS)
    members = {
        (
            int(r["cohort_definition_id"]),
            int(r["subject_id"]),
            date.fromisoformat(r["cohort_start_date"]),
            date.fromisoformat(r["cohort_end_date"]),
        )
        for r in got
    }
    assert members == _expected(rows, "eligible") and len(members) == 2  # ids 1000 and 1005
    (definition,) = read_csv(tmp_path / "cohort_definition.csv")
    ruleset = load_ruleset(RULES)
    assert (
        definition["cohort_definition_id"] == "1"
        and ruleset.sha256 in definition["cohort_definition_description"]
    )
    syntax = json.loads(definition["cohort_definition_syntax"])
    assert syntax["ruleset_sha256"] == ruleset.sha256 and syntax["as_of"] == AS_OF.isoformat()
    assert len(definition["cohort_definition_name"]) <= 255
    assert (definition["definition_type_concept_id"], definition["subject_concept_id"]) == ("0", "0")


def test_incomplete_patients_get_their_own_cohort(tmp_path: Path, omop_patients: Path) -> None:
    out, cohort = tmp_path / "rows.jsonl", tmp_path / "cohort.csv"
    assert batch(omop_patients, out, "--omop-cohort", str(cohort), "--include", "incomplete") == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = {(int(r["cohort_definition_id"]), int(r["subject_id"])) for r in read_csv(cohort)}
    want = {(c, s) for c, s, _, _ in _expected(rows, "eligible", "incomplete")}
    assert got == want and {c for c, _ in got} == {1, 2}
    assert [d["cohort_definition_id"] for d in read_csv(tmp_path / "cohort_definition.csv")] == ["1", "2"]


def test_upcoming_patients_start_when_their_waiting_period_ends(tmp_path: Path, omop_patients: Path) -> None:
    # 1010: a rituximab dose whose 6-month washout ends four days after the screening date, when
    # every fact used is still fresh: eligible from that date (1004's washout ends in March, when
    # its labs are too old: only an earliest possible date, so it is not "upcoming")
    soon = variant(4)
    soon["patient_id"] = "1010"
    soon["medications"][-1]["start"] = "2026-05-28"
    (omop_patients / "010.json").write_text(json.dumps(soon), encoding="utf-8")
    out, cohort = tmp_path / "rows.csv", tmp_path / "cohort.csv"
    assert batch(omop_patients, out, "--omop-cohort", str(cohort), "--include", "upcoming") == 0
    waiting = {
        int(r["patient_id"]): date.fromisoformat(r["eligible_from"])
        for r in read_csv(out)
        if r["decision"] == "ineligible" and r["eligible_from"] and not r["unknown"]
    }
    assert waiting == {1010: date(2026, 11, 29)}  # the day after "within 6 months" of 2026-05-28
    got = {int(r["subject_id"]): date.fromisoformat(r["cohort_start_date"]) for r in read_csv(cohort)}
    assert {s: got[s] for s in waiting} == waiting
    assert {s for s, d in got.items() if d == AS_OF} == {1000, 1005}


@pytest.mark.parametrize("kind", ["duckdb", "sqlite"])
def test_database_insert_round_trips_and_is_not_repeated_without_overwrite(
    tmp_path: Path, omop_patients: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out, db = tmp_path / "rows.csv", tmp_path / f"omop.{kind}"
    assert batch(omop_patients, out, "--omop-cohort", str(db)) == 0
    want = _expected(read_csv(out), "eligible")

    def read() -> tuple[set[tuple], list[tuple]]:
        con = duckdb.connect(str(db)) if kind == "duckdb" else sqlite3.connect(str(db))
        try:
            cohort = con.execute("SELECT * FROM cohort").fetchall()
            defs = con.execute(
                "SELECT cohort_definition_id, cohort_definition_name FROM cohort_definition"
            ).fetchall()
        finally:
            con.close()
        if kind == "sqlite":  # SQLite keeps dates as ISO text
            cohort = [(c, s, date.fromisoformat(a), date.fromisoformat(b)) for c, s, a, b in cohort]
        return set(cohort), defs

    cohort, defs = read()
    assert cohort == want and len(defs) == 1 and defs[0][0] == 1
    out2 = tmp_path / "rows2.csv"
    assert batch(omop_patients, out2, "--omop-cohort", str(db)) == 2  # cohort id 1 already there
    assert "already has rows" in capsys.readouterr().err
    assert read() == (cohort, defs)
    assert batch(omop_patients, tmp_path / "rows3.csv", "--omop-cohort", str(db), "--overwrite") == 0
    assert read() == (cohort, defs)  # replaced, not doubled


def test_a_failing_insert_leaves_the_database_as_it_was(tmp_path: Path, omop_patients: Path) -> None:
    db = tmp_path / "omop.duckdb"
    con = duckdb.connect(str(db))
    # a site's cohort table with a column the export does not fill: the insert fails
    con.execute(
        "CREATE TABLE cohort (cohort_definition_id INTEGER, subject_id BIGINT, cohort_start_date DATE, "
        "cohort_end_date DATE, site_note VARCHAR NOT NULL)"
    )
    con.close()
    assert batch(omop_patients, tmp_path / "rows.csv", "--omop-cohort", str(db)) == 2
    con = duckdb.connect(str(db))
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert "cohort_definition" not in tables  # created in the same transaction: rolled back
        assert con.execute("SELECT count(*) FROM cohort").fetchone() == (0,)
    finally:
        con.close()


def test_ids_that_are_not_person_ids_need_a_map(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patients = make_patients(tmp_path / "named", [f"story-{i}" for i in range(5)])
    cohort = tmp_path / "cohort.csv"
    assert batch(patients, tmp_path / "rows.csv", "--omop-cohort", str(cohort)) == 2
    err = capsys.readouterr().err
    assert "'story-0' has no OMOP person_id" in err and "rows.csv:2: patient_id" in err
    assert not cohort.exists()
    mapping = tmp_path / "persons.csv"
    mapping.write_text("patient_id,person_id\n" + "".join(f"story-{i},{70 + i}\n" for i in range(5)))
    assert (
        batch(patients, tmp_path / "rows2.csv", "--omop-cohort", str(cohort), "--person-map", str(mapping))
        == 0
    )
    assert [(r["subject_id"]) for r in read_csv(cohort)] == ["70"]  # story-0 is the eligible one


def test_an_existing_cohort_file_is_refused_before_screening(
    tmp_path: Path, omop_patients: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cohort, out = tmp_path / "cohort.csv", tmp_path / "rows.csv"
    cohort.write_text("keep me\n", encoding="utf-8")
    assert batch(omop_patients, out, "--omop-cohort", str(cohort)) == 2
    assert "already exists; not overwritten (use --overwrite" in capsys.readouterr().err
    assert cohort.read_text(encoding="utf-8") == "keep me\n" and not out.exists()
    assert batch(omop_patients, out, "--omop-cohort", str(cohort), "--overwrite") == 0
    assert tuple(read_csv(cohort)[0]) == COHORT_COLUMNS


def test_omop_input_rows_carry_the_person_id(tmp_path: Path) -> None:
    if not SHARED_OMOP.exists():
        pytest.skip("shared OMOP extract not available")
    out = tmp_path / "rows.csv"
    assert batch(
        SHARED_OMOP, out, "--omop-cohort", str(tmp_path / "cohort.csv"), "--include", "incomplete"
    ) in (0, 1)
    persons = {r["person_id"] for r in read_csv(SHARED_OMOP / "PERSON.csv")}
    rows = read_csv(out)
    assert rows and {r["patient_id"] for r in rows} <= persons  # patient ids are the person_ids
    subjects = {r["subject_id"] for r in read_csv(tmp_path / "cohort.csv")}
    assert subjects <= persons
