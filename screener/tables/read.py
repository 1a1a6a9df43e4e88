"""Read patients back from a columnar registry, as :class:`~screener.model.patient.Patient`.

The fast path screens a whole registry in SQL; the patients whose rows need the
engine's explanation (missing facts, eligible-from dates, near misses) are read
back here, a few at a time, and screened by :class:`~screener.engine.evaluate.Engine`.
The tables hold what the native loader produced, so nothing is validated again.
Two things the tables do not keep: whether a number was written as an integer (a
whole number comes back as an int) and ``Observation.original`` (the value and
unit as written before conversion).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from screener.model.patient import (
    Assessment,
    Condition,
    Medication,
    Observation,
    Patient,
    Scalar,
    Status,
)
from screener.model.records import stored
from screener.tables.layout import TABLES


def _scalar(number: float | None, text: str | None, flag: bool | None) -> Scalar:
    if flag is not None:
        return flag
    if text is not None:
        return text
    assert number is not None
    return int(number) if number.is_integer() else number


def _observed_periods(text: str | None) -> tuple[tuple[date, date | None], ...]:
    """The observed periods written by the tables writer (``START/END;...``)."""
    if not text:
        return ()
    periods = []
    for part in text.split(";"):
        start, _, end = part.partition("/")
        periods.append((date.fromisoformat(start), date.fromisoformat(end) if end else None))
    return tuple(periods)


def _record(cls: type[Any], kind: str, row: tuple[Any, ...], **extra: Any) -> Any:
    """A record from its table row (pid, seq, then the stored fields of :mod:`screener.model.records`)."""
    values = iter(row[2:])
    fields: dict[str, Any] = {}
    for f in stored(kind):
        if f.type == "scalar":
            fields[f.name] = _scalar(next(values), next(values), next(values))
        else:
            fields[f.name] = next(values)
    return cls(**fields, **extra)


def read_patients(con: Any, relations: dict[str, str], pids: Sequence[int]) -> list[Patient]:
    """The patients ``pids`` (in that order), from the registry tables ``relations``
    (table name -> SQL relation, e.g. ``read_parquet('DIR/observations/part-*.parquet')``)
    on the DuckDB connection ``con``."""
    if not pids:
        return []
    con.execute("CREATE OR REPLACE TEMP TABLE wanted AS SELECT unnest($1::BIGINT[]) AS pid", [list(pids)])
    rows: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
    for table, columns in TABLES.items():
        names = ", ".join(f'"{c}"' for c, _ in columns)
        order = "pid, seq" if any(c == "seq" for c, _ in columns) else "pid"
        if table == "administrations":
            order = "pid, med_seq, date"
        grouped: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for row in con.execute(
            f"SELECT {names} FROM {relations[table]} WHERE pid IN (SELECT pid FROM wanted) ORDER BY {order}"
        ).fetchall():
            grouped[row[0]].append(row)
        rows[table] = grouped
    patients = []
    for pid in pids:
        ((_, patient_id, birth_date, sex, demographics_source, file, _, died, undated, observed),) = rows[
            "patients"
        ][pid]

        def of(table: str, pid: int = pid) -> tuple[tuple[Any, ...], ...]:
            return tuple(rows[table].get(pid, ()))

        given: dict[int, list[Any]] = defaultdict(list)
        for _, med_seq, day in rows["administrations"].get(pid, ()):
            given[med_seq].append(day)
        patients.append(
            Patient(
                patient_id=patient_id,
                birth_date=birth_date,
                sex=sex,
                observations=tuple(_record(Observation, "observation", r) for r in of("observations")),
                statuses=tuple(_record(Status, "status", r) for r in of("statuses")),
                assessments=tuple(_record(Assessment, "assessment", r) for r in of("assessments")),
                conditions=tuple(_record(Condition, "condition", r) for r in of("conditions")),
                medications=tuple(
                    _record(Medication, "medication", r, administrations=tuple(given.get(r[1], ())))
                    for r in of("medications")
                ),
                demographics_source=demographics_source,
                deceased=True if undated else died,
                observed=_observed_periods(observed),
                file=file,
            )
        )
    return patients
