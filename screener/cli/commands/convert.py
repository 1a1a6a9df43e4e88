"""``screener convert INPUT... --to-native DIR``: import EHR / registry data as native patient files.

Reads FHIR R4 Bundles, FHIR Bulk Data NDJSON, OMOP CDM 5.4 CSV or a flat CSV registry (with a
column mapping) and writes one ``<patient_id>.json`` per patient in screener's native format, so
that ``screener screen DIR/<id>.json`` works on them. The import report (unmapped codes,
malformed records with file, line and field) goes to stderr, or as JSON to ``--report FILE``.

Exit codes: 0 when every record was read cleanly, 1 when some records had errors (the rest was
converted), 2 when the input or a mapping cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from screener.cli import exit_codes
from screener.importers import FORMATS, iter_patients

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("convert", help="convert FHIR / OMOP / CSV registry data to native patient files")
    parser.add_argument("inputs", nargs="+", type=Path, help="input files or directories")
    parser.add_argument("--to-native", dest="out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--from",
        dest="format",
        choices=FORMATS,
        default=None,
        help="input format (default: guessed from the file names)",
    )
    parser.add_argument(
        "--mapping",
        type=Path,
        default=None,
        help="code mapping YAML (default: screener/importers/mappings/nct03562065.yaml)",
    )
    parser.add_argument(
        "--registry-mapping", type=Path, default=None, help="column mapping YAML for a flat CSV registry"
    )
    parser.add_argument("--limit", type=int, default=None, help="OMOP: read at most N persons")
    parser.add_argument("--report", type=Path, default=None, help="write the import report as JSON here")
    parser.set_defaults(run=run)


def file_name(patient_id: str) -> str:
    return (_UNSAFE.sub("_", patient_id).strip("._") or "patient") + ".json"


def run(args: argparse.Namespace) -> int:
    imported = iter_patients(
        args.inputs,
        args.mapping,
        format=args.format,
        registry_mapping=args.registry_mapping,
        limit=args.limit,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for record in imported:
        name = file_name(record.patient_id)
        if name in written:
            print(f"screener: warning: two patients write {name}; the later one is kept", file=sys.stderr)
        written.add(name)
        (args.out / name).write_text(
            json.dumps(record.data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    report = imported.report
    sys.stderr.write(report.render_text())
    if args.report is not None:
        args.report.write_text(
            json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    print(f"{len(written)} patient file(s) written to {args.out}", file=sys.stderr)
    return exit_codes.FINDINGS if report.errors else exit_codes.OK
