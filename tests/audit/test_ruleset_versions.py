"""An auditor diffing NCT03562065 1.0.0 (commit e492ec0) with 1.1.0 sees exactly the criteria of
issue 12 change, and 1.1.0 with the current 1.1.1 exactly the readings of issue 11 §5 (E14, E16);
the changelog lists each under its version."""

from __future__ import annotations

import re
from pathlib import Path

from screener.audit.diff import diff_rulesets, render_text
from screener.model.rules import load_ruleset

REPO = Path(__file__).resolve().parents[2]
PREVIOUS = REPO / "tests" / "data" / "previous" / "nct03562065-1.0.0.yaml"  # git show e492ec0:rules/...
V1_1_0 = REPO / "tests" / "data" / "previous" / "nct03562065-1.1.0.yaml"  # the rules.yaml of 1.1.0
CURRENT = REPO / "rules" / "nct03562065"
# issue 11 §5: the readings of E14 and E16 say which absence counts as "none" (tests unchanged)
READINGS_1_1_1 = {"E14", "E16"}

# issue 12: 1 E5; 3 I5; 4 I6, E1; 5 I4a, I4b, I5; 6 E9; 7 E10, E6, E7, E11; 8 I6, E1 (declared conflict)
CHANGED = {"E5", "I5", "I6", "E1", "I4a", "I4b", "E9", "E10", "E6", "E7", "E11"}


def test_diff_from_1_0_0_shows_exactly_the_corrected_criteria() -> None:
    old, new = load_ruleset(PREVIOUS), load_ruleset(V1_1_0)
    assert (old.version, new.version) == ("1.0.0", "1.1.0")
    diff = diff_rulesets(old, new)
    criteria = {c.id for c in new.criteria}
    changed = {c.subject for c in diff.changes if c.subject in criteria}
    assert changed == CHANGED
    # every changed criterion changed its reading too (the reading says how it is now read)
    assert {c.subject for c in diff.changes if c.kind == "reading"} == CHANGED
    others = {c.subject for c in diff.changes if c.subject not in criteria}
    assert others == {
        "ruleset",
        "fact hcv_antibody",
        "fact anti_hbc",
        "fact sle_treatment_ongoing",
        "conflict pregnant/pregnancy_test",
    }
    text = render_text(diff)
    assert (
        "contradiction added: pregnant = false and pregnancy_test = positive within 7 days (read by I6, E1)"
        in text
    )


def test_diff_from_1_1_0_shows_only_the_e14_and_e16_readings() -> None:
    old, new = load_ruleset(V1_1_0), load_ruleset(CURRENT)
    assert (old.version, new.version) == ("1.1.0", "1.1.1")
    diff = diff_rulesets(old, new)
    assert {(c.subject, c.kind) for c in diff.changes if c.subject != "ruleset"} == {
        (cid, "reading") for cid in READINGS_1_1_1
    }


def test_changelog_lists_the_version_and_each_changed_criterion() -> None:
    changelog = (CURRENT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert load_ruleset(CURRENT).version == "1.1.1"
    for version, changed in (("1.1.1", READINGS_1_1_1), ("1.1.0", CHANGED)):
        section = changelog.split(f"## {version}", 1)[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"\*\*([IE]\d+[ab]?)\*\*", section))
        assert listed == changed, version


def test_rules_report_shows_the_new_readings_and_logic() -> None:
    from screener.audit.report import build_report, render_markdown

    rs = load_ruleset(CURRENT)
    text = " ".join(render_markdown(build_report(rs, CURRENT)).split())
    for cid in sorted(CHANGED):
        assert " ".join(rs.criterion(cid).reading.split()) in text, cid
    assert (
        "pao2.on_oxygen != false (when it holds: unknown, to collect: a room-air arterial blood gas" in text
    )
    assert "hcv_antibody = positive (when it holds: unknown" in text
