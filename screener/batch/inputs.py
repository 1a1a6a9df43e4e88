"""Where batch records come from: one seam for every input format.

:func:`iter_records` turns input paths into a stream of :class:`Record`, each
carrying its source file, its line (JSONL) and either the native patient dict
or the error that made it unreadable. Nothing is held beyond the record being
read, so inputs of any size stream.

Readers are chosen by file suffix from :data:`READERS`; a directory is read
file by file in sorted order (native ``.yaml``/``.yml``/``.json`` files and
``.jsonl`` files inside it). Importers (FHIR, OMOP, CSV) plug in with
:func:`register_reader`: a reader is ``fn(path) -> Iterator[tuple[int | None,
dict | None, RecordError | None]]`` yielding native patient dicts. When
``screener.importers`` offers ``iter_patients(path)``, its suffixes are
registered on first use (see :func:`_importer_readers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from screener.yamlio import LineMap, load_file, yaml_error_location, yaml_error_message


@dataclass(frozen=True)
class RecordError:
    """Why a record could not be read: which field, and what is wrong."""

    message: str
    field: str | None = None
    line: int | None = None


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


def _decode(raw: bytes, number: int) -> Item:
    try:
        data = json.loads(raw)
    except UnicodeDecodeError as error:
        return number, None, RecordError(f"not UTF-8 text: {error.reason}", None, number), None
    except json.JSONDecodeError as error:
        return (
            number,
            None,
            RecordError(f"malformed JSON: {error.msg} (column {error.colno})", None, number),
            None,
        )
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
    ".ndjson": _jsonl,
    ".yaml": _native_file,
    ".yml": _native_file,
    ".json": _native_file,
}

_importers_checked = False


def register_reader(suffix: str, reader: Reader) -> None:
    """Read files ending in ``suffix`` (e.g. ``".fhir.json"``) with ``reader``."""
    READERS[suffix.lower()] = reader


def _importer_readers() -> None:
    """Register readers offered by ``screener.importers`` once, if that package exists.

    Expected interface (not yet available when this was written):
    ``screener.importers.SUFFIXES: dict[str, str]`` mapping a suffix to a format and
    ``iter_patients(path, format) -> Iterator[tuple[int | None, dict]]``. Until it
    exists, FHIR/OMOP/CSV inputs are refused with a clear message.
    """
    global _importers_checked
    if _importers_checked:
        return
    _importers_checked = True
    try:
        from screener import importers  # type: ignore[attr-defined]
    except ImportError:
        return
    iter_patients = getattr(importers, "iter_patients", None)
    suffixes = getattr(importers, "SUFFIXES", None)
    if iter_patients is None or not isinstance(suffixes, dict):
        return
    for suffix, fmt in suffixes.items():

        def reader(path: Path, fmt: str = fmt) -> Iterator[Item]:
            for line, data in iter_patients(path, fmt):
                yield line, data, None, None

        READERS.setdefault(suffix.lower(), reader)


def reader_for(path: Path) -> Reader | None:
    _importer_readers()
    name = path.name.lower()
    for suffix in sorted(READERS, key=len, reverse=True):  # ".fhir.json" before ".json"
        if name.endswith(suffix):
            return READERS[suffix]
    return None


def expand(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Input files in reading order: files as given, directories' readable files sorted."""
    for p in map(Path, paths):
        if p.is_dir():
            for child in sorted(p.rglob("*")):
                if child.is_file() and reader_for(child) is not None:
                    yield child
        else:
            yield p


def iter_records(paths: Iterable[str | Path], skip: int = 0) -> Iterator[Record]:
    """Every record of ``paths``, in order; the first ``skip`` are passed over unparsed
    where the format allows (JSONL lines are still counted, not decoded)."""
    index = 0
    for path in expand(paths):
        source = str(path)
        if not path.exists():
            if index >= skip:
                yield Record(source, None, index, error=RecordError("no such file or directory"))
            index += 1
            continue
        reader = reader_for(path)
        if reader is None:
            if index >= skip:
                known = ", ".join(sorted(READERS))
                yield Record(
                    source,
                    None,
                    index,
                    error=RecordError(
                        f"no reader for this kind of file (known: {known}); FHIR/OMOP/CSV inputs "
                        "need screener.importers"
                    ),
                )
            index += 1
            continue
        if reader is _jsonl:  # lines before the skip point are counted, not decoded
            for number, raw in _jsonl_lines(path):
                if index >= skip:
                    line, data, error, _ = _decode(raw, number)
                    yield Record(source, line, index, data, error)
                index += 1
            continue
        if reader is _native_file and index < skip:  # one record per file: not even parsed
            index += 1
            continue
        for line, data, error, lines in reader(path):
            if index >= skip:
                yield Record(source, line, index, data, error, lines)
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
