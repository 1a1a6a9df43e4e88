"""``screener batch`` export options: OMOP cohort and FHIR resources from the finished rows.

Targets are checked before the batch runs (an existing file is refused without
``--overwrite``), and written only once the batch is complete.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from screener.errors import InputError, Location
from screener.outputs.files import refuse_existing

_DB_SUFFIXES = {
    ".duckdb": "duckdb",
    ".ddb": "duckdb",
    ".sqlite": "sqlite",
    ".sqlite3": "sqlite",
    ".db": "sqlite",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("exports (written when the batch is complete)")
    group.add_argument(
        "--omop-cohort",
        type=Path,
        default=None,
        metavar="FILE",
        help=(
            "OMOP CDM 5.4 COHORT rows for the eligible patients: FILE.csv (plus FILE_definition.csv "
            "with the COHORT_DEFINITION row), or inserted into an OMOP database FILE.duckdb / FILE.sqlite"
        ),
    )
    group.add_argument(
        "--omop-format", choices=("csv", "duckdb", "sqlite"), default=None, help="default: from the suffix"
    )
    group.add_argument("--cohort-id", type=int, default=1, help="cohort_definition_id (default 1)")
    group.add_argument(
        "--include",
        action="append",
        choices=("incomplete", "upcoming"),
        default=[],
        help=(
            "incomplete: also the patients to confirm (cohort: their own cohort_definition_id, "
            "--cohort-id + 1); upcoming: also those eligible once a waiting period ends (from that date)"
        ),
    )
    group.add_argument(
        "--person-map",
        type=Path,
        default=None,
        metavar="CSV",
        help="patient_id,person_id: OMOP person_ids for patients whose id is not one (non-OMOP input)",
    )
    group.add_argument("--fhir-group", type=Path, default=None, metavar="FILE", help="FHIR R4 Group (JSON)")
    group.add_argument(
        "--fhir-subjects",
        type=Path,
        default=None,
        metavar="DIR",
        help="a FHIR R4 ResearchSubject per patient, and the ResearchStudy, as JSON files in DIR",
    )
    # --overwrite (batch's one option for every earlier output) also replaces export files
    # and cohort rows


def omop_format(args: argparse.Namespace) -> str:
    return args.omop_format or _DB_SUFFIXES.get(args.omop_cohort.suffix.lower(), "csv")


def check_targets(args: argparse.Namespace) -> None:
    """Before the batch: refuse export files that exist (unless --overwrite), bad ids."""
    if args.omop_cohort is not None:
        if args.cohort_id <= 0:
            raise InputError("--cohort-id must be a positive integer", Location(str(args.omop_cohort)))
        if omop_format(args) == "csv":
            from screener.outputs.cohort import definition_path

            refuse_existing(args.omop_cohort, args.overwrite)
            refuse_existing(definition_path(args.omop_cohort), args.overwrite)
    if args.fhir_group is not None:
        refuse_existing(args.fhir_group, args.overwrite)
    if args.person_map is not None and not args.person_map.is_file():
        raise InputError("person map not found", Location(str(args.person_map)))


def wanted(args: argparse.Namespace) -> bool:
    return any(x is not None for x in (args.omop_cohort, args.fhir_group, args.fhir_subjects))


def write_exports(args: argparse.Namespace, out: Path, fmt: str, as_of: date) -> list[tuple[str, Path, bool]]:
    """Write the asked exports from the batch output ``out``; (role, path, hashable) written."""
    from screener.model.rules import load_ruleset
    from screener.outputs.provenance import Provenance
    from screener.outputs.rows import read_rows

    provenance = Provenance.of(load_ruleset(args.rules), as_of)
    include = set(args.include)
    source = str(out)
    written: list[tuple[str, Path, bool]] = []
    if args.omop_cohort is not None:
        from screener.outputs.cohort import CohortOptions, read_person_map, write_cohort

        kind = omop_format(args)
        options = CohortOptions(
            definition_id=args.cohort_id,
            incomplete_id=args.cohort_id + 1 if "incomplete" in include else None,
            upcoming="upcoming" in include,
            person_map=read_person_map(args.person_map) if args.person_map else None,
        )
        paths = write_cohort(
            args.omop_cohort, kind, read_rows(out, fmt), provenance, options, source, args.overwrite
        )
        written += [("omop-cohort", p, kind == "csv") for p in paths]
    if args.fhir_group is not None:
        from screener.outputs.fhir_out import write_group

        write_group(
            args.fhir_group,
            read_rows(out, fmt),
            provenance,
            args.overwrite,
            include_incomplete="incomplete" in include,
            upcoming="upcoming" in include,
        )
        written.append(("fhir-group", args.fhir_group, True))
    if args.fhir_subjects is not None:
        from screener.outputs.fhir_out import write_subjects

        write_subjects(args.fhir_subjects, lambda: read_rows(out, fmt), provenance, source, args.overwrite)
        written.append(("fhir-subjects", args.fhir_subjects, True))
    return written
