"""The outcome-only evaluator: each criterion's pass / fail / unknown, nothing else.

The same three-valued logic (:mod:`screener.model.logic`) over the same firings
as the explanations (:mod:`screener.engine.explain`), without evidence or missing
facts: one function per criterion, built once per rule set. Every child is
evaluated (no short cut), in the same order, so a value of the wrong type raises
the same error as there. Batch rows of passing criteria and the eligible-from
re-screenings read it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

from screener.engine.compile import Compiled
from screener.engine.explain import Explainer
from screener.engine.glue import Fired
from screener.facts import PreparedFacts
from screener.model.logic import Truth, combine, criterion_outcome, quantify
from screener.model.rules import Criterion, FactTest, FieldTest, Group, Node, Quantifier, RuleSet
from screener.results import Outcome

TruthFn: TypeAlias = Callable[[Fired, PreparedFacts], Truth]
WhereFn: TypeAlias = Callable[[Fired, str], Truth]


class Outcomes:
    """One function per criterion: its outcome from a session's firings."""

    def __init__(self, ruleset: RuleSet, compiled: Compiled, explainer: Explainer) -> None:
        self.compiled = compiled
        self._explainer = explainer
        self._truths: dict[str, TruthFn] = {c.id: self._truth_fn(c.test) for c in ruleset.criteria}

    def outcome(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> Outcome:
        return criterion_outcome(c.type, self._truths[c.id](fired, prepared))

    def _truth_fn(self, node: Node) -> TruthFn:
        """The value of ``node`` (True, False or None), without evidence or missing facts."""
        explainer = self._explainer
        if isinstance(node, FactTest):
            tid = explainer.test_info[id(node)].tid
            field_name = node.field
            unknown_when = node.unknown_when

            def fact_test(fired: Fired, prepared: PreparedFacts) -> Truth:
                hits = fired.tests.get(tid)
                hit = hits.get(None) if hits else None
                if hit is not None:
                    return None if hit[0] is unknown_when else hit[0]
                present = explainer.fact(node.fact, fired)
                if present is not None and (field_name is None or field_name in present):
                    explainer.test(node, fired, prepared)  # raises: wrong type of value
                return None

            return fact_test
        if isinstance(node, Quantifier):
            qid = self.compiled.quantifier_of_node[id(node)]
            where = self._where_fn(node.where) if node.where is not None else None
            kind, absent = node.quantifier, node.absent

            def quantifier(fired: Fired, prepared: PreparedFacts) -> Truth:
                records = fired.candidates.get(qid) or {}
                if where is None:  # every matching record counts as true
                    return quantify(kind, [True] * len(records), absent)
                return quantify(kind, [where(fired, r) for r in records], absent)

            return quantifier
        assert isinstance(node, Group)
        children = [self._truth_fn(c) for c in node.children]
        op = node.op
        return lambda fired, prepared: combine(op, [c(fired, prepared) for c in children])

    def _where_fn(self, node: Group | FieldTest) -> WhereFn:
        if isinstance(node, FieldTest):
            tid = self._explainer.test_info[id(node)].tid

            def field_test(fired: Fired, record: str) -> Truth:
                hits = fired.tests.get(tid)
                hit = hits.get(record) if hits else None
                return None if hit is None else hit[0]

            return field_test
        children = [self._where_fn(c) for c in node.children]
        op = node.op
        return lambda fired, record: combine(op, [c(fired, record) for c in children])
