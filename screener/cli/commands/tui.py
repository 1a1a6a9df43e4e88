"""``screener tui [PATIENT]``: the terminal UI for research nurses (needs the ``tui`` extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from screener.cli import exit_codes
from screener.cli.common import add_as_of_argument, add_rules_argument


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser(
        "tui",
        help="interactive screening: explanations, fact entry, what-if dates, saved records",
        description=(
            "The terminal UI for one patient: the decision, every criterion explained, the to-do "
            "list of facts to collect, forms to enter facts and correct the history, what-if dates, "
            "saved screening records. PATIENT is a native YAML/JSON patient file or a FHIR R4 "
            "Bundle holding one patient (as for screener screen); without it, open a file or an "
            "earlier record from inside (o). With --rules DIR, a folder of rule sets, it opens on the "
            "portfolio: one row per trial and the to-do across trials; enter shows a trial's criteria."
        ),
    )
    parser.add_argument(
        "patient",
        nargs="?",
        help="patient file: native YAML/JSON, or a one-patient FHIR R4 Bundle (JSON)",
    )
    add_rules_argument(parser)
    add_as_of_argument(parser)
    parser.add_argument(
        "--records",
        type=Path,
        default=Path("screenings"),
        help="directory of screening records (default: ./screenings)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from screener.tui.app import make_app  # textual is imported only here, when asked for
    except ImportError as error:
        print(
            f"screener: error: the TUI needs textual ({error}); install with: pip install 'screener[tui]'",
            file=sys.stderr,
        )
        return exit_codes.INPUT_ERROR
    app = make_app(args.patient, args.rules, args.as_of, records_dir=args.records)
    try:
        app.run()
    finally:
        app.close_engine()
    return exit_codes.OK
