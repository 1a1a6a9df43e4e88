"""Write a registry from SQL conversions (:class:`~screener.tables.staged.Staged`).

:class:`StagedWriter` owns a DuckDB connection (:attr:`StagedWriter.con`) in which a
converter leaves its relations. For each ``Staged`` it:

1. reads the ``fallback`` records with the Python path (:func:`~screener.tables.load_record.load_record`,
   then :func:`~screener.tables.write.patient_columns`), exactly as ``TablesWriter`` would;
2. numbers the patients read, SQL and Python alike, ``pid`` 0, 1, 2... in ``ord`` order
   (continuing from the previous ``Staged``);
3. appends their rows to the pending tables, and writes every full chunk of ``chunk_size``
   patients as one Parquet part per table and partition (``part_name``), rows ordered by
   ``pid`` and ``seq``; the partition of a patient is :func:`~screener.tables.place.partition_of`
   of its id (CRC-32, computed in Python over the ids of the part: DuckDB has none).

The registry is therefore the one :class:`~screener.tables.write.TablesWriter` writes from
the same inputs: same rows, same parts, same ``manifest.json``
(:func:`~screener.tables.write.registry_manifest`). Everything goes into ``DIR.tmp-XXXX``
and is renamed into place by :meth:`StagedWriter.close` after the manifest
(:func:`~screener.tables.write.finish_registry`); an interrupted conversion leaves no
``DIR``. DuckDB's memory is capped (``memory_limit``) and spills to ``DIR.spill-XXXX``,
removed at the end.

``Staged`` contract: the ords of one ``Staged`` are above those of the ones before (with
the ``offset`` given to :meth:`StagedWriter.add`); its relations are read during ``add``
only, so a converter may replace them for the next chunk.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from screener.errors import ScreenerError
from screener.importers.core import ImportIssue
from screener.model.patient import Patient
from screener.tables.layout import TABLES
from screener.tables.load_record import load_record
from screener.tables.place import new_sibling, part_name, partition_of
from screener.tables.staged import Staged
from screener.tables.write import (
    RegistryWriter,
    _column,
    _sql_string,
    patient_columns,
)

DEFAULT_MEMORY_LIMIT = "512MB"
_ORDER = {"patients": "pid", "administrations": "pid, med_seq, date"}


def _q(name: str) -> str:
    return f'"{name}"'


def _columns(table: str) -> list[str]:
    return [name for name, _ in TABLES[table]]


class StagedWriter(RegistryWriter):
    """Stream :class:`Staged` conversions into ``directory``; use as a context manager
    (leaving with an exception calls :meth:`abort`: nothing is left behind)."""

    def __init__(
        self,
        directory: str | Path,
        chunk_size: int = 50_000,
        *,
        overwrite: bool = False,
        sources: Iterable[str | Path] = (),
        partitions: int = 1,
        threads: int | None = None,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
    ) -> None:
        duckdb = self._start(directory, chunk_size, overwrite, sources, partitions)
        self._spill = new_sibling(self._target, "spill")
        config: dict[str, Any] = {"temp_directory": str(self._spill), "memory_limit": memory_limit}
        if threads is not None:
            config["threads"] = threads
        self.con = duckdb.connect(":memory:", config=config)
        for table, columns in TABLES.items():
            spec = ", ".join(f"{_q(n)} {t}" for n, t in columns)
            self.con.execute(f"CREATE TEMP TABLE sw_ready_{table} ({spec})")
            self.con.execute(f"CREATE TEMP TABLE sw_fb_{table} ({spec})")
        self._written = 0  # patients written in parts
        self._records = 0

    @property
    def records(self) -> int:
        """Input records seen (``Staged.records`` summed)."""
        return self._records

    # ------------------------------------------------------------------ one Staged

    def add(self, staged: Staged, offset: int = 0) -> list[tuple[int, ImportIssue]]:
        """Take one conversion's rows and fallback records; return the issues (the SQL's and the
        Python path's), by ``ord`` (plus ``offset``). Errors are not counted: the caller
        decides (:meth:`add_errors`)."""
        if self._closed:
            raise ScreenerError(f"the tables writer for {self.directory} is already closed")
        self._check_relations(staged)
        issues = [(offset + o, issue) for o, issue in staged.issues]
        issues += self._read_fallback(staged.fallback, offset)
        self._records += staged.records
        self._number_and_append(staged, offset)
        while self._patients - self._written >= self.chunk_size:
            self._write_part()
        issues.sort(key=lambda item: item[0])
        return issues

    def _check_relations(self, staged: Staged) -> None:
        for table, relation in staged.tables.items():
            if table not in TABLES:
                raise ScreenerError(f"a SQL conversion staged an unknown table {table!r}")
            found = [r[0] for r in self.con.execute(f"DESCRIBE {relation}").fetchall()]
            expected = ["ord", *_columns(table)[1:]]
            if found != expected:
                raise ScreenerError(
                    f"a SQL conversion staged {table} with columns {found}; the layout needs {expected}"
                )

    def _read_fallback(
        self, fallback: Iterable[tuple[int, Any]], offset: int
    ) -> list[tuple[int, ImportIssue]]:
        """Read the records left to Python into ``sw_fb_*`` (``pid`` holding the ord)."""
        issues: list[tuple[int, ImportIssue]] = []
        buffer: dict[str, list[list[Any]]] = {t: [[] for _ in cols] for t, cols in TABLES.items()}
        buffered = 0
        for ord_, record in fallback:
            kept: list[dict[str, list[tuple[Any, ...]]]] = []

            def use(
                patient: Patient,
                ord_: int = ord_ + offset,
                line: int | None = record.line,
                kept: list[dict[str, list[tuple[Any, ...]]]] = kept,
            ) -> None:
                kept.append(patient_columns(patient, ord_, line))

            issue = load_record(record, use)
            if issue is not None:
                issues.append((ord_ + offset, issue))
                continue
            for table, values in kept[0].items():
                for column, more in zip(buffer[table], values, strict=True):
                    column.extend(more)
            buffered += 1
            if buffered >= self.chunk_size:
                self._insert_fallback(buffer)
                buffer = {t: [[] for _ in cols] for t, cols in TABLES.items()}
                buffered = 0
        if buffered:
            self._insert_fallback(buffer)
        return issues

    def _insert_fallback(self, buffer: dict[str, list[list[Any]]]) -> None:
        for table, columns in TABLES.items():
            values = buffer[table]
            if not values[0]:
                continue
            arrays: dict[str, Any] = {}
            exprs: list[str] = []
            for (name, sql_type), column in zip(columns, values, strict=True):
                column_arrays, expr = _column(name, sql_type, column)
                arrays.update(column_arrays)
                exprs.append(expr)
            self.con.register("sw_fb_src", arrays)
            try:
                self.con.execute(f"INSERT INTO sw_fb_{table} SELECT {', '.join(exprs)} FROM sw_fb_src")
            finally:
                self.con.unregister("sw_fb_src")

    def _number_and_append(self, staged: Staged, offset: int) -> None:
        con = self.con
        patients = ["SELECT pid AS ord FROM sw_fb_patients"]
        if "patients" in staged.tables:
            patients.append(f"SELECT ord + {offset} FROM {staged.tables['patients']}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE sw_pids AS SELECT ord, "
            f"{self._patients} + row_number() OVER (ORDER BY ord) - 1 AS pid "
            f"FROM ({' UNION ALL '.join(patients)})"
        )
        added = con.execute("SELECT count(*) FROM sw_pids").fetchone()[0]
        for table in TABLES:
            rest = ", ".join(f"u.{_q(c)}" for c in _columns(table)[1:])
            parts = [f"SELECT * FROM sw_fb_{table}"]
            if table in staged.tables:
                parts.append(f"SELECT ord + {offset}, * EXCLUDE (ord) FROM {staged.tables[table]}")
            union = " UNION ALL ".join(parts)
            con.execute(
                f"INSERT INTO sw_ready_{table} SELECT m.pid, {rest} FROM ({union}) u "
                f"JOIN sw_pids m ON m.ord = u.{_q(_columns(table)[0])}"
            )
            con.execute(f"DELETE FROM sw_fb_{table}")
        self._patients += added

    # ------------------------------------------------------------------ parts

    def _write_part(self) -> None:
        """Write pids [written, written + chunk_size) as part ``self._parts``."""
        import numpy as np

        con = self.con
        low, high = self._written, min(self._written + self.chunk_size, self._patients) - 1
        where = f"pid BETWEEN {low} AND {high}"
        if self.partitions > 1:
            ids = con.execute(f"SELECT pid, patient_id FROM sw_ready_patients WHERE {where}").fetchnumpy()
            of = np.fromiter(
                (partition_of(i, self.partitions) for i in ids["patient_id"]),
                dtype=np.int32,
                count=len(ids["pid"]),
            )
            con.register("sw_part_src", {"pid": np.asarray(ids["pid"], dtype=np.int64), "k": of})
            con.execute(
                "CREATE OR REPLACE TEMP TABLE sw_part AS "
                "SELECT pid::BIGINT pid, k::INTEGER k FROM sw_part_src"
            )
            con.unregister("sw_part_src")
        for table in TABLES:
            cols = ", ".join(f"t.{_q(c)}" for c in _columns(table))
            order = _ORDER.get(table, "pid, seq")
            order = ", ".join(f"t.{c.strip()}" for c in order.split(","))
            for k in range(self.partitions):
                target = self._tmp / table / part_name(self._parts, k, self.partitions)
                if self.partitions > 1:
                    source = (
                        f"sw_ready_{table} t JOIN sw_part p ON p.pid = t.pid WHERE p.k = {k} AND t.{where}"
                    )
                else:
                    source = f"sw_ready_{table} t WHERE t.{where}"
                con.execute(
                    f"COPY (SELECT {cols} FROM {source} ORDER BY {order}) TO "
                    f"{_sql_string(str(target))} (FORMAT parquet, COMPRESSION zstd)"
                )
            count = con.execute(f"SELECT count(*) FROM sw_ready_{table} WHERE {where}").fetchone()[0]
            self._rows[table] += count
            con.execute(f"DELETE FROM sw_ready_{table} WHERE {where}")
        self._written = high + 1
        self._parts += 1

    # ------------------------------------------------------------------ end

    def _pending(self) -> bool:
        return self._patients > self._written

    def _write_pending(self) -> None:
        self._write_part()

    def _connection(self) -> Any:
        return self.con

    def _drop(self) -> None:
        shutil.rmtree(self._spill, ignore_errors=True)
