"""Semantic lint of a rule set: what loads fine but is probably a mistake.

Loading (:func:`screener.model.rules.load_ruleset`) already refuses what makes a
rule set unusable (schema errors, unknown names, unit mismatches). The linter
looks for softer problems and reports each as a :class:`Finding` with a stable
code, the file and line, and a message:

==========  ===============================================================
SCR001      fact declared but never read by a test or a derived value
SCR002      catalogue criterion not covered by any rule
SCR003      criterion id that is not in the catalogue
SCR004      criterion without a protocol quote (blank or placeholder)
SCR005      criterion without a stated reading (blank or placeholder)
SCR006      two criteria with the same test tree
SCR007      contradictory tests in one ``all`` group (can never be true)
SCR008      redundant tests in one ``all`` group (one implies the other)
SCR009      derived value never used
SCR010      person-only criterion reading facts that are not person-only
SCR011      criterion not marked person-only reading person-only facts
SCR012      draft criterion (``screener rules new``): reading and test still to write
==========  ===============================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.errors import Location
from screener.model.logic import GROUPS
from screener.model.operators import OPERATORS
from screener.model.rules import (
    Comparison,
    Criterion,
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

CODES: dict[str, str] = {
    "SCR001": "unused-fact",
    "SCR002": "uncovered-criterion",
    "SCR003": "unknown-criterion-id",
    "SCR004": "missing-quote",
    "SCR005": "missing-reading",
    "SCR006": "duplicate-rule",
    "SCR007": "contradictory-tests",
    "SCR008": "redundant-tests",
    "SCR009": "unused-derived",
    "SCR010": "person-only-mismatch",
    "SCR011": "person-only-fact-in-automatic-criterion",
    "SCR012": "draft-criterion",
}

PLACEHOLDERS = {"", "todo", "tbd", "tba", "xxx", "...", "-", "?", "n/a", "na", "none", "fixme"}
_CATALOGUE_ROW = re.compile(r"^\|\s*([IE][0-9]+[a-z]?)\s*\|")


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    location: Location

    @property
    def name(self) -> str:
        return CODES[self.code]

    def __str__(self) -> str:
        return f"{self.location}: {self.code} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "message": self.message,
            "file": self.location.file,
            "line": self.location.line,
            "field": self.location.field,
        }


# --------------------------------------------------------------------------- catalogue


def parse_catalogue(text: str) -> list[str]:
    """Criterion ids of a catalogue: first cell of each markdown table row (``| I4a | ...``)."""
    ids: list[str] = []
    for line in text.splitlines():
        found = _CATALOGUE_ROW.match(line.strip())
        if found and found.group(1) not in ids:
            ids.append(found.group(1))
    return ids


def _repo_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / "pyproject.toml").exists():
            return folder
    return None


def find_catalogue(ruleset: RuleSet) -> Path | None:
    """The catalogue file a rule set refers to, if it can be found on disk.

    ``ruleset.criteria_catalogue`` (its first word is a path) is tried relative
    to the repository holding the rule file and to the folder above it; then
    ``../shared/protocol/criteria.md`` next to the repository.
    """
    rule_file = Path(ruleset.file).resolve()
    root = _repo_root(rule_file.parent) or rule_file.parent
    candidates: list[Path] = []
    declared = str(ruleset.raw.get("ruleset", {}).get("criteria_catalogue", "")).strip()
    if declared:
        ref = Path(declared.split()[0])
        if ref.is_absolute():
            candidates.append(ref)
        else:
            candidates += [root / ref, root.parent / ref, rule_file.parent / ref]
    candidates.append(root.parent / "shared" / "protocol" / "criteria.md")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def _parent(criterion_id: str) -> str:
    """I4a -> I4; I4 -> I4."""
    return criterion_id.rstrip("abcdefghijklmnopqrstuvwxyz")


def covered(catalogue_id: str, rule_ids: set[str]) -> bool:
    """Is a catalogue id covered by a rule set's ids?

    I4 is covered by I4 itself or by its lettered parts (I4a, I4b...); I4a is
    covered by I4a or by a rule for the whole of I4.
    """
    if catalogue_id in rule_ids:
        return True
    parent = _parent(catalogue_id)
    if parent != catalogue_id:
        return parent in rule_ids
    return any(_parent(r) == catalogue_id and r != catalogue_id for r in rule_ids)


# --------------------------------------------------------------------------- tree helpers


def canonical(node: Node | WhereNode | None) -> Any:
    """A comparable form of a test tree, without positions. What is unordered comes from
    the one truth table and the operator table: the children of a group whose value never
    depends on their order (``unordered`` in :data:`screener.model.logic.GROUPS`: ``all``,
    ``any``), the values of a list operator (``in``, ``not_in``: value kind ``list`` in
    :data:`screener.model.operators.OPERATORS`), and a quantifier's ``match`` lists (any
    listed value)."""
    if node is None:
        return None
    if isinstance(node, Group):
        children = [canonical(c) for c in node.children]
        if GROUPS[node.op].unordered:
            children = sorted(children, key=repr)
        return (node.op, tuple(children))
    if isinstance(node, FactTest):
        return ("fact", node.fact, node.field, _comparison_key(node.comparison), node.unit)
    if isinstance(node, FieldTest):
        return ("field", node.field, _comparison_key(node.comparison), node.unit)
    return (
        node.quantifier,
        node.record,
        tuple(sorted((k, tuple(sorted(map(repr, v)))) for k, v in node.match)),
        canonical(node.where),
        node.absent,
    )


def _comparison_key(c: Comparison) -> Any:
    if OPERATORS[c.op].value == "list":  # a set of values: ``in: [a, b]`` is ``in: [b, a]``
        return (c.op, tuple(sorted(map(repr, c.value))))
    return (c.op, repr(c.value))


def _window_days(w: Window) -> float:
    return w.days + w.months * 30.4375 + w.years * 365.25


def criterion_facts(c: Criterion) -> set[str]:
    return {n.fact for n in walk(c.test) if isinstance(n, FactTest)}


def _used_names(rs: RuleSet) -> tuple[set[str], set[str]]:
    """(fact names read by tests, field names read inside quantifiers)."""
    facts: set[str] = set()
    fields: set[str] = set()
    for c in rs.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest):
                facts.add(node.fact)
            elif isinstance(node, FieldTest):
                fields.add(node.field)
            elif isinstance(node, Quantifier):
                fields.update(k for k, _ in node.match)
    return facts, fields


# --------------------------------------------------------------------------- bounds


@dataclass(frozen=True)
class _Bound:
    value: float
    strict: bool
    label: str  # the test in words, for messages


def _numeric(c: Comparison) -> tuple[str, float, bool] | None:
    """(direction, value, strict) of a comparison that bounds a number or a date's age."""
    operator = OPERATORS[c.op]
    if operator.bound is None:
        return None
    if operator.numeric and isinstance(c.value, int | float):
        return operator.bound, float(c.value), operator.strict
    if operator.window and isinstance(c.value, Window):
        # Age of the date at the screening date: max_ago is an upper bound, min_ago a lower one.
        return operator.bound, _window_days(c.value), operator.strict
    return None


def _stronger(direction: str, a: _Bound, b: _Bound) -> bool:
    """Does bound ``a`` imply bound ``b`` (same direction)?"""
    if direction == "lower":
        return a.value > b.value or (a.value == b.value and (a.strict or not b.strict))
    return a.value < b.value or (a.value == b.value and (a.strict or not b.strict))


def _label(node: FactTest | FieldTest) -> str:
    from screener.audit.words import test_words

    return test_words(node)


def _group_findings(rs: RuleSet, c: Criterion, group: Group) -> Iterator[Finding]:
    tests: dict[tuple[str, ...], list[FactTest | FieldTest]] = {}
    for child in _conjuncts(group):
        if isinstance(child, FactTest):
            tests.setdefault(("fact", child.fact, child.field or ""), []).append(child)
        elif isinstance(child, FieldTest):
            tests.setdefault(("field", child.field), []).append(child)
    for key, nodes in tests.items():
        if len(nodes) < 2:
            continue
        subject = key[1] + (f".{key[2]}" if key[0] == "fact" and key[2] else "")
        here = rs.locate(nodes[0].path)
        yield from _check_same_subject(rs, c, subject, nodes, here)


def _check_same_subject(
    rs: RuleSet,
    c: Criterion,
    subject: str,
    nodes: list[FactTest | FieldTest],
    here: Location,
) -> Iterator[Finding]:
    bounds: dict[str, list[tuple[_Bound, FactTest | FieldTest]]] = {"lower": [], "upper": []}
    equal: list[tuple[Any, FactTest | FieldTest]] = []
    allowed: list[tuple[set[Any], FactTest | FieldTest]] = []
    excluded: list[tuple[set[Any], FactTest | FieldTest]] = []
    seen: dict[Any, FactTest | FieldTest] = {}
    for node in nodes:
        key = _comparison_key(node.comparison)
        if key in seen:
            yield Finding(
                "SCR008",
                f"{c.id}: '{_label(node)}' is stated twice in one all-group",
                rs.locate(node.path),
            )
            continue
        seen[key] = node
        comp = node.comparison
        numeric = _numeric(comp)
        if numeric:
            direction, value, strict = numeric
            bounds[direction].append((_Bound(value, strict, _label(node)), node))
        else:
            operator = OPERATORS[comp.op]
            listed = set(comp.value) if operator.value == "list" else {comp.value}
            if operator.values == "allowed":
                if operator.value != "list":
                    equal.append((comp.value, node))
                allowed.append((listed, node))
            elif operator.values == "excluded":
                excluded.append((listed, node))

    # Contradictions: an empty interval, or no value left among the allowed ones.
    for lower, lnode in bounds["lower"]:
        for upper, unode in bounds["upper"]:
            empty = lower.value > upper.value or (
                lower.value == upper.value and (lower.strict or upper.strict)
            )
            if empty:
                yield Finding(
                    "SCR007",
                    f"{c.id}: '{lower.label}' and '{upper.label}' can never both be true",
                    rs.locate(unode.path if unode.path > lnode.path else lnode.path),
                )
    numbers = [(v, n) for v, n in equal if isinstance(v, int | float) and not isinstance(v, bool)]
    for value, node in numbers:
        for direction in ("lower", "upper"):
            for bound, _bnode in bounds[direction]:
                ok = (
                    (value > bound.value or (value == bound.value and not bound.strict))
                    if direction == "lower"
                    else (value < bound.value or (value == bound.value and not bound.strict))
                )
                if not ok:
                    yield Finding(
                        "SCR007",
                        f"{c.id}: '{_label(node)}' and '{bound.label}' can never both be true",
                        rs.locate(node.path),
                    )
    if allowed:
        remaining = set.intersection(*(s for s, _ in allowed))
        for values, _node in excluded:
            remaining -= values
        if not remaining:
            last = max((n for _, n in allowed + excluded), key=lambda n: n.path)
            words = " and ".join(f"'{_label(n)}'" for _, n in allowed + excluded)
            yield Finding("SCR007", f"{c.id}: {words} can never all be true", rs.locate(last.path))
        else:
            for values, node in allowed:
                if len(allowed) > 1 and values > remaining and not excluded:
                    yield Finding(
                        "SCR008",
                        f"{c.id}: '{_label(node)}' is implied by the other tests on {subject}",
                        rs.locate(node.path),
                    )

    # Redundancy: two bounds in the same direction, the weaker adds nothing.
    for direction in ("lower", "upper"):
        items = bounds[direction]
        for i, (a, anode) in enumerate(items):
            for b, bnode in items[i + 1 :]:
                if _stronger(direction, a, b):
                    weak, strong, wnode = b, a, bnode
                elif _stronger(direction, b, a):
                    weak, strong, wnode = a, b, anode
                else:  # pragma: no cover - bounds in one direction are always ordered
                    continue
                yield Finding(
                    "SCR008",
                    f"{c.id}: '{weak.label}' is redundant with '{strong.label}'",
                    rs.locate(wnode.path),
                )


def _conjuncts(group: Group) -> Iterator[Node | WhereNode]:
    """Children of an all-group, looking through nested all-groups (all of: a; all of: b, c)."""
    for child in group.children:
        if isinstance(child, Group) and child.op == "all":
            yield from _conjuncts(child)
        else:
            yield child


def _all_groups(node: Node | WhereNode, inside_all: bool = False) -> Iterator[Group]:
    """Outermost all-groups (nested ones are checked with their parent)."""
    if isinstance(node, Group):
        is_all = node.op == "all"
        if is_all and not inside_all:
            yield node
        for child in node.children:
            yield from _all_groups(child, is_all)
    elif isinstance(node, Quantifier) and node.where is not None:
        yield from _all_groups(node.where)


# --------------------------------------------------------------------------- lint


def _blank(text: str) -> bool:
    return text.strip().strip(".").strip().lower() in PLACEHOLDERS


def lint(ruleset: RuleSet, catalogue: list[str] | None = None) -> list[Finding]:
    """Every finding for a loaded rule set, in file order.

    ``catalogue``: the criterion ids the rule set must cover (see
    :func:`parse_catalogue`); ``None`` skips the coverage checks.
    """
    rs = ruleset
    out: list[Finding] = []
    facts_read, fields_read = _used_names(rs)
    derived_inputs = {i.source for d in rs.derived for i in d.inputs}

    for name in rs.facts:
        if name not in facts_read and name not in derived_inputs:
            out.append(
                Finding("SCR001", f"fact '{name}' is declared but never used", rs.locate(("facts", name)))
            )
    for d in rs.derived:
        used = d.name in (fields_read if d.per == "exposure" else facts_read) or d.name in derived_inputs
        if not used:
            out.append(
                Finding(
                    "SCR009",
                    f"derived value '{d.name}' ({d.function}) is never used",
                    rs.locate((*d.path, "name")),
                )
            )

    rule_ids = {c.id for c in rs.criteria}
    if catalogue is not None:
        for cid in catalogue:
            if not covered(cid, rule_ids):
                out.append(
                    Finding(
                        "SCR002",
                        f"catalogue criterion {cid} is not covered by any rule",
                        rs.locate(("criteria",)),
                    )
                )
        known = set(catalogue)
        for c in rs.criteria:
            if not covered(c.id, known):
                out.append(
                    Finding(
                        "SCR003",
                        f"criterion {c.id} is not in the catalogue",
                        rs.locate((*c.path, "id")),
                    )
                )

    first_with_tree: dict[Any, Criterion] = {}
    for c in rs.criteria:
        if _blank(c.quote):
            out.append(
                Finding(
                    "SCR004",
                    f"{c.id} has no protocol quote",
                    rs.locate((*c.path, "protocol", "quote")),
                )
            )
        if c.draft:
            out.append(
                Finding(
                    "SCR012",
                    f"{c.id} is a draft: write its reading and test from the quote, then remove `draft`",
                    rs.locate((*c.path, "draft")),
                )
            )
        elif _blank(c.reading):
            out.append(Finding("SCR005", f"{c.id} has no stated reading", rs.locate((*c.path, "reading"))))
        tree = canonical(c.test)
        if tree in first_with_tree:
            other = first_with_tree[tree]
            out.append(
                Finding(
                    "SCR006",
                    f"{c.id} has the same test as {other.id} (line {rs.lines.line(other.path)})",
                    rs.locate((*c.path, "test")),
                )
            )
        else:
            first_with_tree[tree] = c
        for group in _all_groups(c.test):
            out.extend(_group_findings(rs, c, group))
        facts = criterion_facts(c)
        person = {f for f in facts if f in rs.facts and rs.facts[f].person_only}
        if c.person_only:
            other_facts = sorted(facts - person)
            if other_facts:
                out.append(
                    Finding(
                        "SCR010",
                        f"{c.id} is person-only but reads facts that are not: {', '.join(other_facts)}",
                        rs.locate((*c.path, "person_only")),
                    )
                )
        elif person:
            out.append(
                Finding(
                    "SCR011",
                    f"{c.id} is not marked person_only but reads person-only facts: "
                    f"{', '.join(sorted(person))}",
                    rs.locate((*c.path, "id")),
                )
            )
    out.sort(key=lambda f: (f.location.file, f.location.line or 0, f.code))
    return out
