"""FHIR NDJSON (plain, ``.gz``), Bulk Data folders and Bundles into the columnar tables, in DuckDB.

:func:`stage_fhir` is the FHIR side of issue 17 §1. DuckDB reads the resources
(:mod:`.load`), groups them by patient and reads the common patient in SQL (:mod:`.rows`),
with the code mapping as joined tables (:mod:`.shapes`); a patient holding a construct the SQL
does not cover goes whole to the Python FHIR converter (:mod:`.fallback`), and an input the
SQL cannot group exactly as the Python importer would goes whole to the Python reader. The
result is a :class:`~screener.tables.staged.Staged`: the registry the Python path writes, row
for row, with ``ord`` (the record's position in :func:`screener.batch.inputs.iter_records`)
in place of ``pid``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from screener.batch.inputs import Record
from screener.importers.mapping import Mapping
from screener.tables.from_fhir.fallback import python_input, python_patients
from screener.tables.from_fhir.finish import finish
from screener.tables.from_fhir.load import load
from screener.tables.from_fhir.rows import convert, group
from screener.tables.from_fhir.shapes import Shapes, register
from screener.tables.staged import Staged

__all__ = ["stage_fhir"]


def stage_fhir(con: Any, inputs: list[Path], mapping: Mapping) -> Staged:
    """Stage ``inputs`` (as :func:`screener.batch.inputs.iter_records` takes them) in ``con``."""
    from screener.batch.inputs import expand

    paths = list(expand(inputs))
    loaded = load(con, paths)
    group(con)
    convert(con, Shapes(mapping))
    finish(
        con, [str(p) for p in paths]
    )  # rows of the SQL patients, and fx_python: every patient left to Python
    whole = {u for (u,) in con.execute("SELECT u FROM fx_units").fetchall()}
    order: dict[int, list[tuple[str, bool]]] = {}
    for u, pkey, python in con.execute(
        "SELECT p.u, p.pkey, y.pkey IS NOT NULL FROM fx_pat p "
        "LEFT JOIN fx_python y ON y.u = p.u AND y.pkey = p.pkey ORDER BY p.k"
    ).fetchall():
        order.setdefault(u, []).append((pkey, python))
    converted = python_patients(con, mapping, whole)
    issues: list[tuple[int, Any]] = []
    fallback: list[tuple[int, Any]] = []
    sql_ords: list[tuple[int, str, int]] = []
    ord_ = 0
    for u, path in enumerate(paths):
        if loaded.kinds[u] == "python" or u in whole:
            ord_ = python_input(path, mapping, ord_, issues, fallback)
            continue
        for _where, issue in loaded.scan_issues.get(u, []):
            issues.append((ord_, issue))
            ord_ += 1
        for pkey, python in order.get(u, []):
            if not python:
                sql_ords.append((u, pkey, ord_))
                ord_ += 1
                continue
            errors, record = converted[(u, pkey)]
            for issue in errors:
                issues.append((ord_, issue))
                ord_ += 1
            if record is not None:
                fallback.append((ord_, Record(str(path), None, ord_, record.data)))
                ord_ += 1
    register(con, "fx_ord", (("u", "INTEGER"), ("pkey", "VARCHAR"), ("ord", "BIGINT")), sql_ords)
    tables = _staged_tables(con)
    return Staged(tables=tables, fallback=tuple(fallback), issues=tuple(issues), records=ord_)


_ORDER = {"patients": "", "administrations": ", r.med_seq, r.date"}


def _staged_tables(con: Any) -> dict[str, str]:
    from screener.tables.layout import TABLES

    out = {}
    for table in TABLES:
        columns = [c for c, _ in TABLES[table] if c != "pid"]
        types = dict(TABLES[table])
        select = ", ".join(f'CAST(r."{c}" AS {types[c]}) AS "{c}"' for c in columns)
        name = f"fhir_staged_{table}"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT o.ord, {select} FROM fx_t_{table} r JOIN fx_ord o ON o.u = r.u AND o.pkey = r.pkey
            ORDER BY o.ord{_ORDER.get(table, ", r.seq")}"""
        )
        out[table] = name
    return out
