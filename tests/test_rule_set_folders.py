"""The shipped rule sets form a consistent portfolio: each folder holds one rule set whose id is
the folder's name and whose trial id is the NCT number, no two share a trial, every one loads,
lints clean and has its own criteria catalogue covering exactly its criteria."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from screener.audit.lint import find_catalogue, lint, parse_catalogue
from screener.model.rules import load_ruleset

ROOT = Path(__file__).resolve().parents[1]
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))


def test_there_are_four_trials() -> None:
    assert {d.name for d in RULE_SET_DIRS} >= {"nct03562065", "nct03917797", "nct00732940", "nct04184258"}


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
def test_id_is_the_folder_and_the_trial(rules_dir: Path) -> None:
    ruleset = load_ruleset(rules_dir)
    assert ruleset.id == rules_dir.name
    assert re.fullmatch(r"NCT\d{8}", ruleset.trial)
    assert ruleset.trial.lower() == ruleset.id


def test_no_two_rule_sets_share_a_trial() -> None:
    trials = [load_ruleset(d).trial for d in RULE_SET_DIRS]
    assert len(trials) == len(set(trials))


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
def test_lints_clean_against_its_own_catalogue(rules_dir: Path) -> None:
    ruleset = load_ruleset(rules_dir)
    catalogue = find_catalogue(ruleset)
    assert catalogue is not None
    ids = parse_catalogue(catalogue.read_text(encoding="utf-8"))
    assert sorted(ids) == sorted(c.id for c in ruleset.criteria), catalogue
    assert [str(f) for f in lint(ruleset, ids)] == []


PROTOCOLS = ROOT.parent / "shared" / "protocol"


def _folded(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
def test_every_quote_is_word_for_word_in_the_registry_text(rules_dir: Path) -> None:
    ruleset = load_ruleset(rules_dir)
    source = PROTOCOLS / f"{ruleset.trial}.txt"
    if not source.is_file():
        pytest.skip(f"{source} not available")
    text = _folded(source.read_text(encoding="utf-8"))
    bullets_removed = _folded(text.replace("- ", " "))  # a quote may span a bullet and its paragraphs
    missing = [
        c.id
        for c in ruleset.criteria
        if _folded(c.quote) not in text and _folded(c.quote) not in bullets_removed
    ]
    assert missing == []
