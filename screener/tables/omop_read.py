"""Read an OMOP CDM extract's tables into DuckDB as the Python importer reads them (issue 17 §1).

Each table the importer reads (:mod:`screener.importers.omop`) becomes one DuckDB table of
text columns named as the CDM names them, plus ``line``: the row's line in its file, as
Python's ``csv`` module counts it (the header is line 1). Absent columns read as ''
(``row.get(k) or ""``), as do empty fields.

- CSV / TSV (``person.csv``, ``PERSON.tsv``...): DuckDB's ``read_csv`` with the dialect of
  Python's ``csv`` module (comma or tab, ``"`` quotes doubled), every column as text. A row
  whose field count differs from the header's is left out and reported as the importer
  reports it (file, line, "row has N field(s), header has N; not imported"), in the
  importer's reading order.
- Parquet (``person.parquet``...): ``read_parquet``, every column cast to text (a DATE reads
  as ``YYYY-MM-DD``, a TIMESTAMP as ``YYYY-MM-DD HH:MM:SS``, as a CSV export writes them);
  ``line`` is the row's position + 1, the line it would have under a header in a CSV file.
  A CSV file of a table wins over a Parquet file of the same table.

What the SQL cannot number or read exactly as the importer does makes ``exact`` False
(with ``why``), and the caller reads the whole extract with the Python importer: a field
holding a line break, a blank line, a header that is not lower case or names a column twice,
a row DuckDB rejects for anything but its field count, a broken CDM_SOURCE row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.importers.core import ImportIssue
from screener.importers.omop_files import (
    _CLINICAL,
    _TABLES,
    _VOCABULARY_TABLES,
    CLINICAL_COLUMNS,
    find_tables,
)

# the tables the importer reads row by row (and reports broken rows of), in its reading order
READ_ORDER = ("cdm_source", "person", *_CLINICAL, "concept", "death", "observation_period")
# the columns read of each table (a column the file lacks reads as '')
COLUMNS: dict[str, tuple[str, ...]] = {
    "cdm_source": ("cdm_version",),
    "person": (
        "person_id",
        "gender_concept_id",
        "year_of_birth",
        "month_of_birth",
        "day_of_birth",
        "birth_datetime",
        "gender_source_value",
    ),
    **{table: ("person_id", *columns) for table, columns in CLINICAL_COLUMNS.items()},
    "concept": ("concept_id", "vocabulary_id", "concept_code", "concept_name"),
    "death": ("person_id", "death_date", "death_datetime"),
    "observation_period": ("person_id", "observation_period_start_date", "observation_period_end_date"),
}


@dataclass
class Extract:
    """One OMOP extract read into DuckDB (see the module docstring)."""

    directory: Path
    files: dict[str, Path]  # table -> file (CSV, TSV or Parquet)
    relations: dict[str, str] = field(default_factory=dict)  # table -> DuckDB table
    rejects: list[ImportIssue] = field(default_factory=list)  # broken rows, in reading order
    exact: bool = True
    why: str = ""
    # tables whose fields may end in whitespace other than spaces (read with the slower trim)
    slow_trim: set[str] = field(default_factory=set)

    def inexact(self, why: str) -> None:
        if self.exact:
            self.exact, self.why = False, why

    def has(self, table: str) -> bool:
        return table in self.relations

    def trim(self, table: str) -> str:
        """The SQL function that strips a field of ``table`` as Python's ``str.strip`` does."""
        return "omop_trim" if table in self.slow_trim else "trim"


def find_files(directory: Path) -> dict[str, Path]:
    """Table -> file: the importer's CSV/TSV files, then ``<table>.parquet`` for the others."""
    files = dict(find_tables([directory])) if directory.is_dir() else {}
    for path in sorted(directory.iterdir()) if directory.is_dir() else ():
        name = path.name.lower()
        if name.endswith(".parquet") and name[: -len(".parquet")] in _TABLES + _VOCABULARY_TABLES:
            files.setdefault(name[: -len(".parquet")], path)
    return files


def is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_extract(con: Any, directory: Path, prefix: str) -> Extract:
    """Read ``directory``'s tables into ``con`` as ``<prefix><table>`` (see the module docstring)."""
    extract = Extract(directory, find_files(directory))
    for table in READ_ORDER:
        path = extract.files.get(table)
        if path is None:
            continue
        name = f"{prefix}{table}"
        if is_parquet(path):
            _read_parquet(con, extract, table, path, name)
        else:
            _read_csv(con, extract, table, path, name)
        extract.relations[table] = name
    return extract


def _positions(names: list[str], extract: Extract, path: Path) -> dict[str, int]:
    """Column name -> position (the last of equal names wins, as in ``csv.DictReader``)."""
    if any(n != n.strip().lower() or not n for n in names) or len(set(names)) != len(names):
        extract.inexact(f"{path}: header names not all distinct lower-case words")
    return {n: i for i, n in enumerate(names)}


def _select(table: str, positions: dict[str, int], column: Callable[[int], str]) -> str:
    """The SELECT list of a read table: every column read, '' where absent or empty."""
    out = []
    for name in COLUMNS[table]:
        if name in positions:
            out.append(f"COALESCE(CAST({column(positions[name])} AS VARCHAR), '') AS {name}")
        else:
            out.append(f"'' AS {name}")
    return ", ".join(out)


def _read_parquet(con: Any, extract: Extract, table: str, path: Path, name: str) -> None:
    names = [
        r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_string(str(path))})").fetchall()
    ]
    positions = _positions(names, extract, path)
    select = _select(table, positions, lambda i: '"' + names[i].replace('"', '""') + '"')
    extract.slow_trim.add(table)
    con.execute(
        f"CREATE OR REPLACE TABLE {name} AS SELECT {select}, CAST(file_row_number + 2 AS BIGINT) AS line "
        f"FROM read_parquet({sql_string(str(path))}, file_row_number = true)"
    )


# whitespace Python's str.strip() removes and DuckDB's trim() keeps (the fields of a file holding
# any of it are stripped with the slower ``omop_trim``): ASCII tab, vertical tab, form feed,
# \x1c-\x1f, and, UTF-8 encoded, U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
# U+205F, U+3000 (a carriage return not before a line feed is counted apart)
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
_OTHER_SPACES = tuple(c.encode("utf-8") for c in WHITESPACE if c not in " \n\r")
_ASCII_SPACES = tuple(b for b in _OTHER_SPACES if len(b) == 1)


def _scan(path: Path) -> tuple[int, bool]:
    """(lines, whitespace other than spaces) of a file: a last line without a line break counts;
    a carriage return not before a line feed is whitespace."""
    count, last, tail, spaces = 0, b"\n", b"", False
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            count += chunk.count(b"\n")
            spaces = spaces or chunk.count(b"\r") != chunk.count(b"\r\n")
            if not spaces:  # ASCII text (the usual case): single bytes, found at memchr speed
                others = _ASCII_SPACES if chunk.isascii() else _OTHER_SPACES
                spaces = any(b in tail + chunk for b in others)
            last, tail = chunk[-1:], chunk[-2:]  # a character split between two chunks
    return count + (last != b"\n"), spaces


def _read_csv(con: Any, extract: Extract, table: str, path: Path, name: str) -> None:
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    with path.open(newline="", encoding="utf-8-sig") as handle:
        first = handle.readline()
    names = next(csv.reader([first], delimiter=delimiter), []) if first.strip() else []
    if not names:
        extract.inexact(f"{path}: no header line")
        empty = _select(table, {}, str)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT {empty}, 0::BIGINT AS line WHERE false")
        return
    positions = _positions(names, extract, path)
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names))) + "}"
    rejects = f"{name}__rejects"
    con.execute(
        f"CREATE OR REPLACE TABLE {name}__raw AS SELECT * FROM read_csv({sql_string(str(path))}, "
        f"columns = {columns}, header = true, auto_detect = false, delim = {sql_string(delimiter)}, "
        f"quote = '\"', escape = '\"', store_rejects = true, rejects_table = '{rejects}', "
        f"rejects_scan = '{name}__scan')"
    )
    # one reject row per missing column: one broken row per line
    kinds = con.execute(f"SELECT DISTINCT CAST(error_type AS VARCHAR) FROM {rejects}").fetchall()
    rejected = con.execute(f"SELECT DISTINCT line, 0 FROM {rejects} ORDER BY line").fetchall()
    rows = con.execute(f"SELECT count(*) FROM {name}__raw").fetchone()[0]
    if any(kind not in ("MISSING COLUMNS", "TOO MANY COLUMNS") for (kind,) in kinds):
        extract.inexact(f"{path}: a row DuckDB reads otherwise than Python's csv module")
    lines, spaces = _scan(path)
    if lines != 1 + rows + len(rejected):
        extract.inexact(f"{path}: a blank line or a field holding a line break")
    if spaces:
        extract.slow_trim.add(table)
    if rejected and table == "cdm_source":
        extract.inexact(f"{path}: a broken CDM_SOURCE row")
    for line, _kind in rejected:
        extract.rejects.append(
            ImportIssue(
                str(path),
                int(line),
                None,
                f"row has {len(names)} field(s), header has {len(names)}; not imported",
            )
        )
    # the line of the k-th row read (k from 1): k + 1, plus the rejected lines before it
    shift = "0"
    if rejected:
        bounds = ", ".join(f"({int(line) - 1 - j})" for j, (line, _) in enumerate(rejected, start=1))
        shift = f"(SELECT count(*) FROM (VALUES {bounds}) v(b) WHERE b < rowid + 1)"
    con.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT {_select(table, positions, lambda i: f'c{i}')}, "
        f"CAST(rowid + 2 + {shift} AS BIGINT) AS line FROM {name}__raw"
    )
