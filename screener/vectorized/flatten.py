"""Prepared facts -> rows of three tables: patients (p), exposures (e), conditions (c).

Derived values are computed here exactly as :class:`screener.engine.evaluate.Engine`
derives them, by the rules of :mod:`screener.derivation` (same inputs, defaults,
functions from :data:`screener.clinical.FUNCTIONS`, same errors meaning "unknown",
same rounding); a derived value exists only when every fact it reads exists, as a
durable_rules join would require.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from screener.clinical import FUNCTIONS
from screener.derivation import compute
from screener.facts import PreparedFacts, window_field
from screener.model.rules import (
    CONDITION_FIELDS,
    EXPOSURE_FIELDS,
    FACT_FIELDS,
    WINDOW_OPS,
    Derived,
    FactTest,
    FieldTest,
    Quantifier,
    RuleSet,
    walk,
)

SQL_TYPES = {
    "number": "DOUBLE",
    "string": "VARCHAR",
    "boolean": "BOOLEAN",
    "date": "VARCHAR",
    "integer": "BIGINT",
}


class FlattenError(ValueError):
    """A prepared value whose type the vectorized path cannot hold (the engine may differ)."""


@dataclass(frozen=True)
class Column:
    name: str  # column name in its table
    source: str  # fact name (patients) or record field
    key: str  # key inside the prepared fact dict
    type: str  # number | string | boolean | date | integer


@dataclass
class Layout:
    """Which columns each table needs for a rule set."""

    patients: list[Column] = field(default_factory=list)
    exposures: list[Column] = field(default_factory=list)
    conditions: list[Column] = field(default_factory=list)

    def patient_column(self, fact: str, key: str) -> str:
        return f"{fact}.{key}"


def _fact_types(ruleset: RuleSet) -> dict[str, str]:
    types = {n: f.type for n, f in ruleset.facts.items()}
    for d in ruleset.derived:
        if d.per is None:
            unit = FUNCTIONS[d.function].unit
            types[d.name] = "number" if unit not in ("", "bool") else "string"
    return types


def target_key(node: FactTest | FieldTest) -> str:
    """The prepared key a test reads (date windows read their precomputed offset)."""
    name = node.field if isinstance(node, FieldTest) else (node.field or "value")
    assert name is not None
    if node.comparison.op in WINDOW_OPS:
        return window_field(name, node.comparison.value)
    return name


def layout_of(ruleset: RuleSet) -> Layout:
    layout = Layout()
    fact_types = _fact_types(ruleset)
    seen_p: set[str] = set()
    extra: dict[str, dict[str, str]] = {"exposure": {}, "condition": {}}
    for c in ruleset.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest):
                key = target_key(node)
                if node.comparison.op in WINDOW_OPS:
                    kind = "integer"
                elif node.field is not None:
                    kind = FACT_FIELDS[node.field]
                else:
                    kind = fact_types[node.fact]
                column = layout.patient_column(node.fact, key)
                if column not in seen_p:
                    seen_p.add(column)
                    layout.patients.append(Column(column, node.fact, key, kind))
            elif isinstance(node, Quantifier) and node.where is not None:
                for inner in walk(node.where):
                    if isinstance(inner, FieldTest) and inner.comparison.op in WINDOW_OPS:
                        extra[node.record][target_key(inner)] = "integer"
    exposure_fields = dict(EXPOSURE_FIELDS)
    for d in ruleset.derived:
        if d.per == "exposure":
            exposure_fields[d.name] = "number"
    layout.exposures = [Column(k, k, k, t) for k, t in {**exposure_fields, **extra["exposure"]}.items()]
    layout.conditions = [Column(k, k, k, t) for k, t in {**CONDITION_FIELDS, **extra["condition"]}.items()]
    return layout


def _checked(value: Any, column: Column, where: str) -> Any:
    if value is None:
        return None
    kind = column.type
    ok = (
        (kind in ("number", "integer") and isinstance(value, int | float) and not isinstance(value, bool))
        or (kind in ("string", "date") and isinstance(value, str))
        or (kind == "boolean" and isinstance(value, bool))
    )
    if not ok:
        raise FlattenError(
            f"{where}: {column.source} = {value!r} is not a {kind}; the vectorized path cannot compare it"
        )
    return value


class Deriver:
    """Computes derived values the way the engine's derive rules do."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.scalar = [d for d in ruleset.derived if d.per is None]
        self.per_exposure = [d for d in ruleset.derived if d.per == "exposure"]

    def _call(
        self, d: Derived, facts: dict[str, dict[str, Any]], as_of: date, exposure: dict[str, Any] | None
    ) -> Any:
        kwargs: dict[str, Any] = {}
        defaults = dict(d.defaults)
        for i in d.inputs:
            if i.source == "context":
                value: Any = as_of
            elif i.source == "exposure":
                assert exposure is not None
                value = exposure.get(i.field or "")
            else:
                fact = facts[i.source]
                value = fact.get(i.field) if i.field else fact.get("value")
                definition = self.ruleset.facts.get(i.source)
                if value is not None and definition is not None and definition.type == "date" and not i.field:
                    value = date.fromisoformat(value)
            if value is None and i.param in defaults:
                value = defaults[i.param]
            if value is None:
                return None
            kwargs[i.param] = value
        # refused or mistyped arguments leave the value unknown, as in the engine (rules 3, 4)
        return compute(d.function, kwargs)

    @staticmethod
    def _matches(d: Derived, record: dict[str, Any]) -> bool:
        return all(
            key in record and any(_values_equal(record[key], v) for v in values) for key, values in d.match
        )

    def derive(self, facts: dict[str, dict[str, Any]], exposures: list[dict[str, Any]], as_of: date) -> None:
        """Add derived scalar facts to ``facts`` and per-exposure values to each exposure."""
        pending = list(self.scalar)
        progressed = True
        while pending and progressed:
            progressed = False
            for d in list(pending):
                if all(src in facts for src in d.fact_inputs()):
                    pending.remove(d)
                    progressed = True
                    value = self._call(d, facts, as_of, None)
                    if value is not None:
                        facts[d.name] = {"kind": "fact", "name": d.name, "value": value}
        for d in self.per_exposure:
            if not all(src in facts for src in d.fact_inputs()):
                continue
            for e in exposures:
                if self._matches(d, e):
                    e[d.name] = self._call(d, facts, as_of, e)


def _values_equal(a: Any, b: Any) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def flatten(
    prepared: PreparedFacts, layout: Layout, deriver: Deriver, as_of: date, where: str = "patient"
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """One patient's row of ``p`` and rows of ``e`` and ``c`` (without the pid column)."""
    facts: dict[str, dict[str, Any]] = {}
    exposures: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    for f in prepared.facts:
        kind = f["kind"]
        if kind == "fact":
            facts[f["name"]] = f
        elif kind == "exposure":
            exposures.append(dict(f))
        elif kind == "condition":
            conditions.append(f)
    deriver.derive(facts, exposures, as_of)
    row = tuple(
        _checked(facts[c.source].get(c.key), c, where) if c.source in facts else None for c in layout.patients
    )
    e_rows = [tuple(_checked(e.get(c.key), c, where) for c in layout.exposures) for e in exposures]
    c_rows = [tuple(_checked(x.get(c.key), c, where) for c in layout.conditions) for x in conditions]
    return row, e_rows, c_rows
