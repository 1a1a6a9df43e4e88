"""What the SQL leaves to the Python importer: whole inputs, and single patients.

A patient is handed to :class:`screener.importers.fhir.converter.FhirConverter` with its raw
resources (taken from DuckDB in the importer's order) and the input's shared Medication,
Organization and Device resources, exactly as :mod:`screener.importers.fhir.read` would; its
error issues and its record then take their places in the stream. An input is read by
:func:`screener.batch.inputs.iter_records` itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from screener.batch.inputs import Record
from screener.importers.core import ImportIssue, ImportLog, Origin, PatientRecord
from screener.importers.fhir.converter import FhirConverter
from screener.importers.fhir.read import _open
from screener.importers.mapping import Mapping


def python_input(
    path: Path,
    mapping: Mapping,
    start: int,
    issues: list[tuple[int, ImportIssue]],
    fallback: list[tuple[int, Record]],
) -> int:
    """Read one input with the Python path; its records take ords from ``start``."""
    from screener.batch.inputs import iter_records

    ord_ = start
    for record in iter_records([path], mapping=mapping):
        if record.error is not None:
            error = record.error
            issues.append((ord_, ImportIssue(record.source, record.line, error.field, error.message)))
        else:
            fallback.append((ord_, Record(record.source, record.line, ord_, record.data, None, record.lines)))
        ord_ += 1
    return ord_


def _texts(con: Any, rows: list[tuple[int, str, int | None, int | None]]) -> dict[int, Any]:
    """The resources ``rows`` (k, file, line, entry) as parsed JSON, by k: a Bundle's from the
    text kept at load, an NDJSON file's read back by line (the file is streamed once)."""
    out: dict[int, Any] = {}
    entries = [k for k, _, _, entry in rows if entry is not None]
    if entries:
        for k, text in con.execute(
            "SELECT k, j FROM fhir_keep WHERE k IN (SELECT unnest(?))", [entries]
        ).fetchall():
            out[k] = json.loads(text)
    wanted: dict[str, dict[int, int]] = {}
    for k, file, line, entry in rows:
        if entry is None and line is not None:
            wanted.setdefault(file, {})[line] = k
    for file, lines in wanted.items():
        with _open(Path(file)) as handle:
            for number, raw in enumerate(handle, start=1):
                if number in lines:
                    out[lines[number]] = json.loads(raw)
    return out


def _shared(con: Any, u: int) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """An input's Medication and Organization/Device resources by id (and by full URL)."""
    medications: dict[str, dict[str, Any]] = {}
    organizations: dict[str, dict[str, Any]] = {}
    rows = con.execute(
        "SELECT k, file, line, entry, kind FROM fx_res WHERE u = ? "
        "AND kind IN ('Medication', 'Organization', 'Device') ORDER BY k",
        [u],
    ).fetchall()
    texts = _texts(con, [r[:4] for r in rows])
    for k, _, _, _, kind in rows:
        res = texts[k]
        (medications if kind == "Medication" else organizations)[str(res.get("id"))] = res
    aliases = con.execute("SELECT url, id FROM fx_full WHERE u = ?", [u]).fetchall()
    for shared in (medications, organizations):
        for rid in list(shared):
            for full, target in aliases:
                if target == rid:
                    shared[full] = shared[rid]
    return medications, organizations


def _origin(file: str, line: int | None, entry: int | None) -> Origin:
    return Origin(file, line, None if entry is None else f"entry[{entry}].resource")


def python_patients(
    con: Any, mapping: Mapping, whole: set[int]
) -> dict[tuple[int, str], tuple[list[ImportIssue], PatientRecord | None]]:
    """Each patient in ``fx_python`` read by the Python converter: its error issues, its record.
    An input where the converter fails outright (as a Patient no reader expects can make it) is
    added to ``whole``: the Python reader reads it, and reports it, as it would alone."""
    out: dict[tuple[int, str], tuple[list[ImportIssue], PatientRecord | None]] = {}
    rows = con.execute(
        """SELECT r.u, r.pkey, r.k, r.file, r.line, r.entry
        FROM fx_res r JOIN fx_python y ON y.u = r.u AND y.pkey = r.pkey
        WHERE r.u NOT IN (SELECT u FROM fx_units)
        ORDER BY r.u, r.pkey, r.kind <> 'Patient', r.k"""
    ).fetchall()
    texts = _texts(con, [r[2:] for r in rows])
    shared: dict[int, tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = {}
    groups: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    for (u, pkey), members in groups.items():
        if u not in shared:
            shared[u] = _shared(con, u)
        medications, organizations = shared[u]
        _, _, k, file, line, entry = members[0]
        resources = [(texts[m[2]], _origin(m[3], m[4], m[5])) for m in members[1:]]
        log = ImportLog("fhir", mapping.file)
        try:
            record = FhirConverter(mapping, log, organizations).convert(
                texts[k], _origin(file, line, entry), resources, medications
            )
        except Exception:  # the Python reader stops the input there: it reads the input itself
            whole.add(u)
            continue
        errors = [i for i in log.issues if i.level == "error"]
        out[(u, pkey)] = (errors, record)
    return out
