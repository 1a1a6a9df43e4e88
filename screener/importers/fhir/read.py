"""Reading FHIR files: Bundle JSON and Bulk Data NDJSON, grouped by patient.

Memory: a Bundle file is read whole (one patient per Synthea bundle). NDJSON is streamed: a first
pass reads every line once and keeps, per patient, only (file, byte offset, line) of its
resources, plus Medication resources (shared, referenced by id); the second pass reads one
patient's lines back by offset, converts them and lets them go. So memory holds the offset
index and one patient at a time; each line is parsed twice.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from screener.fileio import loads_json, read_json
from screener.importers.core import ImportIssue, ImportLog, ImportRun, Origin, PatientRecord
from screener.importers.fhir.common import patient_ref, ref_id
from screener.importers.fhir.converter import USED, FhirConverter
from screener.importers.mapping import Mapping, load_mapping

# ------------------------------------------------------------------------------------------ bundles


class _Pool:
    """Resources waiting to be grouped by patient: one Bundle's, or every loose file's."""

    def __init__(self) -> None:
        self.by_full_url: dict[str, str] = {}
        self.patients: dict[str, tuple[dict[str, Any], Origin]] = {}
        self.duplicates: set[str] = set()
        self.medications: dict[str, dict[str, Any]] = {}
        self.organizations: dict[str, dict[str, Any]] = {}
        self.others: list[tuple[dict[str, Any], Origin]] = []

    def add(self, res: dict[str, Any], origin: Origin, full_url: Any, log: ImportLog) -> None:
        if isinstance(full_url, str) and res.get("id"):
            self.by_full_url[ref_id(full_url) or ""] = str(res["id"])
        kind = res["resourceType"]
        if kind == "Patient":
            pid = str(res.get("id"))
            if pid in self.patients:
                first, first_origin = self.patients[pid]
                if first != res:
                    self.duplicates.add(pid)
                    log.issue(
                        ImportIssue(
                            origin.file,
                            origin.line,
                            _field(origin, "id"),
                            f"a second, different Patient/{pid} (the first is at {_where(first_origin)}); "
                            "which one is right cannot be told: the patient is not imported",
                            pid,
                        )
                    )
                return
            self.patients[pid] = (res, origin)
        elif kind == "Medication":
            self.medications[str(res.get("id"))] = res
        elif kind in ("Organization", "Device"):  # looked up by reference (payors, devices in use)
            self.organizations[str(res.get("id"))] = res
        elif kind in USED:
            self.others.append((res, origin))
        else:
            log.skip(kind)

    def records(self, mapping: Mapping, log: ImportLog, scope: str) -> Iterator[PatientRecord]:
        grouped: dict[str, list[tuple[dict[str, Any], Origin]]] = {pid: [] for pid in self.patients}
        for res, origin in self.others:
            ref = patient_ref(res)
            pid = self.by_full_url.get(ref or "", ref)
            if pid in grouped:
                grouped[pid].append((res, origin))
            else:
                log.issue(
                    ImportIssue(
                        origin.file,
                        origin.line,
                        _field(origin, "subject"),
                        f"{res['resourceType']}/{res.get('id')} refers to patient {ref!r}, "
                        f"which is not in {scope}; not imported",
                    )
                )
        for shared in (self.medications, self.organizations):
            for rid in list(shared):
                for full, target in self.by_full_url.items():
                    if target == rid:
                        shared[full] = shared[rid]
        converter = FhirConverter(mapping, log, self.organizations)
        for pid, (res, origin) in self.patients.items():
            if pid in self.duplicates:
                log.patients_failed += 1
                continue
            record = converter.convert(res, origin, grouped[pid], self.medications)
            if record is not None:
                yield record


def _field(origin: Origin, name: str) -> str:
    return f"{origin.field}.{name}" if origin.field else name


def _where(origin: Origin) -> str:
    return origin.file + (f": {origin.field}" if origin.field else "")


def _load_json(path: Path, log: ImportLog) -> dict[str, Any] | None:
    file = str(path)
    try:
        with path.open("rb") as fh:
            doc = read_json(fh)  # size-capped, strict: no duplicate keys, NaN, lone surrogates
    except OSError as error:
        log.issue(ImportIssue(file, None, None, f"cannot read file: {error.strerror}"))
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        log.issue(ImportIssue(file, line, None, f"malformed JSON: {error}"))
        return None
    except RecursionError:
        log.issue(ImportIssue(file, None, None, "JSON nested too deeply to be a FHIR resource"))
        return None
    if not isinstance(doc, dict):
        log.issue(ImportIssue(file, None, None, "not a FHIR resource (expected a JSON object)"))
        return None
    if not isinstance(doc.get("resourceType"), str):
        log.issue(ImportIssue(file, None, "resourceType", "not a FHIR resource (no resourceType)"))
        return None
    return doc


def _bundle_records(
    path: Path, bundle: dict[str, Any], mapping: Mapping, log: ImportLog
) -> Iterator[PatientRecord]:
    file = str(path)
    pool = _Pool()
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        log.issue(ImportIssue(file, None, "entry", "Bundle.entry is not a list; nothing imported"))
        return
    for i, entry in enumerate(entries):
        origin = Origin(file, None, f"entry[{i}].resource")
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            log.issue(ImportIssue(file, None, f"entry[{i}]", "entry without a resource"))
            continue
        pool.add(res, origin, entry.get("fullUrl"), log)
    yield from pool.records(mapping, log, "this bundle")


def iter_bundles(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR JSON files (a directory means its ``*.json`` files).

    A Bundle file stands alone: its resources are joined to its patients. Loose
    single-resource files (``Patient.json``, ``Observation-1.json``... as a server or an
    example set gives them) are pooled across all the files given and joined to their
    patient by subject reference once every file is read.
    """
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-bundle", mapping.file)

    def gen() -> Iterator[PatientRecord]:
        loose = _Pool()
        for path in _expand(paths, ("*.json",)):
            doc = _load_json(path, log)
            if doc is None:
                continue
            if doc["resourceType"] == "Bundle":
                yield from _bundle_records(path, doc, mapping, log)
            else:
                loose.add(doc, Origin(str(path), None, None), None, log)
        yield from loose.records(mapping, log, "the files read")

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


NDJSON_PATTERNS = ("*.ndjson", "*.ndjson.gz", "*.ndjson.txt")
# The Bulk Data reference client's own log, written beside the resources: not a FHIR file.
CLIENT_LOGS = {"log.ndjson", "log.ndjson.gz"}


def bulk_files(paths: Iterable[str | Path], log: ImportLog | None = None) -> list[Path]:
    """The NDJSON files of ``paths``: files as given; for a directory, the files its Bulk Data
    ``manifest.json`` lists (``output[].url``, by file name) when it has one, else its
    ``*.ndjson``, ``*.ndjson.gz`` and ``*.ndjson.txt`` files. The client's ``log.ndjson`` is
    skipped (and counted as not used)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.is_dir():
            out.append(p)
            continue
        listed = _manifest_files(p, log)
        present = sorted({f for pat in NDJSON_PATTERNS for f in p.glob(pat)})
        for f in present if listed is None else listed:
            if f.name.lower() not in CLIENT_LOGS:
                out.append(f)
        for f in present:
            if log is not None and f.name.lower() in CLIENT_LOGS:
                log.skip("log.ndjson (Bulk Data client log)")
            elif log is not None and listed is not None and f not in listed:
                log.skip("NDJSON file not listed in manifest.json")
    return out


def _manifest_files(folder: Path, log: ImportLog | None) -> list[Path] | None:
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
        outputs = doc["output"]
        names = [str(o["url"]).rstrip("/").rsplit("/", 1)[-1] for o in outputs]
    except (OSError, ValueError, KeyError, TypeError) as error:
        if log is not None:
            log.issue(
                ImportIssue(
                    str(manifest),
                    None,
                    "output",
                    f"not a Bulk Data manifest ({error!r}); the folder's *.ndjson files are read instead",
                    level="warning",
                )
            )
        return None
    files = []
    for name in names:
        f = folder / name
        if not f.is_file():
            if log is not None:
                log.issue(
                    ImportIssue(str(manifest), None, "output", f"{name} is listed but not in the folder")
                )
            continue
        files.append(f)
    return files


def _digest(res: dict[str, Any]) -> bytes:
    return hashlib.sha256(json.dumps(res, sort_keys=True).encode()).digest()


def _open(path: Path) -> BinaryIO:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _read_line(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.readline()


def iter_ndjson(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR Bulk Data NDJSON files (a directory means its ``*.ndjson`` files).

    Streams: see the module docstring for the memory behaviour.
    """
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-ndjson", mapping.file)
    files = bulk_files(paths, log)

    def gen() -> Iterator[PatientRecord]:
        index: dict[str, list[tuple[int, int, int]]] = {}
        patients: dict[str, tuple[int, int, int]] = {}
        first_patient: dict[str, bytes] = {}  # a digest per Patient, to tell duplicates apart
        duplicates: set[str] = set()
        medications: dict[str, dict[str, Any]] = {}
        organizations: dict[str, dict[str, Any]] = {}
        for fi, path in enumerate(files):
            try:
                handle = _open(path)
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
                        res = loads_json(raw)  # strict: duplicate keys, NaN, depth, surrogates
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
                            if first_patient[pid] != _digest(res):
                                duplicates.add(pid)
                                log.issue(
                                    ImportIssue(
                                        str(path),
                                        line_no,
                                        "id",
                                        f"a second, different Patient/{pid} (the first is at "
                                        f"{files[patients[pid][0]]}:{patients[pid][2]}); which one is right "
                                        "cannot be told: the patient is not imported",
                                        pid,
                                    )
                                )
                            continue
                        patients[pid] = (fi, here, line_no)
                        first_patient[pid] = _digest(res)
                    elif kind == "Medication":
                        medications[str(res.get("id"))] = res
                    elif kind in ("Organization", "Device"):  # looked up by reference
                        organizations[str(res.get("id"))] = res
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
        converter = FhirConverter(mapping, log, organizations)
        try:
            for pid, (fi, off, line_no) in patients.items():
                if pid in duplicates:
                    log.patients_failed += 1
                    continue

                def read(fi: int, off: int) -> dict[str, Any]:
                    if fi not in handles:
                        handles[fi] = _open(files[fi])
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
