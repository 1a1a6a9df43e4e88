"""``screener audit verify LOG``: check the hash chain of an audit trail.

Exit 0 when the chain is intact, 1 when it is broken (each problem printed
with its line), 2 when the log cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from screener.audit.trail import read_entries, verify
from screener.cli import exit_codes


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("audit", help="work with the screening audit trail")
    audit_sub = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    parser.set_defaults(run=lambda args: _usage(parser))

    check = audit_sub.add_parser("verify", help="verify the hash chain of an audit log (JSONL)")
    check.add_argument("log", type=Path, help="audit log file")
    check.add_argument(
        "--head",
        default=None,
        metavar="HASH",
        help="hash the last entry is known to have (detects entries cut from the end)",
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=run_verify)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.INPUT_ERROR


def run_verify(args: argparse.Namespace) -> int:
    problems = verify(args.log, head=args.head)
    count = None if problems else len(read_entries(args.log))
    if args.format == "json":
        doc = {
            "schema_version": "1",
            "file": str(args.log),
            "intact": not problems,
            "entries": count,
            "problems": [p.to_dict() for p in problems],
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif problems:
        for p in problems:
            print(f"{args.log}:{p.line}: {p.kind}: {p.message}")
        print(f"{args.log}: chain broken ({len(problems)} problem(s))", file=sys.stderr)
    else:
        print(f"{args.log}: intact ({count} entries)")
    return exit_codes.FINDINGS if problems else exit_codes.OK
