"""OMOP CDM extracts (CSV, TSV or Parquet) into the columnar tables inside DuckDB (issue 17 §1).

:func:`stage_omop` gives, for each input directory, the rows the Python importer
(:mod:`screener.importers.omop`) and the patient loader would give, as a
:class:`~screener.tables.staged.Staged`:

1. DuckDB reads the tables (:mod:`screener.tables.omop_read`): lines numbered as Python's
   ``csv`` module numbers them, broken rows reported with file and line.
2. Each distinct concept key is classified once with the importer's own methods, and each
   distinct (name, value, unit) converted once by :mod:`screener.units`
   (:mod:`screener.tables.omop_codes`); the answers are DuckDB tables joined to the rows.
3. SQL assembles demographics, DEATH, OBSERVATION_PERIOD, conditions (with ``also``
   targets and the ``other_diagnosis`` marker), drug exposures (DRUG_STRENGTH daily dose,
   route, stop reason, the ``other_medication`` marker) and numeric measurements and
   observations (unit conversion, reference ranges, censored values left out), contraceptive
   methods in place (:mod:`screener.tables.omop_sql`), in the importer's order (``seq``).
4. A person with anything the SQL does not assemble (a status, a coded answer, a blood gas,
   a SLEDAI or classification count, a name the loader does not know, a date or value the
   importer or loader would refuse...) is read whole by the Python importer and handed back
   as ``fallback`` records (its error records included), so nothing is guessed. An extract
   the SQL cannot number exactly (:attr:`~screener.tables.omop_read.Extract.exact`), and an
   input that is not a directory, are read whole by the Python path. Parquet tables are
   written as CSV for it (file names in its issues are given back as the Parquet files').

Each call names its DuckDB tables apart (``omop<call>_...``); the read tables and the code
tables stay in the connection beside the staged ones.

``ord`` is the position in :func:`screener.batch.inputs.iter_records`'s stream for the same
inputs: the broken rows first (the importer reads every table before the first person), then
per person its error records and its record.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from screener.batch.inputs import Record, RecordError, iter_records
from screener.importers.core import ImportIssue
from screener.importers.mapping import Mapping
from screener.importers.omop import iter_omop
from screener.importers.omop_files import _VOCABULARY_TABLES
from screener.tables.layout import TABLES
from screener.tables.omop_codes import Codes, register
from screener.tables.omop_read import (
    COLUMNS,
    READ_ORDER,
    WHITESPACE,
    Extract,
    is_parquet,
    read_extract,
    sql_string,
)
from screener.tables.omop_sql import assemble, insert
from screener.tables.staged import Staged
from screener.terminology.omop_vocab import ExtractVocabulary

_WS = sql_string(WHITESPACE)  # what Python's str.strip() removes
_DATE = r"'^(\d{4})-(\d{2})-(\d{2})([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$'"
_MACROS = f"""
CREATE OR REPLACE MACRO omop_trim(x) AS trim(x, {_WS});
CREATE OR REPLACE MACRO omop_day(x) AS CASE
    WHEN regexp_matches(x, {_DATE}) AND substr(x, 1, 4) <> '0000'
    THEN TRY_CAST(substr(x, 1, 10) AS DATE) END;
CREATE OR REPLACE MACRO omop_date(x) AS omop_day(omop_trim(x));
CREATE OR REPLACE MACRO omop_quiet(x) AS CASE WHEN x = '' THEN NULL ELSE omop_day(x) END;
CREATE OR REPLACE MACRO omop_sources(l, what) AS
    array_to_string(list_slice(l, 1, 3), ', ')
    || CASE WHEN len(l) > 3 THEN ' and ' || (len(l) - 3) || ' more' ELSE '' END
    || ': ' || what || ' (the record has this list)';
"""
_CALLS = itertools.count()  # each call's tables have their own names in the connection


def stage_omop(con: Any, inputs: list[Path], mapping: Mapping) -> Staged:
    """Stage OMOP extracts ``inputs`` (directories) in ``con`` (see the module docstring)."""
    con.execute("SET enable_progress_bar = false")  # nothing printed to the caller's terminal
    for statement in _MACROS.split(";"):
        if statement.strip():
            con.execute(statement)
    call = next(_CALLS)
    out = f"omop{call}_staged_"
    for table, columns in TABLES.items():
        typed = ", ".join(f'"{"ord" if c == "pid" else c}" {t}' for c, t in columns)
        con.execute(f"CREATE OR REPLACE TABLE {out}{table} ({typed})")
    fallback: list[tuple[int, Record]] = []
    issues: list[tuple[int, ImportIssue]] = []
    base = 0
    with tempfile.TemporaryDirectory(prefix="screener-omop-") as tmp:
        for n, path in enumerate(map(Path, inputs)):
            prefix = f"omop{call}_{n}_"
            base = _stage_one(con, path, mapping, prefix, out, base, fallback, issues, Path(tmp) / str(n))
    return Staged({t: f"{out}{t}" for t in TABLES}, fallback, tuple(issues), base)


# ------------------------------------------------------------------------------ one extract


def _stage_one(
    con: Any,
    path: Path,
    mapping: Mapping,
    p: str,
    out: str,
    base: int,
    fallback: list[tuple[int, Record]],
    issues: list[tuple[int, ImportIssue]],
    tmp: Path,
) -> int:
    """Stage one extract from ord ``base``; return the next ord."""
    if not path.is_dir():  # not an extract: whatever the Python path makes of it
        count = 0
        for record in iter_records([path], mapping=mapping):
            fallback.append((base + record.index, replace(record, index=base + record.index)))
            count = record.index + 1
        return base + count
    extract = read_extract(con, path, p)
    if not extract.has("person"):
        issues.append((base, ImportIssue(str(path), None, None, "no PERSON table (person.csv) found")))
        return base + 1
    _people(con, extract, p)
    if not extract.exact:
        return _all_python(path, mapping, extract, base, fallback, tmp, con)
    pre = _broken_rows(con, extract, p)
    for i, issue in enumerate(pre):
        issues.append((base + i, issue))
    base += len(pre)
    _rows(con, extract, p)
    _classify(con, extract, mapping, p, tmp)
    assemble(con, p)
    complex_ids = [r[0] for r in con.execute(f"SELECT pid FROM {p}complex ORDER BY pid").fetchall()]
    weights: list[tuple[str, int]] = []
    if complex_ids:
        python_dir, files = _python_dir(con, extract, tmp)
        run = iter_omop([python_dir], mapping, person_ids=complex_ids)
        records = {r.patient_id: r for r in run}
        errors: dict[str, list[ImportIssue]] = {}
        for issue in run.log.issues:
            if issue.level == "error" and issue.patient_id is not None:
                errors.setdefault(issue.patient_id, []).append(issue)
        for pid in complex_ids:
            weights.append((pid, len(errors.get(pid, ())) + (pid in records)))
        register(con, f"{p}weights", {"pid": "VARCHAR", "w": "BIGINT"}, weights)
    else:
        register(con, f"{p}weights", {"pid": "VARCHAR", "w": "BIGINT"}, [])
        records, errors, files = {}, {}, {}
    # each person's first ord: SQL persons take one, Python ones their error records and record
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}ords AS SELECT pid, {base} + COALESCE(SUM(w) OVER (
            ORDER BY ord ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS first, w
        FROM (SELECT e.pid, e.ord, COALESCE(w.w, 1) AS w
              FROM {p}people e LEFT JOIN {p}weights w USING (pid))"""
    )
    first = dict(
        con.execute(f"SELECT pid, first FROM {p}ords WHERE pid IN (SELECT pid FROM {p}complex)").fetchall()
    )
    source = str(path)
    for pid in complex_ids:
        at = int(first[pid])
        for issue in errors.get(pid, ()):
            issue = _renamed(issue, files)
            error = RecordError(issue.message, issue.field, issue.line, issue.file)
            fallback.append((at, Record(issue.file or source, issue.line, at, error=error)))
            at += 1
        if pid in records:
            fallback.append((at, Record(source, None, at, records[pid].data)))
    insert(con, p, source, out)
    total = con.execute(f"SELECT COALESCE(SUM(w), 0) FROM {p}ords").fetchone()[0]
    return base + int(total)


def _broken_rows(con: Any, extract: Extract, p: str) -> list[ImportIssue]:
    """The issues the importer logs before its first person, in its order: each table's broken
    rows (and PERSON's rows with an empty person_id) by line, tables in reading order."""
    out: list[ImportIssue] = []
    for table in READ_ORDER:
        if not extract.has(table):
            continue
        file = str(extract.files[table])
        found = [r for r in extract.rejects if r.file == file]
        if table == "person":
            empty = _fetch(con, f"SELECT line FROM {p}person WHERE omop_trim(person_id) = '' ORDER BY line")
            found += [
                ImportIssue(file, line, "person_id", "empty person_id; not imported") for (line,) in empty
            ]
        out += sorted(found, key=lambda r: r.line or 0)
    return out


def _renamed(issue: ImportIssue, files: dict[str, str]) -> ImportIssue:
    return replace(issue, file=files.get(issue.file, issue.file)) if files else issue


def _python_dir(con: Any, extract: Extract, tmp: Path) -> tuple[Path, dict[str, str]]:
    """A directory the Python importer reads (Parquet tables written as CSV), and the CSV file
    names to give back as the Parquet files'."""
    if not any(is_parquet(f) for f in extract.files.values()):
        return extract.directory, {}
    tmp.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for table, file in extract.files.items():
        target = tmp / f"{table}.csv"
        if is_parquet(file):
            con.execute(
                f"COPY (SELECT * FROM read_parquet({sql_string(str(file))})) TO "
                f"{sql_string(str(target))} (FORMAT csv, HEADER)"
            )
        else:
            target.write_bytes(file.read_bytes())
        names[str(target)] = str(file)
    return tmp, names


def _all_python(
    path: Path,
    mapping: Mapping,
    extract: Extract,
    base: int,
    fallback: list[tuple[int, Record]],
    tmp: Path,
    con: Any,
) -> int:
    """The whole extract read by the Python importer (the SQL cannot read it exactly)."""
    python_dir, files = _python_dir(con, extract, tmp)
    count = 0
    for record in iter_records([python_dir], mapping=mapping):
        at = base + record.index
        source = files.get(record.source, str(path) if record.source == str(python_dir) else record.source)
        error = record.error
        if error is not None and error.source:
            error = replace(error, source=files.get(error.source, error.source))
        fallback.append((at, replace(record, source=source, index=at, error=error)))
        count += 1
    return base + count


# ------------------------------------------------------------------------------ SQL


def _people(con: Any, extract: Extract, p: str) -> None:
    """Persons in PERSON order (``ord`` local), birth date, sex; duplicates make the extract inexact."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}people AS
        SELECT omop_trim(person_id) AS pid, line, row_number() OVER (ORDER BY line) AS ord,
               gender_concept_id, gender_source_value, birth_datetime, year_of_birth, month_of_birth,
               day_of_birth
        FROM {p}person WHERE omop_trim(person_id) <> ''"""
    )
    dup = con.execute(f"SELECT count(*) - count(DISTINCT pid) FROM {p}people").fetchone()[0]
    if dup:
        extract.inexact("PERSON names a person_id twice")
    if extract.has("observation_period"):
        bad = con.execute(
            f"""SELECT count(*) FROM {p}observation_period o JOIN {p}people e
                ON omop_trim(o.person_id) = e.pid
            WHERE omop_date(observation_period_start_date) IS NULL
               OR (omop_trim(observation_period_end_date) <> ''
                   AND (omop_date(observation_period_end_date) IS NULL
                        OR omop_date(observation_period_end_date)
                           < omop_date(observation_period_start_date)))"""
        ).fetchone()[0]
        if bad:
            extract.inexact("an OBSERVATION_PERIOD row the importer reports")


_CLINICAL_ROWS = {
    "condition_occurrence": "condition",
    "drug_exposure": "drug",
    "measurement": "measurement",
    "observation": "observation",
    "procedure_occurrence": "procedure",
}


def _rows(con: Any, extract: Extract, p: str) -> None:
    """The selected persons' clinical rows, fields stripped as the importer strips them."""
    for table in _CLINICAL_ROWS:
        cols = [c for c in COLUMNS[table] if c != "person_id"]
        trim = extract.trim(table)
        fields = ", ".join(f"{trim}({c}) AS {c}" for c in cols)
        if extract.has(table):
            con.execute(
                f"""CREATE OR REPLACE TABLE {p}r_{table} AS SELECT e.pid, e.ord, t.line, {fields}
                FROM {p}{table} t JOIN {p}people e ON {trim}(t.person_id) = e.pid"""
            )
        else:
            typed = ", ".join(f"{c} VARCHAR" for c in cols)
            con.execute(
                f"CREATE OR REPLACE TABLE {p}r_{table} (pid VARCHAR, ord BIGINT, line BIGINT, {typed})"
            )


def _fetch(con: Any, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


def _vocabulary_files(con: Any, extract: Extract, tmp: Path) -> dict[str, Path]:
    """The extract's files with its Parquet vocabulary tables (CONCEPT_RELATIONSHIP,
    CONCEPT_ANCESTOR, DRUG_STRENGTH) written as CSV, which :class:`ExtractVocabulary` streams."""
    files = dict(extract.files)
    for table, file in extract.files.items():
        if table in _VOCABULARY_TABLES and is_parquet(file):
            tmp.mkdir(parents=True, exist_ok=True)
            files[table] = tmp / f"{table}.vocabulary.csv"
            con.execute(
                f"COPY (SELECT * FROM read_parquet({sql_string(str(file))})) TO "
                f"{sql_string(str(files[table]))} (FORMAT csv, HEADER)"
            )
    return files


def _classify(con: Any, extract: Extract, mapping: Mapping, p: str, tmp: Path) -> None:
    """The joined code tables (:mod:`screener.tables.omop_codes`)."""
    cond = _fetch(
        con,
        f"SELECT DISTINCT condition_concept_id, condition_source_concept_id, condition_source_value "
        f"FROM {p}r_condition_occurrence",
    )
    drug = _fetch(
        con,
        f"SELECT DISTINCT drug_concept_id, drug_source_concept_id, drug_source_value, route_concept_id, "
        f"route_source_value FROM {p}r_drug_exposure",
    )
    meas = _fetch(
        con,
        f"""SELECT DISTINCT 'measurement', measurement_concept_id, measurement_source_concept_id,
            measurement_source_value FROM {p}r_measurement
        UNION SELECT DISTINCT 'observation', observation_concept_id, observation_source_concept_id,
            observation_source_value FROM {p}r_observation""",
    )
    proc = _fetch(
        con,
        f"SELECT DISTINCT procedure_concept_id, procedure_source_concept_id, procedure_source_value "
        f"FROM {p}r_procedure_occurrence",
    )
    unit_keys = _fetch(
        con,
        f"""SELECT DISTINCT unit_concept_id, unit_source_value FROM {p}r_measurement
        UNION SELECT DISTINCT unit_concept_id, unit_source_value FROM {p}r_observation""",
    )
    ops = [r[0] for r in _fetch(con, f"SELECT DISTINCT operator_concept_id FROM {p}r_measurement")]
    genders = [r[0] for r in _fetch(con, f"SELECT DISTINCT gender_concept_id FROM {p}people")]
    # the concepts the importer reads from CONCEPT (its ``needed``), and the vocabulary tables
    needed = set(genders)
    for rows, index in ((cond, (0, 1)), (drug, (0, 1, 3)), (meas, (1, 2)), (proc, (0, 1)), (unit_keys, (0,))):
        needed.update(r[i] for r in rows for i in index)
    needed.update(ops)
    values = _fetch(con, f"SELECT DISTINCT value_as_concept_id FROM {p}r_measurement")
    values += _fetch(con, f"SELECT DISTINCT value_as_concept_id FROM {p}r_observation")
    needed.update(r[0] for r in values)
    needed -= {"", "0"}
    pseudo = {
        "": {
            "condition_occurrence": [
                (0, {"condition_concept_id": a, "condition_source_concept_id": b}) for a, b, _ in cond
            ],
            "drug_exposure": [(0, {"drug_concept_id": a, "drug_source_concept_id": b}) for a, b, *_ in drug],
        }
    }
    vocabulary = ExtractVocabulary.read(_vocabulary_files(con, extract, tmp), pseudo, needed)
    concepts: dict[str, tuple[str, str, str]] = {}
    if extract.has("concept"):
        register(con, f"{p}needed", {"id": "VARCHAR"}, [(c,) for c in sorted(needed | set(genders))])
        for cid, vocab, code, name in _fetch(
            con,
            f"SELECT concept_id, vocabulary_id, concept_code, concept_name FROM {p}concept "
            f"WHERE concept_id IN (SELECT id FROM {p}needed) ORDER BY line",
        ):
            concepts[cid] = (vocab, code, name)
    codes = Codes(mapping, extract.files, concepts, vocabulary)
    v = "VARCHAR"
    register(
        con,
        f"{p}ck",
        {
            "a": v,
            "b": v,
            "c": v,
            "kind": v,
            "k": "INTEGER",
            "name": v,
            "type": v,
            "status": v,
            "verification": v,
        },
        codes.conditions(cond),
    )
    register(
        con,
        f"{p}dk",
        {
            **{"a": v, "b": v, "c": v, "rc": v, "rs": v, "kind": v, "drug": v, "strength": "DOUBLE"},
            **{"route": v, "method": v, "event": v, "display": v},
        },
        codes.drugs(drug),
    )
    register(
        con,
        f"{p}mk",
        {"tbl": v, "a": v, "b": v, "c": v, "kind": v, "name": v, "method": v},
        codes.measurements(meas),
    )
    register(
        con,
        f"{p}pk",
        {"a": v, "b": v, "c": v, "kind": v, "method": v, "event": v, "display": v},
        codes.procedures(proc),
    )
    register(con, f"{p}uk", {"a": v, "b": v, "unit": v}, codes.units(unit_keys))
    register(con, f"{p}ok", {"op": v, "ok": "BOOLEAN"}, codes.operators(ops))
    register(
        con,
        f"{p}gk",
        {"a": v, "name": v},
        [(g, concepts.get(g, ("", "", ""))[2]) for g in genders],
    )
    # the numeric rows' values, per distinct (name, value, unit)
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}obs_rows AS
        SELECT r.pid, r.ord, r.line, 0 AS tbl, 'measurement/' || r.measurement_id AS source, k.kind, k.name,
               k.method, r.measurement_date AS date, r.value_as_number AS value, u.unit,
               r.operator_concept_id AS op, r.range_low, r.range_high
        FROM {p}r_measurement r
        JOIN {p}mk k ON k.tbl = 'measurement' AND k.a = r.measurement_concept_id
             AND k.b = r.measurement_source_concept_id AND k.c = r.measurement_source_value
        JOIN {p}uk u ON u.a = r.unit_concept_id AND u.b = r.unit_source_value
        WHERE k.kind <> 'none'
        UNION ALL
        SELECT r.pid, r.ord, r.line, 1, 'observation/' || r.observation_id, k.kind, k.name, k.method,
               r.observation_date, r.value_as_number, u.unit, '', '', ''
        FROM {p}r_observation r
        JOIN {p}mk k ON k.tbl = 'observation' AND k.a = r.observation_concept_id
             AND k.b = r.observation_source_concept_id AND k.c = r.observation_source_value
        JOIN {p}uk u ON u.a = r.unit_concept_id AND u.b = r.unit_source_value
        WHERE k.kind <> 'none'"""
    )
    keys = _fetch(con, f"SELECT DISTINCT name, value, unit FROM {p}obs_rows WHERE kind = 'numeric'")
    register(
        con,
        f"{p}vk",
        {
            "name": v,
            "value": v,
            "unit": v,
            "number_ok": "BOOLEAN",
            "unit_ok": "BOOLEAN",
            "num": "DOUBLE",
            "unit_out": v,
        },
        Codes.values(keys),
    )
    keys = _fetch(
        con,
        f"""SELECT DISTINCT name, unit, range_low, range_high FROM {p}obs_rows
        WHERE kind = 'numeric' AND range_low || range_high <> ''""",
    )
    register(
        con,
        f"{p}rk",
        {
            **{"name": v, "unit": v, "lo": v, "hi": v},
            **{"ok": "BOOLEAN", "low": "DOUBLE", "high": "DOUBLE"},
        },
        Codes.ranges(keys),
    )
    stops = [r[0] for r in _fetch(con, f"SELECT DISTINCT stop_reason FROM {p}r_drug_exposure")]
    register(con, f"{p}sk", {"text": v, "outcome": v}, Codes.stop_reasons(stops))
    dose_keys = _fetch(
        con,
        f"""SELECT DISTINCT k.strength, r.quantity, r.days_supply FROM {p}r_drug_exposure r
        JOIN {p}dk k ON k.a = r.drug_concept_id AND k.b = r.drug_source_concept_id
             AND k.c = r.drug_source_value AND k.rc = r.route_concept_id AND k.rs = r.route_source_value
        WHERE k.kind = 'target' AND k.strength IS NOT NULL""",
    )
    register(
        con,
        f"{p}qk",
        {"strength": "DOUBLE", "quantity": v, "days": v, "ok": "BOOLEAN", "dose": "DOUBLE"},
        Codes.doses(dose_keys),
    )
