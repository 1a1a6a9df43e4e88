"""``screener test DIR``: run the fixture cases kept beside rule sets (as ``opa test``).

DIR is a rule-set directory (holding ``rules.yaml`` and ``tests/*.yaml``) or a
directory of rule-set directories. Exit 0 when every case passes, 1 when a case
fails (or, with ``--fail-on-empty``, a rule set has no cases), 2 when a rule file
or a case file cannot be used. A bad case is reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.cases import CaseResult, collect_cases, run_cases
from screener.cli import exit_codes
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location, ScreenerError
from screener.model.rules import load_ruleset

JSON_SCHEMA_VERSION = "1"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "test",
        help="run the fixture cases beside rule sets (rules/<trial>/tests/*.yaml)",
        description=(
            "Run every fixture case of a rule set, or of each rule set under DIR. "
            "Exit 0: all passed; 1: a case failed; 2: unusable rule or case file."
        ),
    )
    parser.add_argument("dir", type=Path, help="rule-set directory, or a directory of rule-set directories")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--fail-on-empty",
        action="store_true",
        help="exit 1 when a rule set has no cases",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="text: list passing cases too")
    parser.set_defaults(run=run)


@dataclass
class RuleSetRun:
    dir: Path
    ruleset_id: str | None = None
    results: list[CaseResult] = field(default_factory=list)
    errors: list[ScreenerError] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)


def rule_set_dirs(root: Path) -> list[Path]:
    """``root`` itself if it holds rules.yaml, else its subdirectories that do."""
    if (root / "rules.yaml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "rules.yaml").is_file())


def run_rule_set(path: Path) -> RuleSetRun:
    outcome = RuleSetRun(path)
    try:
        ruleset = load_ruleset(path)
    except ScreenerError as error:
        outcome.errors.append(error)
        return outcome
    outcome.ruleset_id = ruleset.id
    try:
        cases, errors = collect_cases(path, ruleset)
    except ScreenerError as error:
        outcome.errors.append(error)
        return outcome
    outcome.errors.extend(errors)
    if cases:
        with Engine(ruleset) as engine:
            outcome.results = run_cases(engine, cases)
    return outcome


def _error_dict(error: ScreenerError) -> dict[str, Any]:
    location = error.location if isinstance(error, InputError) else None
    return {
        "file": location.file if location else None,
        "line": location.line if location else None,
        "field": location.field if location else None,
        "message": error.message if isinstance(error, InputError) else str(error),
        "kind": type(error).__name__,
    }


def _case_dict(r: CaseResult) -> dict[str, Any]:
    c = r.case
    return {
        "note": c.note,
        "location": c.where,
        "file": c.file,
        "line": c.line,
        "as_of": c.as_of.isoformat(),
        "patient_id": c.patient.patient_id,
        "status": r.status,
        "passed": r.passed,
        "skipped": r.skipped,
        "problems": list(r.problems),
    }


def _summary(runs: list[RuleSetRun]) -> dict[str, int]:
    return {
        "cases": sum(len(r.results) for r in runs),
        "passed": sum(r.count("passed") for r in runs),
        "failed": sum(r.count("failed") for r in runs),
        "skipped": sum(r.count("skipped") for r in runs),
        "errors": sum(len(r.errors) for r in runs),
        "empty_rule_sets": sum(1 for r in runs if not r.results and not r.errors),
    }


def _render_text(runs: list[RuleSetRun], verbose: bool) -> str:
    out: list[str] = []
    for run_ in runs:
        out.append(f"rule set {run_.ruleset_id or '?'} ({run_.dir})")
        for r in run_.results:
            if r.status == "passed" and not verbose:
                continue
            out.append(f"  {r.status.upper():7} {r.case.where}  {r.case.note}")
            if r.status == "failed":
                out.extend(f"          - {p}" for p in r.problems)
        if not run_.results and not run_.errors:
            out.append("  no cases (expected tests/*.yaml with a cases: list)")
        out.append(
            f"  {run_.count('passed')} passed, {run_.count('failed')} failed, "
            f"{run_.count('skipped')} skipped, {len(run_.errors)} errors"
        )
    s = _summary(runs)
    out.append(
        f"{s['cases']} cases: {s['passed']} passed, {s['failed']} failed, "
        f"{s['skipped']} skipped; {s['errors']} errors" + (" (on stderr)" if s["errors"] else "")
    )
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    root: Path = args.dir
    dirs = rule_set_dirs(root)
    if not dirs:
        raise InputError(
            "no rule set here (expected rules.yaml, or subdirectories holding one)", Location(str(root))
        )
    runs = [run_rule_set(d) for d in dirs]
    summary = _summary(runs)
    if args.format == "json":
        document = {
            "schema_version": JSON_SCHEMA_VERSION,
            "summary": summary,
            "rule_sets": [
                {
                    "dir": str(r.dir),
                    "id": r.ruleset_id,
                    "cases": [_case_dict(c) for c in r.results],
                    "errors": [_error_dict(e) for e in r.errors],
                }
                for r in runs
            ],
        }
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_render_text(runs, args.verbose))
    for r in runs:
        for error in r.errors:
            print(f"screener: error: {error}", file=sys.stderr)
    if summary["errors"]:
        return exit_codes.INPUT_ERROR
    if summary["failed"] or (args.fail_on_empty and summary["empty_rule_sets"]):
        return exit_codes.FINDINGS
    return exit_codes.OK
