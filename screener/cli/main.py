"""Entry point of the ``screener`` console script.

Each command lives in its own module under :mod:`screener.cli.commands` and
exposes ``register(subparsers)``; the module's ``run(args) -> int`` does the work.
Errors the screener raises on purpose (:class:`ScreenerError`) are printed to
stderr as ``file:line: field: message`` and exit 2; stdout carries only results.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from screener import __version__
from screener.cli import exit_codes
from screener.cli.output import OutputClosed, quiet_stdout
from screener.cli.usage import ScreenerParser, add_exit_codes
from screener.errors import ScreenerError


def build_parser() -> argparse.ArgumentParser:
    parser = ScreenerParser(
        prog="screener",
        description="Explainable eligibility screening for clinical trials.",
        epilog="exit codes: 0 ok; 1 findings (lint, failing cases, records not screened); "
        "2 unusable input or bad usage; 130 interrupted. Each command's --help lists its own.",
    )
    parser.add_argument("--version", action="version", version=f"screener {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from screener.cli import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"screener.cli.commands.{info.name}")
        module.register(sub)
    add_exit_codes(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command, for batch summaries
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return exit_codes.INPUT_ERROR
    try:
        return int(args.run(args))
    except ScreenerError as error:
        print(f"screener: error: {error}", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    except OutputClosed:  # the reader of stdout stopped early (| head): nothing to say
        return exit_codes.OK
    except BrokenPipeError:
        quiet_stdout()
        return exit_codes.OK
    except KeyboardInterrupt:
        print("screener: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
