"""Write validated patients as a columnar registry (:data:`~screener.tables.layout.TABLES`).

:class:`TablesWriter` takes :class:`~screener.model.patient.Patient` objects one by one,
buffers one chunk of them as column lists and writes each table's chunk as one Parquet part
through DuckDB, cast to the exact layout types (a chunk without rows for a table still
writes a typed, empty part). Memory is bounded by ``chunk_size`` patients.

Everything goes into a sibling directory ``DIR.tmp-XXXX``; :meth:`TablesWriter.close`
writes ``manifest.json`` last and only then renames the directory to ``DIR``. An
interrupted conversion therefore leaves no ``DIR`` (at most a ``DIR.tmp-*`` without a
manifest), and :func:`read_manifest` refuses a directory without one.

``overwrite=True`` replaces only a registry screener wrote: its ``manifest.json`` carries
screener's format marker (``screener-tables/N``) and lists its files (``files``), and the
directory holds nothing else; only those files are deleted. Any other folder (a web
app's ``manifest.json``, a registry with a file added by hand) is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from screener import __version__
from screener.batch.safe_io import fsync_folder
from screener.errors import InputError, Location, PatientDataError, ScreenerError
from screener.model.patient import Patient, Scalar
from screener.model.records import RECORDS, TABLE_OF, RecordField, stored
from screener.tables.layout import FORMAT, TABLES
from screener.tables.place import (
    MANIFEST,
    MAX_PARTITIONS,
    check_target,
    move_into_place,
    new_sibling,
    part_name,
    partition_glob,
    partition_of,
)
from screener.which_value import SEQ_SPAN

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
BIGINT_MAX = 2**63 - 1
BIGINT_MIN = -(2**63)

# Which patient field each table row comes from, to name a refused value's field.
_FIELDS = {
    "patients": "",
    "observations": "observations",
    "statuses": "statuses",
    "assessments": "assessments",
    "conditions": "conditions",
    "medications": "medications",
    "administrations": "medications",
}
# The row tuples built by :meth:`TablesWriter.add` follow the layout's column order (the
# round-trip tests check every column); the names say which field a refused value came from.
ROW_COLUMNS: dict[str, tuple[str, ...]] = {t: tuple(c for c, _ in cols) for t, cols in TABLES.items()}


@dataclass(frozen=True)
class TablesSummary:
    """What :meth:`TablesWriter.close` wrote."""

    directory: Path
    patients: int
    rows: dict[str, int]
    parts: int
    errors: int


class _Refused(Exception):
    """A value that cannot be stored; ``column`` and ``seq`` say where (internal)."""

    def __init__(self, message: str, table: str, seq: int | None, column: str) -> None:
        super().__init__(message)
        self.message, self.table, self.seq, self.column = message, table, seq, column


def _observed_text(periods: tuple[tuple[date, date | None], ...]) -> str | None:
    """Observed periods as ``START/END;...`` (END empty while open); None when none is recorded."""
    if not periods:
        return None
    return ";".join(f"{start.isoformat()}/{end.isoformat() if end else ''}" for start, end in periods)


def _split(value: Scalar, table: str, seq: int) -> tuple[float | None, str | None, bool | None]:
    """A scalar into (value_num, value_text, value_bool): exactly one is set."""
    if isinstance(value, bool):
        return None, None, value
    if isinstance(value, int | float):
        return _float(value, table, seq, "value"), None, None
    if isinstance(value, str):
        return None, value, None
    raise _Refused(f"value {value!r} is not a number, a string or true/false", table, seq, "value")


def _float(value: float | int | None, table: str, seq: int | None, column: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (OverflowError, TypeError, ValueError):
        raise _Refused(f"{value!r} cannot be stored as a DOUBLE", table, seq, column) from None


def _bigint(value: int | None, table: str, seq: int, column: str) -> int | None:
    if value is not None and not BIGINT_MIN <= value <= BIGINT_MAX:
        raise _Refused(f"{value} does not fit in a BIGINT", table, seq, column)
    return value


# (name, type) of each kind's stored fields, in column order, worked out once per declaration
# (not per record; a declaration replaced, as a test does, is read again)
_STORED: dict[str, tuple[tuple[RecordField, ...], tuple[tuple[str, str], ...]]] = {}


def _stored_fields(kind: str) -> tuple[tuple[str, str], ...]:
    declared = RECORDS[kind]
    known = _STORED.get(kind)
    if known is None or known[0] is not declared:
        known = _STORED[kind] = (declared, tuple((f.name, f.type) for f in stored(kind)))
    return known[1]


def _record_row(kind: str, record: Any, pid: int, seq: int) -> tuple[Any, ...]:
    """The table row of one record: pid, seq and its stored fields (:mod:`screener.model.records`)."""
    table = TABLE_OF[kind]
    row: list[Any] = [pid, seq]
    for name, type_ in _stored_fields(kind):
        value = getattr(record, name)
        if type_ == "scalar":
            row += _split(value, table, seq)
        elif type_ == "number":
            row.append(_float(value, table, seq, name))
        elif type_ == "integer":
            row.append(_bigint(value, table, seq, name))
        else:
            row.append(value)
    return tuple(row)


def _printable_path(file: str) -> str:
    """A file name as valid UTF-8 (undecodable bytes of a path become U+FFFD)."""
    if file.isascii():
        return file
    return file.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


_TEXT_COLUMNS = {
    table: tuple(i for i, (_, sql_type) in enumerate(columns) if sql_type == "VARCHAR")
    for table, columns in TABLES.items()
}


def _transpose(rows: list[tuple[Any, ...]], table: str) -> list[tuple[Any, ...]]:
    """A table's rows as columns, refusing text that is not valid Unicode (a lone
    surrogate, e.g. from JSON ``"\\ud800"``): DuckDB could not write it."""
    columns = list(zip(*rows, strict=True))
    for index in _TEXT_COLUMNS[table]:
        values = columns[index]
        try:
            if "".join(filter(None, values)).isascii():  # the usual case, checked at C speed
                continue
        except TypeError:
            pass  # a value that is not a string: found below
        name = ROW_COLUMNS[table][index]
        for row, value in zip(rows, values, strict=True):
            seq = row[1] if table != "patients" else None
            if value is None:
                continue
            if not isinstance(value, str):
                raise _Refused(f"{name} must be text, got {value!r}", table, seq, name)
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise _Refused(f"{name} is not valid Unicode text: {value!r}", table, seq, name) from None
    return columns


def _where(patient: Patient, refused: _Refused) -> Location:
    prefix = _FIELDS[refused.table]
    if refused.seq is None and prefix:
        return Location(patient.file, None, prefix)
    if not prefix:
        return Location(patient.file, None, refused.column)
    if refused.table == "administrations":
        return Location(patient.file, None, f"{prefix}[{refused.seq}].administrations")
    return Location(patient.file, None, f"{prefix}[{refused.seq}].{refused.column}")


def _column(name: str, sql_type: str, values: list[Any]) -> tuple[dict[str, Any], str]:
    """Arrays to register for one column and the SELECT expression giving it its exact type."""
    import numpy as np

    q = f'"{name}"'
    n = len(values)
    nulls = values.count(None)
    mask_name = f"{name}__null"
    mask_q = f'"{mask_name}"'

    def mask() -> Any:
        return np.fromiter((v is None for v in values), dtype=np.bool_, count=n)

    if sql_type == "VARCHAR":
        return {name: np.array(values, dtype=object)}, f"CAST({q} AS VARCHAR) AS {q}"
    if sql_type == "DOUBLE":
        array = np.array(values, dtype=np.float64)  # None -> NaN, which DuckDB reads as NULL
        if nulls == n or int(np.isnan(array).sum()) == nulls:
            return {name: array}, f"CAST({q} AS DOUBLE) AS {q}"
        # a genuine NaN value: keep it as NaN, not NULL
        return (
            {name: array, mask_name: mask()},
            f"CASE WHEN {mask_q} THEN NULL ELSE COALESCE(CAST({q} AS DOUBLE), 'NaN'::DOUBLE) END AS {q}",
        )
    if sql_type == "BOOLEAN":
        array = np.array([-1 if v is None else v for v in values], dtype=np.int8)
        return {name: array}, f"CAST(NULLIF({q}, -1) AS BOOLEAN) AS {q}"
    if sql_type == "DATE":
        array = np.array([0 if v is None else v.toordinal() - EPOCH_ORDINAL for v in values], dtype=np.int32)
        expr = f"CAST(DATE '1970-01-01' + {q} AS DATE)"
        if nulls:
            return {name: array, mask_name: mask()}, f"CASE WHEN {mask_q} THEN NULL ELSE {expr} END AS {q}"
        return {name: array}, f"{expr} AS {q}"
    if sql_type in ("BIGINT", "INTEGER"):
        array = np.array([0 if v is None else v for v in values] if nulls else values, dtype=np.int64)
        if nulls:
            return (
                {name: array, mask_name: mask()},
                f"CASE WHEN {mask_q} THEN NULL ELSE CAST({q} AS {sql_type}) END AS {q}",
            )
        return {name: array}, f"CAST({q} AS {sql_type}) AS {q}"
    raise ScreenerError(f"screener.tables: no writer for column type {sql_type} ({name})")


def patient_rows(patient: Patient, pid: int, line: int | None) -> dict[str, list[tuple[Any, ...]]]:
    """The layout rows of one patient (``pid`` in the first column), in the layout's column order;
    raises :class:`_Refused` for a value the layout cannot hold."""
    for table in ("observations", "statuses", "assessments"):
        count = len(getattr(patient, table))
        if count > SEQ_SPAN:  # the SQL order key packs seq below SEQ_SPAN (screener.which_value)
            raise _Refused(
                f"{count} {table}: at most {SEQ_SPAN} can be screened per patient", table, None, ""
            )
    rows = {
        TABLE_OF[kind]: [_record_row(kind, record, pid, seq) for seq, record in enumerate(records)]
        for kind, records in (
            ("observation", patient.observations),
            ("status", patient.statuses),
            ("assessment", patient.assessments),
            ("condition", patient.conditions),
            ("medication", patient.medications),
        )
    }
    administrations = [
        (pid, seq, day) for seq, m in enumerate(patient.medications) for day in m.administrations
    ]
    return {
        "patients": [
            (
                pid,
                patient.patient_id,
                patient.birth_date,
                patient.sex,
                patient.demographics_source,
                _printable_path(patient.file),
                line,
                patient.deceased if isinstance(patient.deceased, date) else None,
                patient.deceased is True,
                _observed_text(patient.observed),
            )
        ],
        **rows,
        "administrations": administrations,
    }


def patient_columns(patient: Patient, pid: int, line: int | None) -> dict[str, list[tuple[Any, ...]]]:
    """The patient's rows as columns per table (tables without rows left out); a value the
    layout cannot hold raises :class:`PatientDataError` naming the patient's file and field."""
    try:
        return {
            table: _transpose(rows, table) for table, rows in patient_rows(patient, pid, line).items() if rows
        }
    except _Refused as refused:
        raise PatientDataError(
            f"patient {patient.patient_id}: {refused.message}", _where(patient, refused)
        ) from None


def registry_manifest(
    patients: int,
    rows: dict[str, int],
    parts: int,
    chunk_size: int,
    errors: int,
    sources: Iterable[str],
    partitions: int,
) -> dict[str, Any]:
    """The ``manifest.json`` of a registry (every writer of registries writes this one)."""
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "patients": patients,
        "rows": dict(rows),
        "parts": parts,
        "chunk_size": chunk_size,
        "errors": errors,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sources": list(sources),
        "screener_version": __version__,
        # what --overwrite may delete later: exactly these files (and this manifest)
        "files": [
            f"{t}/{part_name(i, k, partitions)}"
            for t in TABLES
            for i in range(parts)
            for k in range(partitions)
        ],
    }
    if partitions > 1:  # absent: one partition (as every registry before partitions)
        manifest["partitions"] = partitions
    return manifest


def finish_registry(tmp: Path, target: Path, manifest: dict[str, Any], overwrite: bool) -> None:
    """Write ``manifest`` last into the finished ``tmp`` directory, then rename it to ``target``
    (refused, as at the start, if a folder that may not be replaced appeared there meanwhile)."""
    path = tmp / MANIFEST
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    fsync_folder(tmp)
    check_target(target, overwrite)
    move_into_place(tmp, target)


_PARTITION = "__partition"


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class RegistryWriter:
    """What both registry writers share (:class:`TablesWriter`, patient by patient, and
    :class:`screener.tables.write_staged.StagedWriter`, from SQL): the context manager, the
    error count, and closing (the last part, the manifest, the rename into place) or aborting
    (nothing left behind). A subclass sets the attributes below and says what is still pending
    (:meth:`_pending`, :meth:`_write_pending`), which DuckDB connection it holds
    (:meth:`_connection`) and what else to drop (:meth:`_drop`)."""

    directory: Path
    chunk_size: int
    sources: tuple[str, ...] | list[str]
    partitions: int
    overwrite: bool
    _tmp: Path
    _target: Path
    _patients: int
    _parts: int
    _errors: int
    _rows: dict[str, int]
    _closed: bool
    _summary: TablesSummary | None

    def _start(
        self,
        directory: str | Path,
        chunk_size: int,
        overwrite: bool,
        sources: Iterable[str | Path],
        partitions: int,
    ) -> Any:
        """Check the arguments and the target, make the temporary folder (one subfolder per
        table) beside it and zero the counts; return the duckdb module (refused, with how to
        install it, when it is missing)."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be 1 or more, got {chunk_size}")
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ValueError(f"partitions must be 1 to {MAX_PARTITIONS}, got {partitions}")
        self.directory = Path(directory)
        self.chunk_size = chunk_size
        self.partitions = partitions
        self.overwrite = overwrite
        self.sources = tuple(str(s) for s in sources)
        check_target(self.directory, overwrite)
        try:
            import duckdb
        except ImportError:
            raise ScreenerError("columnar tables need DuckDB: pip install 'screener[batch]'") from None
        self._target = self.directory.resolve()  # "out/", "." or a path through ".." have a real name
        self._target.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = new_sibling(self._target, "tmp")
        for table in TABLES:
            (self._tmp / table).mkdir()
        self._patients = 0
        self._parts = 0
        self._errors = 0
        self._rows = dict.fromkeys(TABLES, 0)
        self._summary = None
        self._closed = False
        return duckdb

    def _pending(self) -> bool:
        raise NotImplementedError

    def _write_pending(self) -> None:
        raise NotImplementedError

    def _connection(self) -> Any:
        raise NotImplementedError

    def _drop(self) -> None:
        """Anything besides the temporary folder to remove when closing or aborting."""

    @property
    def patients(self) -> int:
        """Patients added so far."""
        return self._patients

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def add_errors(self, count: int = 1) -> None:
        """Count input errors met by the caller (records or values not written), for the manifest."""
        self._errors += count

    def close(self) -> TablesSummary:
        """Write what is pending and the manifest, then move the registry into place."""
        if self._summary is not None:
            return self._summary
        if self._closed:
            raise ScreenerError(f"the tables writer for {self.directory} was aborted")
        try:
            if self._pending() or self._parts == 0:  # an empty registry still has typed parts
                self._write_pending()
            self._connection().close()
            manifest = registry_manifest(
                self._patients,
                self._rows,
                self._parts,
                self.chunk_size,
                self._errors,
                self.sources,
                self.partitions,
            )
            finish_registry(self._tmp, self._target, manifest, self.overwrite)
        except BaseException:
            self.abort()
            raise
        self._drop()
        self._closed = True
        self._summary = TablesSummary(
            self.directory, self._patients, dict(self._rows), self._parts, self._errors
        )
        return self._summary

    def abort(self) -> None:
        """Drop everything written so far; ``directory`` is left as it was."""
        self._closed = True
        with contextlib.suppress(Exception):  # closing twice, or a connection already broken
            self._connection().close()
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._drop()


class TablesWriter(RegistryWriter):
    """Stream patients into ``directory`` as Parquet tables; use as a context manager.

    ``add`` returns the patient's ``pid`` (0, 1, 2... in order). Leaving the ``with``
    block normally calls :meth:`close` (flush, manifest, rename into place); leaving it
    with an exception calls :meth:`abort` (nothing is left behind). An existing non-empty
    ``directory`` is refused unless ``overwrite=True``, and even then only a previous
    registry (a directory holding ``manifest.json``) is replaced.
    """

    def __init__(
        self,
        directory: str | Path,
        chunk_size: int = 50_000,
        *,
        overwrite: bool = False,
        sources: Iterable[str | Path] = (),
        partitions: int = 1,
    ) -> None:
        duckdb = self._start(directory, chunk_size, overwrite, sources, partitions)
        self._partition_of: list[int] = []  # of each buffered patient, in pid order
        self._con = duckdb.connect(":memory:")
        self._buffered = 0
        self._columns: dict[str, list[list[Any]]] = {}
        self._reset()

    # ------------------------------------------------------------------ public

    def add(self, patient: Patient, line: int | None = None) -> int:
        """Buffer one patient (written when its chunk is full); return its pid. ``line`` is
        the record's line in its input file (a JSONL or CSV registry), kept for reports.

        A value the layout cannot hold (a number too large, text that is not valid
        Unicode) raises :class:`PatientDataError` naming the patient's file and field,
        and nothing of that patient is kept.
        """
        if self._closed:
            raise ScreenerError(f"the tables writer for {self.directory} is already closed")
        pid = self._patients
        staged = patient_columns(patient, pid, line)
        for table, values in staged.items():
            for column, more in zip(self._columns[table], values, strict=True):
                column.extend(more)
        if self.partitions > 1:
            self._partition_of.append(partition_of(patient.patient_id, self.partitions))
        self._patients += 1
        self._buffered += 1
        if self._buffered >= self.chunk_size:
            self._flush()
        return pid

    # ------------------------------------------------------------------ internals

    def _pending(self) -> bool:
        return bool(self._buffered)

    def _write_pending(self) -> None:
        self._flush()

    def _connection(self) -> Any:
        return self._con

    def _drop(self) -> None:
        self._columns = {}

    def _reset(self) -> None:
        self._columns = {table: [[] for _ in columns] for table, columns in TABLES.items()}
        self._buffered = 0
        self._partition_of = []

    def _rows_of(self, patient: Patient, pid: int, line: int | None) -> dict[str, list[tuple[Any, ...]]]:
        return patient_rows(patient, pid, line)

    def _flush(self) -> None:
        """Write the buffered chunk: one typed part per table and partition, even an empty one."""
        import numpy as np

        first_pid = self._patients - self._buffered
        partition_of_pid = np.array(self._partition_of, dtype=np.int32)
        for table, columns in TABLES.items():
            values = self._columns[table]
            arrays: dict[str, Any] = {}
            exprs: list[str] = []
            for (name, sql_type), column in zip(columns, values, strict=True):
                column_arrays, expr = _column(name, sql_type, column)
                arrays.update(column_arrays)
                exprs.append(expr)
            count = len(values[0])
            del values
            self._columns[table] = []  # the lists go before DuckDB copies the arrays
            if self.partitions > 1:  # each row goes to its patient's partition
                arrays[_PARTITION] = partition_of_pid[arrays["pid"] - first_pid]
            view = f"chunk_{table}"
            self._con.register(view, arrays)
            try:
                for k in range(self.partitions):
                    target = self._tmp / table / part_name(self._parts, k, self.partitions)
                    where = f" WHERE {_PARTITION} = {k}" if self.partitions > 1 else ""
                    self._con.execute(
                        f"COPY (SELECT {', '.join(exprs)} FROM {view}{where}) TO "
                        f"{_sql_string(str(target))} (FORMAT parquet, COMPRESSION zstd)"
                    )
            finally:
                self._con.unregister(view)
            self._rows[table] += count
            del arrays
        self._parts += 1
        self._reset()


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a registry written by :class:`TablesWriter`; refuse anything else."""
    path = Path(directory) / MANIFEST
    where = Location(str(directory))
    if not Path(directory).is_dir():
        raise InputError("no such directory (a screener tables registry is a directory)", where)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"not a complete screener tables registry: no {MANIFEST} "
            "(an interrupted conversion leaves none; convert again)",
            where,
        ) from None
    except OSError as error:
        raise InputError(f"cannot read {MANIFEST}: {error.strerror}", where) from None
    except UnicodeDecodeError as error:
        raise InputError(f"{MANIFEST} is not UTF-8 text: {error.reason}", where) from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{MANIFEST} is not valid JSON: {error.msg} (line {error.lineno})", where) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise InputError(
            f"the registry is in format {found!r}; this screener reads {FORMAT!r} "
            "(convert the registry again)",
            where,
        )
    return manifest


def table_glob(directory: str | Path, table: str, partition: int | None = None) -> str:
    """The Parquet glob of ``table`` for DuckDB's ``read_parquet`` (quote it for SQL yourself):
    all of it, or one ``partition`` of a partitioned registry (see :func:`partitions`)."""
    if table not in TABLES:
        raise ScreenerError(f"unknown table {table!r}; the tables are {', '.join(TABLES)}")
    if partition is None:
        return str(Path(directory) / table / "part-*.parquet")
    return str(Path(directory) / table / partition_glob(partition))


def partitions(manifest: dict[str, Any]) -> int:
    """How many patient-hash partitions a registry has (1: not partitioned; older registries)."""
    count = manifest.get("partitions", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_PARTITIONS:
        raise InputError(f"{MANIFEST}: partitions must be a whole number from 1 to {MAX_PARTITIONS}")
    return count
