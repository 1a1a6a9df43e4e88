"""Every fixture case kept beside a rule set (rules/*/tests/*.yaml), one pytest test each.

The ids are ``file:line note`` so a failure points at the case to read. Cases whose
note starts with ``todo:`` record a suspected engine or rule bug: they are skipped
with the note as the reason. A case file that cannot be used fails its own test.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from screener.cases import TODO_PREFIX, Case, collect_cases, run_case
from screener.engine.evaluate import Engine
from screener.errors import InputError
from screener.model.rules import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[1]
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))

# Outcomes a criterion cannot reach, with the reason (checked by test_every_criterion_has_...).
UNREACHABLE: dict[tuple[str, str, str], str] = {
    ("nct03562065", "E10", "unknown"): (
        "no biologic recorded counts as none, and every recorded period has a last dose "
        "(its administrations, its end, or the screening date while ongoing)"
    ),
    ("nct04184258", "E1", "unknown"): (
        "the nephrologist's statement, else the record, always decides: an end-stage renal "
        "disease or dialysis dependence is active or not, and none recorded counts as none"
    ),
}


def _load() -> tuple[dict[Path, RuleSet], list[tuple[Path, Case]], list[tuple[Path, InputError]]]:
    rulesets: dict[Path, RuleSet] = {}
    cases: list[tuple[Path, Case]] = []
    errors: list[tuple[Path, InputError]] = []
    for d in RULE_SET_DIRS:
        try:
            rulesets[d] = load_ruleset(d)
            found, bad = collect_cases(d, rulesets[d])
        except InputError as error:
            errors.append((d, error))
            continue
        cases.extend((d, c) for c in found)
        errors.extend((d, e) for e in bad)
    return rulesets, cases, errors


RULESETS, CASES, ERRORS = _load()


def _case_id(item: tuple[Path, Case]) -> str:
    _, case = item
    return f"{Path(case.file).relative_to(ROOT / 'rules')}:{case.line} {case.note}"


@pytest.fixture(scope="module")
def engines() -> Iterator[dict[Path, Engine]]:
    """One engine per rule set, compiled once and reused by every case."""
    made: dict[Path, Engine] = {}
    try:
        yield made
    finally:
        for engine in made.values():
            engine.close()


def _engine(engines: dict[Path, Engine], rules_dir: Path) -> Engine:
    if rules_dir not in engines:
        engines[rules_dir] = Engine(RULESETS[rules_dir])
    return engines[rules_dir]


@pytest.mark.parametrize("item", CASES, ids=_case_id)
def test_rule_case(item: tuple[Path, Case], engines: dict[Path, Engine]) -> None:
    rules_dir, case = item
    if case.todo:
        pytest.skip(case.note)
    result = run_case(_engine(engines, rules_dir), case)
    assert result.passed, f"{case.where}: {case.note}\n  " + "\n  ".join(result.problems)


@pytest.mark.parametrize("item", ERRORS or [None], ids=lambda i: "case files" if i is None else str(i[1]))
def test_case_files_are_usable(item: tuple[Path, InputError] | None) -> None:
    assert item is None, f"unusable case file: {item[1] if item else ''}"


def test_there_are_rule_sets_with_cases() -> None:
    assert RULE_SET_DIRS, "no rules/*/rules.yaml found"
    assert len(CASES) >= 100


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
def test_every_criterion_has_pass_fail_and_unknown_cases(rules_dir: Path) -> None:
    ruleset = RULESETS[rules_dir]
    seen: dict[str, set[str]] = defaultdict(set)
    for d, case in CASES:
        if d == rules_dir and not case.todo:
            for cid, outcome in case.want.criteria.items():
                seen[cid].add(outcome)
    gaps = []
    for criterion in ruleset.criteria:
        for outcome in ("pass", "fail", "unknown"):
            if outcome in seen[criterion.id] or (ruleset.id, criterion.id, outcome) in UNREACHABLE:
                continue
            gaps.append(f"{criterion.id}: no {outcome} case")
    assert not gaps, "; ".join(gaps)


TODO_CASES = [item for item in CASES if item[1].todo]


@pytest.mark.parametrize("item", TODO_CASES, ids=_case_id)
def test_todo_case_still_shows_its_bug(item: tuple[Path, Case], engines: dict[Path, Engine]) -> None:
    """A ``todo:`` case records a known bug: it must still fail when run. When it passes,
    the bug is fixed: remove the ``todo:`` prefix so the case guards the fix."""
    rules_dir, case = item
    result = run_case(_engine(engines, rules_dir), replace(case, note=case.note[len(TODO_PREFIX) :].strip()))
    assert not result.passed, f"{case.where}: passes now; remove 'todo:' from its note"


def test_every_patient_story_is_screened_by_a_case() -> None:
    stories = sorted((ROOT / "fixtures" / "patients").glob("*.yaml"))
    used = {case.patient.file for _, case in CASES}
    assert stories
    assert [s.name for s in stories if str(s) not in used] == []
