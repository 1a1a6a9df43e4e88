"""Compile a rule set to one DuckDB query: an outcome per criterion per patient.

Tables: ``p(pid, "<fact>.<key>"...)`` one row per patient, ``e(pid, <field>...)``
one row per medication exposure, ``c(pid, <field>...)`` one row per condition.
A missing value is NULL. The logic is the engine's, from the same tables: groups
and quantifiers from :mod:`screener.model.logic` (SQL's three-valued AND/OR/NOT are
Kleene's; ``first_known`` is COALESCE; a quantifier is a grouped subquery over its
matching records, no matching record giving its ``absent`` value), comparisons
from :mod:`screener.model.operators`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from screener.model.logic import ABSENT, GROUPS, QUANTIFIERS, criterion_outcome
from screener.model.operators import OPERATORS
from screener.model.rules import Criterion, FactTest, FieldTest, Group, Node, Quantifier, RuleSet
from screener.vectorized.flatten import Layout, target_key

OUTCOME_CODES = ("pass", "fail", "unknown")  # query returns 0, 1, 2


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"CAST({value} AS DOUBLE)"
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"cannot write {value!r} as SQL")


def comparison(column: str, op: str, value: Any) -> str:
    """The SQL form of a comparison (:data:`screener.model.operators.OPERATORS`)."""
    operator = OPERATORS[op]
    if operator.window:
        rendered = ""  # the window is in the prepared offset, compared with 0
    elif operator.value == "list":
        rendered = ", ".join(literal(v) for v in value)
    else:
        rendered = literal(value)
    return "(" + operator.sql.format(col=column, v=rendered) + ")"


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    criteria: tuple[str, ...]


class _Compiler:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.ctes: list[str] = []

    def where(self, node: Group | FieldTest, alias: str) -> str:
        if isinstance(node, FieldTest):
            return comparison(f"{alias}.{ident(target_key(node))}", node.comparison.op, node.comparison.value)
        return self.group(node.op, [self.where(c, alias) for c in node.children])

    @staticmethod
    def group(op: str, parts: list[str]) -> str:
        """A group in SQL (:data:`screener.model.logic.GROUPS`): SQL's AND / OR / NOT are
        Kleene's three-valued ones, COALESCE is ``first_known``."""
        connective = GROUPS[op].sql
        if connective == "NOT":
            (part,) = parts
            return f"(NOT {part})"
        if len(parts) == 1:
            return parts[0]
        if connective in ("AND", "OR"):
            return "(" + f" {connective} ".join(parts) + ")"
        return f"{connective}({', '.join(parts)})"

    def quantifier(self, node: Quantifier) -> str:
        name = f"q{len(self.ctes)}"
        table = "e" if node.record == "exposure" else "c"
        match = " AND ".join(
            f"(r.{ident(key)} IN ({', '.join(literal(v) for v in values)}))" for key, values in node.match
        )
        if node.where is None:
            verdict = "TRUE"  # every matching record counts as true
        else:
            # a quantifier is its group over the records' ``where`` values (logic.QUANTIFIERS):
            # the group's decisive value if a record has it, else unknown if one is unknown
            w = self.where(node.where, "r")
            decisive = GROUPS[QUANTIFIERS[node.quantifier]].decisive
            assert decisive is not None
            hit = w if decisive else f"NOT {w}"
            verdict = (
                f"CASE WHEN bool_or({hit}) THEN {literal(decisive)} "
                f"WHEN bool_or({w} IS NULL) THEN NULL ELSE {literal(not decisive)} END"
            )
        self.ctes.append(
            f"{name} AS (SELECT r.pid AS pid, {verdict} AS v FROM {table} r"
            f"{' WHERE ' + match if match else ''} GROUP BY r.pid)"
        )
        absent_value = ABSENT[node.absent]
        absent = "CAST(NULL AS BOOLEAN)" if absent_value is None else literal(absent_value)
        # a patient without matching records has no row in the subquery: the LEFT JOIN gives NULL pid
        return f"(CASE WHEN {name}.pid IS NULL THEN {absent} ELSE {name}.v END)"

    def node(self, node: Node) -> str:
        if isinstance(node, FactTest):
            column = f"p.{ident(self.layout.patient_column(node.fact, target_key(node)))}"
            test = comparison(column, node.comparison.op, node.comparison.value)
            if node.unknown_when is not None:  # that result cannot settle anything: NULL (unknown)
                hit = test if node.unknown_when else f"(NOT {test})"
                return f"(CASE WHEN {hit} THEN CAST(NULL AS BOOLEAN) ELSE {test} END)"
            return test
        if isinstance(node, Quantifier):
            return self.quantifier(node)
        assert isinstance(node, Group)
        return self.group(node.op, [self.node(c) for c in node.children])

    def criterion(self, c: Criterion) -> str:
        v = self.node(c.test)
        yes, no, unknown = (OUTCOME_CODES.index(criterion_outcome(c.type, x)) for x in (True, False, None))
        code = f"CASE WHEN ({v}) IS NULL THEN {unknown} WHEN ({v}) THEN {yes} ELSE {no} END"
        return f"CAST({code} AS TINYINT) AS {ident(c.id)}"


def compile_sql(ruleset: RuleSet, layout: Layout) -> CompiledQuery:
    compiler = _Compiler(layout)
    columns = [compiler.criterion(c) for c in ruleset.criteria]
    with_clause = ("WITH " + ",\n".join(compiler.ctes) + "\n") if compiler.ctes else ""
    joins = "".join(f" LEFT JOIN q{i} ON q{i}.pid = p.pid" for i in range(len(compiler.ctes)))
    sql = f"{with_clause}SELECT p.pid, {', '.join(columns)} FROM p{joins} ORDER BY p.pid"
    return CompiledQuery(sql, tuple(c.id for c in ruleset.criteria))


def outcome_lists(criteria: tuple[str, ...], relation: str = "outcomes") -> dict[str, str]:
    """SQL over a table of 0/1/2 codes: the failing and unknown criterion ids (lists), the
    decision (:data:`screener.results.DECISION_RULE`) and each criterion's outcome word."""
    from screener.results import ALL_PASS, DECISION_RULE

    def ids(code: int) -> str:
        items = ", ".join(f"CASE WHEN {relation}.{ident(c)} = {code} THEN {literal(c)} END" for c in criteria)
        return f"list_filter([{items}], lambda x: x IS NOT NULL)"

    lists = {"fail": ids(OUTCOME_CODES.index("fail")), "unknown": ids(OUTCOME_CODES.index("unknown"))}
    rule = " ".join(f"WHEN len({lists[o]}) > 0 THEN {literal(d)}" for o, d in DECISION_RULE)
    words = " ".join(f"WHEN {i} THEN {literal(w)}" for i, w in enumerate(OUTCOME_CODES))
    return {
        "decision": f"CASE {rule} ELSE {literal(ALL_PASS)} END",
        "failing": lists["fail"],
        "unknown": lists["unknown"],
        **{c: f"CASE {relation}.{ident(c)} {words} END" for c in criteria},
    }
