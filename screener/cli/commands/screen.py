"""``screener screen PATIENT``: screen one patient and explain every criterion."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date

from screener.cli import exit_codes
from screener.cli.common import add_as_of_argument, add_rules_argument
from screener.cli.output import emit
from screener.engine.evaluate import Engine
from screener.explain.text import render_text
from screener.model.rules import load_ruleset


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("screen", help="screen one patient file (YAML or JSON, or a FHIR Bundle)")
    parser.add_argument(
        "patient", help="patient file in screener's native format, or a one-patient FHIR R4 Bundle"
    )
    add_rules_argument(parser)
    add_as_of_argument(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--brief",
        action="store_true",
        help="text: the summary only (decision, what stands in the way, the to-do), no detail",
    )
    parser.add_argument(
        "--audit-log",
        default=os.environ.get("SCREENER_AUDIT_LOG") or None,
        help="append the decision to this hash-chained audit log (default: $SCREENER_AUDIT_LOG)",
    )
    parser.add_argument("--operator", default=None, help="who screens, for the audit log (default: $USER)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from screener.importers import load_patient_file  # native files, or a one-patient FHIR Bundle

    ruleset = load_ruleset(args.rules)
    patient = load_patient_file(
        args.patient, on_issue=lambda issue: print(f"screener: import: {issue}", file=sys.stderr)
    )
    as_of = args.as_of or date.today()
    with Engine(ruleset) as engine:
        result = engine.screen(patient, as_of)
    if args.audit_log:
        from screener.audit.trail import append_entry, sha256_file

        append_entry(
            args.audit_log,
            operator=args.operator or os.environ.get("USER") or "unknown",
            action="screen",
            ruleset_sha256=result.ruleset_sha256,
            input_sha256=sha256_file(args.patient),
            patient_id=result.patient_id,
            decision=result.decision,
            as_of=as_of.isoformat(),
        )
    if args.format == "json":
        emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        emit(render_text(result, ruleset=ruleset, detail=not args.brief))
    return exit_codes.OK
