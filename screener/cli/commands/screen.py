"""``screener screen PATIENT``: screen one patient and explain every criterion."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from screener.cli import exit_codes
from screener.cli.common import add_as_of_argument, add_rules_argument
from screener.cli.output import emit
from screener.engine.evaluate import Engine
from screener.explain.text import render_text
from screener.model.patient import Patient, load_patient
from screener.model.rules import load_ruleset
from screener.portfolio import PortfolioScreener, is_portfolio, load_portfolio


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("screen", help="screen one patient file (YAML or JSON, or a FHIR Bundle)")
    parser.add_argument(
        "patient", help="patient file in screener's native format, or a one-patient FHIR R4 Bundle"
    )
    add_rules_argument(parser)
    add_as_of_argument(parser)
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="with --rules DIR (a folder of rule sets): one line per trial and the next steps, "
        "or a JSON document with every trial's result",
    )
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


def _patient(args: argparse.Namespace) -> Patient:
    """The patient file, native or FHIR; a FHIR file is read with its rule set's mapping(s)."""
    if Path(args.patient).suffix.lower() != ".json":  # native YAML: the importers are not needed
        return load_patient(args.patient)  # (what load_patient_file does with it; ~50 ms less at start)
    from screener.importers import load_patient_file
    from screener.importers.mapping_union import mapping_for_rules

    return load_patient_file(
        args.patient,
        on_issue=lambda issue: print(f"screener: import: {issue}", file=sys.stderr),
        mapping=lambda: mapping_for_rules(args.rules),
    )


def _audit(args: argparse.Namespace, input_sha256: str, as_of: date, **fields: object) -> None:
    """One audit entry for one trial screened (``--audit-log``)."""
    from screener.audit.trail import append_entry

    append_entry(
        args.audit_log,
        operator=args.operator or os.environ.get("USER") or "unknown",
        action="screen",
        input_sha256=input_sha256,
        as_of=as_of.isoformat(),
        **fields,
    )


def run(args: argparse.Namespace) -> int:
    if is_portfolio(args.rules):
        return run_portfolio(args)
    ruleset = load_ruleset(args.rules)
    patient = _patient(args)
    as_of = args.as_of or date.today()
    with Engine(ruleset) as engine:
        result = engine.screen(patient, as_of)
    if args.audit_log:
        from screener.audit.trail import sha256_file

        _audit(
            args,
            sha256_file(args.patient),
            as_of,
            ruleset_sha256=result.ruleset_sha256,
            patient_id=result.patient_id,
            decision=result.decision,
        )
    if args.format == "json":
        emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        emit(render_text(result, ruleset=ruleset, detail=not args.brief))
    return exit_codes.OK


def run_portfolio(args: argparse.Namespace) -> int:
    """``--rules DIR`` of rule sets: every trial, the patient read once; see screener.portfolio."""
    from screener.explain.portfolio import render_portfolio

    portfolio = load_portfolio(args.rules)
    patient = _patient(args)
    as_of = args.as_of or date.today()
    with PortfolioScreener(portfolio) as screener:
        result = screener.screen(patient, as_of)
    if args.audit_log:
        from screener.audit.trail import sha256_file

        input_sha256 = sha256_file(args.patient)
        for trial in sorted(result.trials, key=lambda t: t.trial):  # one entry per trial screened
            _audit(
                args,
                input_sha256,
                as_of,
                ruleset_sha256=trial.result.ruleset_sha256,
                patient_id=result.patient_id,
                trial=trial.trial,
                decision=trial.decision,
            )
    if args.format == "json":
        emit(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        emit(render_portfolio(result, str(args.rules)))
    for broken in result.broken:  # screened the others; each unusable rule set is an error
        print(f"screener: error: {broken.error}", file=sys.stderr)
    return exit_codes.INPUT_ERROR if result.broken else exit_codes.OK
