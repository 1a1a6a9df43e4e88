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
from screener.importers.fhir.common import ref_id
from screener.importers.fhir.converter import FhirConverter
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


def _shared(con: Any, u: int) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """An input's Medication and Organization/Device resources by id (and by full URL)."""
    medications: dict[str, dict[str, Any]] = {}
    organizations: dict[str, dict[str, Any]] = {}
    for kind, text in con.execute(
        "SELECT r.kind, CAST(f.j AS VARCHAR) FROM fx_res r JOIN fhir_res f USING (k) WHERE r.u = ? "
        "AND r.kind IN ('Medication', 'Organization', 'Device') ORDER BY r.k",
        [u],
    ).fetchall():
        res = json.loads(text)
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
    con: Any, mapping: Mapping, paths: list[Path]
) -> dict[tuple[int, str], tuple[list[ImportIssue], PatientRecord | None]]:
    """Each patient in ``fx_python`` read by the Python converter: its error issues, its record."""
    out: dict[tuple[int, str], tuple[list[ImportIssue], PatientRecord | None]] = {}
    rows = con.execute(
        """SELECT r.u, r.pkey, r.kind, CAST(f.j AS VARCHAR), r.file, r.line, r.entry
        FROM fx_res r JOIN fx_python y ON y.u = r.u AND y.pkey = r.pkey JOIN fhir_res f ON f.k = r.k
        WHERE r.u NOT IN (SELECT u FROM fx_units)
        ORDER BY r.u, r.pkey, r.kind <> 'Patient', r.k"""
    ).fetchall()
    shared: dict[int, tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]] = {}
    groups: dict[tuple[int, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[0], row[1]), []).append(row)
    for (u, pkey), members in groups.items():
        if u not in shared:
            shared[u] = _shared(con, u)
        medications, organizations = shared[u]
        _, _, _, text, file, line, entry = members[0]
        patient = json.loads(text)
        resources = [(json.loads(m[3]), _origin(m[4], m[5], m[6])) for m in members[1:]]
        log = ImportLog("fhir", mapping.file)
        record = FhirConverter(mapping, log, organizations).convert(
            patient, _origin(file, line, entry), resources, medications
        )
        errors = [i for i in log.issues if i.level == "error"]
        out[(u, pkey)] = (errors, record)
    _ = ref_id, paths
    return out
