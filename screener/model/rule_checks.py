"""Load-time checks of a rule set for values that would silently never match.

The schema and :func:`screener.model.rules.semantic_errors` check structure, facts
and types. These checks catch what still loads but quietly changes decisions:

- a value a fact or field can never take: ``{fact: ana, eq: positve}`` where ``ana``
  declares ``values: [positive, negative]`` (the bundled eligible patient would turn
  ineligible), or ``{field: route, eq: orale}`` where routes are the patient schema's;
- an unknown condition or drug name in a ``match:`` list or a ``where`` test on
  ``name``/``drug``: a record can never carry it, so the criterion never sees the
  drug it means. Known names are those of the code mapping, the clinical functions
  and ``vocabulary.yaml`` (:func:`screener.model.vocabulary.reference_vocabulary`);
  the rule set's own lists do not count, or a typo would define itself;
- a fact whose unit is not the canonical unit of its quantity (the patient loader
  converts values to :data:`screener.units.CANONICAL`, so the comparison would be
  between different units, or every patient would be blamed for it);
- a non-finite threshold (``.nan``/``.inf`` are refused by the reader already);
- derived values that depend on each other in a cycle, reported as a cycle before
  anything else (otherwise the forward reference reads as "unknown fact");
- a constant of the wrong type for where it is used (a ``defaults:`` value against the
  clinical function's parameter, ``match:`` and ``eq``/``in`` values against the field),
  and derived inputs wired to a parameter of another type (:mod:`screener.model.type_checks`).

Each problem is a :class:`RuleSpecError` with the rule file, line and field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from screener import units
from screener.errors import RuleSpecError
from screener.model.operators import LIST_OPS, SCALAR_OPS
from screener.model.rules import (
    NUMERIC_OPS,
    Comparison,
    FactTest,
    FieldTest,
    NodePath,
    Quantifier,
    RuleSet,
    suggest,
    walk,
)


@cache
def _field_values() -> dict[tuple[str, str], tuple[str, ...]]:
    """Enumerated fields of condition and exposure records, from the patient schema."""
    from screener.spec.validate import schema

    defs = schema("patient.schema.json")["$defs"]
    out: dict[tuple[str, str], tuple[str, ...]] = {}
    for record, definition in (("condition", "condition"), ("exposure", "medication")):
        for field, spec in defs[definition]["properties"].items():
            if "enum" in spec:
                out[(record, field)] = tuple(spec["enum"])
    return out


def _values(comparison: Comparison) -> list[Any]:
    if comparison.op in SCALAR_OPS:
        return [comparison.value]
    if comparison.op in LIST_OPS:
        return list(comparison.value)
    return []


def _not_one_of(what: str, value: Any, allowed: tuple[str, ...] | frozenset[str]) -> str:
    hint = suggest(value, set(allowed)) if isinstance(value, str) else ""
    listed = ", ".join(sorted(allowed)) if len(allowed) <= 12 else f"{len(allowed)} known names"
    return f"{value!r} is not a value {what} can take ({listed}){hint}"


def _cycle_errors(rs: RuleSet) -> list[RuleSpecError]:
    graph = {d.name: [s for s in d.fact_inputs()] for d in rs.derived if d.per is None}
    for d in rs.derived:
        if d.per is not None:
            continue
        # depth-first, iteratively, from each derived value
        stack: list[tuple[str, tuple[str, ...]]] = [(d.name, (d.name,))]
        while stack:
            name, trail = stack.pop()
            for dep in graph.get(name, ()):
                if dep == d.name:
                    loop = " -> ".join((*trail, dep))
                    return [RuleSpecError(f"derived values form a cycle: {loop}", rs.locate(d.path))]
                if dep in graph and dep not in trail:
                    stack.append((dep, (*trail, dep)))
    return []


def _unit_errors(rs: RuleSet) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    for name, fact in rs.facts.items():
        if fact.quantity is not None and fact.quantity not in units.CANONICAL:
            errors.append(
                RuleSpecError(
                    f"unknown quantity '{fact.quantity}'{suggest(fact.quantity, set(units.CANONICAL))}",
                    rs.locate(("facts", name, "quantity")),
                )
            )
            continue
        quantity = fact.quantity or name
        if fact.unit is None or quantity not in units.CANONICAL:
            continue
        canonical = units.CANONICAL[quantity]
        if fact.unit != canonical:
            errors.append(
                RuleSpecError(
                    f"{name} is stated in {fact.unit}, but patient values of {quantity} are "
                    f"converted to {canonical}: write unit: {canonical} (and thresholds in {canonical})",
                    rs.locate(("facts", name, "unit")),
                )
            )
    return errors


def _prefer_errors(rs: RuleSet) -> list[RuleSpecError]:
    """``prefer_value`` on a fact that is not an observation: the value that counts is chosen
    among observations only (screener.facts, vectorized/prepare.py), so it would be ignored
    without a word and the latest status or score would count instead."""
    return [
        RuleSpecError(
            f"prefer_value is read for observations only, and {name} is a {fact.kind}: the latest "
            f"value would count, not the preferred one (record the preferred value as an observation)",
            rs.locate(("facts", name, "prefer_value")),
        )
        for name, fact in rs.facts.items()
        if fact.prefer_value is not None and fact.kind != "observation"
    ]


def _threshold_errors(path: NodePath, comparison: Comparison, rs: RuleSet) -> list[RuleSpecError]:
    value = comparison.value
    if comparison.op in NUMERIC_OPS and isinstance(value, float) and not math.isfinite(value):
        return [RuleSpecError(f"threshold {value} is not a finite number", rs.locate((*path, comparison.op)))]
    return []


def _names_known(rs: RuleSet) -> tuple[Any, Callable[[], Any]]:
    """The vocabulary files beside the rule set, and (parsed only when a name is not in those)
    the whole reference vocabulary with the code mapping."""
    from screener.model.vocabulary import file_vocabulary, reference_vocabulary

    folder = Path(rs.file).resolve().parent
    return file_vocabulary((folder, folder.parent)), lambda: reference_vocabulary((folder, folder.parent))


def _match_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Unknown condition and drug names in match lists and name/drug tests."""
    listed, vocabulary = _names_known(rs)
    kinds = {"condition": ("name", "condition"), "exposure": ("drug", "drug")}
    errors: list[RuleSpecError] = []

    def check(kind: str, names: Any, path: NodePath) -> None:
        for i, name in enumerate(names):
            if name in listed.get(kind):
                continue
            known = vocabulary().get(kind)
            if name not in known:
                errors.append(
                    RuleSpecError(
                        f"unknown {kind} name '{name}': no code mapping or vocabulary.yaml defines it, "
                        f"so no record can match it{suggest(str(name), known)}",
                        rs.locate((*path, i)),
                    )
                )

    for d in rs.derived:
        for key, values in d.match:
            if key == "drug":
                check("drug", values, (*d.path, "match", key))
    for c in rs.criteria:
        for node in walk(c.test):
            if not isinstance(node, Quantifier) or node.record not in kinds:
                continue
            field, kind = kinds[node.record]
            for key, values in node.match:
                if key == field:
                    check(kind, values, (*node.path, "match", key))
            if node.where is None:
                continue
            for inner in walk(node.where):
                if isinstance(inner, FieldTest) and inner.field == field:
                    op = inner.comparison.op
                    path = (*inner.path, op) if op in LIST_OPS else inner.path
                    check(kind, _values(inner.comparison), path)
    return errors


def _enum_errors(
    what: str, comparison: Comparison, allowed: Any, path: NodePath, rs: RuleSet
) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    op = comparison.op
    for i, value in enumerate(_values(comparison)):
        if value not in allowed:
            at = (*path, op, i) if op in LIST_OPS else (*path, op)
            errors.append(RuleSpecError(_not_one_of(what, value, allowed), rs.locate(at)))
    return errors


def _value_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Values an enumerated fact or field can never take, and non-finite thresholds."""
    errors: list[RuleSpecError] = []
    field_values = _field_values()
    for c in rs.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest | FieldTest):
                errors += _threshold_errors(node.path, node.comparison, rs)
            if isinstance(node, FactTest) and node.field is None and node.fact in rs.facts:
                allowed = rs.facts[node.fact].values
                if allowed:
                    errors += _enum_errors(node.fact, node.comparison, allowed, node.path, rs)
            elif isinstance(node, Quantifier) and node.where is not None:
                for inner in walk(node.where):
                    if isinstance(inner, FieldTest) and (node.record, inner.field) in field_values:
                        allowed = field_values[(node.record, inner.field)]
                        what = f"{node.record} {inner.field}"
                        errors += _enum_errors(what, inner.comparison, allowed, inner.path, rs)
    return errors


def load_time_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Problems that load but would silently change decisions; cycles first."""
    from screener.model.type_checks import type_errors

    return (
        _cycle_errors(rs)
        + _unit_errors(rs)
        + _prefer_errors(rs)
        + _value_errors(rs)
        + _match_errors(rs)
        + type_errors(rs)
    )
