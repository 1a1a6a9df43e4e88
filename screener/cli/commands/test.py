"""``screener test DIR``: run the fixture cases kept beside rule sets (as ``opa test``), on every route.

DIR is a rule-set directory (holding ``rules.yaml`` and ``tests/*.yaml``) or a
directory of rule-set directories. Each case runs on the engine and on both fast
routes (:mod:`screener.case_routes`; ``--route`` picks one), honouring the rule set's
known gaps (:mod:`screener.case_gaps`). Exit 0 when every case passes on every route,
1 when a case fails (or a known gap is stale, or, with ``--fail-on-empty``, a rule set
has no cases), 2 when a rule file, a case file or a known-gaps file cannot be used or
a fast route was asked for without DuckDB. A bad case is reported and the others still run.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.case_gaps import GAPS_FILE, KnownGap, load_gaps
from screener.case_routes import FAST_ROUTES, ROUTES, fast_routes_missing, run_route
from screener.cases import Case, CaseResult, collect_cases
from screener.cli import exit_codes
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location, ScreenerError
from screener.model.rules import load_ruleset

JSON_SCHEMA_VERSION = "2"  # 2: per-route results, known gaps
STATUSES = ("passed", "failed", "skipped", "gap")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "test",
        help="run the fixture cases beside rule sets (rules/<trial>/tests/*.yaml) on every route",
        description=(
            "Run every fixture case of a rule set, or of each rule set under DIR, on the engine and "
            "on both fast routes (python-prepared and SQL-prepared DuckDB). "
            "Exit 0: all passed; 1: a case failed or a known gap is stale; "
            "2: unusable rule, case or known-gaps file, or no DuckDB for a fast route."
        ),
    )
    parser.add_argument("dir", type=Path, help="rule-set directory, or a directory of rule-set directories")
    parser.add_argument(
        "--route",
        choices=(*ROUTES, "all"),
        default=None,
        help="engine, python, sql or all (default: all when DuckDB is installed, else engine)",
    )
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
    cases: list[Case] = field(default_factory=list)
    results: dict[str, list[CaseResult]] = field(default_factory=dict)  # route -> one per case
    errors: list[ScreenerError] = field(default_factory=list)
    gaps: list[KnownGap] = field(default_factory=list)
    used_gaps: set[str] = field(default_factory=set)

    def count(self, status: str, route: str | None = None) -> int:
        if route is not None:
            return sum(1 for r in self.results.get(route, []) if r.status == status)
        return sum(1 for i in range(len(self.cases)) if self.status(i) == status)

    def status(self, index: int) -> str:
        """A case's status over the routes run: failed on any, else skipped, else gap, else passed."""
        found = {rs[index].status for rs in self.results.values()}
        return next((s for s in ("failed", "skipped", "gap") if s in found), "passed")

    def stale_gaps(self) -> list[KnownGap]:
        """Known gaps on a route that ran which set nothing aside: the route now agrees."""
        return [g for g in self.gaps if g.where not in self.used_gaps and set(g.routes) & set(self.results)]


def rule_set_dirs(root: Path) -> list[Path]:
    """``root`` itself if it holds rules.yaml, else its subdirectories that do."""
    if (root / "rules.yaml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / "rules.yaml").is_file())


def chosen_routes(option: str | None) -> tuple[tuple[str, ...], str | None]:
    """The routes to run, and a note when the default had to leave the fast routes out."""
    missing = fast_routes_missing()
    if option is None:
        return (ROUTES, None) if missing is None else (("engine",), f"only the engine route ran: {missing}")
    routes = ROUTES if option == "all" else (option,)
    if missing is not None and set(routes) & set(FAST_ROUTES):
        raise ScreenerError(f"--route {option}: {missing}")
    return routes, None


def run_rule_set(path: Path, routes: tuple[str, ...] = ("engine",)) -> RuleSetRun:
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
    gaps, gap_errors = load_gaps(path, (c.id for c in ruleset.criteria))
    outcome.gaps = gaps
    outcome.errors.extend(gap_errors)
    outcome.cases = cases
    if cases:
        with Engine(ruleset) as engine:
            for route in routes:
                outcome.results[route] = run_route(route, engine, cases, gaps, used=outcome.used_gaps)
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


def _case_dict(run_: RuleSetRun, index: int) -> dict[str, Any]:
    c = run_.cases[index]
    per_route = {route: results[index] for route, results in run_.results.items()}
    status = run_.status(index)
    problems = [
        f"[{route}] {p}" if route != "engine" else p for route, r in per_route.items() for p in r.problems
    ]
    return {
        "note": c.note,
        "location": c.where,
        "file": c.file,
        "line": c.line,
        "as_of": c.as_of.isoformat(),
        "patient_id": c.patient.patient_id,
        "status": status,
        "passed": status in ("passed", "gap"),
        "skipped": status == "skipped",
        "problems": problems,
        "routes": {
            route: {"status": r.status, "problems": list(r.problems), "known_gaps": list(r.gaps)}
            for route, r in per_route.items()
        },
    }


def _gap_dict(run_: RuleSetRun, gap: KnownGap) -> dict[str, Any]:
    return {
        "where": gap.where,
        "routes": list(gap.routes),
        "case": gap.case,
        "criteria": list(gap.criteria),
        "reason": gap.reason,
        "used": gap.where in run_.used_gaps,
        "stale": gap in run_.stale_gaps(),
    }


def _summary(runs: list[RuleSetRun], routes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "cases": sum(len(r.cases) for r in runs),
        "passed": sum(r.count("passed") for r in runs),
        "failed": sum(r.count("failed") for r in runs),
        "skipped": sum(r.count("skipped") for r in runs),
        "gap": sum(r.count("gap") for r in runs),
        "errors": sum(len(r.errors) for r in runs),
        "empty_rule_sets": sum(1 for r in runs if not r.cases and not r.errors),
        "stale_gaps": sum(len(r.stale_gaps()) for r in runs),
        "routes": {route: {s: sum(r.count(s, route) for r in runs) for s in STATUSES} for route in routes},
    }


def _render_text(runs: list[RuleSetRun], routes: tuple[str, ...], verbose: bool) -> str:
    out: list[str] = []
    for run_ in runs:
        out.append(f"rule set {run_.ruleset_id or '?'} ({run_.dir})")
        for route, results in run_.results.items():
            for r in results:
                if (r.status == "passed" and not verbose) or (r.status == "skipped" and route != routes[0]):
                    continue
                out.append(f"  {r.status.upper():7} [{route}] {r.case.where}  {r.case.note}")
                if r.status == "failed":
                    out.extend(f"          - {p}" for p in r.problems)
                if r.gaps:
                    out.extend(f"          ~ {g}" for g in r.gaps)
        if not run_.cases and not run_.errors:
            out.append("  no cases (expected tests/*.yaml with a cases: list)")
        for route in run_.results:
            out.append(
                f"  {route:6}: {run_.count('passed', route)} passed, {run_.count('failed', route)} failed, "
                f"{run_.count('skipped', route)} skipped, {run_.count('gap', route)} with known gaps"
            )
        if run_.gaps:
            out.append(f"  known gaps ({run_.dir / GAPS_FILE}):")
            stale = run_.stale_gaps()
            for g in run_.gaps:
                mark = (
                    "STALE (covered nothing: remove it)"
                    if g in stale
                    else "used"
                    if g.where in run_.used_gaps
                    else "not run"
                )
                scope = ", ".join(
                    filter(None, [g.case and f"case {g.case!r}", g.criteria and " ".join(g.criteria)])
                )
                out.append(f"    {g.where} [{'/'.join(g.routes)}] {scope}: {g.reason} - {mark}")
        out.append(
            f"  {run_.count('passed')} passed, {run_.count('failed')} failed, "
            f"{run_.count('skipped')} skipped, {len(run_.errors)} errors"
        )
    s = _summary(runs, routes)
    out.append(
        f"{s['cases']} cases: {s['passed']} passed, {s['failed']} failed, "
        f"{s['skipped']} skipped; {s['errors']} errors"
        + (" (on stderr)" if s["errors"] else "")
        + f"; routes {', '.join(routes)}"
        + (f"; {s['gap']} with known gaps" if s["gap"] else "")
        + (f"; {s['stale_gaps']} stale known gaps" if s["stale_gaps"] else "")
    )
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace) -> int:
    root: Path = args.dir
    dirs = rule_set_dirs(root)
    if not dirs:
        raise InputError(
            "no rule set here (expected rules.yaml, or subdirectories holding one)", Location(str(root))
        )
    routes, note = chosen_routes(args.route)
    runs = [run_rule_set(d, routes) for d in dirs]
    summary = _summary(runs, routes)
    if args.format == "json":
        document = {
            "schema_version": JSON_SCHEMA_VERSION,
            "routes": list(routes),
            "summary": summary,
            "rule_sets": [
                {
                    "dir": str(r.dir),
                    "id": r.ruleset_id,
                    "cases": [_case_dict(r, i) for i in range(len(r.cases))],
                    "known_gaps": [_gap_dict(r, g) for g in r.gaps],
                    "errors": [_error_dict(e) for e in r.errors],
                }
                for r in runs
            ],
        }
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_render_text(runs, routes, args.verbose))
    if note:
        print(f"screener: note: {note}", file=sys.stderr)
    for r in runs:
        for error in r.errors:
            print(f"screener: error: {error}", file=sys.stderr)
    if summary["errors"]:
        return exit_codes.INPUT_ERROR
    failed = summary["failed"] or summary["stale_gaps"]
    if failed or (args.fail_on_empty and summary["empty_rule_sets"]):
        return exit_codes.FINDINGS
    return exit_codes.OK
