"""Explanations: each criterion's value with the evidence behind it and the facts it lacks.

Reads what one session fired (:class:`screener.engine.glue.Fired`): a test that
neither held nor failed had nothing to read, so it is *unknown*, and the facts it
lacked are named (down to the base facts behind a derived value). Groups and
quantifiers take their value from the truth table (:mod:`screener.model.logic`);
what is kept here is which children's evidence and missing facts explain it.
Absence is only concluded here, after the session has settled, never inside the
engine (durable_rules has no truth maintenance and would fire absence rules too early).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from screener.clinical import FUNCTIONS
from screener.engine.compile import Compiled
from screener.engine.glue import Fired
from screener.engine.names import (
    FACT,
    KIND_EXPOSURE,
    MEMBER_RECORD,
    RECORD,
    VALUE,
    base_fact_id,
    derive_error_key,
    derived_fact_id,
)
from screener.engine.uncertain import records_missing
from screener.errors import EngineError
from screener.facts import PreparedFacts
from screener.model.logic import GROUPS, QUANTIFIERS, Truth, combine, criterion_outcome, quantify
from screener.model.operators import NUMERIC_OPS
from screener.model.rules import Criterion, FactTest, FieldTest, Group, Node, Quantifier, RuleSet
from screener.results import CriterionResult, Evidence, FactUse, Outcome


@dataclass(frozen=True, slots=True)
class TestInfo:
    """What a test's evaluation needs that depends on the rule set only (built once per engine)."""

    tid: str
    description: str  # a field test's without the record label, which the patient gives
    threshold: Any  # the compared threshold, for margins (numeric comparisons only)
    op: str
    unit: str | None


class Verdict(NamedTuple):  # a tuple: made ~100 times per patient, cheaper than a dataclass
    value: Truth
    evidence: tuple[Evidence, ...] = ()
    missing: tuple[str, ...] = ()


_KNOWN = {True: Verdict(True), False: Verdict(False)}


def _merge(*parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for p in parts for x in p))


def combine_verdicts(op: str, verdicts: Sequence[Verdict]) -> Verdict:
    """A group's verdict: its value from the truth table (:mod:`screener.model.logic`),
    explained by the children that decide it.

    A value that settles the group at once (false for ``all``, true for ``any``) is
    explained by the children that have it alone; an unknown group by all children's
    evidence and the missing facts of its unknown children; ``not`` keeps its child's
    explanation; ``first_known`` is its first known child, or unknown with every
    child's missing facts.
    """
    value = combine(op, [v.value for v in verdicts])
    if op == "not":
        (child,) = verdicts
        return Verdict(value, child.evidence, child.missing)
    if op == "first_known":
        for v in verdicts:
            if v.value is not None:
                return v
        return Verdict(None, (), _merge(*(v.missing for v in verdicts)))
    if value is None:
        return Verdict(
            None,
            tuple(e for v in verdicts for e in v.evidence),
            _merge(*(v.missing for v in verdicts if v.value is None)),
        )
    if value is GROUPS[op].decisive:
        return Verdict(value, tuple(e for v in verdicts if v.value is value for e in v.evidence))
    return Verdict(value, tuple(e for v in verdicts for e in v.evidence))


class Explainer:
    """Evaluates criteria over one session's firings, with evidence and missing facts."""

    def __init__(self, ruleset: RuleSet, compiled: Compiled) -> None:
        self.ruleset = ruleset
        self.compiled = compiled
        self.test_info: dict[int, TestInfo] = {}
        for test in compiled.tests.values():
            node = test.node
            comparison = node.comparison
            self.test_info[id(node)] = TestInfo(
                tid=test.id,
                description=self._describe(node),
                threshold=comparison.value if comparison.op in NUMERIC_OPS else None,
                op=comparison.op,
                unit=node.unit,
            )
        self._derived_by_name = ruleset.derived_by_name  # properties: a new dict at every read
        self._fact_inputs = {d.name: tuple(d.fact_inputs()) for d in ruleset.derived}
        self._exposure_derived = ruleset.exposure_derived

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

    @staticmethod
    def fact(name: str, fired: Fired) -> dict[str, Any] | None:
        """The base fact ``name``, else the derived value of that name, if the session has it."""
        return fired.facts.get(base_fact_id(name)) or fired.facts.get(derived_fact_id(name))

    def record_label(self, record: dict[str, Any]) -> str:
        if record.get("kind") == KIND_EXPOSURE:
            when = record.get("start", "?")
            until = record.get("end") or ("ongoing" if record.get("ongoing") else "?")
            return f"{record['drug']} {when}..{until} ({record['id']})"
        return f"{record.get('name')} ({record['id']})"

    def _label(self, record: dict[str, Any], fired: Fired) -> str:
        """:meth:`_record_label`, made once per record and session."""
        label = fired.labels.get(record["id"])
        if label is None:
            label = fired.labels[record["id"]] = self.record_label(record)
        return label

    def _describe(self, node: FactTest | FieldTest, record: dict[str, Any] | None = None) -> str:
        unit = f" {node.unit}" if node.unit else ""
        if isinstance(node, FactTest):
            subject = node.fact if node.field is None else f"{node.fact}.{node.field}"
        else:
            subject = node.field if record is None else f"{self.record_label(record)}: {node.field}"
        return f"{subject} {node.comparison.describe()}{unit}"

    def _missing_fact(self, name: str, fired: Fired, prepared: PreparedFacts) -> tuple[str, ...]:
        """The base facts to collect so that ``name`` can be read (once per session)."""
        missing = fired.missing.get(name)
        if missing is None:
            missing = fired.missing[name] = self._find_missing(name, fired, prepared)
        return missing

    def _find_missing(self, name: str, fired: Fired, prepared: PreparedFacts) -> tuple[str, ...]:
        if derived_fact_id(name) in fired.facts or base_fact_id(name) in fired.facts:
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

    def test(
        self,
        node: FactTest | FieldTest,
        fired: Fired,
        prepared: PreparedFacts,
        record: dict[str, Any] | None = None,
    ) -> Verdict:
        info = self.test_info[id(node)]
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
                present = self.fact(node.fact, fired)
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
                key = derive_error_key(per.name, record["id"])
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
        if fired.explain and FACT in matched:
            uses.append(self._fact_use(fired.facts.get(matched[FACT]["id"], matched[FACT]), fired))
        if RECORD in matched and fired.explain:
            e = fired.facts[matched[RECORD][MEMBER_RECORD]]  # the full record behind the member fact
            field_name = node.field if isinstance(node, FieldTest) else None
            if VALUE in matched:
                uses.append(
                    self._fact_use(fired.facts.get(matched[VALUE]["id"], matched[VALUE]), fired, label)
                )
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
        if VALUE in matched:
            compared = matched[VALUE].get("value")
        elif FACT in matched:
            compared = matched[FACT].get(node.field or "value") if isinstance(node, FactTest) else None
        elif RECORD in matched and isinstance(node, FieldTest):
            compared = matched[RECORD].get(node.field)
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

    def _where(
        self, node: Group | FieldTest, fired: Fired, prepared: PreparedFacts, record: dict[str, Any]
    ) -> Verdict:
        if isinstance(node, FieldTest):
            return self.test(node, fired, prepared, record)
        return combine_verdicts(node.op, [self._where(c, fired, prepared, record) for c in node.children])

    def _quantifier(self, node: Quantifier, fired: Fired, prepared: PreparedFacts) -> Verdict:
        qid = self.compiled.quantifier_of_node[id(node)]
        records = sorted(fired.candidates.get(qid, {}).values(), key=lambda r: r["id"])
        if not records:
            absent = quantify(node.quantifier, (), node.absent)  # false, or unknown
            if absent is None:
                return Verdict(None, missing=(records_missing(node),))
            if not fired.evidence:
                return _KNOWN[absent]
            what = ", ".join(f"{k} in {list(v)}" for k, v in node.match)
            return Verdict(absent, (Evidence(test=f"no {node.record} record with {what}", outcome=absent),))
        # without ``where`` every matching record counts as true: the quantifier is true
        if node.where is None and not fired.evidence:
            return _KNOWN[True]
        if node.where is None:
            evidence = tuple(
                Evidence(
                    test=f"{node.record} record {self.record_label(r)}",
                    outcome=True,
                    facts=(
                        FactUse(
                            name=r.get("name", r.get("drug", "?")),
                            value=r.get("type") or r.get("status"),
                            date=r.get("onset") or r.get("start"),
                            source=r.get("source"),
                            record=self.record_label(r),
                        ),
                    ),
                )
                for r in records
            )
            return Verdict(True, evidence)  # no conditions: any matching record settles it
        verdicts = [self._where(node.where, fired, prepared, r) for r in records]
        return combine_verdicts(QUANTIFIERS[node.quantifier], verdicts)

    def _node(self, node: Node, fired: Fired, prepared: PreparedFacts) -> Verdict:
        if isinstance(node, FactTest):
            return self.test(node, fired, prepared)
        if isinstance(node, Quantifier):
            return self._quantifier(node, fired, prepared)
        assert isinstance(node, Group)
        return combine_verdicts(node.op, [self._node(c, fired, prepared) for c in node.children])

    def criterion(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> CriterionResult:
        verdict = self._node(c.test, fired, prepared)
        outcome = criterion_outcome(c.type, verdict.value)
        missing = verdict.missing if outcome == "unknown" else ()
        return _result(
            c, outcome, missing=missing, evidence=verdict.evidence, conflicts=_conflicts(missing, prepared)
        )

    def passing(self, c: Criterion) -> CriterionResult:
        """A criterion known to pass, without its explanation (batch rows show none)."""
        return _result(c, "pass")


def _result(c: Criterion, outcome: Outcome, **explanation: Any) -> CriterionResult:
    return CriterionResult(
        id=c.id,
        type=c.type,
        title=c.title,
        outcome=outcome,
        section=c.section,
        quote=c.quote,
        reading=c.reading,
        person_only=c.person_only,
        **explanation,
    )


def _conflicts(missing: tuple[str, ...], prepared: PreparedFacts) -> tuple[str, ...]:
    """The contradictions in the record behind an unknown criterion (each names both records)."""
    if not prepared.conflicts or not missing:
        return ()
    return tuple(dict.fromkeys(m for m in prepared.conflicts.values() if any(m in item for item in missing)))


def _unsettled_missing(node: FactTest, description: str) -> str:
    """The to-do item of a test that came out the way that cannot settle it (``unknown_when``)."""
    return node.missing or f"{node.fact}: {description} cannot settle the criterion"
