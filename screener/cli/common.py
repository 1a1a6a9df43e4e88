"""Arguments and helpers shared by several commands."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

DEFAULT_RULES = Path("rules/nct03562065")
# An editable install (pip install -e .) also finds the bundled rule set from elsewhere.
_CHECKOUT_RULES = Path(__file__).resolve().parents[2] / DEFAULT_RULES


def default_rules() -> Path:
    """rules/nct03562065 under the current directory, else the one of this checkout."""
    if not DEFAULT_RULES.exists() and _CHECKOUT_RULES.exists():
        return _CHECKOUT_RULES
    return DEFAULT_RULES


def positive_int(text: str) -> int:
    """argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {value}")
    return value


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)", re.IGNORECASE)
_BYTES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_BYTES |= {"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
MIN_MEMORY = 100 * 10**6  # below it DuckDB cannot hold one range's query of a rule set


def memory_size(text: str) -> str:
    """argparse type: a DuckDB memory size of at least 100MB ("300MB", "1.5GB", "512MiB")."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size such as 300MB or 1GB: {text!r}")
    if float(match[1]) * _BYTES[match[2].upper()] < MIN_MEMORY:
        raise argparse.ArgumentTypeError(f"at least 100MB: {text!r}")
    return f"{match[1]}{match[2].upper().replace('I', 'i')}"


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_rules_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        type=Path,
        default=default_rules(),
        help=f"rule set directory or rules.yaml (default: {DEFAULT_RULES})",
    )


def add_as_of_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as-of",
        type=iso_date,
        default=None,
        help="screening date YYYY-MM-DD (default: today)",
    )
