"""Importers: registry and EHR data -> screener's native patient records.

Common interface: :func:`iter_patients` ``(paths, mapping) -> ImportRun``, an iterator of
:class:`PatientRecord` (patient id, native dict, issues) that a batch runner can stream from;
its ``report`` (an :class:`ImportReport`) counts unmapped codes per (kind, system, code,
display) and lists every malformed record with file, line and field. One module per format:
:mod:`~screener.importers.fhir` (Bundle JSON, Bulk Data NDJSON), :mod:`~screener.importers.omop`
(OMOP CDM 5.4 CSV) and :mod:`~screener.importers.csv_registry` (one row per patient plus a
column mapping). Code-to-fact mappings are YAML (:mod:`~screener.importers.mapping`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

from screener.errors import InputError, Location
from screener.importers.core import (
    ImportIssue,
    ImportLog,
    ImportReport,
    ImportRun,
    PatientRecord,
    UnmappedCode,
)
from screener.importers.mapping import Mapping, MappingError, load_mapping
from screener.model.patient import Patient, load_patient

FORMATS = ("fhir", "ndjson", "omop", "csv")

__all__ = [
    "FORMATS",
    "ImportIssue",
    "ImportLog",
    "ImportReport",
    "ImportRun",
    "Mapping",
    "MappingError",
    "PatientRecord",
    "UnmappedCode",
    "detect_format",
    "fhir_json_kind",
    "iter_patients",
    "load_mapping",
    "load_patient_file",
]


_RESOURCE_TYPE = re.compile(rb'"resourceType"\s*:\s*"([A-Za-z]+)"')
_SCHEMA_VERSION = re.compile(rb'"schema_version"\s*:')
_CHUNK = 65536


def fhir_json_kind(path: str | Path) -> str | None:
    """``"bundle"`` for a FHIR Bundle, ``"resource"`` for another single FHIR resource, None for
    anything else (a native patient file, not JSON).

    The first 64 KiB usually tell; when they name neither a resourceType nor a native
    ``schema_version`` (a Bundle whose ``resourceType`` comes after a long ``meta`` or
    ``entry``), the file is read on in 64 KiB steps until one of them appears. The top-level
    resourceType is the one that comes at the outermost nesting level, so a Bundle whose
    entries come first is still a Bundle.
    """
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(_CHUNK)
            if _SCHEMA_VERSION.search(head) and not _RESOURCE_TYPE.search(head):
                return None
            data = head
            while not _RESOURCE_TYPE.search(data):
                more = handle.read(_CHUNK)
                if not more:
                    return None
                data = data[-64:] + more
                if _SCHEMA_VERSION.search(data):
                    return None
    except OSError:
        return None
    first = _RESOURCE_TYPE.search(head)
    if first is not None:
        before = head[: first.start()]
        if before.count(b"{") == 1 and b"[" not in before and b'"' not in before:
            return "bundle" if first.group(1) == b"Bundle" else "resource"  # the usual first key
    return _top_level_kind(path)


def _top_level_kind(path: str | Path) -> str | None:
    """The top-level resourceType, found by tracking nesting depth (strings skipped)."""
    depth = 0
    in_string = escaped = False
    token = bytearray()
    key_at_top: bytes | None = None
    try:
        with Path(path).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                for byte in chunk:
                    ch = chr(byte)
                    if in_string:
                        if escaped:
                            escaped = False
                        elif ch == "\\":
                            escaped = True
                        elif ch == '"':
                            in_string = False
                            if depth == 1:
                                if key_at_top == b"resourceType":
                                    return "bundle" if bytes(token) == b"Bundle" else "resource"
                                key_at_top = bytes(token)
                        else:
                            token.append(byte)
                        continue
                    if ch == '"':
                        in_string = True
                        token = bytearray()
                    elif ch in "{[":
                        depth += 1
                    elif ch in "}]":
                        depth -= 1
                    elif ch == "," and depth == 1:
                        key_at_top = None
    except OSError:
        return None
    return None


def is_fhir_bundle(path: str | Path) -> bool:
    """Whether a JSON file holds a FHIR Bundle (see :func:`fhir_json_kind`)."""
    return fhir_json_kind(path) == "bundle"


def load_patient_file(
    path: str | Path,
    on_issue: Callable[[ImportIssue], None] | None = None,
    mapping: Mapping | str | Path | Callable[[], Mapping] | None = None,
) -> Patient:
    """A native patient file (YAML/JSON), or FHIR R4 JSON (a Bundle, or a lone Patient
    resource) holding exactly one patient.

    Import issues (dropped values, warnings) of a bundle go to ``on_issue``. ``mapping`` is
    the code mapping of a FHIR file (default: NCT03562065's; a rule set's own, or a portfolio's
    union: :func:`screener.importers.mapping_union.mapping_for_rules`), or a function giving
    it, called only for a FHIR file (a native file needs no mapping).
    """
    if Path(path).suffix.lower() != ".json" or fhir_json_kind(path) is None:
        return load_patient(path)
    if callable(mapping):
        mapping = mapping()
    run = iter_patients([path], format="fhir", mapping=mapping)
    records = list(run)
    for issue in run.report.issues:
        if on_issue is not None:
            on_issue(issue)
    if len(records) != 1:
        raise InputError(
            f"the file holds {len(records)} patients; one patient is screened at a time "
            "(use screener convert or screener batch)",
            Location(str(path)),
        )
    return records[0].patient()


def detect_format(paths: Iterable[str | Path]) -> str:
    """Guess the input format from file names: OMOP (a person table), NDJSON, FHIR JSON or CSV."""
    names: list[str] = []
    for p in map(Path, paths):
        names.extend(f.name.lower() for f in p.iterdir()) if p.is_dir() else names.append(p.name.lower())
    if any(n in ("person.csv", "person.tsv") for n in names):
        return "omop"
    if any(n.endswith((".ndjson", ".ndjson.gz")) for n in names):
        return "ndjson"
    if any(n.endswith(".json") for n in names):
        return "fhir"
    if any(n.endswith(".csv") for n in names):
        return "csv"
    raise InputError(
        "cannot tell the input format (no person.csv, *.ndjson, *.json or *.csv); give --from",
        Location(", ".join(map(str, paths))),
    )


def iter_patients(
    paths: Iterable[str | Path],
    mapping: Mapping | str | Path | None = None,
    *,
    format: str | None = None,
    registry_mapping: str | Path | None = None,
    limit: int | None = None,
) -> ImportRun:
    """Stream patients from ``paths`` in ``format`` (guessed when None).

    ``mapping`` is the code mapping (default: the NCT03562065 mapping); flat CSV registries need
    ``registry_mapping`` (a column-mapping YAML) instead. ``limit`` caps the number of OMOP
    persons read (a sample for tests and previews).
    """
    paths = list(paths)
    fmt = format or detect_format(paths)
    if fmt == "csv":
        from screener.importers.csv_registry import iter_registry

        if registry_mapping is None:
            raise InputError("a CSV registry needs a column mapping (--registry-mapping FILE)")
        return iter_registry(paths, registry_mapping)
    codes = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if fmt == "fhir":
        from screener.importers.fhir import iter_bundles

        return iter_bundles(paths, codes)
    if fmt == "ndjson":
        from screener.importers.fhir import iter_ndjson

        return iter_ndjson(paths, codes)
    if fmt == "omop":
        from screener.importers.omop import iter_omop

        return iter_omop(paths, codes, limit=limit)
    raise InputError(f"unknown input format {fmt!r}; expected one of {', '.join(FORMATS)}")
