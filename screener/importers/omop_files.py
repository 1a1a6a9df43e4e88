"""OMOP CDM extract files: which tables an extract holds, their rows as the importer reads them
(broken rows reported with file and line), the CDM version, DEATH and OBSERVATION_PERIOD
(:mod:`screener.importers.omop`)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from screener.importers.core import ImportIssue, ImportLog, parse_date

_TABLES = (
    "person",
    "condition_occurrence",
    "drug_exposure",
    "measurement",
    "observation",
    "procedure_occurrence",
    "concept",
    "death",
    "observation_period",
    "cdm_source",
)
_CLINICAL = ("condition_occurrence", "drug_exposure", "measurement", "observation", "procedure_occurrence")
# vocabulary tables a CDM extract often ships (read when present: see ExtractVocabulary)
_VOCABULARY_TABLES = ("concept_relationship", "concept_ancestor", "drug_strength")

Row = tuple[int, dict[str, str]]  # (line number, row)


def find_tables(paths: Iterable[str | Path]) -> dict[str, Path]:
    """Map table name -> file among ``paths`` (directories are searched, one level)."""
    files: list[Path] = []
    for p in map(Path, paths):
        files.extend(sorted(p.iterdir()) if p.is_dir() else [p])
    tables: dict[str, Path] = {}
    for f in files:
        stem = f.name.lower()
        for ext in (".csv", ".tsv"):
            if stem.endswith(ext) and stem[: -len(ext)] in _TABLES + _VOCABULARY_TABLES:
                tables[stem[: -len(ext)]] = f
    return tables


def _reader(path: Path) -> tuple[Any, csv.DictReader[str]]:
    handle = path.open(newline="", encoding="utf-8-sig")
    delimiter = "\t" if path.name.lower().endswith(".tsv") else ","
    return handle, csv.DictReader(handle, delimiter=delimiter)


def _rows(path: Path, log: ImportLog) -> Iterator[Row]:
    handle, reader = _reader(path)
    with handle:
        header = reader.fieldnames or []
        try:
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    log.issue(
                        ImportIssue(
                            str(path),
                            reader.line_num,
                            None,
                            f"row has {len(row) - (None in row)} field(s), header has "
                            f"{len(header)}; not imported",
                        )
                    )
                    continue
                yield reader.line_num, row
        except csv.Error as error:
            log.issue(
                ImportIssue(
                    str(path), reader.line_num, None, f"malformed CSV: {error}; rest of file not read"
                )
            )


# ------------------------------------------------------------------ CDM version, death, observed time

CDM_VERSIONS = ("5.3", "5.4")  # the columns read here are the same in both


def cdm_format(tables: dict[str, Path], log: ImportLog) -> str:
    """``omop-cdm-<version>`` from CDM_SOURCE.cdm_version (5.3, 5.3.1, 5.4 ...); a version
    other than 5.3 or 5.4, or none, is read the same way with a warning."""
    path = tables.get("cdm_source")
    version = ""
    if path is not None:
        for _line, row in _rows(path, log):
            version = (row.get("cdm_version") or "").strip().lower().removeprefix("v")
            break
    if not version:
        log.issue(
            ImportIssue(
                str(path or tables["person"].parent),
                None,
                "cdm_version",
                "CDM version not stated (no CDM_SOURCE.cdm_version); read as OMOP CDM 5.4",
                level="warning",
            )
        )
        return "omop-cdm"
    if not version.startswith(CDM_VERSIONS):
        log.issue(
            ImportIssue(
                str(path),
                None,
                "cdm_version",
                f"OMOP CDM {version} is neither 5.3 nor 5.4; read with the 5.4 columns, check the result",
                level="warning",
            )
        )
    return f"omop-cdm-{version}"


def read_observed_time(
    tables: dict[str, Path], persons: dict[str, Row], log: ImportLog
) -> tuple[dict[str, tuple[int, str]], dict[str, list[dict[str, str]]]]:
    """The selected persons' DEATH dates and OBSERVATION_PERIODs (dates as written)."""
    deaths: dict[str, tuple[int, str]] = {}
    if "death" in tables:
        for line, row in _rows(tables["death"], log):
            pid = (row.get("person_id") or "").strip()
            if pid in persons:
                deaths[pid] = (line, (row.get("death_date") or row.get("death_datetime") or "").strip())
    periods: dict[str, list[dict[str, str]]] = {}
    if "observation_period" in tables:
        path = tables["observation_period"]
        for line, row in _rows(path, log):
            pid = (row.get("person_id") or "").strip()
            if pid not in persons:
                continue
            try:
                start = parse_date(row.get("observation_period_start_date") or "").isoformat()
                raw_end = (row.get("observation_period_end_date") or "").strip()
                end = parse_date(raw_end).isoformat() if raw_end else None
            except ValueError as error:
                log.issue(
                    ImportIssue(
                        str(path), line, "observation_period_start_date", f"{error}; period left out", pid
                    )
                )
                continue
            if end is not None and end < start:
                log.issue(
                    ImportIssue(
                        str(path),
                        line,
                        "observation_period_end_date",
                        "period ends before it starts; left out",
                        pid,
                    )
                )
                continue
            periods.setdefault(pid, []).append({"start": start, **({"end": end} if end else {})})
    return deaths, periods


# the columns the importer keeps of each clinical table (besides person_id), in its order; the
# SQL reader (screener.tables.omop_read) reads the same
CLINICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "condition_occurrence": (
        "condition_occurrence_id",
        "condition_concept_id",
        "condition_source_concept_id",
        "condition_source_value",
        "condition_start_date",
        "condition_end_date",
    ),
    "drug_exposure": (
        "drug_exposure_id",
        "drug_concept_id",
        "drug_source_concept_id",
        "drug_source_value",
        "drug_exposure_start_date",
        "drug_exposure_end_date",
        "stop_reason",
        "quantity",
        "days_supply",
        "route_concept_id",
        "route_source_value",
    ),
    "measurement": (
        "measurement_id",
        "measurement_concept_id",
        "measurement_source_concept_id",
        "measurement_source_value",
        "measurement_date",
        "measurement_datetime",
        "value_as_number",
        "value_as_concept_id",
        "operator_concept_id",
        "unit_concept_id",
        "unit_source_value",
        "range_low",
        "range_high",
        "value_source_value",
    ),
    "observation": (
        "observation_id",
        "observation_concept_id",
        "observation_source_concept_id",
        "observation_source_value",
        "observation_date",
        "value_as_number",
        "value_as_string",
        "value_as_concept_id",
        "unit_concept_id",
        "unit_source_value",
        "value_source_value",
    ),
    "procedure_occurrence": (
        "procedure_occurrence_id",
        "procedure_concept_id",
        "procedure_source_concept_id",
        "procedure_source_value",
        "procedure_date",
    ),
}
