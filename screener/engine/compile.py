"""Compile a :class:`RuleSet` into a durable_rules ruleset (plain JSON, no decorators).

Every atomic test of a criterion becomes two rules, one that fires when the test
holds and one that fires when it does not; a test for which neither fires had
no value to read, and is *unknown*. Derived values become rules whose action
calls a named clinical function and asserts the result as a new fact, which
other rules match in turn (forward chaining). Quantifiers over medication
exposures and conditions get a "candidate" rule: each record it matches is
re-asserted as a ``member`` fact of that quantifier, which the field tests then
match; so the evaluation can tell "no such record" from "a record we cannot
judge", and each record reaches only its own quantifiers' rules.

The compiled form is a dict ``{rule_name: {"all": [...], "run": action}}`` plus
an index from rule names back to the tests, derived values and quantifiers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from screener.engine.names import (
    CONTEXT,
    FACT,
    KIND_CONTEXT,
    KIND_EXPOSURE,
    KIND_EXPOSURE_VALUE,
    KIND_FACT,
    KIND_MEMBER,
    MEMBER_OF,
    MEMBER_RECORD,
    RECORD,
    VALUE,
    VALUE_OF,
    candidate_rule,
    derive_rule,
    input_pattern,
    truth_rule,
)
from screener.facts import window_field
from screener.model.operators import OPERATORS, WINDOW_OPS, negation
from screener.model.rules import (
    Comparison,
    Criterion,
    Derived,
    FactTest,
    FieldTest,
    Group,
    Quantifier,
    RuleSet,
    walk,
)


@dataclass(frozen=True)
class CompiledTest:
    """An atomic test: a fact test, or a field test inside a quantifier."""

    id: str
    criterion: str
    node: FactTest | FieldTest
    quantifier: str | None = None  # id of the enclosing quantifier


@dataclass(frozen=True)
class CompiledQuantifier:
    id: str
    criterion: str
    node: Quantifier


@dataclass
class Compiled:
    ruleset: RuleSet
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    tests: dict[str, CompiledTest] = field(default_factory=dict)
    quantifiers: dict[str, CompiledQuantifier] = field(default_factory=dict)
    test_of_node: dict[int, str] = field(default_factory=dict)  # id(node) -> test id
    quantifier_of_node: dict[int, str] = field(default_factory=dict)
    derived: dict[str, Derived] = field(default_factory=dict)  # rule name -> derived

    def rules_for(self, criterion_id: str) -> dict[str, dict[str, Any]]:
        """The rules that decide one criterion: its tests, its quantifiers' candidates and the
        derived values they read, with the derived values those read in turn.

        Rules match independently of each other, so a session of these alone fires for
        this criterion exactly as a session of the whole rule set does.
        """
        names: list[str] = []
        wanted: list[str] = []  # derived values read
        by_name = {d.name: d for d in self.derived.values()}
        for q in self.quantifiers.values():
            if q.criterion == criterion_id:
                names.append(candidate_rule(q.id))
        for test in self.tests.values():
            if test.criterion != criterion_id:
                continue
            names += [truth_rule(test.id, True), truth_rule(test.id, False)]
            wanted.append(test.node.fact if isinstance(test.node, FactTest) else test.node.field)
        seen: set[str] = set()
        while wanted:
            name = wanted.pop()
            if name in seen or name not in by_name:
                continue
            seen.add(name)
            wanted.extend(by_name[name].fact_inputs())
        derived = [rule for rule, d in self.derived.items() if d.name in seen]
        return {rule: self.rules[rule] for rule in self.rules if rule in set(names) | set(derived)}

    def fields(self) -> set[str]:
        """Every fact field some rule reads (the only ones the engine needs to be sent)."""
        found: set[str] = set()

        def visit(expression: Any) -> None:
            if isinstance(expression, dict):
                for key, value in expression.items():
                    if not key.startswith("$"):
                        found.add(key)
                    visit(value)
            elif isinstance(expression, list):
                for value in expression:
                    visit(value)

        for rule in self.rules.values():
            for pattern in rule["all"]:
                for expression in pattern.values():
                    visit(expression)
        return found


def _target(node: FactTest | FieldTest) -> str:
    name = node.field if isinstance(node, FieldTest) else (node.field or "value")
    if node.comparison.op in WINDOW_OPS:
        return window_field(name, node.comparison.value)
    return name


def durable_comparison(target: str, op: str, value: Any) -> dict[str, Any]:
    """One durable_rules expression; the field must exist (absent is not "not equal").

    Date windows compare ``<field>_vs_<window>`` (days from the window's first
    day to the date, prepared by :mod:`screener.facts`) with 0. durable_rules'
    cross-fact references are not usable for this: a reference to a later
    pattern is ignored (both ``$lt`` and ``$gte`` fire) and one to an earlier
    pattern inside ``$and`` crashed the process.
    """
    exists = {"$ex": {target: 1}}
    operator = OPERATORS[op]
    compare: dict[str, Any]
    if operator.window:
        compare = _one(operator.durable, target, 0)
    elif operator.join is not None:
        compare = {operator.join: [_one(operator.durable, target, v) for v in value]}
    else:
        compare = _one(operator.durable, target, value)
    return {"$and": [exists, compare]}


def _one(durable: str, target: str, value: Any) -> dict[str, Any]:
    """One durable_rules comparison of ``target`` with ``value`` (``=`` is ``{target: value}``)."""
    return {target: value} if durable == "=" else {durable: {target: value}}


def _match_expressions(match: tuple[tuple[str, tuple[Any, ...]], ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, values in match:
        out.append({key: values[0]} if len(values) == 1 else {"$or": [{key: v} for v in values]})
    return out


def _and(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"$and": list(parts)}


def _test_patterns(
    compiled: Compiled, test: CompiledTest, comparison: Comparison, negate: bool
) -> list[dict[str, Any]]:
    node = test.node
    op = negation(comparison.op) if negate else comparison.op
    value = None if comparison.op in WINDOW_OPS else comparison.value
    expression = durable_comparison(_target(node), op, value)
    patterns: list[dict[str, Any]]
    if isinstance(node, FactTest):
        patterns = [{FACT: _and({"kind": KIND_FACT}, {"name": node.fact}, expression)}]
    else:
        # Field tests match the quantifier's "member" facts, not the raw records:
        # durable_rules' alpha network overflows (error 303, a 64-deep stack) when
        # one fact can reach too many rules, as a rituximab record would here.
        member = _and({"kind": KIND_MEMBER}, {MEMBER_OF: test.quantifier})
        per_exposure = compiled.ruleset.exposure_derived
        q = compiled.quantifiers[test.quantifier or ""].node
        if q.record == "exposure" and node.field in per_exposure:
            patterns = [
                {RECORD: member},
                {
                    VALUE: _and(
                        {"kind": KIND_EXPOSURE_VALUE},
                        {"name": node.field},
                        {VALUE_OF: {RECORD: MEMBER_RECORD}},
                        durable_comparison("value", op, value),
                    )
                },
            ]
        else:
            patterns = [{RECORD: _and({"kind": KIND_MEMBER}, {MEMBER_OF: test.quantifier}, expression)}]
    return patterns


def _derived_rule(d: Derived) -> list[dict[str, Any]]:
    patterns: list[dict[str, Any]] = []
    if d.per == "exposure":
        patterns.append({RECORD: _and({"kind": KIND_EXPOSURE}, *_match_expressions(d.match))})
    for source in dict.fromkeys(d.fact_inputs()):
        patterns.append({input_pattern(source): _and({"kind": KIND_FACT}, {"name": source})})
    if any(i.source == "context" for i in d.inputs):
        patterns.append({CONTEXT: {"kind": KIND_CONTEXT}})
    return patterns


def compile_ruleset(ruleset: RuleSet) -> Compiled:
    compiled = Compiled(ruleset)
    for d in ruleset.derived:
        name = derive_rule(d.name)
        compiled.rules[name] = {"all": _derived_rule(d), "run": name}
        compiled.derived[name] = d
    counter = 0
    for criterion in ruleset.criteria:
        counter = _compile_criterion(compiled, criterion, counter)
    return compiled


def _compile_criterion(compiled: Compiled, criterion: Criterion, counter: int) -> int:
    # Quantifiers first, so field tests know their enclosing record filter.
    for node in walk(criterion.test):
        if isinstance(node, Quantifier):
            qid = f"q{len(compiled.quantifiers)}"
            compiled.quantifiers[qid] = CompiledQuantifier(qid, criterion.id, node)
            compiled.quantifier_of_node[id(node)] = qid
            rule = candidate_rule(qid)
            compiled.rules[rule] = {
                "all": [{RECORD: _and({"kind": node.record}, *_match_expressions(node.match))}],
                "run": rule,
            }
            if node.where is not None:
                for inner in walk(node.where):
                    if isinstance(inner, FieldTest):
                        counter = _add_test(compiled, criterion, inner, qid, counter)
        elif isinstance(node, FactTest):
            counter = _add_test(compiled, criterion, node, None, counter)
        elif isinstance(node, Group):
            continue
    return counter


def _add_test(
    compiled: Compiled,
    criterion: Criterion,
    node: FactTest | FieldTest,
    quantifier: str | None,
    counter: int,
) -> int:
    tid = f"t{counter}"
    test = CompiledTest(tid, criterion.id, node, quantifier)
    compiled.tests[tid] = test
    compiled.test_of_node[id(node)] = tid
    for holds in (True, False):
        name = truth_rule(tid, holds)
        compiled.rules[name] = {
            "all": _test_patterns(compiled, test, node.comparison, negate=not holds),
            "run": name,
        }
    return counter + 1
