"""Where batch records come from: one seam for every input format.

:func:`iter_records` turns input paths into a stream of :class:`Record`, each
carrying its source file, its line (JSONL) and either the native patient dict
or the error that made it unreadable. Nothing is held beyond the record being
read, so inputs of any size stream.

Native inputs: ``.jsonl`` (one patient per line) and ``.yaml``/``.yml``/``.json``
files, alone or in directories (read recursively, sorted). Other formats go
through :func:`screener.importers.iter_patients`, chosen by extension: ``.ndjson`` /
``.ndjson.gz`` and Bulk Data folders (FHIR Bulk Data, ``manifest.json`` read when present), a
``.json`` holding a FHIR Bundle or a single FHIR resource (sniffed; a folder of loose resource
files is one input, joined by subject reference), a directory with
``person.csv`` (OMOP CDM), ``NAME.csv`` with ``NAME.mapping.yaml`` beside it (flat
registry); the importer's error issues become error records in stream order.
More readers plug in with :func:`register_reader`: a reader is ``fn(path) ->
Iterator[(line, data | None, RecordError | None, LineMap | None)]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from screener.fileio import loads_json
from screener.yamlio import LineMap, load_file, yaml_error_location, yaml_error_message


@dataclass(frozen=True)
class RecordError:
    """Why a record could not be read: which field, and what is wrong."""

    message: str
    field: str | None = None
    line: int | None = None
    source: str | None = None  # the file at fault, when not the input itself (importers)


@dataclass(frozen=True)
class Record:
    """One patient from an input: its data, or the error that stopped it being read.

    ``index`` is the record's position in the whole stream (0-based), which is what
    a checkpoint remembers; ``line`` is the 1-based line in a JSONL file, or the
    line of the problem in a YAML/JSON file.
    """

    source: str
    line: int | None
    index: int
    data: dict[str, Any] | None = None
    error: RecordError | None = None
    lines: LineMap | None = None  # line map of a YAML/JSON file, to locate fields


Item = tuple[int | None, dict[str, Any] | None, RecordError | None, LineMap | None]
Reader = Callable[[Path], Iterator[Item]]


def failure_message(error: BaseException) -> str:
    """What an unexpected exception while reading or screening a record says in the errors file."""
    if isinstance(error, RecursionError):
        return "nested too deeply to read (lists or mappings inside each other past the recursion limit)"
    if isinstance(error, MemoryError):
        return "too large to read in memory"
    return f"internal error: {type(error).__name__}: {error}"


def _guarded(items: Iterable[tuple[Any, ...]], line: int | None = None) -> Iterator[tuple[Any, ...]]:
    """A reader's items; if the reader raises (a bug, a RecursionError on a deeply nested
    file, an I/O error), one error record says so and the batch goes on with the next file.
    Deterministic, so a resumed run counts the same records."""
    try:
        iterator = iter(items)
        while True:
            try:
                item = next(iterator)
            except StopIteration:
                return
            line = item[0] if item[0] is not None else line
            yield item
    except OSError as error:
        yield line, None, RecordError(f"cannot read: {error.strerror or error}", None, line), None
    except Exception as error:  # any failure of one input is reported, not raised
        yield line, None, RecordError(failure_message(error), None, line), None


def _decode(raw: bytes, number: int) -> Item:
    try:
        # strict: a key given twice, NaN, lone surrogates, too deep (screener.fileio)
        data = loads_json(raw)
    except UnicodeDecodeError as error:
        return number, None, RecordError(f"not UTF-8 text: {error.reason}", None, number), None
    except json.JSONDecodeError as error:  # fileio.JsonInputError included
        return number, None, RecordError(f"malformed JSON: {error.msg}", None, number), None
    except Exception as error:  # e.g. RecursionError: 100,000 nested arrays
        return number, None, RecordError(failure_message(error), None, number), None
    if not isinstance(data, dict):
        return (
            number,
            None,
            RecordError(f"expected a patient object, got {type(data).__name__}", None, number),
            None,
        )
    return number, data, None, None


def _jsonl_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines of a JSONL file with their 1-based numbers, undecoded."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                yield number, raw


def _jsonl(path: Path) -> Iterator[Item]:
    for number, raw in _jsonl_lines(path):
        yield _decode(raw, number)


def _native_file(path: Path) -> Iterator[Item]:
    try:
        data, lines = load_file(path)
    except OSError as error:
        yield None, None, RecordError(f"cannot read patient file: {error.strerror}"), None
        return
    except UnicodeDecodeError as error:
        yield None, None, RecordError(f"not UTF-8 text: {error.reason}"), None
        return
    except yaml.YAMLError as error:
        where = yaml_error_location(error, str(path))
        yield where.line, None, RecordError(yaml_error_message(error), None, where.line), None
        return
    if not isinstance(data, dict):
        yield 1, None, RecordError("expected a patient mapping at the top of the file", None, 1), None
        return
    yield None, data, None, lines


READERS: dict[str, Reader] = {
    ".jsonl": _jsonl,
    ".yaml": _native_file,
    ".yml": _native_file,
    ".json": _native_file,
}


def register_reader(suffix: str, reader: Reader) -> None:
    """Read files ending in ``suffix`` (e.g. ``".fhir.json"``) with ``reader``."""
    READERS[suffix.lower()] = reader


# --------------------------------------------------------------------------- importers
#
# screener.importers.iter_patients(paths, format=...) streams PatientRecord(patient_id,
# data, issues, file) and logs malformed records as ImportIssue(file, line, field,
# message, level) on run.log. Wired by extension: *.ndjson is FHIR Bulk Data NDJSON,
# a *.json file holding a FHIR Bundle (sniffed) is FHIR, a directory holding person.csv
# is an OMOP CDM extract, NAME.csv with NAME.mapping.yaml beside it is a flat registry.


def _importer(fmt: str, **options: Any) -> Reader:
    def read(path: Path) -> Iterator[Item]:
        from screener.errors import InputError
        from screener.importers import iter_patients

        mapping = options.get("mapping")
        try:
            if callable(mapping):  # built on first use: a registry of native files never needs it
                options["mapping"] = mapping = mapping()
            run = iter_patients([path], format=fmt, **options)
            seen = 0
            while True:
                try:
                    record = next(run)
                except StopIteration:
                    record = None
                issues = run.log.issues
                for issue in issues[seen:]:
                    if issue.level == "error":
                        error = RecordError(issue.message, issue.field, issue.line, issue.file)
                        yield issue.line, None, error, None
                seen = len(issues)
                if record is None:
                    return
                yield None, record.data, None, None
        except InputError as error:
            where = error.location
            line = where.line if where else None
            yield line, None, RecordError(error.message, where.field if where else None, line), None

    return read


def _fhir_kind(path: Path) -> str | None:
    from screener.importers import fhir_json_kind

    return fhir_json_kind(path)


def _is_bulk_folder(path: Path) -> bool:
    """A Bulk Data export folder: NDJSON files (plain or gzipped), or a Bulk Data manifest."""
    if any(path.glob("*.ndjson")) or any(path.glob("*.ndjson.gz")):
        return True
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return isinstance(doc, dict) and isinstance(doc.get("output"), list) and "transactionTime" in doc
    return False


def _holds_fhir_resources(path: Path) -> bool:
    """A folder whose JSON files (not recursive) include single FHIR resources (not Bundles)."""
    return any(_fhir_kind(child) == "resource" for child in sorted(path.glob("*.json")))


def _registry_mapping(path: Path) -> Path | None:
    candidate = path.with_name(path.stem + ".mapping.yaml")
    return candidate if candidate.exists() else None


def _csv(path: Path) -> Iterator[Item]:
    mapping = _registry_mapping(path)
    if mapping is None:
        yield (
            None,
            None,
            RecordError(f"a CSV registry needs its column mapping beside it ({path.stem}.mapping.yaml)"),
            None,
        )
        return
    yield from _importer("csv", registry_mapping=mapping)(path)


def mapping_of(rules: str | Path) -> Callable[[], Any]:
    """The code mapping of a rule file or folder (the union of its trials' mappings), built on
    first use (:func:`screener.importers.mapping_union.mapping_for_rules`)."""

    def build() -> Any:
        from screener.importers.mapping_union import mapping_for_rules

        return mapping_for_rules(rules)

    return build


def _importers_available() -> bool:
    try:
        import screener.importers  # noqa: F401
    except ImportError:
        return False
    return True


OMOP_PERSON_FILES = ("person.csv", "person.tsv", "person.parquet")  # what makes a folder an OMOP extract


def reader_for(path: Path, mapping: Any = None) -> Reader | None:
    """The reader of ``path``; FHIR and OMOP readers translate codes with ``mapping`` (a
    :class:`screener.importers.mapping.Mapping`, or a function building one on first use;
    None: the default NCT03562065 mapping)."""
    if path.is_dir():
        if not _importers_available():
            return None
        # an OMOP extract (Parquet tables: read by convert --to tables in DuckDB; the Python
        # importer says it cannot read them instead of the folder being read as nothing)
        if any(child.name.lower() in OMOP_PERSON_FILES for child in path.iterdir()):
            return _importer("omop", mapping=mapping)
        if _is_bulk_folder(path):  # a Bulk Data export: the files make the patients together
            return _importer("ndjson", mapping=mapping)
        if _holds_fhir_resources(path):  # loose FHIR resource files, joined by subject reference
            return _importer("fhir", mapping=mapping)
        return None
    name = path.name.lower()
    if _importers_available():
        if name.endswith((".ndjson", ".ndjson.gz")):
            return _importer("ndjson", mapping=mapping)
        if name.endswith(".json") and _fhir_kind(path) is not None:
            return _importer("fhir", mapping=mapping)
        if name.endswith(".csv"):
            return _csv
    for suffix in sorted(READERS, key=len, reverse=True):  # ".fhir.json" before ".json"
        if name.endswith(suffix):
            return READERS[suffix]
    return None


def expand(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Input files in reading order: files as given, directories' readable files sorted."""
    for p in map(Path, paths):
        if p.is_dir() and reader_for(p) is None:  # OMOP and NDJSON directories are one input
            for child in sorted(p.rglob("*")):
                if (
                    child.is_file()
                    and not child.name.endswith(".mapping.yaml")  # a CSV registry's column mapping
                    and reader_for(child) is not None
                ):
                    yield child
        else:
            yield p


def iter_records(paths: Iterable[str | Path], skip: int = 0, mapping: Any = None) -> Iterator[Record]:
    """Every record of ``paths``, in order; the first ``skip`` are passed over unparsed
    where the format allows (JSONL lines are still counted, not decoded). FHIR and OMOP
    inputs are read with the code ``mapping`` (see :func:`reader_for`)."""
    index = 0
    for path in expand(paths):
        source = str(path)
        if not path.exists() and not path.is_dir():
            if index >= skip:
                yield Record(source, None, index, error=RecordError("no such file or directory"))
            index += 1
            continue
        try:
            reader = reader_for(path, mapping)
        except Exception as error:  # sniffing the file failed: report it, go on
            if index >= skip:
                yield Record(source, None, index, error=RecordError(failure_message(error)))
            index += 1
            continue
        if reader is None:
            if index >= skip:
                known = ", ".join(sorted(READERS))
                yield Record(
                    source,
                    None,
                    index,
                    error=RecordError(
                        f"no reader for this kind of file (known: {known}, *.ndjson FHIR, FHIR Bundle "
                        "*.json, OMOP directories with person.csv, NAME.csv with NAME.mapping.yaml)"
                    ),
                )
            index += 1
            continue
        if reader is _jsonl:  # lines before the skip point are counted, not decoded
            for number, raw, failure, _ in _guarded((n, raw, None, None) for n, raw in _jsonl_lines(path)):
                if index >= skip:
                    if failure is not None:  # the file could not be read on (an I/O error)
                        line, data, error = number, None, failure
                    else:
                        line, data, error, _ = _decode(raw, number)
                    yield Record(source, line, index, data, error)
                index += 1
            continue
        if reader is _native_file and index < skip:  # one record per file: not even parsed
            index += 1
            continue
        for line, data, error, lines in _guarded(reader(path)):
            if index >= skip:
                at = error.source if error is not None and error.source else source
                yield Record(at, line, index, data, error, lines)
            index += 1


def count_records(paths: Iterable[str | Path]) -> int:
    """How many records ``paths`` hold (non-blank JSONL lines, files), read cheaply for ETAs."""
    total = 0
    for path in expand(paths):
        reader = reader_for(path) if path.exists() else None
        if reader is _jsonl:
            total += sum(1 for _ in _jsonl_lines(path))
        else:
            total += 1
    return total
