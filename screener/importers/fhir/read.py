"""Reading FHIR files: Bundle JSON and Bulk Data NDJSON, grouped by patient.

Memory: a Bundle file is read whole (one patient per Synthea bundle). NDJSON is streamed: a first
pass reads every line once and keeps, per patient, only (file, byte offset, line) of its
resources, plus Medication resources (shared, referenced by id); the second pass reads one
patient's lines back by offset, converts them and lets them go. So memory holds the offset
index and one patient at a time; each line is parsed twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from screener.importers.core import ImportIssue, ImportLog, ImportRun, Origin, PatientRecord
from screener.importers.fhir.common import patient_ref, ref_id
from screener.importers.fhir.converter import USED, FhirConverter
from screener.importers.mapping import Mapping, load_mapping

# ------------------------------------------------------------------------------------------ bundles


def _bundle_records(path: Path, mapping: Mapping, log: ImportLog) -> Iterator[PatientRecord]:
    file = str(path)
    try:
        with path.open("rb") as fh:
            bundle = json.load(fh)
    except OSError as error:
        log.issue(ImportIssue(file, None, None, f"cannot read file: {error.strerror}"))
        return
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        log.issue(ImportIssue(file, line, None, f"malformed JSON: {error}"))
        return
    if not isinstance(bundle, dict):
        log.issue(ImportIssue(file, None, None, "not a FHIR resource (expected a JSON object)"))
        return
    entries = bundle.get("entry") or [] if bundle.get("resourceType") == "Bundle" else [{"resource": bundle}]
    by_full_url: dict[str, str] = {}
    patients: dict[str, tuple[dict[str, Any], Origin]] = {}
    medications: dict[str, dict[str, Any]] = {}
    others: list[tuple[dict[str, Any], Origin]] = []
    for i, entry in enumerate(entries):
        origin = Origin(file, None, f"entry[{i}].resource")
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or "resourceType" not in res:
            log.issue(ImportIssue(file, None, f"entry[{i}]", "entry without a resource"))
            continue
        if isinstance(entry.get("fullUrl"), str) and res.get("id"):
            by_full_url[ref_id(entry["fullUrl"]) or ""] = str(res["id"])
        kind = res["resourceType"]
        if kind == "Patient":
            patients[str(res.get("id"))] = (res, origin)
        elif kind == "Medication":
            medications[str(res.get("id"))] = res
        elif kind in USED:
            others.append((res, origin))
        else:
            log.skip(kind)
    grouped: dict[str, list[tuple[dict[str, Any], Origin]]] = {pid: [] for pid in patients}
    for res, origin in others:
        ref = patient_ref(res)
        pid = by_full_url.get(ref or "", ref)
        if pid in grouped:
            grouped[pid].append((res, origin))
        else:
            log.issue(
                ImportIssue(
                    file,
                    None,
                    origin.field,
                    f"{res['resourceType']}/{res.get('id')} refers to patient {ref!r}, "
                    "which is not in this bundle; not imported",
                )
            )
    for med_id in list(medications):
        for full, rid in by_full_url.items():
            if rid == med_id:
                medications[full] = medications[med_id]
    converter = FhirConverter(mapping, log)
    for pid, (res, origin) in patients.items():
        record = converter.convert(res, origin, grouped[pid], medications)
        if record is not None:
            yield record


def iter_bundles(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR Bundle JSON files (a directory means its ``*.json`` files)."""
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-bundle", mapping.file)

    def gen() -> Iterator[PatientRecord]:
        for path in _expand(paths, ("*.json",)):
            yield from _bundle_records(path, mapping, log)

    return ImportRun(gen(), log)


# ------------------------------------------------------------------------------------------ NDJSON


def _expand(paths: Iterable[str | Path], patterns: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found: set[Path] = set()
            for pattern in patterns:
                found.update(p.glob(pattern))
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def _read_line(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.readline()


def iter_ndjson(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR Bulk Data NDJSON files (a directory means its ``*.ndjson`` files).

    Streams: see the module docstring for the memory behaviour.
    """
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-ndjson", mapping.file)
    files = _expand(paths, ("*.ndjson", "*.ndjson.txt"))

    def gen() -> Iterator[PatientRecord]:
        index: dict[str, list[tuple[int, int, int]]] = {}
        patients: dict[str, tuple[int, int, int]] = {}
        medications: dict[str, dict[str, Any]] = {}
        for fi, path in enumerate(files):
            try:
                handle = path.open("rb")
            except OSError as error:
                log.issue(ImportIssue(str(path), None, None, f"cannot read file: {error.strerror}"))
                continue
            with handle:
                offset = 0
                for line_no, raw in enumerate(handle, start=1):
                    here = offset
                    offset += len(raw)
                    if not raw.strip():
                        continue
                    try:
                        res = json.loads(raw)
                    except (json.JSONDecodeError, UnicodeDecodeError) as error:
                        log.issue(ImportIssue(str(path), line_no, None, f"malformed JSON line: {error}"))
                        continue
                    if not isinstance(res, dict) or "resourceType" not in res:
                        log.issue(ImportIssue(str(path), line_no, "resourceType", "not a FHIR resource"))
                        continue
                    kind = res["resourceType"]
                    if kind == "Patient":
                        pid = str(res.get("id"))
                        if pid in patients:
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line_no,
                                    "id",
                                    f"duplicate Patient {pid}; the first one is used",
                                )
                            )
                            continue
                        patients[pid] = (fi, here, line_no)
                    elif kind == "Medication":
                        medications[str(res.get("id"))] = res
                    elif kind in USED:
                        pid = patient_ref(res)
                        if pid is None:
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line_no,
                                    "subject",
                                    f"{kind}/{res.get('id')} has no patient reference; not imported",
                                )
                            )
                            continue
                        index.setdefault(pid, []).append((fi, here, line_no))
                    else:
                        log.skip(kind)
        for pid, entries in index.items():
            if pid not in patients:
                fi, _, line_no = entries[0]
                log.issue(
                    ImportIssue(
                        str(files[fi]),
                        line_no,
                        "subject",
                        f"{len(entries)} resource(s) refer to Patient/{pid}, which is in no "
                        "Patient file; not imported",
                    )
                )
        handles: dict[int, BinaryIO] = {}
        converter = FhirConverter(mapping, log)
        try:
            for pid, (fi, off, line_no) in patients.items():

                def read(fi: int, off: int) -> dict[str, Any]:
                    if fi not in handles:
                        handles[fi] = files[fi].open("rb")
                    return json.loads(_read_line(handles[fi], off))

                patient = read(fi, off)
                resources = [
                    (read(rfi, roff), Origin(str(files[rfi]), rline, None))
                    for rfi, roff, rline in index.get(pid, [])
                ]
                record = converter.convert(
                    patient, Origin(str(files[fi]), line_no, None), resources, medications
                )
                if record is not None:
                    yield record
        finally:
            for h in handles.values():
                h.close()

    return ImportRun(gen(), log)


def split_bundle_to_ndjson(bundle_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write a Bundle's resources as Bulk Data NDJSON, one ``<Type>.ndjson`` per resource type.

    References of the form ``urn:uuid:<id>`` are rewritten to ``<Type>/<id>`` as a Bulk Data
    server would. Used by tests and to feed the NDJSON importer from sample bundles.
    """
    bundle = json.loads(Path(bundle_path).read_text(encoding="utf-8"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    types: dict[str, str] = {}
    for entry in bundle.get("entry") or []:
        res = entry["resource"]
        if entry.get("fullUrl"):
            types[entry["fullUrl"]] = f"{res['resourceType']}/{res['id']}"
    text = json.dumps([e["resource"] for e in bundle.get("entry") or []])
    for full, ref in types.items():
        text = text.replace(f'"{full}"', f'"{ref}"')
    written: dict[str, Path] = {}
    handles: dict[str, Any] = {}
    try:
        for res in json.loads(text):
            kind = res["resourceType"]
            if kind not in handles:
                written[kind] = out / f"{kind}.ndjson"
                handles[kind] = written[kind].open("a", encoding="utf-8")
            handles[kind].write(json.dumps(res, separators=(",", ":")) + "\n")
    finally:
        for h in handles.values():
            h.close()
    return sorted(written.values())
