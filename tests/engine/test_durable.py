"""The durable_rules driver: sessions are emptied after every run, derived facts chain."""

from __future__ import annotations

from typing import Any

import durable_rules_engine as dre
import pytest

from screener.engine.durable import DurableRuleset
from screener.errors import EngineError

RULES = {
    "big": {"all": [{"f": {"$and": [{"kind": "fact"}, {"$gt": {"value": 3}}]}}], "run": "big"},
    "double": {"all": [{"f": {"$and": [{"kind": "fact"}, {"name": "x"}]}}], "run": "double"},
    "pair": {"all": [{"f": {"kind": "fact"}}, {"d": {"kind": "derived"}}], "run": "pair"},
}


def _run(ruleset: DurableRuleset, facts: list[dict[str, Any]]) -> list[tuple[str, tuple[str, ...]]]:
    seen: list[tuple[str, tuple[str, ...]]] = []

    def action(rule: str, matched: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
        seen.append((rule, tuple(sorted(str(f.get("id")) for f in matched.values()))))
        if rule == "double":
            return [{"kind": "derived", "id": "d1", "value": matched["f"]["value"] * 2}]
        return None

    ruleset.run(facts, action)
    return sorted(seen)


def test_runs_are_independent_and_leave_the_session_empty() -> None:
    ruleset = DurableRuleset("driver_test", RULES)
    try:
        facts = [{"kind": "fact", "id": "f1", "name": "x", "value": 5}]
        first = _run(ruleset, facts)
        assert first == [("big", ("f1",)), ("double", ("f1",)), ("pair", ("d1", "f1"))]
        assert _run(ruleset, facts) == first  # no "already observed": everything was retracted
        assert facts == [{"kind": "fact", "id": "f1", "name": "x", "value": 5}]  # not modified
        assert dre.get_facts(ruleset._handle, "0") == "[]"
        # a fact without an id is retracted by its content
        assert _run(ruleset, [{"kind": "fact", "name": "y", "value": 9}]) == [("big", ("None",))]
        assert dre.get_facts(ruleset._handle, "0") == "[]"
    finally:
        ruleset.close()


def test_duplicate_ids_raise_instead_of_losing_a_fact() -> None:
    ruleset = DurableRuleset("driver_test", RULES)
    try:
        with pytest.raises(EngineError, match="already seen"):
            _run(ruleset, [{"kind": "fact", "id": "f1", "value": v} for v in (5, 6)])
        # the session was emptied all the same
        assert _run(ruleset, [{"kind": "fact", "id": "f1", "value": 5}]) == [("big", ("f1",))]
    finally:
        ruleset.close()


def test_an_action_that_raises_leaves_the_session_ready_for_the_next_run() -> None:
    """The first firing's action raises with others still queued: the error reaches the caller,
    the queued actions are drained and the facts retracted, and the next run fires as a fresh one."""
    ruleset = DurableRuleset("driver_test", RULES)

    def broken(rule: str, matched: dict[str, dict[str, Any]]) -> None:
        raise RuntimeError(f"action for {rule} failed")

    try:
        facts = [{"kind": "fact", "id": "f1", "name": "x", "value": 5}]
        with pytest.raises(RuntimeError, match=r"action for \w+ failed"):
            ruleset.run(facts, broken)
        assert dre.get_facts(ruleset._handle, "0") == "[]"
        assert _run(ruleset, facts) == [("big", ("f1",)), ("double", ("f1",)), ("pair", ("d1", "f1"))]
        assert dre.get_facts(ruleset._handle, "0") == "[]"
    finally:
        ruleset.close()
