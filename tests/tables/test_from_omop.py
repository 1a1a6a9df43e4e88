"""``screener.tables.from_omop``: OMOP extracts staged inside DuckDB give the Python path's
registry, row for row, and its error records (issue 17 §1, differential tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

from screener.importers.mapping import load_mapping  # noqa: E402
from screener.importers.omop import iter_omop  # noqa: E402
from screener.tables.from_omop import stage_omop  # noqa: E402
from tests.importers.conftest import shared_path  # noqa: E402
from tests.tables.omop_compare import compare  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURE = REPO / "fixtures" / "omop" / "eligible_refractory_lupus"


@pytest.fixture(scope="module")
def mapping():  # type: ignore[no-untyped-def]
    return load_mapping()


def _same(inputs: list[Path], mapping, tmp: Path):  # type: ignore[no-untyped-def]
    diffs, python_errors, sql_errors, (con, staged) = compare(inputs, mapping, tmp)
    assert diffs == {}, diffs
    assert sql_errors == python_errors
    return python_errors, con, staged


def _count(con, table: str) -> int:  # type: ignore[no-untyped-def]
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_shared_extract_is_the_python_registry_row_for_row(mapping, tmp_path: Path) -> None:
    errors, con, staged = _same([shared_path("data", "synthea27nj-omop")], mapping, tmp_path)
    assert errors == []
    assert staged.records == 28
    fallback = [record for _, record in staged.fallback]
    # every person goes through SQL, with real rows: results in canonical units, conditions,
    # drugs, contraceptive methods in place (with removals), deaths
    assert _count(con, staged.tables["patients"]) == 28 and fallback == []
    for table, rows in (("observations", 1575), ("conditions", 28), ("medications", 32), ("statuses", 21)):
        assert _count(con, f"py_{table}") == rows == _count(con, staged.tables[table])
    assert _count(con, f"(SELECT * FROM {staged.tables['patients']} WHERE deceased IS NOT NULL)") == 3


def test_the_eligible_fixture_and_two_inputs_in_one_stream(mapping, tmp_path: Path) -> None:
    _errors, _con, staged = _same([FIXTURE], mapping, tmp_path / "one")
    # statuses, coded answers and blood gases: the person is read by the Python importer
    assert [o for o, r in staged.fallback if r.data] == [0]
    _errors, _con, staged = _same(
        [FIXTURE, shared_path("data", "synthea27nj-omop")], mapping, tmp_path / "two"
    )
    assert staged.records == 29  # ords run on across inputs
    # a second call on the same connection leaves the first call's tables as they were
    again = stage_omop(_con, [FIXTURE], mapping)
    assert set(again.tables.values()).isdisjoint(staged.tables.values())
    assert _count(_con, staged.tables["patients"]) == 28


def _as_parquet(source: Path, target: Path) -> Path:
    target.mkdir()
    con = duckdb.connect()
    for csv in sorted(source.glob("*.csv")):
        con.execute(
            # typed as an OMOP Parquet export is (ids BIGINT, dates DATE...); no column read as BOOLEAN
            f"COPY (SELECT * FROM read_csv('{csv}', header = true, auto_type_candidates = "
            "['BIGINT', 'DOUBLE', 'DATE', 'TIMESTAMP', 'VARCHAR'])) TO "
            f"'{target / (csv.stem + '.parquet')}' (FORMAT parquet)"
        )
    con.close()
    return target


def test_the_shared_extract_as_parquet_gives_the_same_tables(mapping, tmp_path: Path) -> None:
    source = shared_path("data", "synthea27nj-omop")
    parquet = _as_parquet(source, tmp_path / "parquet")
    diffs, python_errors, _sql, (con, staged) = compare([source], mapping, tmp_path / "csv")
    assert diffs == {} and python_errors == []
    con = duckdb.connect()
    from tests.tables.omop_compare import differences, python_registry, sql_registry

    python_registry([source], mapping, tmp_path / "python")
    errors, staged = sql_registry(con, [parquet], mapping, tmp_path / "pq")
    assert errors == []
    # the file column names the input given; everything else is the CSV's registry
    con.execute(f"UPDATE sql_patients SET file = '{source}'")
    assert differences(con, tmp_path / "python") == {}
    assert list(staged.fallback) == []


def test_the_fixture_as_parquet(mapping, tmp_path: Path) -> None:
    from tests.tables.omop_compare import differences, python_registry, sql_registry

    parquet = _as_parquet(FIXTURE, tmp_path / "parquet")
    python_registry([FIXTURE], mapping, tmp_path / "python")
    con = duckdb.connect()
    errors, staged = sql_registry(con, [parquet], mapping, tmp_path / "pq")
    assert errors == [] and [o for o, r in staged.fallback if r.data] == [0]  # Parquet written as CSV
    con.execute(f"UPDATE sql_patients SET file = '{FIXTURE}'")
    assert differences(con, tmp_path / "python") == {}


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _broken_copy(tmp: Path) -> Path:
    """The shared extract with broken rows and values of every kind the importer reports."""
    cdm = tmp / "cdm"
    shutil.copytree(shared_path("data", "synthea27nj-omop"), cdm)
    measurement = cdm / "MEASUREMENT.csv"
    rows = _lines(measurement)
    rows[5] = ",".join(rows[5].split(",")[:-3]) + "\n"  # line 6: too few fields
    creatinine = next(i for i, r in enumerate(rows) if ",2160-0," in r)
    fields = rows[creatinine].split(",")
    fields[8] = "high"  # a creatinine value that is not a number: an error record, then the person
    rows[creatinine] = ",".join(fields)
    measurement.write_text("".join(rows), encoding="utf-8")
    conditions = cdm / "CONDITION_OCCURRENCE.csv"
    rows = _lines(conditions)
    rows[10] = rows[10].rstrip("\n") + ",extra\n"  # line 11: too many fields
    conditions.write_text("".join(rows), encoding="utf-8")
    person = cdm / "PERSON.csv"
    rows = _lines(person)
    rows[3] = "," + rows[3].split(",", 1)[1]  # line 4: empty person_id
    person.write_text("".join(rows), encoding="utf-8")
    drugs = cdm / "DRUG_EXPOSURE.csv"
    rows = _lines(drugs)
    cyclosporine = next(i for i, r in enumerate(rows) if "241834" in r)
    header = rows[0].rstrip("\n").split(",")
    fields = rows[cyclosporine].split(",")
    fields[header.index("drug_exposure_start_date")] = "2019-02-30"  # not a calendar date
    rows[cyclosporine] = ",".join(fields)
    drugs.write_text("".join(rows), encoding="utf-8")
    return cdm


def test_broken_rows_and_values_are_the_python_paths_errors_and_the_rest_goes_on(
    mapping, tmp_path: Path
) -> None:
    cdm = _broken_copy(tmp_path)
    errors, con, staged = _same([cdm], mapping, tmp_path / "cmp")
    messages = {(Path(e[1]).name, e[2], e[3]) for e in errors}
    assert ("MEASUREMENT.csv", 6, None) in messages
    assert ("CONDITION_OCCURRENCE.csv", 11, None) in messages
    assert ("PERSON.csv", 4, "person_id") in messages
    assert any(name == "MEASUREMENT.csv" and field == "value_as_number" for name, _, field in messages)
    assert any(
        name == "DRUG_EXPOSURE.csv" and field == "drug_exposure_start_date" for name, _, field in messages
    )
    # the broken rows are found by the SQL itself; the bad values by the persons' Python reading
    assert {Path(i.file).name for _, i in staged.issues} == {
        "MEASUREMENT.csv",
        "CONDITION_OCCURRENCE.csv",
        "PERSON.csv",
    }
    assert _count(con, "py_patients") == 27  # everyone else is written


def test_an_extract_the_sql_cannot_number_is_read_whole_by_python(mapping, tmp_path: Path) -> None:
    cdm = tmp_path / "cdm"
    shutil.copytree(FIXTURE, cdm)
    measurement = cdm / "measurement.csv"
    rows = _lines(measurement)
    measurement.write_text("".join([*rows[:3], "\n", *rows[3:]]), encoding="utf-8")  # a blank line
    _errors, con, staged = _same([cdm], mapping, tmp_path / "cmp")
    assert _count(con, staged.tables["patients"]) == 0 and len(list(staged.fallback)) == 1


def test_a_missing_person_table_says_what_the_importer_says(mapping, tmp_path: Path) -> None:
    cdm = tmp_path / "cdm"
    shutil.copytree(FIXTURE, cdm)
    (cdm / "person.csv").unlink()
    run = iter_omop([cdm], mapping)
    assert list(run) == []
    staged = stage_omop(duckdb.connect(), [cdm], mapping)
    assert [i for _, i in staged.issues] == [i for i in run.log.issues if i.level == "error"]
    assert staged.records == 1 and [o for o, _ in staged.issues] == [0]


def _write(path: Path, text: str) -> None:
    path.write_text(text.lstrip("\n"), encoding="utf-8")


def test_values_units_ranges_doses_stop_reasons_deaths_periods_and_methods_through_sql(
    mapping, tmp_path: Path
) -> None:
    """A hand-made extract of what the SQL assembles itself, each on both sides: unit conversion,
    reference ranges (a bound that is not a number), a censored value, daily doses from RxNorm
    names, stop reasons (clear and unclear), an unreadable end date, diagnosis and medication
    lists, birth from its parts, a death without a readable date, observed periods, and
    contraceptive methods put in place and taken out (on the same day, and before a new start)."""
    cdm = tmp_path / "cdm"
    cdm.mkdir()
    shutil.copy(FIXTURE / "cdm_source.csv", cdm / "cdm_source.csv")
    _write(
        cdm / "person.csv",
        """
person_id,gender_concept_id,year_of_birth,month_of_birth,day_of_birth,birth_datetime,gender_source_value
1001,0,1992,3,14,,F
1002,0,1980,11,2,1980-11-02 00:00:00,f
""",
    )
    _write(
        cdm / "concept.csv",
        """
concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code,valid_start_date,valid_end_date,invalid_reason
4171756,<,Meas Value Operator,Meas Value Operator,Meas Value Operator,S,<,1970-01-01,2099-12-31,
4172703,=,Meas Value Operator,Meas Value Operator,Meas Value Operator,S,=,1970-01-01,2099-12-31,
""",
    )
    _write(
        cdm / "measurement.csv",
        """
measurement_id,person_id,measurement_concept_id,measurement_date,measurement_datetime,value_as_number,operator_concept_id,unit_concept_id,range_low,range_high,measurement_source_value,measurement_source_concept_id,unit_source_value
2000,1001,0,2026-11-18,,61,0,0,,,29463-7,0,kg
2001,1001,0,2026-11-18,,165,,0,,,8302-2,0,cm
2002,1001,0,2026-11-18,,68,4172703,0,45,90,2160-0,0,umol/L
2003,1001,0,2026-11-18,,31,0,0,n/a,35,1920-8,0,U/L
2004,1001,0,2026-10-01,,20,4171756,0,,,1742-6,0,U/L
2005,1001,0,2026-11-18,,2.9,0,0,,,751-8,0,10*9/L
2007,1001,0,2026-11-18,,112,0,0,,,718-7,0,g/L
2008,1002,0,2025-05-01,,1.1,0,0,,,2160-0,0,mg/dL
2009,1002,0,2025-05-01,,4,0,0,,,72514-3,0,{score}
""",
    )
    _write(
        cdm / "drug_exposure.csv",
        """
drug_exposure_id,person_id,drug_concept_id,drug_exposure_start_date,drug_exposure_end_date,stop_reason,quantity,days_supply,route_concept_id,route_source_value,drug_source_value,drug_source_concept_id
5001,1001,0,2019-06-10,2020-01-31,no response,944,236,0,oral,312617,0
5002,1001,0,2020-02-01,2021-13-31,adverse effect: nausea,2550,425,0,oral,200060,0
5003,1001,0,2026-06-01,,finished course,,,0,oral,8640,0
5004,1001,0,2019-06-10,,maybe later,,,0,oral,5521,0
5005,1001,0,2026-11-18,,,,,0,,807283,0
5006,1001,0,2018-01-01,2018-02-01,,,,0,,1049630,0
5007,1002,0,2024-01-01,,,,,0,,1049630,0
""",
    )
    _write(
        cdm / "condition_occurrence.csv",
        """
condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_end_date,condition_source_value,condition_source_concept_id
4001,1001,0,2019-05-20,,55464009,0
4002,1001,0,2010-01-01,2011-13-01,38341003,0
4003,1002,0,2015-03-01,2016-01-01,38341003,0
""",
    )
    _write(
        cdm / "procedure_occurrence.csv",
        """
procedure_occurrence_id,person_id,procedure_concept_id,procedure_date,procedure_source_value,procedure_source_concept_id
6001,1001,0,2023-03-15,65200003,0
6002,1001,0,2024-03-15,68254000,0
6003,1002,0,2020-01-01,169553002,0
6004,1002,0,2020-01-01,301807007,0
""",
    )
    _write(cdm / "death.csv", "person_id,death_date,death_datetime\n1002,2026-02-30,\n")
    _write(
        cdm / "observation_period.csv",
        """
person_id,observation_period_start_date,observation_period_end_date
1001,2015-01-01,2020-12-31
1001,2021-01-01,
1002,2010-01-01,2026-01-01
""",
    )
    errors, con, staged = _same([cdm], mapping, tmp_path / "cmp")
    assert errors == [] and list(staged.fallback) == []  # both persons assembled in SQL
    rows = con.execute(
        "SELECT name, value_num, unit, reference_low, reference_high FROM sql_observations "
        "WHERE name IN ('creatinine', 'ast', 'alt', 'hemoglobin') ORDER BY pid, seq"
    ).fetchall()
    assert [r[0] for r in rows] == ["creatinine", "ast", "hemoglobin", "creatinine"]  # ALT < 20 left out
    assert rows[0][2] == "mg/dL" and rows[0][1] < 1 and rows[0][3] < rows[0][4] < 1.1
    assert rows[1][3] is None and rows[1][4] == 35
    meds = con.execute("SELECT drug, outcome, dose_mg FROM sql_medications ORDER BY pid, seq").fetchall()
    assert ("other_medication", None, None) in meds and any(m[1] == "adverse_effect" for m in meds)
    assert any(m[1] == "inefficacy" and m[2] for m in meds)
    statuses = con.execute("SELECT pid, source FROM sql_statuses").fetchall()
    assert len(statuses) == 1 and statuses[0][0] == 0  # the IUD of 1001; 1002's implant came out
    patients = con.execute("SELECT birth_date, deceased_undated, observed FROM sql_patients ORDER BY pid")
    assert [(str(b), u, o) for b, u, o in patients.fetchall()] == [
        ("1992-03-14", False, "2015-01-01/2020-12-31;2021-01-01/"),
        ("1980-11-02", True, "2010-01-01/2026-01-01"),
    ]


def test_vocabulary_tables_answer_alike_as_csv_and_as_parquet(mapping, tmp_path: Path) -> None:
    """CONCEPT_ANCESTOR descendants, "Maps to" source concepts, DRUG_STRENGTH doses, the text
    safety net (an unconfirmed condition), a benign code: the SQL joins the importer's answers."""
    from tests.importers.test_omop_vocabulary import _cdm
    from tests.tables.omop_compare import differences, python_registry, sql_registry

    (tmp_path / "csv").mkdir()
    cdm = _cdm(tmp_path / "csv")
    errors, con, staged = _same([cdm], mapping, tmp_path / "cmp")
    assert errors == [] and list(staged.fallback) == []
    conditions = con.execute("SELECT name, verification FROM sql_conditions ORDER BY seq").fetchall()
    assert ("neoplasia", "unconfirmed") in conditions and ("neoplasia", "confirmed") in conditions
    assert con.execute("SELECT count(*) FROM sql_medications WHERE dose_mg IS NOT NULL").fetchone()[0] == 2
    parquet = _as_parquet(cdm, tmp_path / "parquet")
    python_registry([cdm], mapping, tmp_path / "python")
    con = duckdb.connect()
    errors, staged = sql_registry(con, [parquet], mapping, tmp_path / "pq")
    assert errors == [] and list(staged.fallback) == []
    con.execute(f"UPDATE sql_patients SET file = '{cdm}'")
    assert differences(con, tmp_path / "python") == {}


def test_an_input_that_is_no_directory_is_what_the_python_path_makes_of_it(mapping, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-extract"
    _errors, _con, staged = _same([missing, FIXTURE], mapping, tmp_path / "cmp")
    assert staged.records == 2 and [o for o, r in staged.fallback if r.error] == [0]
