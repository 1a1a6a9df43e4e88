"""Differential helpers for the OMOP SQL conversion: the Python path's registry and the staged
tables, renumbered by ``ord``, as comparable DuckDB tables (issue 17 §1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from screener.batch.inputs import Record, iter_records
from screener.importers.mapping import Mapping
from screener.model.patient import patient_from_data
from screener.tables.from_omop import stage_omop
from screener.tables.layout import TABLES
from screener.tables.write import TablesWriter, table_glob
from screener.yamlio import LineMap


def _issue_of(record: Record) -> tuple[Any, ...]:
    assert record.error is not None
    return (record.index, record.source, record.error.line, record.error.field, record.error.message)


def python_registry(inputs: list[Path], mapping: Mapping, out: Path) -> list[tuple[Any, ...]]:
    """The registry the Python path writes; returns the error records (ord, file, line, field, message)."""
    errors = []
    with TablesWriter(out) as writer:
        for record in iter_records(inputs, mapping=mapping):
            if record.error is not None:
                errors.append(_issue_of(record))
                continue
            assert record.data is not None
            writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
    return errors


def sql_registry(
    con: Any, inputs: list[Path], mapping: Mapping, tmp: Path
) -> tuple[list[tuple[Any, ...]], Any]:
    """The staged tables with the fallback persons written by the Python path, ``pid`` = rank of
    ``ord`` among the persons written (as the registry writer numbers them)."""
    staged = stage_omop(con, inputs, mapping)
    errors = [(o, i.file, i.line, i.field, i.message) for o, i in staged.issues]
    fallback_ords = []
    with TablesWriter(tmp / "fallback") as writer:
        for ord_, record in sorted(staged.fallback, key=lambda x: x[0]):
            assert record.index == ord_
            if record.error is not None:
                errors.append(_issue_of(record))
                continue
            writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
            fallback_ords.append(ord_)
    con.execute("CREATE OR REPLACE TABLE fb_ords (pid BIGINT, ord BIGINT)")
    if fallback_ords:
        con.executemany("INSERT INTO fb_ords VALUES (?, ?)", list(enumerate(fallback_ords)))
    con.execute(
        f"""CREATE OR REPLACE TABLE renumber AS SELECT ord, row_number() OVER (ORDER BY ord) - 1 AS pid
        FROM (SELECT ord FROM {staged.tables["patients"]} UNION ALL SELECT ord FROM fb_ords)"""
    )
    for table, columns in TABLES.items():
        rest = ", ".join(f't."{c}"' for c, _ in columns if c != "pid")
        glob = table_glob(tmp / "fallback", table)
        con.execute(
            f"""CREATE OR REPLACE TABLE sql_{table} AS
            SELECT r.pid, {rest} FROM {staged.tables[table]} t JOIN renumber r USING (ord)
            UNION ALL
            SELECT r.pid, {rest} FROM read_parquet('{glob}') t JOIN fb_ords f ON f.pid = t.pid
                JOIN renumber r ON r.ord = f.ord"""
        )
    return sorted(errors), staged


def differences(con: Any, python_dir: Path) -> dict[str, tuple[int, int, int]]:
    """table -> (rows, only in Python, only in SQL) where the two differ."""
    out = {}
    for table in TABLES:
        glob = table_glob(python_dir, table)
        con.execute(f"CREATE OR REPLACE TABLE py_{table} AS SELECT * FROM read_parquet('{glob}')")
        a = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM py_{table} EXCEPT ALL SELECT * FROM sql_{table})"
        ).fetchone()[0]
        b = con.execute(
            f"SELECT count(*) FROM (SELECT * FROM sql_{table} EXCEPT ALL SELECT * FROM py_{table})"
        ).fetchone()[0]
        n = con.execute(f"SELECT count(*) FROM py_{table}").fetchone()[0]
        if a or b:
            out[table] = (n, a, b)
    return out


def compare(
    inputs: list[Path], mapping: Mapping, tmp: Path
) -> tuple[dict[str, Any], list[Any], list[Any], Any]:
    con = duckdb.connect()
    py_errors = python_registry(inputs, mapping, tmp / "python")
    sql_errors, staged = sql_registry(con, inputs, mapping, tmp)
    return differences(con, tmp / "python"), py_errors, sql_errors, (con, staged)
