"""OMOP CDM 5.3 / 5.4 importer: CSV tables ``person``, ``condition_occurrence``, ``drug_exposure``,
``measurement`` and ``observation``, plus ``death``, ``observation_period`` and ``cdm_source``
(file names matched case-insensitively, ``.csv`` or ``.tsv``). The CDM version comes from
CDM_SOURCE.cdm_version and names the report's format (``omop-cdm-5.3.1``); an extract with no
clinical table says so. A DEATH row gives ``demographics.deceased``; OBSERVATION_PERIOD rows
give ``demographics.observed`` (outside them, absent records are not evidence of absence).
Every DRUG_EXPOSURE row is read as exposure, as the CDM defines the table (drug "ingested or
otherwise introduced into the body"); ``drug_type_concept_id`` only tells its provenance.

Codes: each ``*_concept_id`` is resolved through ``CONCEPT.csv`` (when present) to
(vocabulary_id, concept_code), then to a FHIR system URI (:data:`VOCABULARIES`) and looked up in
the mapping; the standard concept is tried first, then the source concept. Without
``CONCEPT.csv`` the ``*_source_value`` is read as a code of the vocabulary given by
``source_value_vocabularies`` (Synthea's ETL writes LOINC, SNOMED and RxNorm codes there); the
report says so in a warning.

Values: ``value_as_number`` with ``unit_source_value`` (or the UCUM code of ``unit_concept_id``);
coded answers through ``value_as_concept_id`` or ``value_as_string``/``value_source_value``.
Sex comes from the gender concept's name (MALE/FEMALE) or ``gender_source_value`` (M/F).
A drug exposure with quantity, days supply and a product strength gets a daily dose
(quantity x strength / days supply); otherwise no dose. A condition with an end date is given
that ``end`` (the screener then treats it as ended from that date).

Memory: PERSON is read first (and may be sampled with ``person_ids`` / ``limit``); the clinical
tables are then streamed once each, keeping only the rows of the selected persons (compact
dicts of the columns used), and CONCEPT.csv is streamed keeping only the concepts those rows
use. So memory grows with the selected persons' rows, not with the whole CDM; for a CDM far
larger than memory, select persons in batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from screener.importers.core import ImportIssue, ImportLog, ImportRun, PatientRecord
from screener.importers.mapping import Mapping, load_mapping
from screener.importers.omop_convert import VOCABULARIES, Concept, _OmopConverter
from screener.importers.omop_files import (
    _CLINICAL,
    _TABLES,
    _VOCABULARY_TABLES,
    CDM_VERSIONS,
    CLINICAL_COLUMNS,
    Row,
    _rows,
    cdm_format,
    find_tables,
    read_observed_time,
)
from screener.terminology.omop_vocab import ExtractVocabulary

# the importer in three modules: files (omop_files), one person's rows (omop_convert), and the
# run over an extract (here); the names below are also imported from here
__all__ = [
    "CDM_VERSIONS",
    "DEFAULT_SOURCE_VOCABULARIES",
    "VOCABULARIES",
    "_CLINICAL",
    "_TABLES",
    "_VOCABULARY_TABLES",
    "Concept",
    "Row",
    "_OmopConverter",
    "cdm_format",
    "find_tables",
    "iter_omop",
    "read_observed_time",
]

DEFAULT_SOURCE_VOCABULARIES = {
    "condition_occurrence": "SNOMED",
    "drug_exposure": "RxNorm",
    "measurement": "LOINC",
    "observation": "LOINC",
    "procedure_occurrence": "SNOMED",
}

_CONCEPT_COLUMNS = {
    "condition_occurrence": ("condition_concept_id", "condition_source_concept_id"),
    "drug_exposure": ("drug_concept_id", "drug_source_concept_id", "route_concept_id"),
    "measurement": (
        "measurement_concept_id",
        "measurement_source_concept_id",
        "value_as_concept_id",
        "unit_concept_id",
        "operator_concept_id",
    ),
    "observation": (
        "observation_concept_id",
        "observation_source_concept_id",
        "value_as_concept_id",
        "unit_concept_id",
    ),
    "procedure_occurrence": ("procedure_concept_id", "procedure_source_concept_id"),
}


def iter_omop(
    paths: Iterable[str | Path],
    mapping: Mapping | None = None,
    *,
    person_ids: Iterable[str] | None = None,
    limit: int | None = None,
    source_value_vocabularies: dict[str, str] | None = None,
) -> ImportRun:
    """Patients from an OMOP CDM 5.4 CSV export (see the module docstring)."""
    mapping = mapping or load_mapping()
    log = ImportLog("omop-cdm", mapping.file)  # the version is read from CDM_SOURCE
    vocabularies = {**DEFAULT_SOURCE_VOCABULARIES, **(source_value_vocabularies or {})}

    def gen() -> Iterator[PatientRecord]:
        tables = find_tables(paths)
        if "person" not in tables:
            log.issue(
                ImportIssue(", ".join(map(str, paths)), None, None, "no PERSON table (person.csv) found")
            )
            return
        log.format = cdm_format(tables, log)
        missing = [t for t in _CLINICAL if t not in tables]
        if len(missing) == len(_CLINICAL):
            log.issue(
                ImportIssue(
                    str(tables["person"].parent),
                    None,
                    None,
                    "the extract has no clinical table (" + ", ".join(_CLINICAL) + "): persons are "
                    "read with demographics only; every clinical fact will be unknown",
                    level="warning",
                )
            )
        wanted = {str(p) for p in person_ids} if person_ids is not None else None
        persons: dict[str, Row] = {}
        for line, row in _rows(tables["person"], log):
            pid = (row.get("person_id") or "").strip()
            if not pid:
                log.issue(
                    ImportIssue(str(tables["person"]), line, "person_id", "empty person_id; not imported")
                )
                continue
            if wanted is not None and pid not in wanted:
                continue
            if limit is not None and len(persons) >= limit:
                break
            persons[pid] = (line, row)
        rows: dict[str, dict[str, list[Row]]] = {pid: {t: [] for t in CLINICAL_COLUMNS} for pid in persons}
        needed: set[str] = set()
        for _, row in persons.values():
            needed.add(row.get("gender_concept_id") or "")
        for table, keep in CLINICAL_COLUMNS.items():
            if table not in tables:
                continue
            for line, row in _rows(tables[table], log):
                pid = (row.get("person_id") or "").strip()
                if pid not in rows:
                    continue
                compact = {k: (row.get(k) or "").strip() for k in keep}
                rows[pid][table].append((line, compact))
                for col in _CONCEPT_COLUMNS[table]:
                    if compact.get(col) not in ("", "0"):
                        needed.add(compact[col])
        vocabulary = ExtractVocabulary.read(tables, rows, needed)
        concepts: dict[str, Concept] = {}
        if "concept" in tables:
            for _line, row in _rows(tables["concept"], log):
                cid = row.get("concept_id", "")
                if cid in needed:
                    concepts[cid] = (
                        row.get("vocabulary_id", ""),
                        row.get("concept_code", ""),
                        row.get("concept_name", ""),
                    )
        else:
            log.issue(
                ImportIssue(
                    str(tables["person"].parent),
                    None,
                    None,
                    "no CONCEPT table: codes read from *_source_value as "
                    + ", ".join(f"{t}={v}" for t, v in sorted(vocabularies.items())),
                    level="warning",
                )
            )
        converter = _OmopConverter(mapping, log, tables, concepts, vocabularies, vocabulary)
        converter.deaths, converter.periods = read_observed_time(tables, persons, log)
        for pid, (line, person) in persons.items():
            record = converter.convert(pid, line, person, rows.pop(pid))
            if record is not None:
                yield record

    return ImportRun(gen(), log)
