"""The glue between a durable_rules session and the evaluators.

One session of the compiled rules (:mod:`screener.engine.durable`) calls the
action made here for every firing; the action records, in a :class:`Fired`,
which tests held and which failed (per record inside quantifiers), which records
each quantifier looks at, and asserts the values derived by
:mod:`screener.engine.derive`. The evaluators then read the :class:`Fired` only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from screener.engine.compile import Compiled
from screener.engine.derive import Deriver
from screener.engine.durable import Action
from screener.engine.names import (
    CANDIDATE,
    HOLDS,
    KIND_MEMBER,
    MEMBER_OF,
    MEMBER_RECORD,
    RECORD,
    VALUE_OF,
    member_id,
    rule_kind,
)
from screener.facts import PreparedFacts


@dataclass
class Fired:
    """What one session produced."""

    facts: dict[str, dict[str, Any]]
    tests: dict[str, dict[str | None, tuple[bool, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    candidates: dict[str, dict[str, dict[str, Any]]] = field(default_factory=lambda: defaultdict(dict))
    derive_errors: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # record id -> its label, made once
    missing: dict[str, tuple[str, ...]] = field(default_factory=dict)  # fact -> what it lacks
    explain: bool = True  # False: outcomes, missing facts and margins, without the facts used
    evidence: bool = True  # False: outcomes and missing facts only (no Evidence at all)


_TEST, _CANDIDATE, _DERIVE = 0, 1, 2


def engine_fields(compiled: Compiled) -> frozenset[str]:
    """The fields of a fact that cross into durable_rules: those its rules read, those the
    actions read (identity, derived values' inputs). The rest (dates as text, sources,
    units, ...) stays in Python: less JSON both ways; explanations read the full facts."""
    ruleset = compiled.ruleset
    return frozenset(
        compiled.fields()
        | {"id", "kind", "name", "value", MEMBER_OF, MEMBER_RECORD, VALUE_OF, "as_of"}
        | {i.field for d in ruleset.derived for i in d.inputs if i.field}
    )


class Glue:
    """The facts sent to a session and the action that records what it fires."""

    def __init__(self, compiled: Compiled, fields: frozenset[str], deriver: Deriver) -> None:
        self.compiled = compiled
        self.fields = fields
        self._deriver = deriver
        self._dispatch: dict[str, tuple[int, str, bool]] = {}
        for rule in compiled.rules:
            key, kind = rule_kind(rule)
            if rule in compiled.derived:
                self._dispatch[rule] = (_DERIVE, rule, False)
            elif kind == CANDIDATE:
                self._dispatch[rule] = (_CANDIDATE, key, False)
            else:
                self._dispatch[rule] = (_TEST, key, kind == HOLDS)

    def engine_facts(self, prepared: PreparedFacts) -> list[dict[str, Any]]:
        """The facts as sent to durable_rules: only the fields its rules and actions read."""
        wanted = self.fields
        return [{k: v for k, v in f.items() if k in wanted} for f in prepared.facts]

    def action(self, fired: Fired) -> Action:
        """The callback of every firing: records it in ``fired``, returns the facts it derives."""
        derived_rules = self.compiled.derived
        dispatch = self._dispatch
        tests = fired.tests
        derive = self._deriver.derive

        def action(rule: str, matched: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
            kind, key, truth = dispatch[rule]
            if kind == _TEST:
                record = matched.get(RECORD)
                tests[key][record[MEMBER_RECORD] if record is not None else None] = (truth, matched)
                return None
            if kind == _DERIVE:
                return derive(derived_rules[rule], matched, fired)
            if kind == _CANDIDATE:
                record = matched[RECORD]
                fired.candidates[key][record["id"]] = fired.facts[record["id"]]  # the full record
                fields = {k: v for k, v in record.items() if k not in ("kind", "id")}
                return [
                    {
                        **fields,
                        "kind": KIND_MEMBER,
                        "id": member_id(key, record["id"]),
                        MEMBER_OF: key,
                        MEMBER_RECORD: record["id"],
                    }
                ]
            return None

        return action
