"""Usage errors a person can act on, and exit codes in every ``--help``.

* A misspelled option is reported with the usage of the subcommand it was given to (not the
  top-level usage) and the closest option it knows: ``screener screen: error: unrecognized
  arguments: --rulse (did you mean --rules?)``.
* A misspelled choice (a subcommand, a ``--format``) gets the same suggestion.
* Every subcommand's help ends with its exit codes (pip and ruff treat them as an API).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

#: exit codes per command path, shown at the end of its --help
EXIT_CODES: dict[str, str] = {
    "screen": "0 a screening result (eligible, ineligible or incomplete); 2 unusable rule or patient "
    "file, bad usage; 130 interrupted",
    "batch": "0 every record screened; 1 some records could not be screened (see the errors file); "
    "2 unusable input, rule file or option; 130 interrupted (continue with --resume)",
    "convert": "0 every record converted; 1 some records had errors (the rest was converted); "
    "2 the input or a mapping cannot be used at all",
    "tui": "0 normal exit; 2 unusable rule or patient file, textual not installed",
    "test": "0 every fixture case passes; 1 a case fails (or none found with --fail-on-empty); "
    "2 unusable rule or case file",
    "rules": "see each subcommand: 0 ok, 1 findings, 2 unusable rule file or bad usage",
    "rules check": "0 clean; 1 lint findings; 2 a rule file cannot be used",
    "rules report": "0 report written; 2 a rule file cannot be used",
    "rules show": "0 shown; 2 unknown criterion or unusable rule file",
    "rules diff": "0 compared (with --exit-code: no changes); 1 changes with --exit-code; "
    "2 unusable rule file",
    "rules new": "0 draft written; 2 unreadable registry record, or a rule set already there "
    "(without --overwrite)",
    "audit": "see each subcommand",
    "audit verify": "0 the trail is intact; 1 findings (edited, removed, reordered, inserted, appended or "
    "truncated entries; changed or missing records and outputs); 2 unreadable log or key",
    "audit head": "0 printed; 2 unreadable log",
    "audit keygen": "0 key pair written; 2 cannot write the key files",
}

_CHOICE = re.compile(r"invalid choice: '(?P<value>[^']*)' \(choose from (?P<choices>.*)\)")


def _suggest(word: str, options: Sequence[str]) -> str | None:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


class ScreenerParser(argparse.ArgumentParser):
    """argparse, with errors that name the subcommand's usage and suggest a spelling."""

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:  # type: ignore[override]
        words = list(sys.argv[1:] if args is None else args)
        parsed, extras = self.parse_known_args(words, namespace)
        if extras:
            target = self._chosen(parsed)
            message = f"unrecognized arguments: {' '.join(extras)}"
            options = [o for a in target._actions for o in a.option_strings]
            hints = []
            for extra in extras:
                if extra.startswith("-"):
                    best = _suggest(extra.split("=", 1)[0], options)
                    if best:
                        hints.append(f"{extra}: did you mean {best}?")
            if hints:
                message += " (" + "; ".join(hints) + ")"
            target.error(message)
        return parsed

    def _chosen(self, parsed: Any) -> argparse.ArgumentParser:
        """The deepest subcommand parser the words chose."""
        parser: argparse.ArgumentParser = self
        while True:
            subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
            if not subs:
                return parser
            name = getattr(parsed, subs[0].dest or "", None)
            if name is None or name not in subs[0].choices:
                return parser
            parser = subs[0].choices[name]

    def error(self, message: str) -> NoReturn:
        match = _CHOICE.search(message)
        if match is not None:
            choices = re.findall(r"'([^']*)'", match["choices"])
            best = _suggest(match["value"], choices)
            if best:
                message += f"; did you mean {best!r}?"
        super().error(message)


def add_exit_codes(parser: argparse.ArgumentParser, path: str = "") -> None:
    """Append 'exit codes: ...' to the help of every subcommand under ``parser``."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for name, sub in action.choices.items():
            full = f"{path} {name}".strip()
            codes = EXIT_CODES.get(full)
            if codes:
                epilog = f"exit codes: {codes}."
                sub.epilog = f"{sub.epilog}\n\n{epilog}" if sub.epilog else epilog
            add_exit_codes(sub, full)
