from __future__ import annotations

from pathlib import Path

import pytest

from screener.errors import RuleSpecError
from screener.model.rules import parse_ruleset
from tests.conftest import RULES_DIR

GOOD = (RULES_DIR / "rules.yaml").read_text(encoding="utf-8")


def test_the_trial_rule_set_covers_every_catalogue_criterion(ruleset) -> None:  # type: ignore[no-untyped-def]
    ids = {c.id for c in ruleset.criteria}
    expected = {f"I{i}" for i in (1, 2, 3, 5, 6, 7, 8, 9)} | {"I4a", "I4b"} | {f"E{i}" for i in range(1, 17)}
    assert ids == expected
    for c in ruleset.criteria:
        assert c.quote.strip() and c.reading.strip()
    person_only = {c.id for c in ruleset.criteria if c.person_only}
    assert person_only == {"I8", "I9", "E12", "E13", "E15"}


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_fact_is_reported_with_line_and_suggestion() -> None:
    broken = GOOD.replace("{fact: selena_sledai, gte: 6", "{fact: selena_sledia, gte: 6")
    with pytest.raises(RuleSpecError) as info:
        parse_ruleset(broken, "rules.yaml")
    assert "did you mean 'selena_sledai'" in str(info.value)
    assert info.value.location is not None
    assert info.value.location.line == _line_of(broken, "selena_sledia")


def test_threshold_in_the_wrong_unit_is_an_error() -> None:
    broken = GOOD.replace(
        "{fact: crcl_cockcroft_gault, lt: 30, unit: mL/min}",
        "{fact: crcl_cockcroft_gault, lt: 30, unit: mL/s}",
    )
    with pytest.raises(RuleSpecError, match="does not match"):
        parse_ruleset(broken, "rules.yaml")


def test_schema_violation_names_file_line_and_path() -> None:
    broken = GOOD.replace(
        "    type: inclusion\n    title: Age 18 to 69 years",
        "    type: inclusive\n    title: Age 18 to 69 years",
    )
    with pytest.raises(RuleSpecError) as info:
        parse_ruleset(broken, "rules.yaml")
    loc = info.value.location
    assert loc is not None and loc.file == "rules.yaml"
    assert loc.field == "criteria[0].type"
    assert loc.line == _line_of(broken, "type: inclusive")


def test_unknown_function_is_suggested() -> None:
    broken = GOOD.replace("function: cockcroft_gault", "function: cockroft_gault")
    with pytest.raises(RuleSpecError, match="did you mean 'cockcroft_gault'"):
        parse_ruleset(broken)


def test_malformed_yaml_is_a_rule_spec_error(tmp_path: Path) -> None:
    with pytest.raises(RuleSpecError, match="malformed YAML"):
        parse_ruleset(GOOD + "\n  - [unclosed\n", "rules.yaml")


def test_rule_files_cannot_smuggle_python() -> None:
    evil = GOOD.replace('schema_version: "1"', 'schema_version: !!python/object/apply:os.system ["echo hi"]')
    with pytest.raises(RuleSpecError):
        parse_ruleset(evil)


def test_window_on_a_number_is_rejected() -> None:
    broken = GOOD.replace(
        "{fact: selena_sledai, gte: 6, unit: '{score}'}", "{fact: selena_sledai, max_ago: {days: 3}}"
    )
    with pytest.raises(RuleSpecError, match="needs a date"):
        parse_ruleset(broken)


def test_all_semantic_errors_are_listed_not_just_the_first() -> None:
    from screener.model.rules import ruleset_errors

    broken = GOOD.replace("{fact: selena_sledai, gte: 6", "{fact: selena_sledia, gte: 6").replace(
        "function: cockcroft_gault", "function: cockroft_gault"
    )
    messages = [str(e) for e in ruleset_errors(broken, "rules.yaml")]
    assert any("selena_sledia" in m for m in messages)
    assert any("cockroft_gault" in m for m in messages)
    assert ruleset_errors(GOOD, "rules.yaml") == []
