"""What a conversion inside DuckDB hands to the registry writer (issue 17 §1).

A SQL converter (``screener.tables.from_native``, ``from_fhir``, ``from_omop``) reads its
input with DuckDB's own readers and leaves, in a DuckDB connection, one relation per table
of :data:`screener.tables.layout.TABLES`, with exactly that table's columns, types and
order, except that the dense patient number ``pid`` is replaced by ``ord``: the position of
the patient's record in the stream :func:`screener.batch.inputs.iter_records` gives for the
same inputs (``Record.index``). The writer numbers the patients that were read (SQL and
Python alike) ``pid`` 0, 1, 2... in ``ord`` order, so the registry is the one the Python
path writes, row for row.

A patient the SQL cannot take exactly as the Python importers would (a construct it does
not cover, a value it cannot check) is not guessed at: it is handed back as a
:class:`~screener.batch.inputs.Record` (``fallback``) and read by the Python path, which
gives the same rows or the same located error as before. A record the SQL itself finds
broken (a corrupt NDJSON line, a broken CSV row) is an :class:`ImportIssue` naming file,
line and field, and the conversion goes on.

A converter (a *stager*, see :mod:`screener.tables.stagers`) returns one ``Staged`` or, to
keep memory bounded, an iterator of them, one per chunk of its input: then the ords of each
chunk come after those of the chunk before, and a chunk's relations need only live until
the writer (:class:`screener.tables.write_staged.StagedWriter`) asks for the next one. Ords
count from 0 over the stager's own inputs; the writer adds the number of records of the
inputs before them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from screener.batch.inputs import Record
from screener.importers.core import ImportIssue


@dataclass(frozen=True)
class Staged:
    """One SQL converter's result, left in its DuckDB connection."""

    # layout table name -> the DuckDB relation holding its rows (``ord`` in place of ``pid``);
    # a table the converter has no rows for may be absent (the writer writes it empty)
    tables: Mapping[str, str]
    # (ord, record) of the patients left to the Python path, in any order
    fallback: Iterable[tuple[int, Record]]
    # (ord, issue) of the records found broken in SQL (no patient written for that ord)
    issues: tuple[tuple[int, ImportIssue], ...]
    # how many input records (patients, read or not) the converter saw
    records: int
