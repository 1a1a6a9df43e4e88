"""``screener batch INPUT...``: pre-screen many patients into a CSV or JSONL file."""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from datetime import date
from pathlib import Path

from screener.batch.fast import DEFAULT_CHUNK, DEFAULT_MEMORY_LIMIT
from screener.batch.outputs import checkpoint_path
from screener.batch.runner import BatchOptions, BatchReport, run_batch
from screener.batch.summary import RunInfo, render_html, render_table
from screener.cli import exit_codes
from screener.cli.common import add_as_of_argument, add_rules_argument, memory_size, positive_int
from screener.errors import InputError
from screener.outputs import export as exports

OUT_SUFFIXES = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
SUMMARY_SUFFIXES = (".html", ".htm", ".svg")


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
        help=(
            "replace an earlier run's output, errors, summary and export files (and cohort rows), "
            "or start an interrupted run again"
        ),
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
        choices=("none", "open", "outcomes"),
        default="none",
        help=(
            "vectorized engine: every row has the missing facts of its unknown criteria, the near "
            "misses of its failing ones and its eligible-from date (computed in SQL); 'open' also "
            "screens with the rule engine the patients who fail no criterion, or only criteria they may "
            "pass later, as a cross-check (a disagreement is reported); 'outcomes': outcomes and dates "
            "only, no missing facts or near misses (fastest)"
        ),
    )
    parser.add_argument(
        "--chunk-size",
        type=positive_int,
        default=None,
        help=f"patients per task (default 200; vectorized: {DEFAULT_CHUNK})",
    )
    parser.add_argument(
        "--memory-limit",
        type=memory_size,
        default=None,
        metavar="SIZE",
        help=(
            "vectorized engine, one trial: DuckDB memory per process, the main one and each worker "
            f"(default {DEFAULT_MEMORY_LIMIT}); what does not fit spills to a temporary directory"
        ),
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
    parser.add_argument(
        "--wide",
        action="store_true",
        help=(
            "with --rules DIR (a folder of rule sets): one row per patient with a decision column "
            "per trial (a patient x trial matrix) instead of one row per patient and trial"
        ),
    )
    exports.add_arguments(parser)
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


def _outputs(
    report: BatchReport, summary: Path | None, written: list[tuple[str, Path, bool]]
) -> list[dict[str, str]]:
    """Every output file of the batch with its sha256, for the audit entry (verify re-hashes them).
    A database the cohort was inserted into is named without a hash: others write to it too."""
    from screener.audit.trail import tree_sha256

    files: list[tuple[str, Path, bool]] = [("rows", report.out, True)]
    if report.errors_path is not None:
        files.append(("errors", report.errors_path, True))
    if summary is not None:
        files.append(("summary", summary, True))
    out = []
    for role, path, hashable in [*files, *written]:
        if hashable:
            out.append({"role": role, "path": str(path.resolve()), "sha256": tree_sha256(path)})
    return out


def _audit(args: argparse.Namespace, report: BatchReport, written: list[tuple[str, Path, bool]]) -> None:
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
        outputs=_outputs(report, args.summary, written),
        databases=[str(p.resolve()) for _, p, hashable in written if not hashable],
    )


def check_paths(args: argparse.Namespace) -> None:
    """Refuse at once, before anything is written: a missing input, an output suffix that
    is not what would be written into it (``--out x.xlsx`` would get CSV)."""
    for name in args.inputs:
        if not Path(name).exists():
            raise InputError(f"{name}: no such file or directory")
    suffix = args.out.suffix.lower()
    if suffix not in OUT_SUFFIXES:
        raise InputError(
            f"--out {args.out}: unknown suffix {suffix or '(none)'!r}; "
            f"batch writes CSV (.csv) or JSON lines (.jsonl, .ndjson)"
        )
    if args.format is not None and OUT_SUFFIXES[suffix] != args.format:
        raise InputError(f"--out {args.out} and --format {args.format} disagree")
    if args.summary is not None and args.summary.suffix.lower() not in SUMMARY_SUFFIXES:
        raise InputError(
            f"--summary {args.summary}: unknown suffix {args.summary.suffix or '(none)'!r}; "
            "the funnel is written as .html or .svg"
        )


def skipped_files(inputs: list[str]) -> tuple[str, ...]:
    """Files inside input directories that no reader reads (listed, never silently dropped)."""
    from screener.batch.inputs import expand, reader_for

    read = {str(p) for p in expand(inputs)}
    skipped: list[str] = []
    for name in inputs:
        path = Path(name)
        if not path.is_dir() or reader_for(path) is not None:
            continue  # a file, or an OMOP/NDJSON directory read as one input
        for child in sorted(path.rglob("*")):
            quiet = child.name.endswith(".mapping.yaml") or child.name.startswith(".")
            if child.is_file() and str(child) not in read and not quiet:
                skipped.append(str(child))
    return tuple(skipped)


def run_info(args: argparse.Namespace, errors: int, skipped: tuple[str, ...]) -> RunInfo:
    import shlex

    from screener.model.rules import load_ruleset

    ruleset = load_ruleset(args.rules)
    return RunInfo(
        as_of=(args.as_of or date.today()).isoformat(),
        ruleset_id=ruleset.id,
        ruleset_version=ruleset.version,
        ruleset_sha256=ruleset.sha256,
        inputs=tuple(args.inputs),
        command=shlex.join(["screener", *getattr(args, "argv", [])]),
        errors=errors,
        skipped=skipped,
    )


def run(args: argparse.Namespace) -> int:
    from screener.portfolio import is_portfolio

    check_paths(args)
    if is_portfolio(args.rules):
        return run_portfolio(args)
    if args.wide:
        print("screener: --wide is for --rules DIR, a folder of rule sets", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    # a columnar registry's Parquet files are what the vectorized engine reads: none is skipped
    skipped = () if args.engine == "vectorized" else skipped_files(list(args.inputs))
    if args.explain != "none" and args.engine != "vectorized":
        print(
            "screener: --explain is for --engine vectorized (the durable engine explains every row)",
            file=sys.stderr,
        )
        return exit_codes.INPUT_ERROR
    if args.memory_limit is not None and args.engine != "vectorized":
        print("screener: --memory-limit is for --engine vectorized (DuckDB's memory)", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    fmt = args.format or OUT_SUFFIXES[args.out.suffix.lower()]
    exports.check_targets(args)  # before screening: an export that cannot be written fails now
    if args.audit_log:
        from screener.audit.keys import signing_key_from_env

        signing_key_from_env()  # an unreadable signing key fails now, not after the batch
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
        memory_limit=args.memory_limit or DEFAULT_MEMORY_LIMIT,
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
    info = run_info(args, report.errors, skipped)
    if args.summary is not None and args.summary.suffix.lower() != ".svg":
        from screener.batch.outputs import write_atomic

        # the runner wrote the funnel; this adds the totals, date, rule set, inputs and command
        write_atomic(args.summary, render_html(report.funnel, info))
    sys.stdout.write(render_table(report.funnel, info))
    print(f"{report.rows} rows written to {report.out}", file=sys.stderr)
    written = exports.write_exports(args, report.out, fmt, options.as_of) if exports.wanted(args) else []
    for role, path, _ in written:
        print(f"{role} written to {path}", file=sys.stderr)
    if skipped:
        print(f"screener: {len(skipped)} file(s) in the input directories were not read:", file=sys.stderr)
        for name in skipped[:20]:
            print(f"  {name}", file=sys.stderr)
        if len(skipped) > 20:
            print(f"  ... and {len(skipped) - 20} more (listed in the summary)", file=sys.stderr)
    if args.audit_log:
        _audit(args, report, written)
    if report.errors:
        print(f"{report.errors} records could not be screened: see {report.errors_path}", file=sys.stderr)
        return exit_codes.FINDINGS
    return exit_codes.OK


# --------------------------------------------------------------------------- a portfolio


def _portfolio_refusals(args: argparse.Namespace) -> str | None:
    """What a portfolio batch does not do yet, said before anything is written."""
    if args.resume and args.engine == "vectorized":
        return "--resume: a vectorized portfolio batch cannot be resumed yet; start again with --overwrite"
    if args.scheduler:
        return "--scheduler: a portfolio batch runs here (--workers); screen one trial on the cluster"
    if exports.wanted(args):
        return "exports (--omop-cohort, --fhir-group...) are for one trial: use --rules DIR/<trial>"
    if args.explain != "none" and args.engine != "vectorized":
        return "--explain is for --engine vectorized (the durable engine explains every row)"
    if args.memory_limit is not None:
        return "--memory-limit: a portfolio batch does not cap DuckDB's memory yet; screen one trial with it"
    return None


def run_portfolio(args: argparse.Namespace) -> int:
    """``--rules DIR``: every trial of the folder; rows per patient and trial, a funnel per trial."""
    import shlex

    from screener.batch.portfolio import run_portfolio_batch, write_summary
    from screener.portfolio import load_portfolio

    refusal = _portfolio_refusals(args)
    if refusal is not None:
        print(f"screener: {refusal}", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    portfolio = load_portfolio(args.rules)
    for broken in portfolio.broken:  # said at once; the other trials are screened
        print(f"screener: error: {broken.error}", file=sys.stderr)
    if not portfolio.rulesets:
        print(f"screener: no usable rule set in {args.rules}; nothing screened", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    # a columnar registry's Parquet files are what the vectorized engine reads: none is skipped
    skipped = () if args.engine == "vectorized" else skipped_files(list(args.inputs))
    fmt = args.format or OUT_SUFFIXES[args.out.suffix.lower()]
    if args.audit_log:
        from screener.audit.keys import signing_key_from_env

        signing_key_from_env()
    options = BatchOptions(
        inputs=tuple(args.inputs),
        rules=args.rules,
        as_of=args.as_of or date.today(),
        out=args.out,
        fmt=fmt,
        workers=args.workers or os.cpu_count() or 1,
        errors=args.errors,
        limit=args.stop_after,
        chunk_size=args.chunk_size or (DEFAULT_CHUNK if args.engine == "vectorized" else 200),
        summary=args.summary,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        resume=args.resume,
    )
    if args.engine == "vectorized":
        from screener.batch.portfolio_fast import run_portfolio_fast

        report = run_portfolio_fast(options, portfolio, wide=args.wide, explain=args.explain)
    else:
        report = run_portfolio_batch(options, portfolio, wide=args.wide)
    if report.resumed_from:
        print(f"screener: resumed after {report.resumed_from} records", file=sys.stderr)
    if not report.complete:
        again = (
            "a vectorized portfolio batch cannot be resumed yet"
            if args.engine == "vectorized"
            else "continue with the same command and --resume"
        )
        print(
            f"screener: stopped after {report.records} records; partial output kept in "
            f"{args.out}.partial ({again})",
            file=sys.stderr,
        )
        return exit_codes.INTERRUPTED
    command = shlex.join(["screener", *getattr(args, "argv", [])])
    infos = {
        r.trial: RunInfo(
            as_of=options.as_of.isoformat(),
            ruleset_id=r.id,
            ruleset_version=r.version,
            ruleset_sha256=r.sha256,
            inputs=tuple(args.inputs),
            command=command,
            errors=report.errors,
            skipped=skipped,
        )
        for r in portfolio.rulesets
    }
    summaries: list[tuple[str, Path, bool]] = []
    if args.summary is not None:
        for path in write_summary(args.summary, report.funnels, infos):
            print(f"funnel written to {path}", file=sys.stderr)
            summaries.append(("summary", path, True))
    for trial, funnel in report.funnels.items():
        sys.stdout.write(f"== {trial} ==\n")
        sys.stdout.write(render_table(funnel, infos[trial]))
        sys.stdout.write("\n")
    for broken in report.broken:
        sys.stdout.write(f"== {broken.folder}: NOT SCREENED ==\n{broken.error}\n\n")
    print(f"{report.rows} rows written to {report.out}", file=sys.stderr)
    if args.audit_log:
        from screener.audit.trail import append_entry
        from screener.batch.summary import decision_totals

        inputs_sha256 = _inputs_sha256(list(args.inputs))
        outputs = _outputs(report, None, summaries)  # type: ignore[arg-type]
        for ruleset in portfolio.rulesets:
            funnel = report.funnels[ruleset.trial]
            append_entry(
                args.audit_log,
                operator=args.operator or os.environ.get("USER") or "unknown",
                action="batch",
                ruleset_sha256=ruleset.sha256,
                input_sha256=inputs_sha256,
                trial=ruleset.trial,
                count=funnel.screened,
                summary={**decision_totals(funnel), "errors": report.errors},
                as_of=options.as_of.isoformat(),
                out=str(report.out),
                outputs=outputs,
                databases=[],
            )
    if report.broken:
        return exit_codes.INPUT_ERROR
    if report.errors:
        print(
            f"{report.errors} errors (a record, or one trial of it): see {report.errors_path}",
            file=sys.stderr,
        )
        return exit_codes.FINDINGS
    return exit_codes.OK
