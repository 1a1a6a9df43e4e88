"""``screener audit``: the screening audit trail.

- ``verify LOG [--key PUB]... [--head SEQ:HASH] [--records DIR]``: check the log, its
  signatures, the screening records and the batch outputs it names. Exit 0 when intact,
  1 when something is wrong (each finding printed with its line and entry), 2 when the log
  or a key cannot be read.
- ``head LOG``: print ``SEQ:HASH`` of the last entry, to note outside the log.
- ``keygen PRIVATE PUBLIC``: a new Ed25519 key pair for signing the trail.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from screener.audit.keys import PUBLIC_KEY_ENV, generate, load_public_keys
from screener.audit.trail import head_of
from screener.audit.verify import verify_log
from screener.cli import exit_codes


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("audit", help="work with the screening audit trail")
    audit_sub = parser.add_subparsers(dest="audit_command", metavar="SUBCOMMAND")
    parser.set_defaults(run=lambda args: _usage(parser))

    check = audit_sub.add_parser(
        "verify", help="verify an audit log (JSONL): chain, signatures, records and batch outputs"
    )
    check.add_argument("log", type=Path, help="audit log file")
    check.add_argument(
        "--key",
        action="append",
        default=None,
        metavar="PUBLIC_KEY",
        help=(
            "Ed25519 public key (PEM) the log is signed with; repeat for rotated keys "
            f"(default: ${PUBLIC_KEY_ENV})"
        ),
    )
    check.add_argument(
        "--head",
        default=None,
        metavar="SEQ:HASH",
        help="the last entry as noted earlier ('screener audit head'): detects entries cut from the end",
    )
    check.add_argument(
        "--records",
        type=Path,
        default=None,
        metavar="DIR",
        help="screening records directory: each TUI save is compared with its record",
    )
    check.add_argument(
        "--no-outputs", action="store_true", help="do not re-hash the output files of batch entries"
    )
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.set_defaults(run=run_verify)

    head = audit_sub.add_parser("head", help="print SEQ:HASH of the last entry (note it outside the log)")
    head.add_argument("log", type=Path)
    head.set_defaults(run=run_head)

    keygen = audit_sub.add_parser("keygen", help="write a new Ed25519 key pair for signing the trail")
    keygen.add_argument("private", type=Path, help="private key file to create (mode 0600)")
    keygen.add_argument("public", type=Path, help="public key file to create (give it to inspectors)")
    keygen.set_defaults(run=run_keygen)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return exit_codes.INPUT_ERROR


def run_verify(args: argparse.Namespace) -> int:
    key_files = args.key or ([os.environ[PUBLIC_KEY_ENV]] if os.environ.get(PUBLIC_KEY_ENV) else [])
    keys = load_public_keys(key_files)
    report = verify_log(
        args.log, head=args.head, keys=keys or None, records=args.records, outputs=not args.no_outputs
    )
    if args.format == "json":
        doc = {
            "schema_version": "2",
            "file": str(args.log),
            "intact": report.intact,
            "entries": report.entries,
            "signed": report.signed,
            "last_signed_seq": report.last_signed_seq,
            "keys": sorted(keys),
            "problems": [p.to_dict() for p in report.problems],
            "notes": report.notes,
        }
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif report.problems:
        for p in report.problems:
            where = f"{args.log}:{p.line}" if p.line else str(args.records or args.log)
            print(f"{where}: {p.kind}: {p.message}")
        for note in report.notes:
            print(f"{args.log}: note: {note}", file=sys.stderr)
        print(f"{args.log}: NOT intact ({len(report.problems)} problem(s))", file=sys.stderr)
    else:
        signed = f", {report.signed} signed, last signed seq {report.last_signed_seq}" if keys else ""
        print(f"{args.log}: intact ({report.entries} entries{signed})")
        for note in report.notes:
            print(f"{args.log}: note: {note}", file=sys.stderr)
    return exit_codes.FINDINGS if report.problems else exit_codes.OK


def run_head(args: argparse.Namespace) -> int:
    print(head_of(args.log))
    return exit_codes.OK


def run_keygen(args: argparse.Namespace) -> int:
    key_id = generate(args.private, args.public)
    print(f"key {key_id}: private {args.private} (keep it with the writers), public {args.public}")
    return exit_codes.OK
