"""OMOP CDM 5.4 COHORT and COHORT_DEFINITION rows from a batch's results.

Column names, order and types follow the CDM 5.4 field-level specification
(OHDSI/CommonDataModel ``inst/csv/OMOP_CDMv5.4_Field_Level.csv``, commit 00169dde):

- COHORT: cohort_definition_id integer, subject_id integer, cohort_start_date date,
  cohort_end_date date (all required);
- COHORT_DEFINITION: cohort_definition_id integer, cohort_definition_name varchar(255),
  cohort_definition_description varchar(MAX), definition_type_concept_id integer,
  cohort_definition_syntax varchar(MAX), subject_concept_id integer,
  cohort_initiation_date date.

Who is in it: the eligible patients (cohort_start_date = the screening date: the day they were
found eligible; when they first became eligible is not known from one screening). With
``upcoming``, also the patients who fail only waiting periods and miss no fact
(cohort_start_date = the date they become eligible). With ``incomplete_id``, the incomplete
patients go to a second cohort of that id, named "to confirm": they are never mixed with the
eligible ones. cohort_end_date = cohort_start_date: eligibility is established for that day
only (the CDM allows an end equal to the start).

subject_id is the OMOP person_id: the patient id itself when it is an integer (the OMOP
importer keeps person_id as the patient id), else the ``person_map`` (patient_id -> person_id);
a patient with neither is an error naming the row, never a made-up number.

definition_type_concept_id and subject_concept_id are 0 ("No matching concept"): the
concepts for "Person" and for this kind of definition were not verified here, and a wrong
concept would be worse than none.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from screener.errors import InputError, Location
from screener.outputs.files import refuse_existing, write_new
from screener.outputs.provenance import Provenance
from screener.outputs.rows import Row

COHORT_FORMAT_VERSION = "1"
COHORT_COLUMNS = ("cohort_definition_id", "subject_id", "cohort_start_date", "cohort_end_date")
DEFINITION_COLUMNS = (
    "cohort_definition_id",
    "cohort_definition_name",
    "cohort_definition_description",
    "definition_type_concept_id",
    "cohort_definition_syntax",
    "subject_concept_id",
    "cohort_initiation_date",
)
NO_MATCHING_CONCEPT = 0
_MAX_BIGINT = 2**63 - 1

COHORT_DDL = (
    "CREATE TABLE IF NOT EXISTS cohort (cohort_definition_id INTEGER NOT NULL, subject_id BIGINT NOT NULL, "
    "cohort_start_date DATE NOT NULL, cohort_end_date DATE NOT NULL)"
)
DEFINITION_DDL = (
    "CREATE TABLE IF NOT EXISTS cohort_definition (cohort_definition_id INTEGER NOT NULL, "
    "cohort_definition_name VARCHAR(255) NOT NULL, cohort_definition_description TEXT, "
    "definition_type_concept_id INTEGER NOT NULL, cohort_definition_syntax TEXT, "
    "subject_concept_id INTEGER NOT NULL, cohort_initiation_date DATE)"
)


@dataclass(frozen=True)
class CohortOptions:
    definition_id: int = 1
    incomplete_id: int | None = None
    upcoming: bool = False
    person_map: dict[str, int] | None = None
    initiated: date | None = None  # cohort_initiation_date (default: today)


def read_person_map(path: Path) -> dict[str, int]:
    """A CSV with columns patient_id and person_id."""
    out: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"patient_id", "person_id"} <= set(reader.fieldnames):
                raise InputError("needs columns patient_id and person_id", Location(str(path), 1))
            for number, data in enumerate(reader, start=2):
                person = _integer(data["person_id"])
                if person is None:
                    raise InputError(
                        f"person_id is not an integer: {data['person_id']!r}",
                        Location(str(path), number, "person_id"),
                    )
                out[data["patient_id"]] = person
    except OSError as error:
        raise InputError(f"cannot read the person map: {error.strerror}", Location(str(path))) from None
    return out


def _integer(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        return None
    value = int(text)
    return value if 0 < value <= _MAX_BIGINT else None


def subject_id(row: Row, options: CohortOptions, source: str) -> int:
    mapped = (options.person_map or {}).get(row.patient_id)
    if mapped is not None:
        return mapped
    direct = _integer(row.patient_id)
    if direct is not None and options.person_map is None:
        return direct
    raise InputError(
        f"patient {row.patient_id!r} has no OMOP person_id: its id is not an integer"
        + (" and it is not in the person map" if options.person_map is not None else "")
        + "; give --person-map FILE (patient_id,person_id)",
        Location(source, row.line, "patient_id"),
    )


def cohort_rows(
    rows: Iterable[Row], options: CohortOptions, as_of: date, source: str
) -> Iterator[tuple[int, int, date, date]]:
    """COHORT rows (cohort_definition_id, subject_id, start, end) for the rows that belong."""
    for row in rows:
        cohort, start = options.definition_id, as_of
        if row.decision == "eligible":
            pass
        elif row.decision == "incomplete" and options.incomplete_id is not None:
            cohort = options.incomplete_id
        elif row.decision == "ineligible" and options.upcoming and row.eligible_from and not row.has_unknown:
            start = row.eligible_from
        else:
            continue
        yield cohort, subject_id(row, options, source), start, start


def definitions(provenance: Provenance, options: CohortOptions) -> list[tuple[object, ...]]:
    """The COHORT_DEFINITION rows: names, description and syntax carry the provenance."""
    p = provenance
    initiated = options.initiated or date.today()
    syntax = json.dumps(
        {"format": f"screener-omop-cohort/{COHORT_FORMAT_VERSION}", **p.columns()}, sort_keys=True
    )
    trial = p.trial or p.ruleset_id
    ruleset = f"rule set {p.ruleset_id} v{p.ruleset_version}"
    when = p.as_of.isoformat()
    upcoming = "; with patients who become eligible after a waiting period (start: that date)"
    description = (
        f"Screened eligible for {trial} on {when} by screener {p.screener_version}, {ruleset} "
        f"(sha256 {p.ruleset_sha256}){upcoming if options.upcoming else ''}."
    )
    out: list[tuple[object, ...]] = [
        (
            options.definition_id,
            f"{trial} eligible ({ruleset})"[:255],
            description,
            NO_MATCHING_CONCEPT,
            syntax,
            NO_MATCHING_CONCEPT,
            initiated,
        )
    ]
    if options.incomplete_id is not None:
        out.append(
            (
                options.incomplete_id,
                f"{trial} to confirm: incomplete screening ({ruleset})"[:255],
                f"Fail no criterion of {trial} on {when} but miss facts or a person's confirmation; "
                f"screener {p.screener_version}, {ruleset} (sha256 {p.ruleset_sha256}).",
                NO_MATCHING_CONCEPT,
                syntax,
                NO_MATCHING_CONCEPT,
                initiated,
            )
        )
    return out


def definition_path(path: Path) -> Path:
    """Where the COHORT_DEFINITION CSV goes beside the COHORT CSV: ``X.csv`` -> ``X_definition.csv``."""
    return path.with_name(f"{path.stem}_definition{path.suffix or '.csv'}")


def write_cohort(
    path: Path,
    fmt: str,
    rows: Iterable[Row],
    provenance: Provenance,
    options: CohortOptions,
    source: str,
    overwrite: bool = False,
) -> list[Path]:
    """Write the cohort as CSV (two files) or into an OMOP database file; the files written."""
    members = list(cohort_rows(rows, options, provenance.as_of, source))
    defs = definitions(provenance, options)
    if fmt == "csv":
        second = definition_path(path)
        refuse_existing(path, overwrite)
        refuse_existing(second, overwrite)
        write_new(path, _csv(COHORT_COLUMNS, members), overwrite)
        write_new(second, _csv(DEFINITION_COLUMNS, defs), overwrite)
        return [path, second]
    insert_database(path, fmt, members, defs, overwrite)
    return [path]


def _csv(header: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([v.isoformat() if isinstance(v, date) else v for v in row])
    return buffer.getvalue().encode("utf-8")


def insert_database(
    path: Path,
    fmt: str,
    members: list[tuple[int, int, date, date]],
    defs: list[tuple[object, ...]],
    overwrite: bool,
) -> None:
    """Insert into ``cohort`` and ``cohort_definition`` (created if absent) in one transaction.

    Rows already there under the same cohort_definition_id are refused, or with ``overwrite``
    replaced (deleted in the same transaction): all rows or none.
    """
    ids = sorted({int(str(d[0])) for d in defs})
    marks = ", ".join("?" for _ in ids)
    if fmt == "duckdb":
        import duckdb

        con = duckdb.connect(str(path))
        error_types: tuple[type[BaseException], ...] = (duckdb.Error,)
    else:
        import sqlite3

        con = sqlite3.connect(str(path), isolation_level=None)
        error_types = (sqlite3.Error,)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(COHORT_DDL)
            con.execute(DEFINITION_DDL)
            taken = (
                con.execute(
                    f"SELECT count(*) FROM cohort_definition WHERE cohort_definition_id IN ({marks})", ids
                ).fetchone()[0]
                + con.execute(
                    f"SELECT count(*) FROM cohort WHERE cohort_definition_id IN ({marks})", ids
                ).fetchone()[0]
            )
            if taken and not overwrite:
                raise InputError(
                    f"cohort_definition_id {', '.join(map(str, ids))} already has rows; not replaced "
                    "(use --overwrite, or another --cohort-id)",
                    Location(str(path), None, "cohort_definition_id"),
                )
            con.execute(f"DELETE FROM cohort WHERE cohort_definition_id IN ({marks})", ids)
            con.execute(f"DELETE FROM cohort_definition WHERE cohort_definition_id IN ({marks})", ids)
            con.executemany(f"INSERT INTO cohort_definition VALUES ({', '.join('?' * 7)})", defs)
            if members:
                con.executemany("INSERT INTO cohort VALUES (?, ?, ?, ?)", members)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    except error_types as error:
        raise InputError(f"cannot write the OMOP cohort: {error}", Location(str(path))) from None
    finally:
        con.close()
