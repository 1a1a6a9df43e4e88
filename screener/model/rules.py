"""A trial's rule set as data (``spec/rules.schema.json``), parsed and checked.

Loading a rule file validates it against the schema, then checks what a schema
cannot: that every fact a test reads is declared or derived ("did you mean"),
that thresholds are stated in the fact's canonical unit, that derived values
name a known clinical function with the right inputs and form no cycle, and
that date windows are only applied to dates. Any problem is a
:class:`RuleSpecError` naming file, line and field.
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from screener.clinical import FUNCTIONS
from screener.errors import Location, RuleSpecError
from screener.fileio import FileFormatError, read_text
from screener.model.operators import NUMERIC_OPS, OPERATORS, PUBLIC, SCALAR_OPS, WINDOW_OPS
from screener.model.records import rule_fields
from screener.spec.validate import schema_errors
from screener.yamlio import LineMap, load_text, yaml_error_location, yaml_error_message

Scalar = float | int | str | bool
NodePath = tuple[str | int, ...]

#: Fields of a medication exposure as the engine sees it (see ``screener.facts``), of a
#: condition (diagnosis), and the extra fields a scalar fact may carry besides ``value``:
#: built from the one declaration of record fields, :mod:`screener.model.records`.
EXPOSURE_FIELDS: dict[str, str] = rule_fields("medication")
CONDITION_FIELDS: dict[str, str] = rule_fields("condition")
FACT_FIELDS: dict[str, str] = rule_fields("observation", "status", "assessment")

OPS = PUBLIC  # the comparison operators (:mod:`screener.model.operators`)


@dataclass(frozen=True)
class Window:
    days: int = 0
    months: int = 0
    years: int = 0

    @property
    def key(self) -> str:
        if self.years:
            return f"y{self.years}"
        if self.months:
            return f"m{self.months}"
        return f"d{self.days}"

    def __str__(self) -> str:
        for n, unit in ((self.years, "year"), (self.months, "month"), (self.days, "day")):
            if n:
                return f"{n} {unit}{'s' if n != 1 else ''}"
        return "0 days"


@dataclass(frozen=True)
class Comparison:
    op: str
    value: Any  # Scalar, list of scalars, or Window

    def describe(self) -> str:
        words = OPERATORS[self.op].words
        value = self.value
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        if self.op in WINDOW_OPS:
            return f"{words} {value} before the screening date"
        if isinstance(value, bool):
            value = "yes" if value else "no"
        return f"{words} {value}"


@dataclass(frozen=True)
class FactTest:
    fact: str
    comparison: Comparison
    path: NodePath
    field: str | None = None
    unit: str | None = None
    # the comparison result that cannot settle anything and counts as unknown (None: both settle)
    unknown_when: bool | None = None
    missing: str | None = None  # the to-do item when unknown_when applies


@dataclass(frozen=True)
class FieldTest:
    field: str
    comparison: Comparison
    path: NodePath
    unit: str | None = None


@dataclass(frozen=True)
class Quantifier:
    quantifier: str  # "exists" | "every"
    record: str  # "exposure" | "condition"
    match: tuple[tuple[str, tuple[Scalar, ...]], ...]
    where: WhereNode | None
    absent: str  # "false" | "unknown"
    path: NodePath
    missing: str | None = None


@dataclass(frozen=True)
class Group:
    op: str  # "all" | "any" | "not" | "first_known"
    children: tuple[Node, ...]
    path: NodePath


WhereNode = Union[Group, FieldTest]  # noqa: UP007 - recursive alias
Node = Union[Group, FactTest, Quantifier]  # noqa: UP007 - recursive alias


@dataclass(frozen=True)
class FactDef:
    name: str
    kind: str
    type: str
    label: str
    unit: str | None = None
    quantity: str | None = None
    values: tuple[str, ...] = ()
    max_age_days: int | None = None
    person_only: bool = False
    prefer_value: str | bool | None = None


@dataclass(frozen=True)
class Input:
    """Where a derived value's argument comes from."""

    param: str
    ref: str  # "weight", "ast.reference_high", "exposure.daily_dose_mg", "context.as_of"

    @property
    def source(self) -> str:
        return self.ref.split(".", 1)[0]

    @property
    def field(self) -> str | None:
        return self.ref.split(".", 1)[1] if "." in self.ref else None


@dataclass(frozen=True)
class Derived:
    name: str
    label: str
    function: str
    inputs: tuple[Input, ...]
    path: NodePath
    defaults: tuple[tuple[str, Scalar], ...] = ()
    per: str | None = None
    match: tuple[tuple[str, tuple[Scalar, ...]], ...] = ()
    unit: str | None = None
    reading: str | None = None

    def fact_inputs(self) -> list[str]:
        return [i.source for i in self.inputs if i.source not in ("exposure", "context")]


@dataclass(frozen=True)
class FactConflict:
    """Two facts whose values contradict each other when dated within ``within_days``."""

    when: tuple[tuple[str, Scalar], ...]  # ((fact, value), (fact, value))
    within_days: int
    reading: str
    path: NodePath

    @property
    def facts(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.when)


@dataclass(frozen=True)
class Criterion:
    id: str
    type: str
    title: str
    section: str
    quote: str
    reading: str
    test: Node
    path: NodePath
    person_only: bool = False
    sources: tuple[str, ...] = ()
    draft: bool = False  # drafted from the registry, reading and test still to write


@dataclass(frozen=True)
class RuleSet:
    id: str
    trial: str
    title: str
    version: str
    protocol_source: str
    facts: dict[str, FactDef]
    derived: tuple[Derived, ...]
    criteria: tuple[Criterion, ...]
    file: str
    sha256: str
    lines: LineMap = field(compare=False, repr=False)
    raw: dict[str, Any] = field(compare=False, repr=False, default_factory=dict)
    conflicts: tuple[FactConflict, ...] = ()

    @property
    def derived_by_name(self) -> dict[str, Derived]:
        return {d.name: d for d in self.derived if d.per is None}

    @property
    def exposure_derived(self) -> dict[str, Derived]:
        return {d.name: d for d in self.derived if d.per == "exposure"}

    def criterion(self, criterion_id: str) -> Criterion:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    def locate(self, path: NodePath) -> Location:
        return self.lines.locate(path)


def suggest(name: str, known: list[str] | set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


# --------------------------------------------------------------------------- parsing


def _match(raw: dict[str, list[Scalar]] | None) -> tuple[tuple[str, tuple[Scalar, ...]], ...]:
    return tuple((k, tuple(v)) for k, v in (raw or {}).items())


def _comparison(raw: dict[str, Any]) -> Comparison:
    for op in OPS:
        if op in raw:
            value = raw[op]
            if op in WINDOW_OPS:
                value = Window(**value)
            return Comparison(op, value)
    raise AssertionError("schema guarantees one comparison")  # pragma: no cover


def _where(raw: dict[str, Any], path: NodePath) -> WhereNode:
    for op in ("all", "any"):
        if op in raw:
            return Group(op, tuple(_where(c, (*path, op, i)) for i, c in enumerate(raw[op])), path)
    if "not" in raw:
        return Group("not", (_where(raw["not"], (*path, "not")),), path)
    return FieldTest(raw["field"], _comparison(raw), path, raw.get("unit"))


def _node(raw: dict[str, Any], path: NodePath) -> Node:
    for op in ("all", "any", "first_known"):
        if op in raw:
            return Group(op, tuple(_node(c, (*path, op, i)) for i, c in enumerate(raw[op])), path)
    if "not" in raw:
        return Group("not", (_node(raw["not"], (*path, "not")),), path)
    if "fact" in raw:
        return FactTest(
            raw["fact"],
            _comparison(raw),
            path,
            raw.get("field"),
            raw.get("unit"),
            raw.get("unknown_when"),
            raw.get("missing"),
        )
    quantifier = "exists" if "exists" in raw else "every"
    return Quantifier(
        quantifier=quantifier,
        record=raw[quantifier],
        match=_match(raw.get("match")),
        where=_where(raw["where"], (*path, "where")) if "where" in raw else None,
        absent=raw["absent"],
        path=path,
        missing=raw.get("missing"),
    )


def walk(node: Node | WhereNode) -> Iterator[Node | WhereNode]:
    """Every node of a condition tree, parents before children."""
    yield node
    if isinstance(node, Group):
        for child in node.children:
            yield from walk(child)
    elif isinstance(node, Quantifier) and node.where is not None:
        yield from walk(node.where)


def ruleset_from_data(data: Any, lines: LineMap, sha256: str, strict: bool = True) -> RuleSet:
    """Build a :class:`RuleSet`; raise the first error (``strict=False`` skips semantic checks)."""
    errors = schema_errors(data, "rules.schema.json", lines, RuleSpecError)
    if errors:
        raise errors[0]
    facts = {
        name: FactDef(
            name=name,
            kind=f["kind"],
            type=f["type"],
            label=f["label"],
            unit=f.get("unit"),
            quantity=f.get("quantity"),
            values=tuple(f.get("values", ())),
            max_age_days=f.get("max_age_days"),
            person_only=f.get("person_only", False),
            prefer_value=f.get("prefer_value"),
        )
        for name, f in data["facts"].items()
    }
    derived = tuple(
        Derived(
            name=d["name"],
            label=d["label"],
            function=d["function"],
            inputs=tuple(Input(p, r) for p, r in d["inputs"].items()),
            path=("derived", i),
            defaults=tuple(d.get("defaults", {}).items()),
            per=d.get("per"),
            match=_match(d.get("match")),
            unit=d.get("unit"),
            reading=d.get("reading"),
        )
        for i, d in enumerate(data.get("derived", []))
    )
    criteria = tuple(
        Criterion(
            id=c["id"],
            type=c["type"],
            title=c["title"],
            section=c["protocol"]["section"],
            quote=c["protocol"]["quote"],
            reading=c["reading"],
            test=_node(c["test"], ("criteria", i, "test")),
            path=("criteria", i),
            person_only=c.get("person_only", False),
            sources=tuple(c.get("sources", ())),
            draft=c.get("draft", False),
        )
        for i, c in enumerate(data["criteria"])
    )
    conflicts = tuple(
        FactConflict(
            when=tuple(x["when"].items()),
            within_days=x["within_days"],
            reading=x["reading"],
            path=("conflicts", i),
        )
        for i, x in enumerate(data.get("conflicts", []))
    )
    meta = data["ruleset"]
    ruleset = RuleSet(
        id=meta["id"],
        trial=meta["trial"],
        title=meta["title"],
        version=meta["version"],
        protocol_source=meta["protocol_source"],
        facts=facts,
        derived=derived,
        criteria=criteria,
        file=lines.file,
        sha256=sha256,
        lines=lines,
        raw=data,
        conflicts=conflicts,
    )
    if strict:
        problems = all_load_errors(ruleset)
        if problems:
            raise problems[0]
        from screener.model.vocabulary import register_ruleset

        register_ruleset(ruleset)  # its names are known vocabulary for patient files
    return ruleset


# --------------------------------------------------------------------------- checks


def _check_comparison(
    value_type: str, comparison: Comparison, what: str, where: Location
) -> RuleSpecError | None:
    op, value = comparison.op, comparison.value
    if op in WINDOW_OPS and value_type != "date":
        return RuleSpecError(f"{op} needs a date, but {what} is a {value_type}", where)
    if op in NUMERIC_OPS and value_type != "number":
        return RuleSpecError(f"{op} needs a number, but {what} is a {value_type}", where)
    if op in SCALAR_OPS and value_type == "number" and isinstance(value, str | bool):
        return RuleSpecError(f"{what} is a number; compare it with a number", where)
    if op in SCALAR_OPS and value_type == "boolean" and not isinstance(value, bool):
        return RuleSpecError(f"{what} is yes/no; compare it with true or false", where)
    return None


def semantic_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Problems that make a rule set unusable (the linter adds softer findings)."""
    errors: list[RuleSpecError] = []
    at = rs.locate
    fact_types: dict[str, str] = {n: f.type for n, f in rs.facts.items()}
    fact_units: dict[str, str | None] = {n: f.unit for n, f in rs.facts.items()}
    exposure_types = dict(EXPOSURE_FIELDS)
    seen_ids: set[str] = set()

    for c in rs.criteria:
        if c.id in seen_ids:
            errors.append(RuleSpecError(f"criterion id {c.id} is used twice", at((*c.path, "id"))))
        seen_ids.add(c.id)

    # Derived values: unique names, known functions, matching parameters, known inputs.
    for d in rs.derived:
        here = at(d.path)
        if d.name in fact_types or d.name in exposure_types:
            errors.append(RuleSpecError(f"derived name '{d.name}' is already defined", here))
        fn = FUNCTIONS.get(d.function)
        if fn is None:
            errors.append(
                RuleSpecError(
                    f"unknown function '{d.function}'{suggest(d.function, set(FUNCTIONS))}",
                    at((*d.path, "function")),
                )
            )
            continue
        params = set(inspect.signature(fn.fn).parameters)
        given = {i.param for i in d.inputs} | {k for k, _ in d.defaults}
        if given != params:
            errors.append(
                RuleSpecError(
                    f"function '{d.function}' takes {sorted(params)}, inputs give {sorted(given)}",
                    at((*d.path, "inputs")),
                )
            )
        for i in d.inputs:
            where = at((*d.path, "inputs", i.param))
            if i.source == "exposure":
                if d.per != "exposure":
                    errors.append(RuleSpecError("exposure.* inputs need 'per: exposure'", where))
                elif i.field not in exposure_types:
                    errors.append(
                        RuleSpecError(
                            f"exposures have no field '{i.field}'"
                            f"{suggest(i.field or '', set(exposure_types))}",
                            where,
                        )
                    )
            elif i.source == "context":
                continue
            elif i.source not in fact_types:
                errors.append(
                    RuleSpecError(f"unknown fact '{i.source}'{suggest(i.source, set(fact_types))}", where)
                )
            elif i.field is not None and i.field not in FACT_FIELDS:
                errors.append(
                    RuleSpecError(
                        f"facts have no field '{i.field}'{suggest(i.field, set(FACT_FIELDS))}",
                        where,
                    )
                )
        if d.per == "exposure":
            exposure_types[d.name] = "number"
        else:
            fact_types[d.name] = "number" if fn.unit not in ("", "bool") else "string"
            fact_units[d.name] = d.unit or fn.unit

    # Derived facts must not depend on themselves, directly or through others.
    graph = {d.name: set(d.fact_inputs()) for d in rs.derived if d.per is None}

    def cyclic(name: str, stack: tuple[str, ...]) -> tuple[str, ...] | None:
        for dep in graph.get(name, ()):
            if dep in stack:
                return (*stack, dep)
            found = cyclic(dep, (*stack, dep))
            if found:
                return found
        return None

    for d in rs.derived:
        loop = cyclic(d.name, (d.name,))
        if loop:
            errors.append(RuleSpecError(f"derived values form a cycle: {' -> '.join(loop)}", at(d.path)))
            break

    # Conflicts: declared facts, values of the fact's type.
    for x in rs.conflicts:
        for name, value in x.when:
            here = at((*x.path, "when", name))
            if name not in rs.facts:
                errors.append(RuleSpecError(f"unknown fact '{name}'{suggest(name, set(rs.facts))}", here))
                continue
            definition = rs.facts[name]
            if definition.type == "boolean" and not isinstance(value, bool):
                errors.append(RuleSpecError(f"{name} is yes/no; compare it with true or false", here))
            elif definition.type == "string" and definition.values and value not in definition.values:
                errors.append(RuleSpecError(f"{value!r} is not one of {list(definition.values)}", here))
            elif definition.type not in ("boolean", "string"):
                errors.append(
                    RuleSpecError(f"conflicts compare coded values; {name} is a {definition.type}", here)
                )

    # Tests: known facts and fields, type-correct comparisons, thresholds in the fact's unit.
    for c in rs.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest):
                here = at(node.path)
                if node.fact not in fact_types:
                    errors.append(
                        RuleSpecError(
                            f"unknown fact '{node.fact}'{suggest(node.fact, set(fact_types))}",
                            at((*node.path, "fact")),
                        )
                    )
                    continue
                if node.field is not None:
                    if node.field not in FACT_FIELDS:
                        errors.append(
                            RuleSpecError(
                                f"facts have no field '{node.field}'{suggest(node.field, set(FACT_FIELDS))}",
                                at((*node.path, "field")),
                            )
                        )
                        continue
                    value_type = FACT_FIELDS[node.field]
                else:
                    value_type = fact_types[node.fact]
                problem = _check_comparison(value_type, node.comparison, node.fact, here)
                if problem:
                    errors.append(problem)
                expected = fact_units.get(node.fact) if node.field is None else None
                if node.unit is not None and expected is not None and node.unit != expected:
                    errors.append(
                        RuleSpecError(
                            f"threshold unit {node.unit} does not match {node.fact}'s unit {expected}",
                            at((*node.path, "unit")),
                        )
                    )
                if node.comparison.op in NUMERIC_OPS and expected and node.unit is None:
                    errors.append(
                        RuleSpecError(
                            f"numeric threshold on {node.fact} must state its unit ({expected})",
                            here,
                        )
                    )
            elif isinstance(node, Quantifier):
                fields = exposure_types if node.record == "exposure" else CONDITION_FIELDS
                for key, _values in node.match:
                    if key not in fields:
                        errors.append(
                            RuleSpecError(
                                f"{node.record} records have no field '{key}'{suggest(key, set(fields))}",
                                at((*node.path, "match", key)),
                            )
                        )
                if node.where is None:
                    continue
                for inner in walk(node.where):
                    if isinstance(inner, FieldTest):
                        if inner.field not in fields:
                            errors.append(
                                RuleSpecError(
                                    f"{node.record} records have no field '{inner.field}'"
                                    f"{suggest(inner.field, set(fields))}",
                                    at((*inner.path, "field")),
                                )
                            )
                            continue
                        problem = _check_comparison(
                            fields[inner.field], inner.comparison, inner.field, at(inner.path)
                        )
                        if problem:
                            errors.append(problem)
    return errors


def parse_ruleset(text: str, file: str = "<memory>") -> RuleSet:
    try:
        data, lines = load_text(text, file)
    except yaml.YAMLError as error:
        raise RuleSpecError(yaml_error_message(error), yaml_error_location(error, file)) from None
    return ruleset_from_data(data, lines, hashlib.sha256(text.encode("utf-8")).hexdigest())


def ruleset_errors(text: str, file: str = "<memory>") -> list[RuleSpecError]:
    """Every problem that stops a rule file from loading, not just the first.

    Malformed YAML gives one error; otherwise every schema violation, or if the
    file fits the schema, every semantic error (for ``screener rules check``).
    """
    try:
        data, lines = load_text(text, file)
    except yaml.YAMLError as error:
        return [RuleSpecError(yaml_error_message(error), yaml_error_location(error, file))]
    errors = schema_errors(data, "rules.schema.json", lines, RuleSpecError)
    if errors:
        return errors
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return all_load_errors(ruleset_from_data(data, lines, sha, strict=False))


def all_load_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Load-time checks (cycles, units, enumerated values, names) then semantic errors, once each."""
    from screener.model.rule_checks import load_time_errors

    out: list[RuleSpecError] = []
    seen: set[str] = set()
    for error in load_time_errors(rs) + semantic_errors(rs):
        if str(error) not in seen:
            seen.add(str(error))
            out.append(error)
    return out


def find_rule_file(path: str | Path) -> Path:
    """A rule set is a directory holding ``rules.yaml``, or that file itself."""
    p = Path(path)
    if p.is_dir():
        p = p / "rules.yaml"
    if not p.exists():
        raise RuleSpecError("no rule file here (expected a directory with rules.yaml)", Location(str(p)))
    return p


def read_rule_text(path: Path) -> str:
    """A rule file's text, read like every input (size-capped, strict UTF-8), or a located error."""
    try:
        return read_text(path)
    except OSError as error:
        raise RuleSpecError(f"cannot read rule file: {error.strerror}", Location(str(path))) from None
    except FileFormatError as error:
        raise RuleSpecError(error.message, Location(str(path), error.line)) from None


def load_ruleset(path: str | Path) -> RuleSet:
    p = find_rule_file(path)
    return parse_ruleset(read_rule_text(p), str(p))
