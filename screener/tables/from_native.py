"""Native JSONL (one patient per line) into the registry tables with DuckDB's JSON functions.

The lines of each file are read in chunks (bounded memory); each chunk is parsed and checked
in SQL and left as :class:`~screener.tables.staged.Staged` relations for the writer
(:mod:`screener.tables.write_staged`), one ``Staged`` per chunk.

The SQL does not re-implement the loader (:func:`screener.model.patient.patient_from_data`);
it takes a patient only when the line is **certainly** clean, checked by a whitelist:

- the line is ASCII, holds no backslash (no escapes to decode) and is valid JSON;
- every number, as DuckDB writes it back, has at most 15 integer digits and no exponent
  (so it is not ``NaN``, ``Infinity`` or an integer Python keeps exact and DuckDB rounds);
- every object has only the keys the patient schema allows, none twice, its required keys,
  and every value its schema type (enums, name pattern, dates as valid ``YYYY-MM-DD`` from
  year 1, integers where the schema asks for one);
- every name is in the known vocabulary of its kind (:func:`screener.model.vocabulary.known_vocabulary`);
- every quantity of a known kind (:data:`screener.units.CANONICAL`) has a number and one of
  the unit spellings :func:`screener.units.accepted_units` lists verbatim, and its converted
  value is finite and inside :func:`screener.units.plausible_range`; reference ranges are
  not negative, converted the same way and not inverted; doses are positive with a unit;
- no dated record (observation, status, assessment, medication start, administration) is
  before birth, medication periods and observed periods do not end before they start, a
  SELENA-SLEDAI score is within 0..105, ACR criteria counts within the set's size, a status
  is not the text yes/no/on/off..., at most ``SEQ_SPAN`` records of a kind.

Every other line (invalid JSON, a unit spelled another way, an unknown name, anything
unusual) goes to the Python path (``fallback``), which reads it exactly as before and gives
the same patient or the same located error. The checks only decide *which path* reads a
line; a whitelist that is too strict costs time, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from screener.batch import inputs
from screener.batch.inputs import Record, RecordError, _decode
from screener.tables import native_sql
from screener.tables.staged import Staged

#: lines per chunk: the text of one chunk is in memory at once (about 4 kB per generated patient)
CHUNK_LINES = 10_000


def _chunks(path: Path, size: int) -> Iterator[list[tuple[int, bytes]] | RecordError]:
    """Lists of (line number, raw line) of at most ``size`` non-blank lines; if the file cannot
    be read on, the error (as :func:`screener.batch.inputs.iter_records` reports it) last."""
    chunk: list[tuple[int, bytes]] = []
    last: int | None = None
    try:
        for item in inputs._jsonl_lines(path):
            chunk.append(item)
            last = item[0]
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except OSError as error:
        if chunk:
            yield chunk
        yield RecordError(f"cannot read: {error.strerror or error}", None, last)
        return
    if chunk:
        yield chunk


def _stage_chunk(con: Any, source: str, file: str, lines: list[tuple[int, bytes]], first: int) -> Staged:
    import numpy as np

    ords: list[int] = []
    numbers: list[int] = []
    texts: list[str] = []
    fallback: list[tuple[int, Record]] = []
    for i, (number, raw) in enumerate(lines):
        if raw.isascii() and b"\\" not in raw:  # no escape to decode: text is what DuckDB sees
            ords.append(first + i)
            numbers.append(number)
            texts.append(raw.decode("ascii").rstrip("\r\n"))
        else:  # decoded (or refused) by Python, as iter_records does
            line, data, error, _ = _decode(raw, number)
            fallback.append((first + i, Record(source, line, first + i, data, error)))
    con.register(
        "nl_lines_src",
        {
            "ord": np.array(ords, dtype=np.int64),
            "line": np.array(numbers, dtype=np.int64),
            "text": np.array(texts, dtype=object),
        },
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nl_lines AS "
        "SELECT ord::BIGINT ord, line::INTEGER line, text::VARCHAR text "
        "FROM nl_lines_src"
    )
    con.unregister("nl_lines_src")
    del texts
    for sql in native_sql.statements(file):
        con.execute(sql)
    rows = con.execute(
        "SELECT ord, line, text FROM nl_lines WHERE ord NOT IN (SELECT ord FROM nl_pat WHERE ord NOT IN "
        "(SELECT ord FROM nl_bad)) ORDER BY ord"
    ).fetchall()
    for ord_, number, text in rows:
        line, data, error, _ = _decode(text.encode("ascii"), number)
        fallback.append((ord_, Record(source, line, ord_, data, error)))
    tables = {}
    for table, sql in native_sql.VIEWS.items():
        con.execute(f"CREATE OR REPLACE TEMP VIEW nl_staged_{table} AS {sql}")
        tables[table] = f"nl_staged_{table}"
    fallback.sort(key=lambda item: item[0])
    return Staged(tables=tables, fallback=fallback, issues=(), records=len(lines))


def stage_native(
    con: Any, inputs: Sequence[Path], mapping: Any = None, *, chunk_lines: int | None = None
) -> Iterator[Staged]:
    """Stage native JSONL files (``*.jsonl``, read as :func:`screener.batch.inputs.iter_records`
    reads them): one :class:`Staged` per chunk of ``chunk_lines`` non-blank lines, ``ord``
    counting the lines of all ``inputs`` in order. Each chunk's relations are replaced by the
    next chunk's: the writer takes them before asking for the next. ``mapping`` is not used
    (native records carry names, not codes)."""
    from screener.tables.write import _printable_path

    native_sql.setup(con)
    size = chunk_lines or CHUNK_LINES
    first = 0
    for path in inputs:
        source = str(path)
        for lines in _chunks(Path(path), size):
            if isinstance(lines, RecordError):  # the rest of the file cannot be read
                record = Record(source, lines.line, first, None, lines)
                yield Staged(tables={}, fallback=[(first, record)], issues=(), records=1)
                first += 1
                break
            yield _stage_chunk(con, source, _printable_path(source), lines, first)
            first += len(lines)
