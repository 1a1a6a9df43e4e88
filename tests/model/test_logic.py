"""The one truth table (screener.model.logic), exhaustively: every combination of true /
false / unknown children (up to three) of every group and quantifier, through the
engine's explaining evaluator, its outcome-only evaluator and the SQL compiler run in
DuckDB, against the table; and the table against Kleene's logic itself."""

from __future__ import annotations

from datetime import date
from itertools import permutations, product
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.engine.explain import Verdict, combine_verdicts
from screener.model.logic import ABSENT, GROUPS, QUANTIFIERS, Truth, combine, criterion_outcome, quantify
from screener.model.patient import patient_from_data
from screener.model.rules import parse_ruleset
from screener.results import Evidence
from screener.yamlio import LineMap

duckdb = pytest.importorskip("duckdb")

VALUES: tuple[Truth, ...] = (True, False, None)
RANK = {False: 0, None: 1, True: 2}  # Kleene: false < unknown < true
AS_OF = date(2026, 11, 25)


def _arity(op: str) -> range:
    return range(1, 2) if op == "not" else range(1, 4)


def _combinations(op: str) -> list[tuple[Truth, ...]]:
    return [c for n in _arity(op) for c in product(VALUES, repeat=n)]


def _kleene(op: str, values: tuple[Truth, ...]) -> Truth:
    """The definitions, written independently of the table: all = minimum, any = maximum,
    not swaps true and false, first_known = the first value that is not unknown."""
    if op == "all":
        return min(values, key=RANK.__getitem__)
    if op == "any":
        return max(values, key=RANK.__getitem__)
    if op == "not":
        return None if values[0] is None else not values[0]
    return next((v for v in values if v is not None), None)


@pytest.mark.parametrize("op", list(GROUPS))
def test_the_table_is_kleenes_logic(op: str) -> None:
    for values in _combinations(op):
        assert combine(op, values) is _kleene(op, values), values
    decisive = GROUPS[op].decisive
    if decisive is not None:  # one child with that value settles the group
        assert all(combine(op, (*v, decisive)) is decisive for v in _combinations(op) if len(v) < 3)


@pytest.mark.parametrize("op", list(GROUPS))
def test_unordered_says_whether_the_childrens_order_can_change_the_value(op: str) -> None:
    """The flag the linter reads (two trees that differ only in the children's order are
    the same test) against the truth table: every ordering of every combination."""
    changes = any(len({combine(op, p) for p in permutations(values)}) > 1 for values in _combinations(op))
    assert GROUPS[op].unordered is not changes


def test_quantifiers_are_their_group_over_the_records_and_absent_without_records() -> None:
    for quantifier, group in QUANTIFIERS.items():
        for absent, value in ABSENT.items():
            assert quantify(quantifier, (), absent) is value
            for values in _combinations(group):
                assert quantify(quantifier, values, absent) is _kleene(group, values)


@pytest.mark.parametrize("op", list(GROUPS))
def test_the_engines_combine_follows_the_table_and_explains_by_the_deciding_children(op: str) -> None:
    for values in _combinations(op):
        verdicts = [
            Verdict(v, (Evidence(test=f"child {i}", outcome=bool(v)),), () if v is not None else (f"m{i}",))
            for i, v in enumerate(values)
        ]
        got = combine_verdicts(op, verdicts)
        expected = combine(op, values)
        assert got.value is expected, values
        tests = {e.test for e in got.evidence}
        unknown = [f"m{i}" for i, v in enumerate(values) if v is None]
        if op == "not":
            assert got.evidence == verdicts[0].evidence and got.missing == verdicts[0].missing
        elif op == "first_known":
            first = next((v for v in verdicts if v.value is not None), None)
            assert got == (first if first is not None else Verdict(None, (), tuple(unknown)))
        elif expected is GROUPS[op].decisive:
            assert tests == {f"child {i}" for i, v in enumerate(values) if v is expected}
            assert got.missing == ()
        elif expected is None:
            assert tests == {f"child {i}" for i in range(len(values))}
            assert got.missing == tuple(unknown)
        else:
            assert tests == {f"child {i}" for i in range(len(values))} and got.missing == ()


def _sql(value: Truth) -> str:
    return "CAST(NULL AS BOOLEAN)" if value is None else ("TRUE" if value else "FALSE")


@pytest.mark.parametrize("op", list(GROUPS))
def test_the_sql_compilers_groups_follow_the_table_in_duckdb(op: str) -> None:
    from screener.vectorized.sql import _Compiler

    con = duckdb.connect()
    for values in _combinations(op):
        sql = _Compiler.group(op, [_sql(v) for v in values])
        row = con.execute(f"SELECT {sql}").fetchone()
        assert row is not None and row[0] is combine(op, values), (values, sql)


# ----------------------------------------------------------------- the whole routes

_FACTS = ("a", "b", "c")
# one criterion per group and arity, and per quantifier and absent value (ids I1, I2, ...)
_KEYS = [(op, n) for op in GROUPS for n in _arity(op)] + [(q, a) for q in QUANTIFIERS for a in ABSENT]
_ID = {key: f"I{i + 1}" for i, key in enumerate(_KEYS)}


def _rule_text() -> str:
    """A rule set with one criterion per group and arity over yes/no facts a, b, c, and
    one per quantifier and absent value over condition records' ``controlled``."""
    criteria = []

    def add(cid: str, test: str) -> None:
        criteria.append(
            f"  - id: {cid}\n    type: inclusion\n    title: {cid}\n"
            f"    protocol: {{section: {cid}, quote: {cid}.}}\n    reading: Synthetic.\n"
            f"    test: {test}\n"
        )

    for op in GROUPS:
        for n in _arity(op):
            tests = [f"{{fact: {f}, eq: true}}" for f in _FACTS[:n]]
            add(_ID[op, n], f"{{not: {tests[0]}}}" if op == "not" else f"{{{op}: [{', '.join(tests)}]}}")
    for quantifier in QUANTIFIERS:
        for absent in ABSENT:
            add(
                _ID[quantifier, absent],
                f"{{{quantifier}: condition, match: {{name: [sle]}}, absent: '{absent}', "
                "where: {field: controlled, eq: true}}",
            )
    facts = "".join(f"  {f}: {{kind: status, type: boolean, label: {f}}}\n" for f in _FACTS)
    return (
        'schema_version: "1"\nruleset:\n  id: logic\n  trial: TEST-LOGIC\n  title: Truth table\n'
        '  version: "1.0.0"\n  protocol_source: none\nfacts:\n'
        f"{facts}criteria:\n{''.join(criteria)}"
    )


def _patient(i: int, statuses: tuple[Truth, ...], records: tuple[Truth, ...]) -> Any:
    data: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": f"p{i}",
        "demographics": {"birth_date": "1980-01-01", "sex": "female"},
        "statuses": [{"name": f, "value": v} for f, v in zip(_FACTS, statuses, strict=True) if v is not None],
        "conditions": [
            {"name": "sle", "onset": f"2020-01-0{k + 1}", **({} if v is None else {"controlled": v})}
            for k, v in enumerate(records)
        ],
    }
    return patient_from_data(data, LineMap(f"p{i}", {}))


@pytest.fixture(scope="module")
def routes() -> tuple[list[tuple[tuple[Truth, ...], tuple[Truth, ...]]], list[dict[str, str]], ...]:
    ruleset = parse_ruleset(_rule_text(), "logic.yaml")
    statuses = list(product(VALUES, repeat=3))
    records = [r for n in range(4) for r in product(VALUES, repeat=n)]
    combos = [(statuses[i % len(statuses)], records[i]) for i in range(len(records))]
    patients = [_patient(i, s, r) for i, (s, r) in enumerate(combos)]
    with Engine(ruleset) as engine:
        explained = [{c.id: c.outcome for c in engine.screen(p, AS_OF).criteria} for p in patients]
        outcomes = [engine.outcomes(p, AS_OF) for p in patients]
    from screener.vectorized import VectorizedScreener

    fast = VectorizedScreener(ruleset).screen(patients, AS_OF)
    return combos, explained, outcomes, fast


@pytest.mark.parametrize("route", ["explained", "outcomes", "vectorized"])
def test_every_route_follows_the_table_on_every_combination(route: str, routes: Any) -> None:
    combos, explained, outcomes, fast = routes
    got = {"explained": explained, "outcomes": outcomes, "vectorized": fast}[route]
    assert len(got) == len(combos)
    for (statuses, records), row in zip(combos, got, strict=True):
        for op in GROUPS:
            for n in _arity(op):
                expected = criterion_outcome("inclusion", combine(op, statuses[:n]))
                assert row[_ID[op, n]] == expected, (op, statuses[:n])
        for quantifier in QUANTIFIERS:
            for absent in ABSENT:
                expected = criterion_outcome("inclusion", quantify(quantifier, records, absent))
                assert row[_ID[quantifier, absent]] == expected, (quantifier, absent, records)


def test_an_exclusion_fails_when_its_test_holds() -> None:
    assert [criterion_outcome("exclusion", v) for v in VALUES] == ["fail", "pass", "unknown"]
    assert [criterion_outcome("inclusion", v) for v in VALUES] == ["pass", "fail", "unknown"]
