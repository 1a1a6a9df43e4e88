"""Entry point of the ``screener`` console script.

Each command lives in its own module under :mod:`screener.cli.commands` and
exposes ``register(subparsers)``; the module's ``run(args) -> int`` does the work.
Errors the screener raises on purpose (:class:`ScreenerError`) are printed to
stderr as ``file:line: field: message`` and exit 2; stdout carries only results.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from screener import __version__, fileio
from screener.cli import exit_codes
from screener.cli.output import OutputClosed, quiet_stdout
from screener.cli.usage import ScreenerParser, add_exit_codes
from screener.errors import ScreenerError
from screener.explain.words import safe


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command-line parser; with ``argv``, only the command it names is registered.

    Each command module imports what its command needs (the batch command pulls in
    DuckDB and numpy, the TUI textual): registering all of them would make every
    command, ``screener screen`` too, pay for every other command's imports. Without
    ``argv``, or when ``argv`` names no command (``--help``, a misspelling that
    wants suggestions), all commands are registered.
    """
    parser = ScreenerParser(
        prog="screener",
        description="Explainable eligibility screening for clinical trials.",
        epilog="exit codes: 0 ok; 1 findings (lint, failing cases, records not screened); "
        "2 unusable input or bad usage; 130 interrupted. Each command's --help lists its own.",
    )
    parser.add_argument("--version", action="version", version=f"screener {__version__}")
    parser.add_argument(
        "--max-input-mb",
        type=_megabytes,
        default=None,
        metavar="N",
        help=f"largest input file read whole, in MB (default: {fileio.max_input_bytes // 2**20}, "
        "or $SCREENER_MAX_INPUT_MB); a cap against runaway inputs such as /dev/zero",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from screener.cli import commands

    names = sorted(info.name for info in pkgutil.iter_modules(commands.__path__))
    chosen = _command_named(argv, names) if argv is not None else None
    if chosen:
        names = [chosen]
    elif argv is not None and _only_version(argv):
        names = []  # argparse prints the version and exits before any command runs
    for name in names:
        module = importlib.import_module(f"screener.cli.commands.{name}")
        module.register(sub)
    add_exit_codes(parser)
    return parser


#: top-level options that take a value (the word after them is not the command)
_OPTIONS_WITH_VALUE = ("--max-input-mb",)


def _command_named(argv: Sequence[str], names: Sequence[str]) -> str | None:
    """The command ``argv`` chooses (its first positional word), if it is one of ``names``.

    Each command module registers the subcommand of its own name.
    """
    words = iter(argv)
    for word in words:
        if word == "--":
            word = next(words, "")
            return word if word in names else None
        if word in _OPTIONS_WITH_VALUE:
            next(words, None)
            continue
        if word.startswith("-"):
            continue
        return word if word in names else None
    return None


def _only_version(argv: Sequence[str]) -> bool:
    """``screener --version`` (no help asked): no command needs to be known."""
    return "--version" in argv and not any(w in ("-h", "--help") for w in argv)


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of megabytes: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of megabytes: {text!r}")
    return value


def _input_named(args: argparse.Namespace) -> str:
    """The input file(s) a command was given, to name in an unexpected error."""
    for attr in ("patient", "path", "paths", "inputs", "dir", "log", "rules"):
        value = getattr(args, attr, None)
        if value:
            return ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return "input"


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    args.argv = words  # the command, for batch summaries
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return exit_codes.INPUT_ERROR
    if args.max_input_mb is not None:
        fileio.set_max_input_mb(args.max_input_mb)
        os.environ["SCREENER_MAX_INPUT_MB"] = str(args.max_input_mb)  # for worker processes
    try:
        return int(args.run(args))
    except ScreenerError as error:
        # ids and file names come from the input: escaped, so they cannot steer the terminal
        print(f"screener: error: {safe(str(error))}", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    except OutputClosed:  # the reader of stdout stopped early (| head): nothing to say
        return exit_codes.OK
    except BrokenPipeError:
        quiet_stdout()
        return exit_codes.OK
    except KeyboardInterrupt:
        print("screener: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    # The last line of defence: whatever input reaches here, the user gets one line
    # naming the input and exit 2, never a traceback.
    except RecursionError:
        print(f"screener: error: {_input_named(args)}: input nested too deeply to process", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    except MemoryError:
        print(
            f"screener: error: {_input_named(args)}: input too large for the memory available",
            file=sys.stderr,
        )
        return exit_codes.INPUT_ERROR
    except OSError as error:
        where = error.filename or _input_named(args)
        print(f"screener: error: {where}: {error.strerror or error}", file=sys.stderr)
        return exit_codes.INPUT_ERROR
    except Exception as error:
        print(
            f"screener: error: {_input_named(args)}: unexpected {type(error).__name__}: "
            f"{' '.join(str(error).split())[:300]} "
            "(a screener bug: please report it with this input)",
            file=sys.stderr,
        )
        return exit_codes.INPUT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
