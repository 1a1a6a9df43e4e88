"""Screen many patients at once with DuckDB: outcomes per criterion, no explanations.

Two routes lead to the same query. :meth:`VectorizedScreener.screen` takes
:class:`Patient` objects and prepares them in Python (:func:`screener.facts.prepare`,
then :mod:`~screener.vectorized.flatten`); :meth:`VectorizedScreener.iter_tables`
reads a columnar registry (:mod:`screener.tables`) and prepares it in SQL
(:mod:`~screener.vectorized.prepare`), with no Python work per patient.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from screener import scratch as scratch_dirs
from screener.engine.uncertain import open_world
from screener.facts import prepare
from screener.model.patient import Patient
from screener.model.rules import RuleSet
from screener.vectorized.eligible_from import EligibleFromSQL
from screener.vectorized.flatten import SQL_TYPES, Column, Deriver, Layout, flatten, layout_of
from screener.vectorized.prepare import Sources, TablePreparation
from screener.vectorized.sql import OUTCOME_CODES, CompiledQuery, compile_sql
from screener.vectorized.uncertain import screen_patients


@dataclass(frozen=True)
class TableError:
    """A patient of a columnar registry that could not be screened, and why."""

    pid: int
    patient_id: str
    file: str
    line: int | None
    field: str
    message: str


@dataclass(frozen=True)
class TableChunk:
    """Outcomes for one range of pids: ``codes[criterion]`` is a numpy array of 0 pass, 1 fail,
    2 unknown, aligned with ``patient_ids`` (patients in ``errors`` are left out)."""

    pids: list[int]
    patient_ids: list[str]
    files: list[str]
    lines: list[int | None]
    codes: dict[str, Any]
    errors: tuple[TableError, ...]
    next_pid: int  # the first pid after this chunk

    def __len__(self) -> int:
        return len(self.patient_ids)


class Tables:
    """Column lists for p, e and c, filled patient by patient."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.patient_ids: list[str] = []
        self.p: list[list[Any]] = [[] for _ in range(len(layout.patients) + 1)]
        self.e: list[list[Any]] = [[] for _ in range(len(layout.exposures) + 1)]
        self.c: list[list[Any]] = [[] for _ in range(len(layout.conditions) + 1)]

    def add(
        self,
        patient_id: str,
        row: tuple[Any, ...],
        e_rows: list[tuple[Any, ...]],
        c_rows: list[tuple[Any, ...]],
    ) -> None:
        pid = len(self.patient_ids)
        self.patient_ids.append(patient_id)
        for column, value in zip(self.p, (pid, *row), strict=True):
            column.append(value)
        for table, rows in ((self.e, e_rows), (self.c, c_rows)):
            for r in rows:
                for column, value in zip(table, (pid, *r), strict=True):
                    column.append(value)

    def __len__(self) -> int:
        return len(self.patient_ids)


def _array(values: list[Any], kind: str) -> Any:
    import numpy as np

    if kind in ("number", "integer", "boolean"):  # NaN arrives in DuckDB as NULL; floats convert fast
        return np.array([float("nan") if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype=object)


def _frame(columns: list[list[Any]], layout_columns: list[Column]) -> dict[str, Any]:
    import numpy as np

    frame: dict[str, Any] = {"pid": np.array(columns[0], dtype=np.int64)}
    for column, spec in zip(columns[1:], layout_columns, strict=True):
        frame[spec.name] = _array(column, spec.type)
    return frame


class VectorizedScreener:
    """Compile once; then :meth:`flatten` patients and :meth:`evaluate` them in one query."""

    def __init__(
        self,
        ruleset: RuleSet,
        threads: int = 1,
        con: Any = None,
        memory_limit: str | None = None,
        spill: Path | None = None,
    ) -> None:
        """``con``: a DuckDB connection to share (a portfolio screens every trial over one
        registry in one connection: :class:`screener.vectorized.portfolio.PortfolioVectorized`);
        by default a new one, closed by :meth:`close`, holding at most ``memory_limit`` (a DuckDB
        size, "300MB") of buffers and spilling the rest to ``spill`` or a temporary directory
        (:func:`capped_connection`)."""

        self.ruleset = ruleset
        self.layout = layout_of(ruleset)
        self.deriver = Deriver(ruleset)
        self.query: CompiledQuery = compile_sql(ruleset, self.layout)
        self._owns_con = con is None
        self._spill: Path | None = None
        if con is None:
            con, self._spill = capped_connection(threads, memory_limit, spill)
        self.con = con
        self._preparation: TablePreparation | None = None
        self._open_world: VectorizedScreener | None = None
        self._eligible: EligibleFromSQL | None = None
        self._sources: Sources | None = None  # of the last chunk_outcomes

    def tables(self) -> Tables:
        return Tables(self.layout)

    def add(self, tables: Tables, patient: Patient, as_of: date) -> None:
        prepared = prepare(patient, self.ruleset, as_of)
        row, e_rows, c_rows = flatten(prepared, self.layout, self.deriver, as_of, patient.file)
        tables.add(patient.patient_id, row, e_rows, c_rows)

    def register(self, tables: Tables) -> None:
        """Hand the tables to DuckDB (typed, empty tables included)."""
        for name, columns, specs in (
            ("p", tables.p, self.layout.patients),
            ("e", tables.e, self.layout.exposures),
            ("c", tables.c, self.layout.conditions),
        ):
            frame = _frame(columns, specs)
            self.con.register(f"{name}_raw", frame)
            casts = ", ".join(f'CAST("{s.name}" AS {SQL_TYPES[s.type]}) AS "{s.name}"' for s in specs)
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT pid, {casts} FROM {name}_raw")
            self.con.unregister(f"{name}_raw")

    def codes(self) -> list[tuple[int, ...]]:
        """Run the query on the registered tables: (pid, code per criterion) with 0/1/2 codes."""
        return self.con.execute(self.query.sql).fetchall()

    def code_arrays(self) -> dict[str, Any]:
        """The same as numpy arrays by column (``pid`` and one per criterion id): no Python tuples."""
        return self.con.execute(self.query.sql).fetchnumpy()

    def evaluate(self, tables: Tables) -> list[dict[str, str]]:
        """Per patient (in the order added), criterion id -> pass | fail | unknown."""
        self.register(tables)
        return [
            {cid: OUTCOME_CODES[code] for cid, code in zip(self.query.criteria, row[1:], strict=True)}
            for row in self.codes()
        ]

    def screen(self, patients: Iterable[Patient], as_of: date) -> list[dict[str, str]]:
        """Per patient (in order), criterion id -> outcome, reading unconfirmed conditions and
        unobserved time as the engine does (:mod:`screener.vectorized.uncertain`)."""
        return screen_patients(self, list(patients), as_of)

    def open_world(self) -> VectorizedScreener:
        """A screener of this rule set with every "absent means none" reading made unknown."""
        if self._open_world is None:
            self._open_world = VectorizedScreener(open_world(self.ruleset))
        return self._open_world

    def iter_codes(
        self, patients: Iterable[Patient], as_of: date, chunk_size: int = 20_000
    ) -> Iterator[tuple[list[str], list[tuple[int, ...]]]]:
        """Chunk by chunk (memory bounded by ``chunk_size``): patient ids and their outcome codes
        (0 pass, 1 fail, 2 unknown per criterion, in rule order)."""
        iterator = iter(patients)
        while chunk := list(itertools.islice(iterator, chunk_size)):
            tables = self.tables()
            for patient in chunk:
                self.add(tables, patient, as_of)
            del chunk
            self.register(tables)
            yield tables.patient_ids, self.codes()

    def iter_tables(
        self, directory: Path, as_of: date, chunk_size: int = 250_000, skip: int = 0
    ) -> Iterator[TableChunk]:
        """Screen a columnar registry (:mod:`screener.tables`) chunk by chunk of pids.

        Which value counts is chosen in SQL (:mod:`screener.vectorized.prepare`); memory is
        bounded by ``chunk_size`` patients; ``skip`` pids are left out (resuming). While a
        chunk is being handled, its outcomes are also in the temporary table ``outcomes``
        (pid, a 0/1/2 code per criterion); the registry's tables are the views
        ``registry_<table>`` (``registry_patients``, ``registry_observations``...).
        """
        from screener.tables.write import read_manifest

        manifest = read_manifest(directory)
        sources = attach_registry(self.con, directory)
        total = int(manifest["patients"])
        for first in range(skip, total, chunk_size):
            last = min(first + chunk_size, total) - 1
            yield self.chunk_outcomes(sources, as_of, first, last)

    def screen_range(
        self, directory: Path, as_of: date, first: int, last: int, partition: int | None = None
    ) -> TableChunk:
        """Screen the pids ``first``..``last`` of a columnar registry, or of one of its
        patient-hash partitions (``partition``; see :func:`screener.tables.write.partitions`),
        as :meth:`iter_tables` does for each of its chunks."""
        return self.chunk_outcomes(attach_registry(self.con, directory, partition), as_of, first, last)

    def chunk_outcomes(self, sources: Sources, as_of: date, first: int, last: int) -> TableChunk:
        """Prepare pids ``first``..``last`` of an attached registry (:func:`attach_registry`) for
        this rule set and run its query: the outcomes, also left in the temporary table
        ``outcomes`` (until the next call on this connection)."""
        if self._preparation is None:
            self._preparation = TablePreparation(self.ruleset, self.layout)
        for statement in self._preparation.statements(sources, as_of, (first, last)):
            self.con.execute(statement)
        self._sources = sources
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE outcomes AS {self.query.sql}")
        codes = self.con.execute("SELECT * FROM outcomes").fetchnumpy()
        named = self.con.execute(
            f"SELECT o.pid, x.patient_id, x.file, x.line FROM outcomes o JOIN {sources.patients} x "
            "ON x.pid = o.pid ORDER BY o.pid"
        ).fetchall()
        errors = self.con.execute(
            f"SELECT e.pid, x.patient_id, x.file, x.line, e.field, e.message FROM errors e "
            f"JOIN {sources.patients} x ON x.pid = e.pid ORDER BY e.pid, e.field"
        ).fetchall()
        return TableChunk(
            [n[0] for n in named],
            [n[1] for n in named],
            [n[2] for n in named],
            [n[3] for n in named],
            {c: codes[c] for c in self.query.criteria},
            tuple(TableError(*e) for e in errors),
            last + 1,
        )

    def eligible_from(
        self, as_of: date, first: int, last: int, skip: str = "FALSE", every: bool = False
    ) -> None:
        """After :meth:`chunk_outcomes` of pids ``first``..``last``: each failing patient's
        eligible-from date, as the engine's rows give it, in the temporary table ``eligible_at``
        (pid, ISO date or NULL; :mod:`screener.vectorized.eligible_from`). ``skip``: a condition
        on ``outcomes.pid`` for patients whose rows come from elsewhere (the engine). Replaces
        the chunk's prepared tables (``p``, ``pw``, ``e``, ``c``, ``errors``). ``every``: see
        :meth:`screener.vectorized.eligible_from.EligibleFromSQL.run`."""
        if self._sources is None or self._preparation is None:
            raise RuntimeError("eligible_from needs a chunk screened by chunk_outcomes first")
        if self._eligible is None:
            self._eligible = EligibleFromSQL(self.ruleset, self.layout, self._preparation, self.query)
        self._eligible.run(self.con, self._sources, as_of, first, last, skip, every)

    def close(self) -> None:
        if self._owns_con:
            self.con.close()
        if self._spill is not None:
            shutil.rmtree(self._spill, ignore_errors=True)
        if self._open_world is not None:
            self._open_world.close()


def capped_connection(
    threads: int = 1, memory_limit: str | None = None, spill: Path | None = None
) -> tuple[Any, Path | None]:
    """A new DuckDB connection with ``threads`` threads and, with ``memory_limit``, at most that much
    memory for its buffers (DuckDB otherwise keeps freed buffers up to 80 % of the machine's RAM).
    What does not fit spills to ``spill`` (DuckDB makes it when it needs it; the caller removes
    it) or else to a new temporary directory, returned to be removed after closing."""
    import duckdb

    config: dict[str, Any] = {"threads": int(threads)}
    owned: Path | None = None
    if memory_limit is not None:
        if spill is None:
            spill = owned = scratch_dirs.make("spill")
        config.update(memory_limit=memory_limit, temp_directory=str(spill))
    try:
        return duckdb.connect(":memory:", config=config), owned
    except BaseException:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
        raise


def attach_registry(con: Any, directory: Path, partition: int | None = None) -> Sources:
    """The registry's tables (or one patient-hash ``partition`` of them) as the views
    ``registry_<table>`` of ``con`` (read once per run, or per piece)."""
    from screener.tables.write import table_glob

    for table in Sources.__annotations__:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW registry_{table} AS "
            f"SELECT * FROM read_parquet('{_quoted(table_glob(directory, table, partition))}')"
        )
    return Sources(**{t: f"registry_{t}" for t in Sources.__annotations__})


def _quoted(path: str) -> str:
    return path.replace("'", "''")
