"""What changed between two versions of a rule set, criterion by criterion.

Reports criteria added and removed; changed titles, quotes, readings and
person-only flags; thresholds (``E2: crcl_cockcroft_gault lt 30 -> 40 mL/min``)
and date windows (``E10: last_dose max_ago 2 months -> 3 months``) when the
shape of a test is unchanged, otherwise the old and new logic in plain words;
record lists of quantifiers (drugs added or removed); derived values (function,
inputs, defaults, unit) and facts (added, removed, unit, ``max_age_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from screener.audit.words import node_words, scalar
from screener.model.rules import (
    Comparison,
    Criterion,
    Derived,
    FactConflict,
    FactDef,
    FactTest,
    FieldTest,
    Group,
    Node,
    Quantifier,
    RuleSet,
    WhereNode,
    Window,
    walk,
)

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class Change:
    kind: str  # e.g. criterion-added, threshold, window, quote, derived-function, fact-max-age
    subject: str  # criterion id, "derived <name>", "fact <name>" or "ruleset"
    message: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message}


@dataclass(frozen=True)
class RuleDiff:
    old: RuleSet
    new: RuleSet
    changes: tuple[Change, ...]

    def to_dict(self) -> dict[str, Any]:
        def side(rs: RuleSet) -> dict[str, str]:
            return {"file": rs.file, "id": rs.id, "version": rs.version, "sha256": rs.sha256}

        return {
            "schema_version": SCHEMA_VERSION,
            "old": side(self.old),
            "new": side(self.new),
            "changes": [c.to_dict() for c in self.changes],
        }


# --------------------------------------------------------------------------- tests


def _value_words(c: Comparison) -> str:
    value = c.value
    if isinstance(value, Window):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return scalar(value)


def _skeleton(node: Node | WhereNode | None) -> Any:
    """A test tree's shape: groups, quantifiers and what each leaf compares, without values."""
    if node is None:
        return None
    if isinstance(node, Group):
        return (node.op, tuple(_skeleton(c) for c in node.children))
    if isinstance(node, FactTest):
        return ("fact", node.fact, node.field, node.unknown_when)
    if isinstance(node, FieldTest):
        return ("field", node.field)
    return (node.quantifier, node.record, _skeleton(node.where))


def _pairs(
    old: Node | WhereNode | None, new: Node | WhereNode | None
) -> list[tuple[Node | WhereNode, Node | WhereNode]]:
    """Corresponding nodes of two trees of the same shape."""
    if old is None or new is None:
        return []
    out: list[tuple[Node | WhereNode, Node | WhereNode]] = [(old, new)]
    if isinstance(old, Group) and isinstance(new, Group):
        for a, b in zip(old.children, new.children, strict=True):
            out += _pairs(a, b)
    elif isinstance(old, Quantifier) and isinstance(new, Quantifier):
        out += _pairs(old.where, new.where)
    return out


def _leaf_change(cid: str, old: FactTest | FieldTest, new: FactTest | FieldTest) -> Change | None:
    a, b = old.comparison, new.comparison
    if a == b and old.unit == new.unit:
        return None
    subject = (
        old.field if isinstance(old, FieldTest) else (f"{old.fact}.{old.field}" if old.field else old.fact)
    )
    windowed = isinstance(a.value, Window) or isinstance(b.value, Window)
    kind = "window" if windowed else "threshold"
    if a.op == b.op:
        text = f"{subject} {a.op} {_value_words(a)} -> {_value_words(b)}"
    else:
        text = f"{subject} {a.op} {_value_words(a)} -> {b.op} {_value_words(b)}"
    if old.unit != new.unit and old.unit and new.unit:
        text += f" (unit {old.unit} -> {new.unit})"
    elif new.unit or old.unit:
        text += f" {new.unit or old.unit}"
    return Change(kind, cid, text)


def _match_changes(cid: str, old: Quantifier, new: Quantifier) -> list[Change]:
    out: list[Change] = []
    a, b = dict(old.match), dict(new.match)
    record = "medication periods" if old.record == "exposure" else "conditions"
    for key in sorted(set(a) | set(b)):
        before, after = list(a.get(key, ())), list(b.get(key, ()))
        if before == after:
            continue
        added = [v for v in after if v not in before]
        removed = [v for v in before if v not in after]
        parts = []
        if added:
            parts.append("adds " + ", ".join(scalar(v) for v in added))
        if removed:
            parts.append("removes " + ", ".join(scalar(v) for v in removed))
        if not parts:
            parts.append("reorders its values")
        out.append(Change("match", cid, f"{record} matched on {key} {'; '.join(parts)}"))
    if old.absent != new.absent:
        out.append(Change("absent", cid, f"no {record} recorded: {old.absent} -> {new.absent}"))
    return out


def test_changes(cid: str, old: Node, new: Node) -> list[Change]:
    if _skeleton(old) != _skeleton(new):
        return [Change("logic", cid, f"logic changed: {node_words(old)} -> {node_words(new)}")]
    out: list[Change] = []
    for a, b in _pairs(old, new):
        if isinstance(a, FactTest | FieldTest) and isinstance(b, FactTest | FieldTest):
            change = _leaf_change(cid, a, b)
            if change:
                out.append(change)
        elif isinstance(a, Quantifier) and isinstance(b, Quantifier):
            out += _match_changes(cid, a, b)
    return out


# --------------------------------------------------------------------------- criteria, derived, facts


def _text_change(old: str, new: str) -> bool:
    return " ".join(old.split()) != " ".join(new.split())


def _criterion_changes(old: Criterion, new: Criterion) -> list[Change]:
    cid = old.id
    out: list[Change] = []
    if old.type != new.type:
        out.append(Change("type", cid, f"type {old.type} -> {new.type}"))
    if _text_change(old.title, new.title):
        out.append(Change("title", cid, f"title '{old.title}' -> '{new.title}'"))
    if _text_change(old.section, new.section):
        out.append(Change("section", cid, f"protocol section '{old.section}' -> '{new.section}'"))
    if _text_change(old.quote, new.quote):
        out.append(Change("quote", cid, "protocol quote changed"))
    if _text_change(old.reading, new.reading):
        out.append(Change("reading", cid, "reading changed"))
    if old.person_only != new.person_only:
        out.append(Change("person-only", cid, f"person_only {old.person_only} -> {new.person_only}"))
    out += test_changes(cid, old.test, new.test)
    return out


def _derived_changes(old: Derived, new: Derived) -> list[Change]:
    subject = f"derived {old.name}"
    out: list[Change] = []
    if old.function != new.function:
        out.append(Change("derived-function", subject, f"function {old.function} -> {new.function}"))
    a, b = dict((i.param, i.ref) for i in old.inputs), dict((i.param, i.ref) for i in new.inputs)
    for param in sorted(set(a) | set(b)):
        if a.get(param) != b.get(param):
            out.append(
                Change(
                    "derived-inputs",
                    subject,
                    f"input {param}: {a.get(param, '(none)')} -> {b.get(param, '(none)')}",
                )
            )
    da, db = dict(old.defaults), dict(new.defaults)
    for param in sorted(set(da) | set(db)):
        if da.get(param) != db.get(param):
            before = scalar(da[param]) if param in da else "(none)"
            after = scalar(db[param]) if param in db else "(none)"
            out.append(Change("derived-default", subject, f"default {param}: {before} -> {after}"))
    if old.unit != new.unit:
        out.append(Change("derived-unit", subject, f"unit {old.unit} -> {new.unit}"))
    if old.per != new.per:
        out.append(Change("derived-per", subject, f"per {old.per} -> {new.per}"))
    if old.match != new.match:
        out.append(Change("derived-match", subject, "records it applies to changed"))
    if _text_change(old.reading or "", new.reading or ""):
        out.append(Change("derived-reading", subject, "reading changed"))
    return out


def _days(n: int | None) -> str:
    return "no limit" if n is None else f"{n} days"


def _fact_changes(old: FactDef, new: FactDef) -> list[Change]:
    subject = f"fact {old.name}"
    out: list[Change] = []
    if old.max_age_days != new.max_age_days:
        out.append(
            Change("fact-max-age", subject, f"max_age {_days(old.max_age_days)} -> {_days(new.max_age_days)}")
        )
    if old.unit != new.unit:
        out.append(Change("fact-unit", subject, f"unit {old.unit} -> {new.unit}"))
    if old.type != new.type:
        out.append(Change("fact-type", subject, f"type {old.type} -> {new.type}"))
    if old.person_only != new.person_only:
        out.append(Change("fact-person-only", subject, f"person_only {old.person_only} -> {new.person_only}"))
    if old.values != new.values:
        out.append(Change("fact-values", subject, f"values {list(old.values)} -> {list(new.values)}"))
    return out


def diff_rulesets(old: RuleSet, new: RuleSet) -> RuleDiff:
    out: list[Change] = []
    if old.version != new.version:
        out.append(Change("version", "ruleset", f"version {old.version} -> {new.version}"))
    old_c = {c.id: c for c in old.criteria}
    new_c = {c.id: c for c in new.criteria}
    for c in old.criteria:
        if c.id not in new_c:
            out.append(Change("criterion-removed", c.id, f"criterion removed ({c.title})"))
    for c in new.criteria:
        if c.id not in old_c:
            out.append(Change("criterion-added", c.id, f"criterion added ({c.title}): {node_words(c.test)}"))
    for c in old.criteria:
        if c.id in new_c:
            out += _criterion_changes(c, new_c[c.id])

    old_d = {d.name: d for d in old.derived}
    new_d = {d.name: d for d in new.derived}
    for name in [n for n in old_d if n not in new_d]:
        out.append(Change("derived-removed", f"derived {name}", "derived value removed"))
    for d in new.derived:
        if d.name not in old_d:
            out.append(Change("derived-added", f"derived {d.name}", f"derived value added ({d.function})"))
        else:
            out += _derived_changes(old_d[d.name], d)

    for name in [n for n in old.facts if n not in new.facts]:
        out.append(Change("fact-removed", f"fact {name}", "fact removed"))
    for name, fact in new.facts.items():
        if name not in old.facts:
            out.append(Change("fact-added", f"fact {name}", f"fact added ({fact.label})"))
        else:
            out += _fact_changes(old.facts[name], fact)
    out += _conflict_changes(old, new)
    return RuleDiff(old, new, tuple(out))


def _readers(rs: RuleSet, facts: tuple[str, ...]) -> list[str]:
    """Criteria whose test reads one of ``facts``."""
    return [
        c.id for c in rs.criteria if any(isinstance(n, FactTest) and n.fact in facts for n in walk(c.test))
    ]


def _conflict_changes(old: RuleSet, new: RuleSet) -> list[Change]:
    """Declared contradictions (``conflicts:``) added, removed, or with another window."""

    def key(x: FactConflict) -> tuple[tuple[str, object], ...]:
        return x.when

    def words(x: FactConflict, rs: RuleSet) -> str:
        pair = " and ".join(f"{name} = {scalar(value)}" for name, value in x.when)
        return f"{pair} within {x.within_days} days (read by {', '.join(_readers(rs, x.facts)) or 'none'})"

    out: list[Change] = []
    before = {key(x): x for x in old.conflicts}
    after = {key(x): x for x in new.conflicts}
    for k, x in before.items():
        if k not in after:
            subject = f"conflict {'/'.join(x.facts)}"
            out.append(Change("conflict-removed", subject, f"contradiction removed: {words(x, old)}"))
    for k, x in after.items():
        subject = f"conflict {'/'.join(x.facts)}"
        if k not in before:
            out.append(Change("conflict-added", subject, f"contradiction added: {words(x, new)}"))
        elif before[k].within_days != x.within_days:
            out.append(
                Change("conflict-window", subject, f"within {before[k].within_days} -> {x.within_days} days")
            )
    return out


def render_text(diff: RuleDiff) -> str:
    head = (
        f"--- {diff.old.file} ({diff.old.id} {diff.old.version}, sha256 {diff.old.sha256[:12]})\n"
        f"+++ {diff.new.file} ({diff.new.id} {diff.new.version}, sha256 {diff.new.sha256[:12]})\n"
    )
    if not diff.changes:
        return head + "no criterion-level changes\n"
    return head + "".join(f"{c}\n" for c in diff.changes)
