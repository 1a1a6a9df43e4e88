"""Shared helpers for the audit tests: the small rule files in tests/data/rules/."""

from __future__ import annotations

from pathlib import Path

import pytest

from screener.model.rules import RuleSet, parse_ruleset

DATA = Path(__file__).resolve().parent.parent / "data" / "rules"
I1_TEST = """    test:
      all:
        - {fact: age, gte: 18, unit: a}
        - {fact: age, lt: 70, unit: a}
"""


def line_of(path: Path, snippet: str) -> int:
    """1-based line of the first line containing ``snippet``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if snippet in line:
            return number
    raise AssertionError(f"{snippet!r} not in {path}")


def clean_text() -> str:
    return (DATA / "clean.yaml").read_text(encoding="utf-8")


def variant(*subs: tuple[str, str], file: str = "variant.yaml") -> RuleSet:
    """clean.yaml with text replaced (each replacement must apply)."""
    text = clean_text()
    for old, new in subs:
        assert old in text, old
        text = text.replace(old, new, 1)
    return parse_ruleset(text, file)


@pytest.fixture
def data_dir() -> Path:
    return DATA
