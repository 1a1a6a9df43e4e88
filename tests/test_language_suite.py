"""The language-level case suite (tests/data/language): a synthetic rule set that uses every
operator and construct the rule schema allows, with cases on both sides of each boundary, run
on the engine and on both fast routes. A keyword added to the schema without a use and cases
here fails :func:`test_the_suite_uses_every_keyword_the_schema_allows`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from screener.case_routes import FAST_ROUTES, fast_routes_missing, run_route
from screener.cases import Case, load_cases
from screener.engine.evaluate import Engine
from screener.errors import RuleSpecError
from screener.model.rules import load_ruleset, parse_ruleset
from screener.yamlio import load_file

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "tests" / "data" / "language"
SCHEMA = json.loads((ROOT / "screener" / "spec" / "rules.schema.json").read_text(encoding="utf-8"))

# Keys that carry words for people, not semantics: no case can pass or fail on them.
WORDS = {"label", "title", "reading", "notes", "trial", "version", "protocol_source", "criteria_catalogue"}
WORDS |= {"protocol", "section", "quote", "sources", "id", "name", "ruleset", "schema_version"}
# Keys with a reason not to be in a rule set that screens: a draft is not a rule yet (its test
# is a placeholder, `screener rules new` writes it and tests/drafting checks it).
NOT_HERE = {"draft"}


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(SUITE)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with Engine(load_ruleset(SUITE)) as e:
        yield e


# ---------------------------------------------------------------------------- every route


@pytest.mark.parametrize("route", ["engine", *FAST_ROUTES])
def test_every_case_passes_on_every_route(route: str, engine: Engine, cases: list[Case]) -> None:
    if route != "engine" and fast_routes_missing():
        pytest.skip(fast_routes_missing() or "")
    results = run_route(route, engine, cases)
    failed = {r.case.id: r.problems for r in results if r.status != "passed"}
    assert not failed
    assert len(results) == len(cases) > 100


# ---------------------------------------------------------------------------- coverage


def _schema_keywords() -> set[str]:
    """Every property name the schema allows, and ``key=value`` for each enumerated value,
    except the words for people."""
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                found.add(key)
                if isinstance(sub, dict) and "enum" in sub:
                    found.update(f"{key}={v}" for v in sub["enum"])
                if isinstance(sub, dict) and sub.get("type") == "boolean":
                    found.update({f"{key}=True", f"{key}=False"})
            for sub in node.values():
                visit(sub)
        elif isinstance(node, list):
            for sub in node:
                visit(sub)

    visit(SCHEMA)
    return {k for k in found if k.split("=")[0] not in WORDS | NOT_HERE}


def _used(data: Any) -> set[str]:
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key, sub in node.items():
                found.add(str(key))
                if isinstance(sub, str | bool):
                    found.add(f"{key}={sub}")
                visit(sub)
        elif isinstance(node, list):
            for sub in node:
                visit(sub)

    visit(data)
    return found


def _rule_data() -> Any:
    data, _ = load_file(SUITE / "rules.yaml")
    return data


def test_the_suite_uses_every_keyword_the_schema_allows() -> None:
    keywords = _schema_keywords()
    assert {
        "ne",
        "not",
        "first_known",
        "every",
        "absent=unknown",
        "unknown_when=False",
        "per=exposure",
    } <= keywords
    assert not keywords - _used(_rule_data()), "add a criterion and cases to tests/data/language"


def _tests(node: Any, inside_where: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    if isinstance(node, dict):
        if "fact" in node or ("field" in node and inside_where):
            yield node, inside_where
        for key, sub in node.items():
            yield from _tests(sub, inside_where or key == "where")
    elif isinstance(node, list):
        for sub in node:
            yield from _tests(sub, inside_where)


def test_every_comparison_is_used_on_a_fact_and_on_a_record_field() -> None:
    comparisons = set(SCHEMA["$defs"]["comparisons"]["properties"])
    criteria = _rule_data()["criteria"]
    on_fact = {op for t, where in _tests(criteria) if not where for op in t if op in comparisons}
    on_field = {op for t, where in _tests(criteria) if where for op in t if op in comparisons}
    # a window on a fact's own date is {fact: F, field: date, max_ago: ...}; every other
    # comparison must be tried directly on a fact and inside a quantifier's where
    assert comparisons <= on_fact, comparisons - on_fact
    assert comparisons <= on_field, comparisons - on_field
    windows = set(SCHEMA["$defs"]["window"]["properties"])
    used_windows = {
        unit for t, _ in _tests(criteria) for op in ("min_ago", "max_ago") for unit in t.get(op, {})
    }
    assert windows == used_windows


def test_every_criterion_has_cases_that_pass_fail_and_are_unknown(cases: list[Case]) -> None:
    ruleset = load_ruleset(SUITE)
    wanted: dict[str, set[str]] = {c.id: set() for c in ruleset.criteria}
    for case in cases:
        for cid, outcome in case.want.criteria.items():
            wanted[cid].add(outcome)
    incomplete = {cid: sorted(seen) for cid, seen in wanted.items() if seen != {"pass", "fail", "unknown"}}
    assert not incomplete


def test_every_case_note_names_the_criteria_it_wants(cases: list[Case]) -> None:
    """A note says what the case exercises: it names each criterion it checks (or the decision)."""
    for case in cases:
        named = [cid for cid in case.want.criteria if cid in case.note]
        assert named or case.want.decision, case.id


def test_prefer_value_on_a_status_is_refused_at_load_time() -> None:
    text = (SUITE / "rules.yaml").read_text(encoding="utf-8")
    bad = text.replace(
        "sle_active: {kind: status, type: boolean, label: SLE active}",
        "sle_active: {kind: status, type: boolean, prefer_value: true, label: SLE active}",
    )
    assert bad != text
    with pytest.raises(RuleSpecError) as error:
        parse_ruleset(bad, "lang.yaml")
    line = bad.splitlines().index(
        "  sle_active: {kind: status, type: boolean, prefer_value: true, label: SLE active}"
    )
    assert error.value.location is not None and error.value.location.line == line + 1
    assert "prefer_value is read for observations only, and sle_active is a status" in str(error.value)
    # on an observation it is read (I13: a positive ANA wins over a later negative)
    assert "prefer_value: positive" in text


def test_the_suite_lints_clean_against_its_own_catalogue() -> None:
    from screener.audit.lint import find_catalogue, lint, parse_catalogue

    ruleset = load_ruleset(SUITE)
    catalogue = find_catalogue(ruleset)
    assert catalogue == SUITE / "criteria.md"
    ids = parse_catalogue(catalogue.read_text(encoding="utf-8"))
    assert sorted(ids) == sorted(c.id for c in ruleset.criteria)
    assert [str(f) for f in lint(ruleset, ids)] == []
