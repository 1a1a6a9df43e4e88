"""``screener convert``: import EHR / registry data as native patient files or columnar tables.

``screener convert INPUT... --to native --out DIR`` (or ``--to-native DIR``) reads FHIR R4
Bundles, FHIR Bulk Data NDJSON, OMOP CDM 5.4 CSV or a flat CSV registry (with a column
mapping) and writes one ``<patient_id>.json`` per patient in screener's native format, so that
``screener screen DIR/<id>.json`` works on them. The import report (unmapped codes, malformed
records with file, line and field) goes to stderr, or as JSON to ``--report FILE``.

``screener convert INPUT... --to tables --out DIR`` (or ``--to tables DIR INPUT...``) reads
its inputs as ``screener batch`` does (:func:`screener.batch.inputs.iter_records`: native
JSONL/YAML/JSON, FHIR, OMOP, ``NAME.csv`` with ``NAME.mapping.yaml`` beside it), loads and
validates every patient and writes them as a columnar registry (:mod:`screener.tables`). A
record that cannot be read or loaded is reported (stderr, and all of them in ``--report
FILE``) with its file, line and field, and the conversion goes on; the registry appears in
OUT_DIR only once complete. ``--reader sql`` (the default) reads the inputs a SQL converter
exists for (:mod:`screener.tables.stagers`: native JSONL today) inside DuckDB and leaves every
record it cannot take exactly to the Python reader (:mod:`screener.tables.write_staged`);
``--reader python`` reads them all in Python. Both write the same registry and report the
same errors.

Outputs are written as :mod:`screener.batch.safe_io` writes them: never through a symbolic
link (a temporary file in the folder, renamed over the target), and an earlier run's output is
replaced only with ``--overwrite``: a non-empty ``--to-native`` folder, an existing
``--report`` file, a registry folder (and then only the files its manifest lists).

Exit codes: 0 when every record was read cleanly, 1 when some records had errors (the rest was
converted), 2 when the input or a mapping cannot be used at all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from screener.batch.inputs import iter_records
from screener.batch.safe_io import OutputError, refuse_existing, write_atomic
from screener.cli import exit_codes
from screener.cli.common import positive_int
from screener.errors import InputError, Location
from screener.importers import FORMATS, ImportIssue, iter_patients, load_mapping

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


USAGE = (
    "%(prog)s INPUT... --to native --out DIR [options]\n"
    "       %(prog)s INPUT... --to tables --out DIR [--chunk-size N] [--partitions N] [--overwrite]\n"
    "                [--reader sql|python] [--threads N] [--report FILE]\n"
    "       (older spellings still work: --to-native DIR; --to tables OUT_DIR INPUT...)"
)
SHOWN_ERRORS = 20  # error lines printed on stderr in tables mode; --report FILE holds them all


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "convert",
        usage=USAGE,
        help="convert FHIR / OMOP / CSV registry data to native patient files or columnar tables",
        description=(
            "--to native --out DIR: one native JSON file per patient. --to tables --out DIR: a "
            "columnar registry (Parquet tables, see docs/patient-format.md) of validated patients "
            "read as screener batch reads them. --out names the output as it does for batch and "
            "rules report."
        ),
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        metavar="INPUT",
        help="input files or directories (tables: OUT_DIR first)",
    )
    parser.add_argument(
        "--to",
        dest="to",
        choices=("native", "tables"),
        default=None,
        help="what to write: native patient files (default) or a columnar registry",
    )
    parser.add_argument("--out", dest="out", type=Path, default=None, metavar="DIR", help="output directory")
    parser.add_argument(
        "--to-native",
        dest="to_native",
        type=Path,
        default=None,
        metavar="DIR",
        help="the same as --to native --out DIR (older spelling)",
    )
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
        "--terminology",
        type=Path,
        default=None,
        metavar="DIR",
        help="local terminology: RxNorm RRF, SNOMED CT RF2 or OMOP vocabulary files "
        "(default: $SCREENER_TERMINOLOGY; see docs/terminology.md)",
    )
    parser.add_argument(
        "--registry-mapping", type=Path, default=None, help="column mapping YAML for a flat CSV registry"
    )
    parser.add_argument("--limit", type=int, default=None, help="OMOP: read at most N persons")
    parser.add_argument("--report", type=Path, default=None, help="write the import report as JSON here")
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=50_000,
        help="tables: patients per Parquet part, held in memory at once (default 50000)",
    )
    parser.add_argument(
        "--partitions",
        type=_partitions,
        default=1,
        help="tables: split the registry into N patient-hash partitions, for screener batch "
        "--workers and --scheduler to screen in parallel (default 1)",
    )
    parser.add_argument(
        "--reader",
        choices=("sql", "python"),
        default="sql",
        help="tables: sql (default) reads native JSONL (and FHIR/OMOP where a SQL converter is "
        "installed) with DuckDB's own readers, sending every record it cannot take exactly to the "
        "Python reader; python reads every record with the Python reader. Both write the same registry",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="tables, --reader sql: DuckDB threads (default: one per core)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace an earlier run's output: files in a non-empty --to-native DIR, the --report "
            "file, a registry in OUT_DIR (only the files its manifest lists)"
        ),
    )
    parser.set_defaults(run=run)


def file_name(patient_id: str) -> str:
    return (_UNSAFE.sub("_", patient_id).strip("._") or "patient") + ".json"


def resolve_output(args: argparse.Namespace) -> None:
    """``args.to`` and ``args.out`` from any of the spellings: ``--to KIND --out DIR``,
    ``--out DIR`` (native), ``--to-native DIR``, or the older ``--to KIND OUT_DIR INPUT...``."""
    if args.to_native is not None:
        if args.out is not None or args.to not in (None, "native"):
            raise InputError("--to-native DIR is --to native --out DIR: give one of them")
        args.to, args.out = "native", args.to_native
    elif args.out is not None:
        args.to = args.to or "native"
    elif args.to is not None:  # the older form: the output directory comes first
        if len(args.inputs) < 2:
            raise InputError(f"--to {args.to} needs OUT_DIR and at least one INPUT (or --out DIR)")
        args.out, args.inputs = args.inputs[0], args.inputs[1:]
    else:
        raise InputError(
            "say what to write: --to native --out DIR, or --to tables --out DIR "
            "(older spellings: --to-native DIR, or --to tables OUT_DIR INPUT...)"
        )


def run(args: argparse.Namespace) -> int:
    resolve_output(args)
    for path in args.inputs:  # before guessing a format: say what is wrong
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
    if args.to == "tables":
        return run_tables(args)
    return run_native(args)


def _check_native_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise OutputError(
            f"{out}: the folder is not empty (an earlier conversion?); choose a new one, or use "
            "--overwrite to replace files of the same names"
        )


def run_native(args: argparse.Namespace) -> int:
    _check_native_target(args.out, args.overwrite)
    refuse_existing([args.report], args.overwrite)
    codes = load_mapping(args.mapping, terminology=args.terminology) if args.format != "csv" else None
    imported = iter_patients(
        args.inputs,
        codes,
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
        # a temporary file renamed over the target: a link planted there is replaced, not followed
        text = json.dumps(record.data, indent=1, ensure_ascii=False) + "\n"
        write_atomic(args.out / name, text.encode("utf-8", "backslashreplace"))
    report = imported.report
    sys.stderr.write(report.render_text())
    if args.report is not None:
        text = json.dumps(report.to_dict(), indent=1, ensure_ascii=False) + "\n"
        write_atomic(args.report, text.encode("utf-8", "backslashreplace"))
    print(f"{len(written)} patient file(s) written to {args.out}", file=sys.stderr)
    return exit_codes.FINDINGS if report.errors else exit_codes.OK


# --------------------------------------------------------------------------- --to tables


def _check_tables_options(args: argparse.Namespace) -> None:
    """Inputs are read as screener batch reads them: importer options have no say."""
    for flag, value in (("--from", args.format), ("--mapping", args.mapping), ("--limit", args.limit)):
        if value is not None:
            raise InputError(
                f"{flag} does not apply to --to tables: inputs are read as screener batch reads them "
                "(format from the file names, the default code mapping)"
            )
    if args.terminology is not None:
        raise InputError(
            "--terminology does not apply to --to tables: inputs are read as screener batch reads "
            "them; set SCREENER_TERMINOLOGY=DIR instead"
        )
    if args.registry_mapping is None:
        return
    if not args.registry_mapping.is_file():
        raise InputError("no such column mapping file", Location(str(args.registry_mapping)))
    for path in args.inputs:
        beside = path.with_name(path.stem + ".mapping.yaml")
        if path.suffix.lower() != ".csv" or not beside.exists() or not beside.samefile(args.registry_mapping):
            raise InputError(
                "with --to tables a CSV registry NAME.csv is read with the NAME.mapping.yaml beside it "
                f"(as screener batch does); {args.registry_mapping} is not that file for {path}"
            )


def _partitions(text: str) -> int:
    """argparse type of --partitions: 1 to MAX_PARTITIONS."""
    from screener.tables.place import MAX_PARTITIONS

    value = positive_int(text)
    if value > MAX_PARTITIONS:
        raise argparse.ArgumentTypeError(f"at most {MAX_PARTITIONS} partitions: {value}")
    return value


def run_tables(args: argparse.Namespace) -> int:
    _check_tables_options(args)
    refuse_existing([args.report], args.overwrite)
    if args.reader == "sql":
        from screener.tables.stagers import sql_kinds

        if sql_kinds(args.inputs):
            return _run_tables_sql(args)
    elif args.threads is not None:
        raise InputError("--threads applies to --reader sql only")
    return _run_tables_python(args)


class _Issues:
    """Issues as they come: the first SHOWN_ERRORS on stderr, all of them for --report."""

    def __init__(self, keep: bool) -> None:
        self.count = self.shown = 0
        self.kept: list[ImportIssue] = []
        self.keep = keep

    def add(self, issue: ImportIssue) -> None:
        self.count += 1
        if self.shown < SHOWN_ERRORS:
            self.shown += 1
            print(issue, file=sys.stderr)
        if self.keep:
            self.kept.append(issue)


def _run_tables_python(args: argparse.Namespace) -> int:
    from screener.tables.load_record import load_record
    from screener.tables.write import TablesWriter

    issues = _Issues(args.report is not None)
    records = 0
    writer = TablesWriter(
        args.out,
        args.chunk_size,
        overwrite=args.overwrite,
        sources=[str(p) for p in args.inputs],
        partitions=args.partitions,
    )
    try:
        for record in iter_records(args.inputs):
            records += 1
            issue = load_record(record, lambda patient, line=record.line: writer.add(patient, line))
            if issue is not None:
                issues.add(issue)
    except BaseException:
        writer.abort()  # nothing half-written is left behind
        raise
    return _finish_tables(args, writer, issues, records)


def _run_tables_sql(args: argparse.Namespace) -> int:
    from screener.tables.stagers import staged_inputs
    from screener.tables.write_staged import StagedWriter

    issues = _Issues(args.report is not None)
    writer = StagedWriter(
        args.out,
        args.chunk_size,
        overwrite=args.overwrite,
        sources=[str(p) for p in args.inputs],
        partitions=args.partitions,
        threads=args.threads,
    )
    try:
        for offset, staged in staged_inputs(writer.con, args.inputs, chunk=args.chunk_size):
            for _, issue in writer.add(staged, offset):
                issues.add(issue)
    except BaseException:
        writer.abort()
        raise
    return _finish_tables(args, writer, issues, writer.records)


def _finish_tables(args: argparse.Namespace, writer: Any, issues: _Issues, records: int) -> int:
    errors = issues.count
    if writer.patients == 0 and errors:
        writer.abort()
        print(f"screener: no patient could be read; nothing written to {args.out}", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    writer.add_errors(errors)
    summary = writer.close()
    if errors > issues.shown:
        more = "see " + str(args.report) if args.report is not None else "--report FILE lists them all"
        print(f"... {errors - issues.shown} more error(s) ({more})", file=sys.stderr)
    if args.report is not None:
        report = {
            "schema_version": "1",
            "format": "tables",
            "out": str(args.out),
            "patients": summary.patients,
            "records": records,
            "errors": errors,
            "rows": summary.rows,
            "issues": [i.to_dict() for i in issues.kept],
        }
        text = json.dumps(report, indent=1, ensure_ascii=False) + "\n"
        write_atomic(args.report, text.encode("utf-8", "backslashreplace"))
    print(
        f"{summary.patients} patient(s) written to {args.out} as tables "
        f"({summary.parts} part(s)), {errors} error(s)",
        file=sys.stderr,
    )
    return exit_codes.FINDINGS if errors else exit_codes.OK
