"""The one operator table (screener.model.operators) against the schema, and its forms
against each other: the durable_rules form run in durable_rules, the SQL form run in
DuckDB and the Python meaning must give the same answer on both sides of every boundary."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest

from screener.audit.words import comparison_words
from screener.engine.compile import durable_comparison
from screener.engine.durable import DurableRuleset
from screener.model.operators import OPERATORS, PUBLIC, negation
from screener.model.rules import OPS, Comparison, Window
from screener.spec.validate import schema

duckdb = pytest.importorskip("duckdb")

SCHEMA = schema("rules.schema.json")["$defs"]
SCHEMA_VALUE = {  # how the schema types each kind of operator value
    "scalar": {"$ref": "#/$defs/scalar"},
    "number": {"type": "number"},
    "list": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/scalar"}},
    "window": {"$ref": "#/$defs/window"},
}

# (threshold, values on and around it) per kind of value; windows compare the prepared
# offset (days from the window's first day to the date) with 0, the threshold is unused
BOUNDARIES: dict[str, list[tuple[Any, list[Any]]]] = {
    "number": [(30, [29.9999, 30, 30.0, 30.0001, -1, 0]), (0.5, [0.4999, 0.5, 0.5001]), (-2, [-2.5, -2, -1])],
    "scalar": [("active", ["active", "inactive", "Active"]), (True, [True, False]), (3, [2, 3, 3.0, 4])],
    "list": [(["a", "b"], ["a", "b", "c", "A"]), ([1, 2], [0, 1, 2, 2.0, 3])],
    "window": [(Window(months=6), [-1, 0, 1, -400, 400])],
}
_NAMES = count()


def test_every_schema_operator_is_in_the_table_and_typed_as_it_says() -> None:
    assert tuple(SCHEMA["comparisons"]["properties"]) == PUBLIC == OPS
    for name in PUBLIC:
        spec = {k: v for k, v in SCHEMA["comparisons"]["properties"][name].items() if k != "description"}
        assert spec == SCHEMA_VALUE[OPERATORS[name].value], name
    for test in ("fact_test", "field_test"):
        allowed = {k for k, v in SCHEMA[test]["properties"].items() if v is True}
        assert allowed == set(PUBLIC), test
        assert [o["required"] for o in SCHEMA[test]["oneOf"]] == [[name] for name in PUBLIC], test


def test_the_negated_window_operators_cannot_be_written_in_a_rule_file() -> None:
    internal = {name for name, o in OPERATORS.items() if not o.public}
    assert internal == {"min_ago_not", "max_ago_not"}
    assert not internal & set(SCHEMA["comparisons"]["properties"])


@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_operator_has_every_form(name: str) -> None:
    o = OPERATORS[name]
    assert o.name == name
    assert o.value in SCHEMA_VALUE
    assert o.words and o.symbol and o.durable and "{col}" in o.sql
    assert ("{v}" in o.sql) is not o.window  # a window compares the prepared offset with 0
    assert (o.join is not None) is (o.value == "list")
    if o.public:
        assert o.bound is not None or o.values is not None  # what the linter reads from it


@pytest.mark.parametrize("name", list(OPERATORS))
def test_negating_twice_gives_the_original(name: str) -> None:
    other = negation(name)
    assert other != name
    assert negation(other) == name
    assert OPERATORS[other].value == OPERATORS[name].value


def _cases(name: str) -> list[tuple[Any, Any]]:
    return [(threshold, v) for threshold, values in BOUNDARIES[OPERATORS[name].value] for v in values]


@pytest.mark.parametrize("name", list(OPERATORS))
def test_the_meaning_and_its_negation_split_every_boundary(name: str) -> None:
    answers = [OPERATORS[name].holds(v, t) for t, v in _cases(name)]
    assert True in answers and False in answers, "the boundary values must reach both sides"
    for (t, v), answer in zip(_cases(name), answers, strict=True):
        assert OPERATORS[negation(name)].holds(v, t) is (not answer), (t, v)


@pytest.mark.parametrize("name", list(OPERATORS))
def test_the_durable_form_gives_the_meaning_and_its_negation_the_rest(name: str) -> None:
    """The two rules the compiler writes for a test ("holds", "does not hold"), run in
    durable_rules: exactly one fires on a present value, as the Python meaning says;
    neither fires on an absent one (unknown)."""
    o = OPERATORS[name]
    for threshold, values in BOUNDARIES[o.value]:
        value = None if o.window else threshold
        rules = {
            rule: {
                "all": [{"f": {"$and": [{"kind": "fact"}, durable_comparison("x", op, value)]}}],
                "run": rule,
            }
            for rule, op in (("holds", name), ("fails", negation(name)))
        }
        ruleset = DurableRuleset(f"operator_{name}_{next(_NAMES)}", rules)
        try:
            for v in [*values, None]:
                fired: list[str] = []
                fact: dict[str, Any] = {"kind": "fact", "id": "f1"}
                if v is not None:
                    fact["x"] = v
                ruleset.run([fact], lambda rule, matched, fired=fired: fired.append(rule))
                if v is None:
                    assert fired == [], "an absent value is neither"
                else:
                    expected = "holds" if o.holds(v, threshold) else "fails"
                    assert fired == [expected], (threshold, v)
        finally:
            ruleset.close()


def _sql_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int | float):
        return "DOUBLE"
    return "VARCHAR"


@pytest.mark.parametrize("name", list(OPERATORS))
def test_the_sql_form_gives_the_meaning_and_null_on_an_absent_value(name: str) -> None:
    from screener.vectorized.sql import comparison

    o = OPERATORS[name]
    con = duckdb.connect()
    for threshold, values in BOUNDARIES[o.value]:
        for v in [*values, None]:
            kind = "INTEGER" if o.window else _sql_type(values[0])
            for op in (name, negation(name)):
                sql = comparison("x", op, threshold)
                got = con.execute(f"SELECT {sql} FROM (SELECT CAST(? AS {kind}) AS x)", [v]).fetchone()
                assert got is not None
                if v is None:
                    assert got[0] is None, (op, sql)
                else:
                    assert got[0] is OPERATORS[op].holds(v, threshold), (op, sql, v)


@pytest.mark.parametrize("name", PUBLIC)
def test_explanations_and_reports_use_the_table_words(name: str) -> None:
    o = OPERATORS[name]
    threshold = BOUNDARIES[o.value][0][0]
    comparison = Comparison(name, threshold)
    assert comparison.describe().startswith(o.words + " ")
    assert comparison_words(comparison).startswith(o.words if o.window else o.symbol + " ")
