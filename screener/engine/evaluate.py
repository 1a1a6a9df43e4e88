"""Evaluate a patient against a compiled rule set and explain every criterion.

The engine (durable_rules) does the matching: which tests hold, which do not,
which records are candidates, and the chaining of derived values. This module
then reads what fired and combines it with three-valued (Kleene) logic:
a test that neither held nor failed had nothing to read, so it is *unknown*,
and the facts it lacked are named. Absence is only concluded here, after the
session has settled, never inside the engine (durable_rules has no truth
maintenance and would fire absence rules too early).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, NamedTuple

from screener.clinical import FUNCTIONS
from screener.clinical.dates import add_months
from screener.engine.compile import Compiled, compile_ruleset
from screener.engine.durable import Action, DurableRuleset
from screener.engine.screening import uncertain_outcomes, uncertain_screen
from screener.engine.uncertain import open_world
from screener.errors import EngineError
from screener.facts import PreparedFacts, from_day_number, prepare, window_end
from screener.model.operators import NUMERIC_OPS, OPERATORS, WINDOW_OPS
from screener.model.patient import Patient
from screener.model.rules import (
    Criterion,
    Derived,
    FactTest,
    FieldTest,
    Group,
    Node,
    Quantifier,
    RuleSet,
    Window,
    walk,
)
from screener.results import (
    CriterionResult,
    EarliestPossible,
    Evidence,
    FactUse,
    ScreeningResult,
    ToCollect,
    decide,
)

Truth = bool | None
TruthFn = Callable[["Fired", PreparedFacts], Truth]
WhereFn = Callable[["Fired", str], Truth]
_MAX_CANDIDATE_DATES = 90  # 3 per recorded date in a window test; bounds re-screening work
_MAX_WAITS = 4  # re-screenings at a later earliest date when another wait shows up on the first


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


@dataclass(frozen=True, slots=True)
class _TestInfo:
    """What a test's evaluation needs that depends on the rule set only (built once per engine)."""

    tid: str
    description: str  # a field test's without the record label, which the patient gives
    threshold: Any  # the compared threshold, for margins (numeric comparisons only)
    op: str
    unit: str | None


_TEST, _CANDIDATE, _DERIVE = 0, 1, 2


class Verdict(NamedTuple):  # a tuple: made ~100 times per patient, cheaper than a dataclass
    value: Truth
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()


_KNOWN = {True: Verdict(True), False: Verdict(False)}


def _merge(*parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for p in parts for x in p))


class Engine:
    """A rule set compiled once, ready to screen any number of patients."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.compiled: Compiled = compile_ruleset(ruleset)
        self._durable = DurableRuleset(ruleset.id, self.compiled.rules)
        self._criterion_rulesets: dict[str, DurableRuleset] = {}  # for re-screening, made on demand
        self._lock = threading.Lock()
        self._open_world: Engine | None = None
        # Everything below depends on the rule set only: built once, read for every patient.
        self._dispatch: dict[str, tuple[int, str, bool]] = {}
        for rule in self.compiled.rules:
            key, _, kind = rule.partition(":")
            if rule in self.compiled.derived:
                self._dispatch[rule] = (_DERIVE, rule, False)
            elif kind == "candidate":
                self._dispatch[rule] = (_CANDIDATE, key, False)
            else:
                self._dispatch[rule] = (_TEST, key, kind == "true")
        self._test_info: dict[int, _TestInfo] = {}
        for test in self.compiled.tests.values():
            node = test.node
            comparison = node.comparison
            self._test_info[id(node)] = _TestInfo(
                tid=test.id,
                description=self._describe(node),
                threshold=comparison.value if comparison.op in NUMERIC_OPS else None,
                op=comparison.op,
                unit=node.unit,
            )
        self._derived_by_name = ruleset.derived_by_name  # properties: a new dict at every read
        self._fact_inputs = {d.name: tuple(d.fact_inputs()) for d in ruleset.derived}
        # The fields of a fact that cross into durable_rules: those its rules read, those the
        # actions read (identity, derived values' inputs). The rest (dates as text, sources,
        # units, ...) stays in Python: less JSON both ways; explanations read the full facts.
        self._fields = frozenset(
            self.compiled.fields()
            | {"id", "kind", "name", "value", "q", "rec", "of", "as_of"}
            | {i.field for d in ruleset.derived for i in d.inputs if i.field}
        )
        self._exposure_derived = ruleset.exposure_derived
        self._truths: dict[str, TruthFn] = {c.id: self._truth_fn(c.test) for c in ruleset.criteria}
        # eligible_from: per criterion, its date-window tests (with their quantifier) and the
        # lower bounds on derived values, found once instead of walking the tree per failure
        self._windows: dict[str, list[tuple[FactTest | FieldTest, str | None]]] = {}
        self._lower_bounds: dict[str, list[FactTest]] = {}
        for c in ruleset.criteria:
            tests = list(_walk_tests(c.test))
            self._windows[c.id] = [
                (n, self.compiled.tests[self.compiled.test_of_node[id(n)]].quantifier)
                for n in tests
                if n.comparison.op in WINDOW_OPS
            ]
            self._lower_bounds[c.id] = [
                n
                for n in tests
                if isinstance(n, FactTest) and OPERATORS[n.comparison.op].numeric
                if OPERATORS[n.comparison.op].bound == "lower"
            ]
        # criteria a failing patient may still pass later: a date window, or a lower bound on
        # a value that grows with the screening date (age); eligible_from looks for that date
        grows = {d.name for d in ruleset.derived if any(i.ref == "context.as_of" for i in d.inputs)}
        self.time_dependent: frozenset[str] = frozenset(
            c.id
            for c in ruleset.criteria
            if self._windows[c.id] or any(n.fact in grows for n in self._lower_bounds[c.id])
        )

    def close(self) -> None:
        self._durable.close()
        if self._open_world is not None:
            self._open_world.close()
        for durable in self._criterion_rulesets.values():
            durable.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ running

    def fire(self, prepared: PreparedFacts) -> Fired:
        """One durable_rules session over ``prepared``: what fired, what was derived."""
        fired = Fired(prepared.by_id())
        self._durable.run(self.engine_facts(prepared), self.action(fired))
        return fired

    def engine_facts(self, prepared: PreparedFacts) -> list[dict[str, Any]]:
        """The facts as sent to durable_rules: only the fields its rules and actions read."""
        wanted = self._fields
        return [{k: v for k, v in f.items() if k in wanted} for f in prepared.facts]

    def action(self, fired: Fired) -> Action:
        """The callback of every firing: records it in ``fired``, returns the facts it derives."""
        derived_rules = self.compiled.derived
        dispatch = self._dispatch
        tests = fired.tests

        def action(rule: str, matched: dict[str, dict[str, Any]]) -> list[dict[str, Any]] | None:
            kind, key, truth = dispatch[rule]
            if kind == _TEST:
                record = matched.get("e")
                tests[key][record["rec"] if record is not None else None] = (truth, matched)
                return None
            if kind == _DERIVE:
                return self._derive(derived_rules[rule], matched, fired)
            if kind == _CANDIDATE:
                record = matched["e"]
                fired.candidates[key][record["id"]] = fired.facts[record["id"]]  # the full record
                fields = {k: v for k, v in record.items() if k not in ("kind", "id")}
                return [
                    {
                        **fields,
                        "kind": "member",
                        "id": f"{key}:{record['id']}",
                        "q": key,
                        "rec": record["id"],
                    }
                ]
            return None

        return action

    def _derive(
        self, d: Derived, matched: dict[str, dict[str, Any]], fired: Fired
    ) -> list[dict[str, Any]] | None:
        kwargs: dict[str, Any] = {}
        used: dict[str, dict[str, Any]] = {}
        defaults = dict(d.defaults)
        defaulted: list[str] = []
        for i in d.inputs:
            if i.source == "context":
                fact = matched["ctx"]
                value: Any = date.fromisoformat(fact["as_of"])
            elif i.source == "exposure":
                fact = matched["e"]
                value = fact.get(i.field or "")
            else:
                fact = matched[f"i_{i.source}"]
                value = fact.get(i.field) if i.field else fact.get("value")
                used[i.source] = fact
                if (
                    value is not None
                    and self.ruleset.facts.get(i.source)
                    and (self.ruleset.facts[i.source].type == "date" and not i.field)
                ):
                    value = date.fromisoformat(value)
            if value is None and i.param in defaults:
                value = defaults[i.param]
                defaulted.append(i.param)
            if value is None:
                return None  # an input is missing: the value stays unknown
            kwargs[i.param] = value
        function = FUNCTIONS[d.function]
        owner = matched["e"]["id"] if d.per == "exposure" else None
        try:
            result = function.fn(**kwargs)
        except (ValueError, TypeError, ZeroDivisionError, KeyError) as error:
            fired.derive_errors[d.name if owner is None else f"{d.name}:{owner}"] = str(error)
            return None
        if isinstance(result, float):
            result = round(result, 4)  # same rounding in screener.vectorized; 1e-4 below any threshold
        fact: dict[str, Any] = {
            "name": d.name,
            "value": result,
            "unit": d.unit or function.unit,
            "function": d.function,
            "inputs": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in kwargs.items()},
            "input_facts": sorted(f["id"] for f in used.values()),
            "defaulted": defaulted,
        }
        if owner is None:
            fact.update(kind="fact", id=f"d:{d.name}")
        else:
            fact.update(kind="exposure_value", id=f"d:{d.name}:{owner}", of=owner)
        fired.facts[fact["id"]] = fact
        # The engine gets what its rules and actions read only (flat scalars): no rule
        # matches the explanation fields, and less JSON crosses into the C core.
        return [{k: v for k, v in fact.items() if k in self._fields}]

    # ------------------------------------------------------------------ explaining

    def _fact_use(self, fact: dict[str, Any], fired: Fired, record: str | None = None) -> FactUse:
        inputs: tuple[FactUse, ...] = ()
        note = None
        citation = None
        if fact.get("function"):
            inputs = tuple(
                self._fact_use(fired.facts[i], fired) for i in fact.get("input_facts", ()) if i in fired.facts
            )
            function = FUNCTIONS.get(fact["function"])
            citation = function.citation if function else None
            values = ", ".join(f"{k}={v}" for k, v in fact.get("inputs", {}).items())
            note = f"{fact['function']}({values})"
            if fact.get("defaulted"):
                note += f"; default used for {', '.join(fact['defaulted'])}"
        elif fact.get("original"):
            note = f"converted from {fact['original']}"
        label = self.ruleset.facts[fact["name"]].label if fact.get("name") in self.ruleset.facts else None
        return FactUse(
            name=fact.get("name", fact.get("drug", "?")),
            value=fact.get("value"),
            unit=fact.get("unit"),
            date=fact.get("date"),
            source=fact.get("source") or label,
            record=record,
            function=fact.get("function"),
            citation=citation,
            inputs=inputs,
            note=note,
        )

    def _record_label(self, record: dict[str, Any]) -> str:
        if record.get("kind") == "exposure":
            when = record.get("start", "?")
            until = record.get("end") or ("ongoing" if record.get("ongoing") else "?")
            return f"{record['drug']} {when}..{until} ({record['id']})"
        return f"{record.get('name')} ({record['id']})"

    def _label(self, record: dict[str, Any], fired: Fired) -> str:
        """:meth:`_record_label`, made once per record and session."""
        label = fired.labels.get(record["id"])
        if label is None:
            label = fired.labels[record["id"]] = self._record_label(record)
        return label

    def _describe(self, node: FactTest | FieldTest, record: dict[str, Any] | None = None) -> str:
        unit = f" {node.unit}" if node.unit else ""
        if isinstance(node, FactTest):
            subject = node.fact if node.field is None else f"{node.fact}.{node.field}"
        else:
            subject = node.field if record is None else f"{self._record_label(record)}: {node.field}"
        return f"{subject} {node.comparison.describe()}{unit}"

    def _missing_fact(self, name: str, fired: Fired, prepared: PreparedFacts) -> tuple[str, ...]:
        """The base facts to collect so that ``name`` can be read (once per session)."""
        missing = fired.missing.get(name)
        if missing is None:
            missing = fired.missing[name] = self._find_missing(name, fired, prepared)
        return missing

    def _find_missing(self, name: str, fired: Fired, prepared: PreparedFacts) -> tuple[str, ...]:
        if f"d:{name}" in fired.facts or f"f:{name}" in fired.facts:
            return ()
        if name in prepared.set_aside:
            aside = prepared.set_aside[name]
            return (f"{name} ({aside.reason})",)
        derived = self._derived_by_name.get(name)
        if derived is None:
            definition = self.ruleset.facts.get(name)
            label = f" ({definition.label})" if definition else ""
            return (f"{name}{label}",)
        if name in fired.derive_errors:
            return (f"{name} (could not be computed: {fired.derive_errors[name]})",)
        sources = self._fact_inputs[name]
        return _merge(*(self._missing_fact(src, fired, prepared) for src in sources))

    def _test(
        self,
        node: FactTest | FieldTest,
        fired: Fired,
        prepared: PreparedFacts,
        record: dict[str, Any] | None = None,
    ) -> Verdict:
        info = self._test_info[id(node)]
        hits = fired.tests.get(info.tid)
        hit = hits.get(None if record is None else record["id"]) if hits else None
        unsettled = (
            isinstance(node, FactTest)
            and node.unknown_when is not None
            and hit is not None
            and hit[0] is node.unknown_when
        )
        if hit is not None and not fired.evidence:
            if unsettled:
                return Verdict(None, (), (_unsettled_missing(node, info.description),))  # type: ignore[arg-type]
            return _KNOWN[hit[0]]
        if record is None:
            label = None
            description = info.description
        else:
            label = self._label(record, fired)
            description = f"{label}: {info.description}"
        if hit is None:
            if isinstance(node, FactTest):
                present = fired.facts.get(f"f:{node.fact}") or fired.facts.get(f"d:{node.fact}")
                if present is not None and (node.field is None or node.field in present):
                    raise EngineError(
                        f"{node.fact} = {present.get(node.field or 'value')!r} could not be compared "
                        f"({description}): wrong type of value"
                    )
                if present is not None:
                    return Verdict(None, missing=(f"{node.fact}: {node.field}",))
                return Verdict(None, missing=self._missing_fact(node.fact, fired, prepared))
            assert record is not None
            per = self._exposure_derived.get(node.field)
            if per is not None:
                key = f"{per.name}:{record['id']}"
                if key in fired.derive_errors:
                    return Verdict(
                        None,
                        missing=(f"{description} (could not be computed: {fired.derive_errors[key]})",),
                    )
                missing = [
                    f"{label}: {i.field}"
                    for i in per.inputs
                    if i.source == "exposure" and i.field not in record
                ]
                for src in self._fact_inputs[per.name]:
                    missing.extend(self._missing_fact(src, fired, prepared))
                return Verdict(None, missing=tuple(missing) or (description,))
            if record.get("conflict"):  # the record contradicts another: a person must resolve it
                return Verdict(None, missing=(record["conflict"],))
            return Verdict(None, missing=(f"{label}: {node.field}",))
        truth, matched = hit
        if not fired.evidence:
            return _KNOWN[truth]
        uses: list[FactUse] = []
        if fired.explain and "f" in matched:
            uses.append(self._fact_use(fired.facts.get(matched["f"]["id"], matched["f"]), fired))
        if "e" in matched and fired.explain:
            e = fired.facts[matched["e"]["rec"]]  # the full record behind the member fact
            field_name = node.field if isinstance(node, FieldTest) else None
            if "v" in matched:
                uses.append(self._fact_use(fired.facts.get(matched["v"]["id"], matched["v"]), fired, label))
            elif field_name:
                uses.append(
                    FactUse(
                        name=field_name,
                        value=e.get(field_name),
                        date=e.get("start"),
                        source=e.get("source"),
                        record=label,
                    )
                )
        compared = None
        if "v" in matched:
            compared = matched["v"].get("value")
        elif "f" in matched:
            compared = matched["f"].get(node.field or "value") if isinstance(node, FactTest) else None
        elif "e" in matched and isinstance(node, FieldTest):
            compared = matched["e"].get(node.field)
        evidence = Evidence(
            test=description,
            outcome=truth,
            facts=tuple(uses),
            value=compared if isinstance(compared, int | float) and not isinstance(compared, bool) else None,
            threshold=info.threshold,
            op=info.op,
            unit=info.unit,
        )
        if unsettled:  # evaluated, but this result cannot settle anything: unknown, with the reason
            return Verdict(None, (evidence,), (_unsettled_missing(node, info.description),))  # type: ignore[arg-type]
        return Verdict(truth, (evidence,))

    def _combine(self, op: str, verdicts: list[Verdict]) -> Verdict:
        values = [v.value for v in verdicts]
        if op == "not":
            v = verdicts[0]
            return Verdict(None if v.value is None else not v.value, v.evidence, v.missing)
        if op == "first_known":
            for v in verdicts:
                if v.value is not None:
                    return v
            return Verdict(None, (), _merge(*(v.missing for v in verdicts)))
        decisive = op == "any"  # the value that settles the group at once
        if decisive in values:
            chosen = [v for v in verdicts if v.value is decisive]
            return Verdict(decisive, tuple(e for v in chosen for e in v.evidence))
        if None in values:
            return Verdict(
                None,
                tuple(e for v in verdicts for e in v.evidence),
                _merge(*(v.missing for v in verdicts if v.value is None)),
            )
        return Verdict(not decisive, tuple(e for v in verdicts for e in v.evidence))

    def _where(
        self, node: Group | FieldTest, fired: Fired, prepared: PreparedFacts, record: dict[str, Any]
    ) -> Verdict:
        if isinstance(node, FieldTest):
            return self._test(node, fired, prepared, record)
        return self._combine(node.op, [self._where(c, fired, prepared, record) for c in node.children])

    def _quantifier(self, node: Quantifier, fired: Fired, prepared: PreparedFacts) -> Verdict:
        qid = self.compiled.quantifier_of_node[id(node)]
        records = sorted(fired.candidates.get(qid, {}).values(), key=lambda r: r["id"])
        if not records:
            if node.absent == "false" and not fired.evidence:
                return _KNOWN[False]
            if node.absent == "false":
                what = ", ".join(f"{k} in {list(v)}" for k, v in node.match)
                return Verdict(False, (Evidence(test=f"no {node.record} record with {what}", outcome=False),))
            label = (
                node.missing
                or f"{node.record} records ({', '.join(str(x) for _, v in node.match for x in v)})"
            )
            return Verdict(None, missing=(label,))
        if node.where is None and not fired.evidence:
            return _KNOWN[True]
        if node.where is None:
            evidence = tuple(
                Evidence(
                    test=f"{node.record} record {self._record_label(r)}",
                    outcome=True,
                    facts=(
                        FactUse(
                            name=r.get("name", r.get("drug", "?")),
                            value=r.get("type") or r.get("status"),
                            date=r.get("onset") or r.get("start"),
                            source=r.get("source"),
                            record=self._record_label(r),
                        ),
                    ),
                )
                for r in records
            )
            return Verdict(True, evidence)  # no conditions: any matching record settles it
        verdicts = [self._where(node.where, fired, prepared, r) for r in records]
        return self._combine("any" if node.quantifier == "exists" else "all", verdicts)

    def _node(self, node: Node, fired: Fired, prepared: PreparedFacts) -> Verdict:
        if isinstance(node, FactTest):
            return self._test(node, fired, prepared)
        if isinstance(node, Quantifier):
            return self._quantifier(node, fired, prepared)
        assert isinstance(node, Group)
        return self._combine(node.op, [self._node(c, fired, prepared) for c in node.children])

    # ------------------------------------------------------------------ outcomes only

    def _truth_fn(self, node: Node) -> TruthFn:
        """The value of ``node`` (True, False or None), without evidence or missing facts.

        The same three-valued logic as :meth:`_node` over the same firings, built
        once per rule set: every child is evaluated (no short cut), in the same
        order, so a value of the wrong type raises the same error as there.
        """
        if isinstance(node, FactTest):
            tid = self._test_info[id(node)].tid
            keys = (f"f:{node.fact}", f"d:{node.fact}")
            field_name = node.field

            unknown_when = node.unknown_when

            def fact_test(fired: Fired, prepared: PreparedFacts) -> Truth:
                hits = fired.tests.get(tid)
                hit = hits.get(None) if hits else None
                if hit is not None:
                    return None if hit[0] is unknown_when else hit[0]
                present = fired.facts.get(keys[0]) or fired.facts.get(keys[1])
                if present is not None and (field_name is None or field_name in present):
                    self._test(node, fired, prepared)  # raises: wrong type of value
                return None

            return fact_test
        if isinstance(node, Quantifier):
            qid = self.compiled.quantifier_of_node[id(node)]
            absent: Truth = False if node.absent == "false" else None
            where = self._where_fn(node.where) if node.where is not None else None
            combine = _any if node.quantifier == "exists" else _all

            def quantifier(fired: Fired, prepared: PreparedFacts) -> Truth:
                records = fired.candidates.get(qid)
                if not records:
                    return absent
                if where is None:
                    return True
                return combine([where(fired, r) for r in records])

            return quantifier
        assert isinstance(node, Group)
        children = [self._truth_fn(c) for c in node.children]
        combine = _COMBINE[node.op]
        return lambda fired, prepared: combine([c(fired, prepared) for c in children])

    def _where_fn(self, node: Group | FieldTest) -> WhereFn:
        if isinstance(node, FieldTest):
            tid = self._test_info[id(node)].tid

            def field_test(fired: Fired, record: str) -> Truth:
                hits = fired.tests.get(tid)
                hit = hits.get(record) if hits else None
                return None if hit is None else hit[0]

            return field_test
        children = [self._where_fn(c) for c in node.children]
        combine = _COMBINE[node.op]
        return lambda fired, record: combine([c(fired, record) for c in children])

    def _outcome(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> str:
        value = self._truths[c.id](fired, prepared)
        if value is None:
            return "unknown"
        return ("pass" if value else "fail") if c.type == "inclusion" else ("fail" if value else "pass")

    # ------------------------------------------------------------------ screening

    def _criterion(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> CriterionResult:
        verdict = self._node(c.test, fired, prepared)
        if verdict.value is None:
            outcome = "unknown"
        elif c.type == "inclusion":
            outcome = "pass" if verdict.value else "fail"
        else:
            outcome = "fail" if verdict.value else "pass"
        missing = verdict.missing if outcome == "unknown" else ()
        return CriterionResult(
            id=c.id,
            type=c.type,
            title=c.title,
            outcome=outcome,
            section=c.section,
            quote=c.quote,
            reading=c.reading,
            person_only=c.person_only,
            missing=missing,
            evidence=verdict.evidence,
            conflicts=_conflicts(missing, prepared),
        )

    def _passing(self, c: Criterion) -> CriterionResult:
        return CriterionResult(
            id=c.id,
            type=c.type,
            title=c.title,
            outcome="pass",
            section=c.section,
            quote=c.quote,
            reading=c.reading,
            person_only=c.person_only,
        )

    def screen(
        self,
        patient: Patient,
        as_of: date,
        *,
        explain: bool = True,
        evidence: str = "all",
        earliest_possible: bool = True,
    ) -> ScreeningResult:
        """Screen ``patient`` on ``as_of``, with what the record leaves uncertain
        (unconfirmed conditions, unobserved time, death: :mod:`screener.engine.uncertain`)."""
        return uncertain_screen(
            self, patient, as_of, explain=explain, evidence=evidence, earliest_possible=earliest_possible
        )

    def outcomes(self, patient: Patient, as_of: date) -> dict[str, str]:
        """Every criterion's outcome on ``as_of`` (pass, fail or unknown), nothing else.

        The same session and logic as :meth:`screen`, without explanations or
        eligible-from dates.
        """
        return uncertain_outcomes(self, patient, as_of)

    def open_world(self) -> Engine:
        """This rule set with every "absent means none" reading made unknown (made once)."""
        with self._lock:
            if self._open_world is None:
                self._open_world = Engine(open_world(self.ruleset))
            return self._open_world

    def screen_as_recorded(
        self,
        patient: Patient,
        as_of: date,
        *,
        explain: bool = True,
        evidence: str = "all",
        earliest_possible: bool = True,
    ) -> ScreeningResult:
        """Screen ``patient`` on ``as_of``, taking its records at face value.

        ``explain=False`` (batch) leaves out the facts used by each test; outcomes,
        missing facts, eligible-from dates and the compared values for margins stay.
        ``evidence="failing"`` (batch rows, which show the margins of failing
        criteria and the missing facts of unknown ones) gives evidence to failing
        criteria only: each outcome is read first without any explanation, then a
        failing criterion is explained and an unknown one gets its missing facts.
        ``earliest_possible=False`` leaves out the re-screening at the end of the waiting
        periods (``ScreeningResult.earliest_possible``).
        """
        if evidence not in ("all", "failing"):
            raise ValueError(f"evidence must be 'all' or 'failing', not {evidence!r}")
        prepared = prepare(patient, self.ruleset, as_of)
        fired = self.fire(prepared)
        fired.explain = explain
        results: list[CriterionResult] = []
        for c in self.ruleset.criteria:
            if evidence == "all":
                results.append(self._criterion(c, fired, prepared))
                continue
            outcome = self._outcome(c, fired, prepared)
            if outcome == "pass":
                results.append(self._passing(c))
            elif outcome == "unknown":
                fired.evidence = False
                results.append(self._criterion(c, fired, prepared))
                fired.evidence = True
            else:
                results.append(self._criterion(c, fired, prepared))
        final = []
        for result in results:
            if result.outcome == "fail":
                criterion = self.ruleset.criterion(result.id)
                when = self._eligible_from(criterion, patient, as_of, fired)
                if when is not None:
                    result = replace(result, eligible_from=when)
            final.append(result)
        decision = decide(r.outcome for r in final)
        failing = [r for r in final if r.outcome == "fail"]
        earliest = None
        if earliest_possible and failing and all(r.eligible_from is not None for r in failing):
            when = max(r.eligible_from for r in failing if r.eligible_from is not None)
            earliest = self._earliest_possible(patient, as_of, when, final)
        return ScreeningResult(
            patient_id=patient.patient_id,
            ruleset_id=self.ruleset.id,
            trial=self.ruleset.trial,
            ruleset_version=self.ruleset.version,
            ruleset_sha256=self.ruleset.sha256,
            as_of=as_of,
            decision=decision,
            criteria=tuple(final),
            earliest_possible=earliest,
        )

    def _earliest_possible(
        self, patient: Patient, as_of: date, when: date, now: list[CriterionResult]
    ) -> EarliestPossible | None:
        """Screen again on ``when`` (the end of the last waiting period): what is still open then.

        Facts missing today stay missing; facts usable today may be too old by then (to
        renew). A criterion failing on that date with a later date of its own moves the
        date on; one failing for good means there is no such date (None).
        """
        missing_now = {m for r in now if r.outcome == "unknown" for m in r.missing}
        for _ in range(_MAX_WAITS):
            later = self.screen(patient, when, explain=False, evidence="failing", earliest_possible=False)
            failing = later.failing
            if any(r.eligible_from is None for r in failing):
                return None
            if failing:
                when = max(r.eligible_from for r in failing if r.eligible_from is not None)
                continue
            items: dict[str, list[str]] = {}
            for r in later.unknown:
                for m in r.missing or (f"{r.id}: {r.title} (to be confirmed by a person)",):
                    items.setdefault(m, []).append(r.id)
            collect = tuple(
                ToCollect(item=m, criteria=tuple(ids), renew=m not in missing_now) for m, ids in items.items()
            )
            return EarliestPossible(when, collect)
        return None

    def outcomes_as_recorded(self, patient: Patient, as_of: date) -> dict[str, str]:
        """:meth:`outcomes` taking the records at face value."""
        prepared = prepare(patient, self.ruleset, as_of)
        fired = self.fire(prepared)
        return {c.id: self._outcome(c, fired, prepared) for c in self.ruleset.criteria}

    def outcome(self, criterion: Criterion, patient: Patient, as_of: date) -> str:
        """One criterion's outcome on ``as_of``, from a session of the rules it needs only.

        What re-screening at an eligible-from candidate date needs: the same facts,
        firings and logic for this criterion as :meth:`screen`, without the other
        criteria's rules (a few firings instead of ~80).
        """
        with self._lock:
            durable = self._criterion_rulesets.get(criterion.id)
            if durable is None:
                durable = DurableRuleset(
                    f"{self.ruleset.id}_{criterion.id}", self.compiled.rules_for(criterion.id)
                )
                self._criterion_rulesets[criterion.id] = durable
        prepared = prepare(patient, self.ruleset, as_of)
        fired = Fired(prepared.by_id())
        durable.run(self.engine_facts(prepared), self.action(fired))
        return self._outcome(criterion, fired, prepared)

    def _eligible_from(
        self, criterion: Criterion, patient: Patient, as_of: date, fired: Fired
    ) -> date | None:
        """For a criterion failing on a date window, the first date it would pass.

        Candidate dates are where a window test on a recorded date changes value
        (the date plus the window, and the day after). The criterion is
        re-evaluated from scratch at each candidate, in order; the first one at
        which it passes is the answer. A lower bound on a value that grows with
        the screening date (age from a birth date) adds the coming anniversaries
        of that date. Criteria with neither get none.
        """
        windows: list[tuple[str, Window, list[dict[str, Any]]]] = []
        candidates: set[date] = set(self._anniversaries(criterion, as_of, fired))
        for node, quantifier in self._windows[criterion.id]:
            if isinstance(node, FactTest):
                fact = fired.facts.get(f"f:{node.fact}") or fired.facts.get(f"d:{node.fact}")
                windows.append((node.field or "value", node.comparison.value, [fact] if fact else []))
            else:  # only the records this test's quantifier looks at
                records = list(fired.candidates.get(quantifier or "", {}).values())
                windows.append((node.field, node.comparison.value, records))
        for target, window, records in windows:
            for record in records:
                day = record.get(f"{target}_day")
                if day is None:
                    continue
                edge = window_end(from_day_number(day), window)
                for offset in (0, 1, 2):
                    when = edge + timedelta(days=offset)
                    if when > as_of:
                        candidates.add(when)
        for when in sorted(candidates)[:_MAX_CANDIDATE_DATES]:
            if self.outcome(criterion, patient, when) == "pass":
                return when
        return None

    def _anniversaries(self, criterion: Criterion, as_of: date, fired: Fired) -> Iterator[date]:
        """Coming anniversaries of the date behind a failing ``>=``/``>`` test on an age-like value.

        Age-like: derived from the screening date (``context.as_of``) and a date
        fact, so it grows by one a year; only as many years as the threshold needs.
        """
        for node in self._lower_bounds[criterion.id]:
            derived = self._derived_by_name.get(node.fact)
            current = fired.facts.get(f"d:{node.fact}", {}).get("value")
            if derived is None or not isinstance(current, int | float):
                continue
            if not any(i.ref == "context.as_of" for i in derived.inputs):
                continue
            years = min(int(node.comparison.value - current) + 2, 120)
            for source in self._fact_inputs[derived.name]:
                day = fired.facts.get(f"f:{source}", {}).get("value_day")
                if day is None or self.ruleset.facts[source].type != "date":
                    continue
                origin = from_day_number(day)
                for k in range(1, as_of.year - origin.year + years + 1):
                    when = add_months(origin, 12 * k)
                    if when > as_of:
                        yield when
                        yield when + timedelta(days=1)  # 29 February birthdays


def _conflicts(missing: tuple[str, ...], prepared: PreparedFacts) -> tuple[str, ...]:
    """The contradictions in the record behind an unknown criterion (each names both records)."""
    if not prepared.conflicts or not missing:
        return ()
    return tuple(dict.fromkeys(m for m in prepared.conflicts.values() if any(m in item for item in missing)))


def _unsettled_missing(node: FactTest, description: str) -> str:
    """The to-do item of a test that came out the way that cannot settle it (``unknown_when``)."""
    return node.missing or f"{node.fact}: {description} cannot settle the criterion"


def _any(values: list[Truth]) -> Truth:
    return True if True in values else None if None in values else False


def _all(values: list[Truth]) -> Truth:
    return False if False in values else None if None in values else True


def _not(values: list[Truth]) -> Truth:
    return None if values[0] is None else not values[0]


def _first_known(values: list[Truth]) -> Truth:
    for v in values:
        if v is not None:
            return v
    return None


_COMBINE: dict[str, Callable[[list[Truth]], Truth]] = {
    "any": _any,
    "all": _all,
    "not": _not,
    "first_known": _first_known,
}


def _walk_tests(node: Node) -> Iterator[FactTest | FieldTest]:
    for n in walk(node):
        if isinstance(n, FactTest | FieldTest):
            yield n
