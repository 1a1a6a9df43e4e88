"""Load-time type checks of every constant a rule file gives, and of derived values' wiring.

The schema only says that a constant is a number, a text or true/false; it cannot say which
one the place it is used in needs. A constant of the wrong kind loads, then silently changes
decisions: ``defaults: {upper_limit: forty}`` leaves a derived value unknown for every patient
whose lab gives no range (:mod:`screener.derivation`), ``{fact: sex, eq: 1}`` never matches
anyone, ``match: {dose_mg: [high]}`` never matches a record. Each of these is a
:class:`~screener.errors.RuleSpecError` naming file, line and field:

- ``derived[].defaults``: each value against the clinical function's parameter type
  (:func:`screener.derivation.param_kind`, from its type hints);
- ``derived[].inputs``: the type of the fact, fact field, exposure field or screening date
  wired into each parameter, against the parameter type;
- ``match:`` lists (derived values and quantifiers): each value against the record field's type;
- ``eq``/``ne``/``in``/``not_in`` constants against the tested fact's, field's or record
  field's type (the numeric and yes/no ``eq``/``ne`` cases are already
  :func:`screener.model.rules._check_comparison`'s);
- ``prefer_value`` against its fact's type and listed values.
"""

from __future__ import annotations

from typing import Any

from screener.clinical import FUNCTIONS
from screener.derivation import param_kinds
from screener.errors import RuleSpecError
from screener.model.rules import (
    CONDITION_FIELDS,
    EXPOSURE_FIELDS,
    FACT_FIELDS,
    Comparison,
    FactTest,
    FieldTest,
    NodePath,
    Quantifier,
    RuleSet,
    walk,
)

_ARTICLE = {"number": "a number", "string": "text", "boolean": "true or false", "date": "a date"}


def _fits_field(kind: str, value: Any) -> bool:
    """Whether a rule constant can equal a value of a field of type ``kind`` (dates are ISO text)."""
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, str)  # string, and date as YYYY-MM-DD


def _fact_types(rs: RuleSet) -> tuple[dict[str, str], dict[str, str]]:
    """Type of each scalar fact (declared or derived) and of each exposure field."""
    facts = {n: f.type for n, f in rs.facts.items()}
    exposure = dict(EXPOSURE_FIELDS)
    for d in rs.derived:
        fn = FUNCTIONS.get(d.function)
        if fn is None:
            continue
        if d.per == "exposure":
            exposure.setdefault(d.name, "number")
        else:
            facts.setdefault(d.name, "number" if fn.unit not in ("", "bool") else "string")
    return facts, exposure


def _derived_errors(rs: RuleSet, facts: dict[str, str], exposure: dict[str, str]) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    for d in rs.derived:
        if d.function not in FUNCTIONS:
            continue  # semantic_errors names the unknown function
        kinds = param_kinds(d.function)
        for param, value in d.defaults:
            kind = kinds.get(param)
            if kind is None:
                continue  # semantic_errors names the unknown parameter
            if kind == "date":
                message = f"{d.function} takes a date for {param}; a rule file cannot give a date default"
            elif _fits_field(kind, value):
                continue
            else:
                message = (
                    f"default {param} = {value!r} is not {_ARTICLE[kind]}: {d.function} takes "
                    f"{_ARTICLE[kind]} for {param} (derived value '{d.name}')"
                )
            errors.append(RuleSpecError(message, rs.locate((*d.path, "defaults", param))))
        for i in d.inputs:
            kind = kinds.get(i.param)
            if i.source == "context":
                given: str | None = "date"
            elif i.source == "exposure":
                given = exposure.get(i.field or "")
            elif i.field is not None:
                given = FACT_FIELDS.get(i.field) if i.source in facts else None
            else:
                given = facts.get(i.source)
            if kind is None or given is None or given == kind:
                continue
            errors.append(
                RuleSpecError(
                    f"{i.ref} is {_ARTICLE[given]}, but {d.function} takes {_ARTICLE[kind]} for {i.param} "
                    f"(derived value '{d.name}')",
                    rs.locate((*d.path, "inputs", i.param)),
                )
            )
        errors += _match_errors(rs, "exposure", d.match, exposure, d.path)
    return errors


def _match_errors(
    rs: RuleSet,
    record: str,
    match: tuple[tuple[str, tuple[Any, ...]], ...],
    fields: dict[str, str],
    path: NodePath,
) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    for key, values in match:
        kind = fields.get(key)
        if kind is None:
            continue  # semantic_errors names the unknown field
        for j, value in enumerate(values):
            if not _fits_field(kind, value):
                errors.append(
                    RuleSpecError(
                        f"{record} {key} is {_ARTICLE[kind]}; {value!r} can never match it",
                        rs.locate((*path, "match", key, j)),
                    )
                )
    return errors


def _comparison_errors(
    rs: RuleSet, what: str, kind: str, comparison: Comparison, path: NodePath
) -> list[RuleSpecError]:
    op = comparison.op
    if op in ("eq", "ne"):
        if kind in ("number", "boolean"):
            return []  # rules._check_comparison already says so
        values: list[tuple[NodePath, Any]] = [((*path, op), comparison.value)]
    elif op in ("in", "not_in"):
        values = [((*path, op, i), v) for i, v in enumerate(comparison.value)]
    else:
        return []
    return [
        RuleSpecError(f"{what} is {_ARTICLE[kind]}; {value!r} can never equal it", rs.locate(at))
        for at, value in values
        if not _fits_field(kind, value)
    ]


def _test_errors(rs: RuleSet, facts: dict[str, str], exposure: dict[str, str]) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    for c in rs.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest):
                kind = FACT_FIELDS.get(node.field) if node.field else facts.get(node.fact)
                if kind is not None and node.fact in facts:
                    what = f"{node.fact}.{node.field}" if node.field else node.fact
                    errors += _comparison_errors(rs, what, kind, node.comparison, node.path)
            elif isinstance(node, Quantifier):
                fields = exposure if node.record == "exposure" else CONDITION_FIELDS
                errors += _match_errors(rs, node.record, node.match, fields, node.path)
                for inner in walk(node.where) if node.where is not None else ():
                    if isinstance(inner, FieldTest) and inner.field in fields:
                        what = f"{node.record} {inner.field}"
                        errors += _comparison_errors(
                            rs, what, fields[inner.field], inner.comparison, inner.path
                        )
    return errors


def _prefer_errors(rs: RuleSet) -> list[RuleSpecError]:
    errors: list[RuleSpecError] = []
    for name, f in rs.facts.items():
        value = f.prefer_value
        if value is None:
            continue
        here = rs.locate(("facts", name, "prefer_value"))
        if f.type not in ("string", "boolean") or not _fits_field(f.type, value):
            errors.append(
                RuleSpecError(f"{name} is {_ARTICLE[f.type]}; prefer_value {value!r} never matches", here)
            )
        elif f.values and value not in f.values:
            errors.append(RuleSpecError(f"prefer_value {value!r} is not one of {list(f.values)}", here))
    return errors


def type_errors(rs: RuleSet) -> list[RuleSpecError]:
    """Every rule constant and derived-value input of the wrong type, each with file:line."""
    facts, exposure = _fact_types(rs)
    return _derived_errors(rs, facts, exposure) + _test_errors(rs, facts, exposure) + _prefer_errors(rs)
