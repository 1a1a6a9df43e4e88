"""Which SQL converter reads which input: the dispatch of ``screener convert --to tables``.

A *stager* is ``fn(con, inputs, mapping) -> Staged | Iterable[Staged]``: it reads
``inputs`` (paths of one kind, as :func:`screener.batch.inputs.expand` lists them) with
DuckDB in connection ``con`` and stages the rows (:mod:`screener.tables.staged`), ``ord``
counting from 0 over those inputs in the order :func:`~screener.batch.inputs.iter_records`
gives. ``mapping`` is the code mapping FHIR and OMOP codes are translated with (the
default mapping, as ``screener batch`` uses).

Kinds: ``native`` (``*.jsonl``: :func:`screener.tables.from_native.stage_native`),
``fhir`` (NDJSON plain and ``.gz``, Bulk Data folders, Bundles and resource folders:
``screener.tables.from_fhir.stage_fhir``), ``omop`` (a folder with ``person.csv``, ``.tsv`` or ``.parquet``:
``screener.tables.from_omop.stage_omop``). A kind whose stager is not installed, and every
other input (YAML/JSON patient files, flat CSV registries), is read by the Python path.

:func:`staged_inputs` cuts the inputs into runs of one kind and yields ``(offset, Staged)``
for each, the offset being the number of records before the run, so that ords are
positions in the whole stream; a run without a stager (or with ``reader="python"``) comes
as fallback-only ``Staged`` of at most ``chunk`` records each.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from screener.batch.inputs import OMOP_PERSON_FILES, _jsonl, _native_file, expand, iter_records, reader_for
from screener.tables.staged import Staged

Stager = Callable[[Any, Sequence[Path], Any], "Staged | Iterable[Staged]"]

#: kind -> (module, function) of its SQL converter, imported on first use
KNOWN: dict[str, tuple[str, str]] = {
    "native": ("screener.tables.from_native", "stage_native"),
    "fhir": ("screener.tables.from_fhir", "stage_fhir"),
    "omop": ("screener.tables.from_omop", "stage_omop"),
}
READERS = ("sql", "python")


def kind_of(path: Path) -> str | None:
    """The input kind of one expanded input (None: read by the Python path only)."""
    if not path.exists():
        return None
    if path.is_dir():
        if any(c.name.lower() in OMOP_PERSON_FILES for c in path.iterdir()):
            return "omop"
        return "fhir" if reader_for(path) is not None else None
    name = path.name.lower()
    if name.endswith((".ndjson", ".ndjson.gz")):
        return "fhir"
    reader = reader_for(path)
    if reader is _jsonl:
        return "native"
    if name.endswith(".json") and reader is not None and reader is not _native_file:  # a FHIR Bundle/resource
        return "fhir"
    return None


def stager_for(kind: str | None) -> Stager | None:
    """The SQL converter of ``kind``, or None when there is none (not written, not installed)."""
    if kind is None or kind not in KNOWN:
        return None
    module, function = KNOWN[kind]
    try:
        return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def sql_kinds(paths: Iterable[str | Path]) -> set[str]:
    """The kinds among ``paths`` that a SQL converter reads."""
    return {k for p in expand(paths) if (k := kind_of(p)) is not None and stager_for(k) is not None}


def _runs(paths: list[Path], reader: str) -> Iterator[tuple[str | None, list[Path]]]:
    run: list[Path] = []
    current: str | None = None
    for path in paths:
        kind = kind_of(path) if reader == "sql" else None
        if kind is not None and stager_for(kind) is None:
            kind = None
        if run and kind != current:
            yield current, run
            run = []
        current = kind
        run.append(path)
    if run:
        yield current, run


def _python_run(paths: list[Path], chunk: int) -> Iterator[Staged]:
    records: list[Any] = []
    for record in iter_records(paths):
        records.append((record.index, record))
        if len(records) >= chunk:
            yield Staged(tables={}, fallback=records, issues=(), records=len(records))
            records = []
    if records:
        yield Staged(tables={}, fallback=records, issues=(), records=len(records))


def staged_inputs(
    con: Any,
    inputs: Iterable[str | Path],
    *,
    reader: str = "sql",
    chunk: int = 50_000,
    mapping: Callable[[], Any] | None = None,
) -> Iterator[tuple[int, Staged]]:
    """``(offset, Staged)`` for every run of ``inputs``; ``mapping`` builds the code mapping on
    first use (default: the shipped mapping, as ``screener batch`` reads FHIR and OMOP)."""
    if reader not in READERS:
        raise ValueError(f"reader must be one of {READERS}, got {reader!r}")
    offset = 0
    for kind, run in _runs(list(expand(inputs)), reader):
        stager = stager_for(kind)
        if stager is None:
            produced: Iterable[Staged] = _python_run(run, chunk)
        else:
            codes = None
            if kind != "native":
                codes = mapping() if mapping is not None else _default_mapping()
            result = stager(con, run, codes)
            produced = [result] if isinstance(result, Staged) else result
        for staged in produced:
            yield offset, staged
            offset += staged.records


def _default_mapping() -> Any:
    from screener.importers import load_mapping

    return load_mapping(None)
