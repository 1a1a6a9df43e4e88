"""``screener batch INPUT...``: pre-screen many patients into a CSV or JSONL file."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from datetime import date
from pathlib import Path

from screener.batch.fast import DEFAULT_CHUNK
from screener.batch.outputs import checkpoint_path
from screener.batch.runner import BatchOptions, BatchReport, run_batch
from screener.batch.summary import render_table
from screener.cli import exit_codes
from screener.cli.common import add_as_of_argument, add_rules_argument, positive_int


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "batch",
        help="pre-screen many patients (JSONL files, directories of YAML/JSON files)",
        description=(
            "Screen every patient of the inputs and write one row per patient: decision, failing "
            "criteria, unknown criteria with their missing facts, eligible-from date and near-miss "
            "margins. Unreadable records go to the errors file and the batch carries on. Output is "
            "written to FILE.partial and renamed when done; an interrupted run continues with --resume. "
            "One run at a time writes an output (FILE.lock); earlier outputs are replaced only with "
            "--overwrite. CSV cells a spreadsheet would run as a formula (=, +, -, @...) get a leading '."
        ),
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="JSONL file or directory of patient files")
    add_rules_argument(parser)
    add_as_of_argument(parser)
    parser.add_argument("--out", type=Path, required=True, help="output file (CSV or JSONL)")
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), default=None, help="default: from --out suffix, else csv"
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes (default: CPU count; 1 = in-process)",
    )
    parser.add_argument(
        "--errors", type=Path, default=None, help="errors file, JSONL (default: OUT.errors.jsonl)"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run from its checkpoint"
    )
    parser.add_argument(
        "--summary", type=Path, default=None, help="attrition funnel as FILE.html or FILE.svg"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an earlier run's output, errors and summary files, or start an interrupted run again",
    )
    parser.add_argument(
        "--scheduler", default=None, metavar="ADDRESS", help="run chunks on a dask.distributed cluster"
    )
    parser.add_argument(
        "--engine",
        choices=("durable", "vectorized"),
        default="durable",
        help=(
            "durable (default): the rule engine, full rows with missing facts, eligible-from dates "
            "and near misses; vectorized: DuckDB over a columnar registry (screener convert --to "
            "tables), outcomes per criterion only, many times faster"
        ),
    )
    parser.add_argument(
        "--explain",
        choices=("none", "open"),
        default="none",
        help=(
            "vectorized engine: 'open' also screens with the rule engine the patients who fail no "
            "criterion, or only criteria they may pass later (a washout, an age limit), so their rows "
            "get missing facts, eligible-from dates and near misses"
        ),
    )
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        help="patients per task (default 200; vectorized: 100000)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    parser.add_argument(
        "--audit-log",
        default=os.environ.get("SCREENER_AUDIT_LOG") or None,
        help="append the batch summary to this hash-chained audit log (default: $SCREENER_AUDIT_LOG)",
    )
    parser.add_argument(
        "--operator", default=None, help="who runs the batch, for the audit log (default: $USER)"
    )
    # Stop resumably after N records: lets tests and operators rehearse an interruption.
    parser.add_argument("--stop-after", type=positive_int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(run=run)


def _inputs_sha256(inputs: list[str]) -> str:
    """One digest over every input file (directories: their files in name order)."""
    from screener.audit.trail import sha256_file

    digest = hashlib.sha256()
    for name in inputs:
        path = Path(name)
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(f"{file}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


def _audit(args: argparse.Namespace, report: BatchReport) -> None:
    from screener.audit.trail import append_entry
    from screener.model.rules import load_ruleset

    funnel = report.funnel
    ineligible = sum(funnel.first_fail)
    eligible = funnel.screened - sum(funnel.first_open)
    append_entry(
        args.audit_log,
        operator=args.operator or os.environ.get("USER") or "unknown",
        action="batch",
        ruleset_sha256=load_ruleset(args.rules).sha256,
        input_sha256=_inputs_sha256(list(args.inputs)),
        count=funnel.screened,
        summary={
            "eligible": eligible,
            "ineligible": ineligible,
            "incomplete": funnel.screened - eligible - ineligible,
            "errors": report.errors,
        },
        as_of=(args.as_of or date.today()).isoformat(),
        out=str(report.out),
    )


def run(args: argparse.Namespace) -> int:
    if args.explain != "none" and args.engine != "vectorized":
        print(
            "screener: --explain is for --engine vectorized (the durable engine explains every row)",
            file=sys.stderr,
        )
        return exit_codes.INPUT_ERROR
    fmt = args.format or ("jsonl" if args.out.suffix.lower() in (".jsonl", ".ndjson") else "csv")
    options = BatchOptions(
        inputs=tuple(args.inputs),
        rules=args.rules,
        as_of=args.as_of or date.today(),
        out=args.out,
        fmt=fmt,
        workers=args.workers or os.cpu_count() or 1,
        errors=args.errors,
        resume=args.resume,
        limit=args.stop_after,
        chunk_size=args.chunk_size or (DEFAULT_CHUNK if args.engine == "vectorized" else 200),
        scheduler=args.scheduler,
        summary=args.summary,
        progress=not args.no_progress,
        overwrite=args.overwrite,
    )
    checkpoint = checkpoint_path(args.out)
    if args.resume and not checkpoint.exists():
        print(f"screener: no checkpoint at {checkpoint}; starting from the beginning", file=sys.stderr)
    elif not args.resume and checkpoint.exists() and args.overwrite:
        print(
            f"screener: an interrupted run left {checkpoint}; starting again (--overwrite)",
            file=sys.stderr,
        )
    if args.engine == "vectorized":
        from screener.batch.fast import run_fast_batch

        report = run_fast_batch(options, explain=args.explain)
    else:
        report = run_batch(options)
    if report.resumed_from:
        print(f"screener: resumed after {report.resumed_from} records", file=sys.stderr)
    if not report.complete:
        print(
            f"screener: stopped after {report.records} records; partial output kept, "
            "continue with the same command and --resume",
            file=sys.stderr,
        )
        return exit_codes.INTERRUPTED
    sys.stdout.write(render_table(report.funnel))
    print(f"{report.rows} rows written to {report.out}", file=sys.stderr)
    if args.audit_log:
        _audit(args, report)
    if report.errors:
        print(f"{report.errors} records could not be screened: see {report.errors_path}", file=sys.stderr)
        return exit_codes.FINDINGS
    return exit_codes.OK
