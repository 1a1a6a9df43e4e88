"""The comparison operators of the rule language: one table that every route reads.

Each operator says, once, what kind of value it takes, how it reads in words,
what its negation is, how durable_rules writes it (:mod:`screener.engine.compile`),
how SQL writes it (:mod:`screener.vectorized.sql`), what the linter may conclude
from it (:mod:`screener.audit.lint`) and, as the reference every form is tested
against, what it means in Python (``holds``). The JSON Schema's comparison keys are
checked against :data:`PUBLIC` by a test (``tests/model/test_operators.py``).

Date windows (``min_ago``, ``max_ago``) are not compared with their window
directly: :mod:`screener.facts` prepares, for each date and window, the number of
days from the first day of the window to the date (``<field>_vs_<window>``), and
the window operators compare that offset with 0. Their negations (``*_not``) exist
for the engine's "does not hold" rules only; a rule file cannot write them.

A comparison on a value that is absent neither holds nor fails: every form first
requires the value to be there (durable_rules ``$ex``; SQL's NULL), and the test is
*unknown* (:mod:`screener.model.logic`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Operator:
    """One comparison operator and all its forms."""

    name: str
    #: "scalar" (text, number or yes/no), "number", "list" (of scalars, non-empty) or
    #: "window" (a duration before the screening date: days, months or years)
    value: str
    negation: str  # the operator that holds exactly when this one fails (on a present value)
    words: str  # in explanations: ``age >= 18``, ``sex is female``, ``drug is one of a, b``
    symbol: str  # in rule reports and diffs (:mod:`screener.audit.words`)
    #: durable_rules: the comparison of one value (``=`` is written ``{field: value}``); a
    #: list operator joins one comparison per listed value with ``join``; a window
    #: operator compares the prepared offset with 0
    durable: str
    #: SQL, ``{col}`` (the column) and ``{v}`` (a literal; a list's literals joined by commas)
    sql: str
    holds: Callable[[Any, Any], bool]  # the meaning: ``holds(value, threshold)``
    join: str | None = None  # list operators: "$or" (any listed value) or "$and" (none)
    #: the linter's reading: a lower or upper bound (of the number, or of the date's
    #: age for a window), strict or not; or the values allowed or excluded
    bound: str | None = None
    strict: bool = False
    values: str | None = None  # "allowed" | "excluded"
    public: bool = True  # written in rule files (False: the engine's negated windows)

    @property
    def numeric(self) -> bool:
        """Compares a number with a number threshold (margins, near misses)."""
        return self.value == "number"

    @property
    def window(self) -> bool:
        return self.value == "window"


def _in(value: Any, listed: Any) -> bool:
    return value in listed


def _not_in(value: Any, listed: Any) -> bool:
    return value not in listed


# fmt: off
_TABLE: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    # name           value     negation       words           symbol          durable sql
    ("eq",          "scalar", "ne",          "is",           "=",            "=",    "{col} = {v}"),
    ("ne",          "scalar", "eq",          "is not",       "!=",           "$neq", "{col} <> {v}"),
    ("lt",          "number", "gte",         "<",            "<",            "$lt",  "{col} < {v}"),
    ("lte",         "number", "gt",          "<=",           "<=",           "$lte", "{col} <= {v}"),
    ("gt",          "number", "lte",         ">",            ">",            "$gt",  "{col} > {v}"),
    ("gte",         "number", "lt",          ">=",           ">=",           "$gte", "{col} >= {v}"),
    ("in",          "list",   "not_in",      "is one of",    "in",           "=",    "{col} IN ({v})"),
    ("not_in",      "list",   "in",          "is none of",   "not in",       "$neq", "{col} NOT IN ({v})"),
    ("min_ago",     "window", "min_ago_not", "is at least",  "is at least",  "$lte", "{col} <= 0"),
    ("max_ago",     "window", "max_ago_not", "is at most",   "is at most",   "$gte", "{col} >= 0"),
    ("min_ago_not", "window", "min_ago",     "is less than", "is less than", "$gt",  "{col} > 0"),
    ("max_ago_not", "window", "max_ago",     "is more than", "is more than", "$lt",  "{col} < 0"),
)
# fmt: on
_MEANING: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
    "in": _in,
    "not_in": _not_in,
    # windows: ``holds(offset, _)``, the window is in the offset
    "min_ago": lambda offset, _: offset <= 0,
    "max_ago": lambda offset, _: offset >= 0,
    "min_ago_not": lambda offset, _: offset > 0,
    "max_ago_not": lambda offset, _: offset < 0,
}
# the list operators' joins, the linter's reading, and which a rule file cannot write
_EXTRA: dict[str, dict[str, Any]] = {
    "eq": {"values": "allowed"},
    "ne": {"values": "excluded"},
    "lt": {"bound": "upper", "strict": True},
    "lte": {"bound": "upper"},
    "gt": {"bound": "lower", "strict": True},
    "gte": {"bound": "lower"},
    "in": {"values": "allowed", "join": "$or"},
    "not_in": {"values": "excluded", "join": "$and"},
    "min_ago": {"bound": "lower"},  # the date's age at the screening date
    "max_ago": {"bound": "upper"},
    "min_ago_not": {"public": False},
    "max_ago_not": {"public": False},
}

OPERATORS: dict[str, Operator] = {
    row[0]: Operator(*row, holds=_MEANING[row[0]], **_EXTRA[row[0]]) for row in _TABLE
}

#: The operators a rule file may write, in the order the schema and the docs list them.
PUBLIC: tuple[str, ...] = tuple(name for name, o in OPERATORS.items() if o.public)
NUMERIC_OPS: tuple[str, ...] = tuple(name for name in PUBLIC if OPERATORS[name].numeric)
WINDOW_OPS: tuple[str, ...] = tuple(name for name in PUBLIC if OPERATORS[name].window)
LIST_OPS: tuple[str, ...] = tuple(name for name in PUBLIC if OPERATORS[name].value == "list")
SCALAR_OPS: tuple[str, ...] = tuple(name for name in PUBLIC if OPERATORS[name].value == "scalar")


def negation(op: str) -> str:
    """The operator that holds exactly where ``op`` fails, on a value that is there."""
    return OPERATORS[op].negation
