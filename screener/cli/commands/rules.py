"""``screener rules check|report|diff``: lint, document and compare rule sets.

- ``check DIR``: exit 2 when a rule file cannot be used (schema error, unknown
  fact, unit mismatch: ``file:line: field: message`` on stderr), 1 when the
  linter has findings (``file:line: field: SCR00N message``), 0 when clean.
- ``report DIR --format md|html [--out FILE]``: a readable document of the rule set.
- ``diff OLD NEW [--format text|json]``: criterion-level changes.
- ``new --from FILE [--out DIR]``: draft a rule set from a ClinicalTrials.gov record
  (API v2 study JSON or registry page text); exit 2 when the record cannot be read
  or the rule set exists (``--overwrite`` replaces it).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from screener.audit.diff import diff_rulesets
from screener.audit.diff import render_text as render_diff
from screener.audit.lint import Finding, find_catalogue, lint, parse_catalogue
from screener.audit.report import build_report, render
from screener.cli import exit_codes
from screener.cli.common import default_rules
from screener.errors import InputError, Location, RuleSpecError
from screener.model.rules import load_ruleset, ruleset_errors

SCHEMA_VERSION = "1"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("rules", help="check, document and compare rule sets")
    rules_sub = parser.add_subparsers(dest="rules_command", metavar="SUBCOMMAND")
    parser.set_defaults(run=lambda args: _usage(parser))

    check = rules_sub.add_parser(
        "check", help="lint a rule set (exit 1 on findings, 2 on unusable rule files)"
    )
    check.add_argument(
        "paths", nargs="*", type=Path, metavar="DIR", help="rule set directory, rules.yaml, or rules/"
    )
    check.add_argument(
        "--rules",
        dest="rules_paths",
        type=Path,
        action="append",
        default=None,
        metavar="DIR",
        help="the same as DIR, spelled as for screen and batch (default: rules/nct03562065)",
    )
    check.add_argument(
        "--catalogue",
        type=Path,
        default=None,
        help="criteria catalogue (markdown table of ids); default: the one the rule set names",
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=run_check)

    report = rules_sub.add_parser("report", help="write a readable report of a rule set")
    report.add_argument("path", nargs="?", type=Path, metavar="DIR", help="rule set directory or rules.yaml")
    report.add_argument(
        "--rules",
        dest="rules_path",
        type=Path,
        default=None,
        metavar="DIR",
        help="the same as DIR, spelled as for screen and batch (default: rules/nct03562065)",
    )
    report.add_argument("--format", choices=("md", "html"), default="md")
    report.add_argument("--out", type=Path, default=None, help="write to this file (default: stdout)")
    report.add_argument(
        "--cases", type=Path, default=None, help="folder holding tests/*.yaml (default: the rule set's)"
    )
    report.set_defaults(run=run_report)

    show = rules_sub.add_parser("show", help="one criterion: where it is, its quote, reading and logic")
    show.add_argument("criterion", help="criterion id, e.g. E2")
    show.add_argument("--rules", type=Path, default=default_rules(), help="rule set directory or rules.yaml")
    show.set_defaults(run=run_show)

    diff = rules_sub.add_parser("diff", help="criterion-level changes between two rule sets")
    diff.add_argument("old", type=Path, help="old rule set directory or file")
    diff.add_argument("new", type=Path, help="new rule set directory or file")
    diff.add_argument("--format", choices=("text", "json"), default="text")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes")
    diff.set_defaults(run=run_diff)

    new = rules_sub.add_parser(
        "new",
        help="draft rules/<nct id>/ from a ClinicalTrials.gov record (API v2 JSON or registry text)",
        description=(
            "Split the record's criteria into I1.. and E1.. with their exact quotes, encode the "
            "structured fields (age limits, sex), and mark every other criterion as a person-only "
            "draft whose reading and test are still to write; `rules check` lists the drafts."
        ),
    )
    new.add_argument(
        "--from", dest="source", type=Path, required=True, metavar="FILE", help="registry record"
    )
    new.add_argument(
        "--out", type=Path, default=None, metavar="DIR", help="rule set directory (default: rules/<nct id>)"
    )
    new.add_argument("--overwrite", action="store_true", help="replace an existing rules.yaml in DIR")
    new.set_defaults(run=run_new)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.INPUT_ERROR


# --------------------------------------------------------------------------- check


def rule_files(path: Path) -> list[Path]:
    """A rule set directory or file, or a folder of rule set directories."""
    if path.is_file():
        return [path]
    if (path / "rules.yaml").is_file():
        return [path / "rules.yaml"]
    if path.is_dir():
        found = sorted(path.glob("*/rules.yaml"))
        if found:
            return found
    return [path]  # load_ruleset says what is wrong


def load_errors(path: Path, first: RuleSpecError) -> list[InputError]:
    """Every error of a file that failed to load (loading stops at the first)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return [first]
    return list(ruleset_errors(text, str(path))) or [first]


def _error_dict(error: InputError) -> dict[str, Any]:
    loc = error.location or Location("")
    return {"file": loc.file, "line": loc.line, "field": loc.field, "message": error.message}


def run_check(args: argparse.Namespace) -> int:
    catalogue_ids: list[str] | None = None
    if args.catalogue is not None:
        try:
            catalogue_ids = parse_catalogue(args.catalogue.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read catalogue: {error}", Location(str(args.catalogue))) from None
    results: list[dict[str, Any]] = []
    worst = exit_codes.OK
    for given in [*args.paths, *(args.rules_paths or [])] or [default_rules()]:
        for path in rule_files(given):
            results.append(_check_one(path, catalogue_ids, args.catalogue is not None))
    for result in results:
        if result["errors"]:
            worst = exit_codes.INPUT_ERROR
        elif result["findings"] and worst == exit_codes.OK:
            worst = exit_codes.FINDINGS
    if args.format == "json":
        doc = {
            "schema_version": SCHEMA_VERSION,
            "rulesets": [{k: v for k, v in r.items() if not k.startswith("_")} for r in results],
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        for r in results:
            for error in r["_errors"]:
                print(f"{error}", file=sys.stderr)
            for finding in r["_findings"]:
                print(str(finding))
            if r["note"]:
                print(f"{r['file']}: note: {r['note']}", file=sys.stderr)
        n_findings = sum(len(r["findings"]) for r in results)
        n_errors = sum(len(r["errors"]) for r in results)
        summary = f"{len(results)} rule file(s): {n_errors} error(s), {n_findings} finding(s)"
        print(summary, file=sys.stderr)
    return worst


def _check_one(path: Path, catalogue_ids: list[str] | None, explicit: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "file": str(path),
        "sha256": None,
        "catalogue": None,
        "note": None,
        "errors": [],
        "findings": [],
        "_errors": [],
        "_findings": [],
    }
    try:
        ruleset = load_ruleset(path)
    except RuleSpecError as error:
        errors = load_errors(path, error) if path.is_file() else [error]
        result["_errors"] = errors
        result["errors"] = [_error_dict(e) for e in errors]
        return result
    result["sha256"] = ruleset.sha256
    ids = catalogue_ids
    if not explicit:
        found = find_catalogue(ruleset)
        if found is None:
            result["note"] = "no criteria catalogue found; coverage not checked (use --catalogue)"
        else:
            result["catalogue"] = str(found)
            try:
                ids = parse_catalogue(found.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                result["note"] = f"cannot read catalogue {found}: {error}; coverage not checked"
    findings: list[Finding] = lint(ruleset, ids)
    result["_findings"] = findings
    result["findings"] = [f.to_dict() for f in findings]
    return result


# --------------------------------------------------------------------------- report, diff


def run_report(args: argparse.Namespace) -> int:
    if args.path is not None and args.rules_path is not None and args.path != args.rules_path:
        raise InputError(f"two rule sets: {args.path} and --rules {args.rules_path}")
    args.path = args.path or args.rules_path or default_rules()
    ruleset = load_ruleset(args.path)
    text = render(build_report(ruleset, args.cases), args.format)
    if args.out is None:
        sys.stdout.write(text)
    else:
        # whole or not at all; a link at --out is replaced, not followed
        from screener.batch.safe_io import write_atomic

        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"cannot write report: {error.strerror}", Location(str(args.out))) from None
        write_atomic(args.out, text)
        print(f"wrote {args.out}", file=sys.stderr)
    return exit_codes.OK


def run_show(args: argparse.Namespace) -> int:
    """Print one criterion the way an auditor reads it, with its file and line."""
    from screener.audit.report import derived_used, facts_used
    from screener.audit.words import node_lines

    ruleset = load_ruleset(args.rules)
    try:
        c = ruleset.criterion(args.criterion)
    except KeyError:
        known = ", ".join(x.id for x in ruleset.criteria)
        message = f"no criterion {args.criterion!r} (known: {known})"
        raise InputError(message, Location(ruleset.file)) from None
    where = ruleset.locate(c.path)
    lines = [
        f"{c.id} ({c.type}{', person only' if c.person_only else ''}): {c.title}",
        f"  defined at {where.file}:{where.line}",
        f"  protocol ({c.section}): {c.quote}",
        f"  reading: {c.reading}",
        "  logic:",
        *(f"    {line}" for line in node_lines(c.test)),
        f"  facts: {', '.join(facts_used(ruleset, c)) or '-'}",
        f"  derived: {', '.join(derived_used(ruleset, c)) or '-'}",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    return exit_codes.OK


def run_diff(args: argparse.Namespace) -> int:
    diff = diff_rulesets(load_ruleset(args.old), load_ruleset(args.new))
    if args.format == "json":
        json.dump(diff.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_diff(diff))
    if args.exit_code and diff.changes:
        return exit_codes.FINDINGS
    return exit_codes.OK


# --------------------------------------------------------------------------- new


def run_new(args: argparse.Namespace) -> int:
    """Draft a rule set from a registry record and check that the draft loads."""
    import os
    import tempfile
    from datetime import date

    from screener.drafting.draft import draft_ruleset, render_yaml
    from screener.drafting.registry import read_record

    record = read_record(args.source)
    today = date.today()
    try:
        doc = draft_ruleset(record, today)
    except ValueError as error:
        raise InputError(str(error), Location(str(args.source), field="eligibility criteria")) from None
    folder: Path = args.out if args.out is not None else Path("rules") / record.nct_id.lower()
    target = folder / "rules.yaml"
    if target.exists() and not args.overwrite:
        raise InputError("a rule set is already there (--overwrite replaces it)", Location(str(target)))
    folder.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".rules.", suffix=".yaml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(render_yaml(doc, record, today))
        load_ruleset(Path(temporary))  # a draft that does not load is a bug: never leave one behind
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    criteria = doc["criteria"]
    drafts = sum(1 for c in criteria if c.get("draft"))
    kinds = {kind: sum(1 for c in criteria if c["type"] == kind) for kind in ("inclusion", "exclusion")}
    print(
        f"drafted {target}: {kinds['inclusion']} inclusion and {kinds['exclusion']} exclusion criteria, "
        f"{drafts} still to write (screener rules check {folder})",
        file=sys.stderr,
    )
    return exit_codes.OK
