"""Full-reason rows in SQL: each unknown criterion's missing facts and each failing one's near misses.

The rule engine explains a patient by walking the rule tree over what it fired
(:mod:`screener.engine.explain`): an unknown test names the facts it lacked, a group or
quantifier keeps the explanations of the children that decide it, by the one truth
table (:mod:`screener.model.logic`). This module compiles the same walk into DuckDB
SQL over the tables the rule query reads (``p``, ``pw``, ``e``, ``c``: the SQL route,
:mod:`screener.vectorized.prepare`), so every patient of a registry gets the batch row's
``unknown`` (ids with missing facts, in the engine's order and words) and
``near_misses`` (the strings of :func:`screener.batch.runner.near_misses`) with no
Python step per patient. Python writes per rule set the constant text once (a leaf's
subject words, labels, units, thresholds, the facts behind a derived value).

Every node of a criterion's tree becomes two columns:

* ``v``: its value (TRUE / FALSE / NULL for unknown), as :mod:`screener.vectorized.sql`;
* ``m``: when ``v`` is unknown, the missing facts (``Verdict.missing``), merged in order
  without repeats as ``explain._merge``;

and ``f``: whether an unknown leaf under it lacks something this SQL does not phrase
(a contradiction in the record, a derived value that could not be computed): the
patient's row is then made by the engine (:mod:`screener.batch.fast_piece`), so it is
the engine's whatever happens. Groups are evaluated bottom-up one tree level per
projection, so no child expression is repeated in its parent.

A node's numeric evidence (``Verdict.evidence`` with a margin: what near misses are made
of) is not carried as a list up the tree: each numeric test under it is a
:class:`Source` with the condition, over the ``v`` columns, under which the node keeps it
(a group settled by its decisive value keeps its children of that value, otherwise all of
them; ``first_known`` its first known child). A failing criterion's near misses are then
its sources whose condition holds and whose test is on the failing side, in tree order:
the engine's ``evidence`` filtered as ``runner.near_misses`` filters it, built only for
those few tests (lists of every test's evidence for every patient were half of the
query's time and most of its memory).

The result is the temporary table ``reasons`` (pid, ``unknown``, ``near_misses``,
``engine``); ``tests/batch/test_reasons.py`` compares it with the engine's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from screener.engine.uncertain import records_missing
from screener.model.logic import ABSENT, GROUPS, QUANTIFIERS, criterion_outcome
from screener.model.operators import NUMERIC_OPS, OPERATORS
from screener.model.rules import Criterion, FactTest, FieldTest, Group, Node, Quantifier, RuleSet
from screener.vectorized.flatten import Layout, target_key
from screener.vectorized.sql import comparison, ident, literal

_EMPTY_TEXT = "CAST([] AS VARCHAR[])"
_NULL_TEXT = "CAST(NULL AS VARCHAR[])"
#: one near miss: the criterion, its test's template (``k``), the compared value and the
#: record's label (NULL for a patient's fact); written as text in ``Reasons``' second query
_NEAR = "STRUCT(c VARCHAR, k INTEGER, x DOUBLE, l VARCHAR)"
_EMPTY_NEAR = f"CAST([] AS {_NEAR}[])"
_NULL_NEAR = f"CAST(NULL AS {_NEAR}[][])"
_PW_MARK = "/*pw*/"  # where a record relation takes the patient's facts (known once all is compiled)


def concat(parts: list[str]) -> str:
    """SQL: the lists ``parts`` one after the other (repeats are removed once, at the criterion:
    removing them at every level, as ``explain._merge`` does, gives the same list)."""
    if not parts:
        return _EMPTY_TEXT
    return parts[0] if len(parts) == 1 else f"flatten([{', '.join(parts)}])"


def dedup(column: str) -> str:
    """SQL: the list ``column`` with each item kept once, at its first place (``explain._merge``)."""
    return f"list_filter({column}, lambda x, i: list_position({column}, x) = i)"


def number_text(expr: str) -> str:
    """SQL: ``f"{round(float(x), 2):g}"`` (:func:`screener.batch.runner._fmt`) of a DOUBLE below 1e6
    in magnitude: rounded to 2 decimals, then to 6 significant digits, without trailing zeros."""
    r = f"round_even(CAST({expr} AS DOUBLE), 2)"
    digits = f"least(2, 5 - CAST(floor(log10(abs({r}))) AS INTEGER))"
    g = f"(CASE WHEN {r} = 0 THEN CAST(0 AS DOUBLE) ELSE round_even({r}, {digits}) END)"
    whole = f"CAST(CAST({g} AS BIGINT) AS VARCHAR)"
    return f"(CASE WHEN {g} = trunc({g}) THEN {whole} ELSE CAST({g} AS VARCHAR) END)"


def _python_number(x: float) -> str:
    return f"{round(float(x), 2):g}"


@dataclass(frozen=True)
class Source:
    """A numeric test's evidence as seen from a node above it (see the module).

    ``when``: the conditions (SQL, all must hold) under which the node keeps it; ``truth``: a
    test's value, a near miss where it is the criterion's failing side (None: ``item`` is a
    quantifier's list of its records' near misses, already filtered); ``item``: SQL, a
    ``_NEAR`` struct, or a list of them."""

    when: tuple[str, ...]
    truth: str | None
    item: str

    def under(self, condition: str) -> Source:
        return Source((condition, *self.when), self.truth, self.item)

    def named(self, expr: str, name: str) -> Source:
        """The same with the column ``name`` read where its expression ``expr`` was written."""
        return Source(
            tuple(w.replace(expr, name) for w in self.when),
            None if self.truth is None else self.truth.replace(expr, name),
            self.item,
        )

    def near(self, failing_side: str) -> str:
        """SQL: this source's near misses where every condition holds (a list, or NULL)."""
        if self.truth is None:
            return f"CASE WHEN {' AND '.join(self.when) or 'TRUE'} THEN {self.item} END"
        conditions = " AND ".join((*self.when, f"{self.truth} = {failing_side}"))
        return f"CASE WHEN {conditions} THEN [{self.item}] END"


def near_list(sources: list[str]) -> str:
    """SQL: the near misses of ``sources`` (each a list or NULL), one after the other."""
    if not sources:
        return _EMPTY_NEAR
    return f"flatten(list_filter([{', '.join(sources)}], lambda x: x IS NOT NULL))"


@dataclass(frozen=True)
class Cols:
    """The SQL of one node's columns and its evidence (see the module)."""

    v: str
    m: str
    e: tuple[Source, ...]
    f: str


class _Tree:
    """One tree (a criterion's test, or a quantifier's ``where``) compiled into projections:
    ``layers[h]`` holds the ``expr AS column`` items of the nodes of height ``h``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.layers: list[list[str]] = []
        self.count = 0

    def add(self, height: int, cols: Cols) -> Cols:
        k = f"{self.prefix}{self.count}"
        self.count += 1
        while len(self.layers) <= 2 * height + 1:
            self.layers.append([])
        v, m, f = (ident(f"{part}{k}") for part in "vmf")
        # a subtree with nothing the engine must word has a constant flag: no column (a smaller
        # query plans faster)
        f = "FALSE" if cols.f == "FALSE" else f
        # the value first; the explanation a level later reads it as a column (DuckDB plans a
        # repeated boolean expression far more slowly than a repeated column)
        self.layers[2 * height].append(f"{cols.v} AS {v}")
        self.layers[2 * height + 1].append(f"{cols.m.replace(cols.v, v)} AS {m}")
        if f != "FALSE":
            self.layers[2 * height + 1].append(f"{cols.f.replace(cols.v, v)} AS {f}")
        return Cols(v, m, tuple(s.named(cols.v, v) for s in cols.e), f)

    def relation(self, base: str) -> str:
        out = base
        for items in self.layers:
            out = f"(SELECT *, {', '.join(items)} FROM {out})"
        return out


def group_cols(op: str, children: list[Cols]) -> Cols:
    """A group's columns from its children's, by :func:`screener.engine.explain.combine_verdicts`:
    a value that settles the group keeps the evidence of the children that have it; an unknown
    group all children's evidence and its unknown children's missing facts; ``not`` its child's;
    ``first_known`` its first known child's, or every child's missing facts. Evidence is kept
    under conditions on the values (:class:`Source`), in the children's order."""
    connective = GROUPS[op].sql
    vs = [c.v for c in children]
    if connective == "NOT":
        v = f"(NOT {vs[0]})"
    elif len(vs) == 1:
        v = vs[0]
    elif connective in ("AND", "OR"):
        v = "(" + f" {connective} ".join(vs) + ")"
    else:
        v = f"{connective}({', '.join(vs)})"
    no_flag = all(c.f == "FALSE" for c in children)
    if op == "not":
        (child,) = children
        return Cols(v, child.m, child.e, child.f)
    if op == "first_known":
        m_cases = " ".join(f"WHEN {c.v} IS NOT NULL THEN {_NULL_TEXT}" for c in children)
        m = f"(CASE {m_cases} ELSE {concat([c.m for c in children])} END)"
        f = "FALSE" if no_flag else f"coalesce({v} IS NULL AND ({' OR '.join(c.f for c in children)}), FALSE)"
        kept: list[Source] = []
        for i, c in enumerate(children):  # the first known child's evidence
            first = " AND ".join([f"{c.v} IS NOT NULL", *(f"{b.v} IS NULL" for b in children[:i])])
            kept += [s.under(f"({first})") for s in c.e]
        return Cols(v, m, tuple(kept), f)
    decisive = GROUPS[op].decisive
    assert decisive is not None
    # a known child's m is NULL (each node's m is set only when it is unknown)
    m = f"(CASE WHEN {v} IS NULL THEN {concat([f'coalesce({c.m}, {_EMPTY_TEXT})' for c in children])} END)"
    d = literal(decisive)
    # a flag counts where the group is unknown and the child's missing facts are kept
    unknown = " OR ".join(f"({c.v} IS NULL AND {c.f})" for c in children)
    f = "FALSE" if no_flag else f"coalesce({v} IS NULL AND ({unknown}), FALSE)"
    # settled by its decisive value: the children of that value; otherwise every child (a NULL
    # condition keeps nothing: conditions are only ever joined with AND)
    e = tuple(s.under(f"({v} IS DISTINCT FROM {d} OR {c.v} = {d})") for c in children for s in c.e)
    return Cols(v, m, e, f)


def _subject(node: FactTest | FieldTest) -> str:
    """A test's subject as the engine's near misses show it (``Explainer._describe`` cut at the
    operator's words, as ``runner.near_misses`` cuts it)."""
    return _description(node).rsplit(f" {OPERATORS[node.comparison.op].words} ", 1)[0]


def _description(node: FactTest | FieldTest) -> str:
    """``Explainer._describe`` of a test without a record label: subject, comparison and unit."""
    unit = f" {node.unit}" if node.unit else ""
    if isinstance(node, FactTest):
        subject = node.fact if node.field is None else f"{node.fact}.{node.field}"
    else:
        subject = node.field
    return f"{subject} {node.comparison.describe()}{unit}"


def _numeric(node: FactTest | FieldTest) -> bool:
    """Whether the test's evidence has a margin (a number compared with a number threshold)."""
    value = node.comparison.value
    return (
        node.comparison.op in NUMERIC_OPS and isinstance(value, int | float) and not isinstance(value, bool)
    )


def _label(record: str) -> str:
    """SQL: ``Explainer.record_label`` of a record of ``e`` or ``c`` (alias ``r``)."""
    if record == "exposure":
        until = "coalesce(r.\"end\", CASE WHEN r.ongoing THEN 'ongoing' ELSE '?' END)"
        return f"r.drug || ' ' || r.start || '..' || {until} || ' (m' || CAST(r.seq AS VARCHAR) || ')'"
    return "r.name || ' (c' || CAST(r.seq AS VARCHAR) || ')'"


class ReasonCompiler:
    """The SQL of the ``reasons`` table for one rule set (built once, run per chunk).

    ``pw_columns``: the columns of the preparation's ``pw`` table (which derived values it
    computes and which facts it says are set aside)."""

    def __init__(self, ruleset: RuleSet, layout: Layout, pw_columns: set[str]) -> None:
        self.ruleset = ruleset
        self.layout = layout
        self.available = pw_columns
        self.derived = ruleset.derived_by_name
        self.exposure_derived = ruleset.exposure_derived
        self.exposure_columns = {c.name for c in layout.exposures}
        self.ctes: list[str] = []
        self.quantifiers: list[str] = []
        self.used: set[str] = set()
        self.templates: list[tuple[str, float, str]] = []  # numeric tests: subject, threshold, unit
        self.criterion_id = ""  # the criterion being compiled, and the value of its test that fails it
        self.failing_side = "TRUE"
        criteria = [self._criterion(c) for c in ruleset.criteria]
        self.sql = self._assemble(criteria)
        self.near_sql = self._near_sql()

    # ------------------------------------------------------------------ facts

    def _pw(self, column: str, otherwise: str) -> str:
        if column not in self.available:
            return otherwise
        self.used.add(column)
        return ident("pw:" + column)

    def _present(self, name: str) -> str:
        return f"coalesce({self._pw(name + '.__present', 'FALSE')}, FALSE)"

    def _missing_fact(self, name: str, seen: tuple[str, ...] = ()) -> tuple[str, str]:
        """SQL (list, flag): the base facts to collect so that ``name`` can be read
        (``Explainer._find_missing``), and whether that cannot be said here."""
        derived = self.derived.get(name)
        definition = self.ruleset.facts.get(name)
        if derived is not None and definition is None and name not in seen:
            sources = derived.fact_inputs()
            parts = [self._missing_fact(src, (*seen, name)) for src in sources]
            present = self._present(name)
            every = " AND ".join(self._present(src) for src in sources) or "TRUE"
            # every input there but no value: the function refused them (the engine names its error)
            inner = " OR ".join(f for _, f in parts) or "FALSE"
            flag = f"((NOT {present} AND {every}) OR {inner})"
            return f"(CASE WHEN {present} THEN {_EMPTY_TEXT} ELSE {concat([t for t, _ in parts])} END)", flag
        if definition is None:
            return f"[{literal(name)}]", "FALSE"
        present = self._present(name)
        aside = self._pw(f"{name}.__aside", "CAST(NULL AS VARCHAR)")
        label = f"{name} ({definition.label})" if definition.label else name
        text = (
            f"(CASE WHEN {present} THEN {_EMPTY_TEXT} WHEN {aside} IS NOT NULL "
            f"THEN [{literal(name + ' (')} || {aside} || ')'] ELSE [{literal(label)}] END)"
        )
        return text, f"coalesce({self._pw(name + '.__murky', 'FALSE')}, FALSE)"

    def _evidence(self, truth: str, value: str, node: FactTest | FieldTest, label: str) -> tuple[Source, ...]:
        """The numeric evidence of a leaf (none unless compared with a number threshold)."""
        if not _numeric(node):
            return ()
        self.templates.append((_subject(node), float(node.comparison.value), node.unit or ""))
        k = len(self.templates)
        item = f"{{'c': {literal(self.criterion_id)}, 'k': {k}, 'x': CAST({value} AS DOUBLE), 'l': {label}}}"
        return (Source((), truth, item),)

    # ------------------------------------------------------------------ patient-level tree

    def _node(self, node: Node, tree: _Tree) -> tuple[Cols, int]:
        if isinstance(node, FactTest):
            return tree.add(0, self._fact_test(node)), 0
        if isinstance(node, Quantifier):
            return tree.add(0, self._quantifier(node)), 0
        assert isinstance(node, Group)
        done = [self._node(c, tree) for c in node.children]
        height = 1 + max(h for _, h in done)
        return tree.add(height, group_cols(node.op, [c for c, _ in done])), height

    def _fact_test(self, node: FactTest) -> Cols:
        column = ident(self.layout.patient_column(node.fact, target_key(node)))
        test = comparison(column, node.comparison.op, node.comparison.value)
        missing, flag = self._missing_fact(node.fact)
        present = self._present(node.fact)
        if node.field is not None:  # the fact is there, not this field of it
            missing = (
                f"(CASE WHEN {present} THEN [{literal(node.fact + ': ' + node.field)}] ELSE {missing} END)"
            )
        elif target_key(node) != "value":  # a window on a value that is there: the engine reports it
            flag = f"({flag} OR {present})"
        v, m = test, missing
        if node.unknown_when is not None:  # that result cannot settle anything: unknown, with the reason
            hit = test if node.unknown_when else f"(NOT {test})"
            v = f"(CASE WHEN {hit} THEN CAST(NULL AS BOOLEAN) ELSE {test} END)"
            unsettled = node.missing or f"{node.fact}: {_description(node)} cannot settle the criterion"
            m = f"(CASE WHEN coalesce({hit}, FALSE) THEN [{literal(unsettled)}] ELSE {missing} END)"
            flag = f"(NOT coalesce({hit}, FALSE) AND {flag})"
        evidence = self._evidence(test, column, node, "CAST(NULL AS VARCHAR)")
        f = "FALSE" if flag == "FALSE" else f"coalesce({v} IS NULL AND {flag}, FALSE)"
        return Cols(v, f"(CASE WHEN {v} IS NULL THEN {m} END)", evidence, f)

    # ------------------------------------------------------------------ quantifiers

    def _quantifier(self, node: Quantifier) -> Cols:
        name = f"r{len(self.ctes)}"
        table = "e" if node.record == "exposure" else "c"
        match = " AND ".join(
            f"(r.{ident(key)} IN ({', '.join(literal(v) for v in values)}))" for key, values in node.match
        )
        where = f" WHERE {match}" if match else ""
        evidence_free = flag_free = True
        if node.where is None:
            self.ctes.append(
                f"{name} AS (SELECT r.pid AS pid, TRUE AS v, {_NULL_TEXT} AS m, {_EMPTY_NEAR} AS n, "
                f"FALSE AS f FROM {table} r{where} GROUP BY r.pid)"
            )
        else:
            tree = _Tree(f"{name}_")
            root, _ = self._where(node.where, node.record, tree)
            evidence_free, flag_free = not root.e, root.f == "FALSE"
            prefix = "m" if node.record == "exposure" else "c"  # the engine's record ids
            base = (
                f"(SELECT r.*, {_label(node.record)} AS label, {_PW_MARK}"
                f"{literal(prefix)} || CAST(r.seq AS VARCHAR) AS rid FROM {table} r "
                f"JOIN pw ON pw.pid = r.pid{where})"
            )
            decisive = GROUPS[QUANTIFIERS[node.quantifier]].decisive
            assert decisive is not None
            d = literal(decisive)
            v = (
                f"CASE WHEN bool_or({root.v} = {d}) THEN {d} WHEN bool_or({root.v} IS NULL) THEN NULL "
                f"ELSE {literal(not decisive)} END"
            )
            # each record's near misses (its tests on the criterion's failing side that its
            # tree keeps); the quantifier keeps those of the records of its decisive value, or
            # all; the records in the engine's order: sorted by id, as text
            near = near_list([s.near(self.failing_side) for s in root.e])
            relation = (
                tree.relation(base)
                if evidence_free
                else f"(SELECT *, {near} AS __near FROM {tree.relation(base)})"
            )
            lists = (
                f"{_NULL_NEAR} AS nd, {_NULL_NEAR} AS na"
                if evidence_free
                else f"list(__near ORDER BY rid) FILTER (WHERE {root.v} = {d} AND len(__near) > 0) AS nd, "
                "list(__near ORDER BY rid) FILTER (WHERE len(__near) > 0) AS na"
            )
            self.ctes.append(
                f"{name} AS (SELECT pid, v, CASE WHEN v IS NULL THEN flatten(ms) END AS m, "
                f"CASE WHEN v = {d} THEN flatten(nd) ELSE flatten(na) END AS n, "
                "coalesce(v IS NULL AND f, FALSE) AS f FROM ("
                f"SELECT pid, {v} AS v, "
                f"list({root.m} ORDER BY rid) FILTER (WHERE {root.v} IS NULL) AS ms, {lists}, "
                f"bool_or({root.f}) FILTER (WHERE {root.v} IS NULL) AS f "
                f"FROM {relation} GROUP BY pid))"
            )
        self.quantifiers.append(name)
        absent_value = ABSENT[node.absent]
        absent = "CAST(NULL AS BOOLEAN)" if absent_value is None else literal(absent_value)
        none_missing = f"[{literal(records_missing(node))}]" if absent_value is None else _NULL_TEXT

        def col(part: str) -> str:
            return ident(f"{name}.{part}")

        v = f"(CASE WHEN {col('hit')} THEN {col('v')} ELSE {absent} END)"
        m = f"(CASE WHEN {col('hit')} THEN {col('m')} ELSE {none_missing} END)"
        e = () if evidence_free else (Source((col("hit"),), None, col("n")),)
        return Cols(v, m, e, "FALSE" if flag_free else f"coalesce({col('f')}, FALSE)")

    def _where(self, node: Group | FieldTest, record: str, tree: _Tree) -> tuple[Cols, int]:
        if isinstance(node, FieldTest):
            return tree.add(0, self._field_test(node, record)), 0
        done = [self._where(c, record, tree) for c in node.children]
        height = 1 + max(h for _, h in done)
        return tree.add(height, group_cols(node.op, [c for c, _ in done])), height

    def _field_test(self, node: FieldTest, record: str) -> Cols:
        column = ident(target_key(node))
        test = comparison(column, node.comparison.op, node.comparison.value)
        m, flag = f"[label || {literal(': ' + node.field)}]", "FALSE"
        per = self.exposure_derived.get(node.field) if record == "exposure" else None
        if per is not None:
            m, flag = self._per_exposure_missing(per, node)
        elif record == "condition":
            flag = "(active IS NULL)"  # a record contradicting another: the engine names both
        evidence = self._evidence(test, column, node, "label")
        f = "FALSE" if flag == "FALSE" else f"coalesce({test} IS NULL AND {flag}, FALSE)"
        return Cols(test, f"(CASE WHEN {test} IS NULL THEN {m} END)", evidence, f)

    def _per_exposure_missing(self, per: Any, node: FieldTest) -> tuple[str, str]:
        """SQL (list, flag) of a value derived per exposure that is not there: the exposure's
        fields and the facts it needs (``Explainer.test``); with all of them there the
        function refused them, and the engine names its error (flag)."""
        fields = [i.field for i in per.inputs if i.source == "exposure"]
        if any(f not in self.exposure_columns for f in fields):
            return _NULL_TEXT, "TRUE"
        own = [
            f"CASE WHEN {ident(f)} IS NULL THEN [label || {literal(': ' + f)}] ELSE {_EMPTY_TEXT} END"
            for f in fields
        ]
        facts = [self._missing_fact(src) for src in per.fact_inputs()]
        everything = concat([*own, *(t for t, _ in facts)])
        # no field and no fact missing: the function refused them, or the record does not match
        flag = f"(len({everything}) = 0 OR {' OR '.join(f for _, f in facts) or 'FALSE'})"
        return everything, flag

    # ------------------------------------------------------------------ criteria and rows

    def _criterion(self, c: Criterion) -> tuple[Criterion, Cols, _Tree]:
        self.criterion_id = c.id
        self.failing_side = literal(c.type != "inclusion")  # an exclusion fails when its test holds
        tree = _Tree(f"t{len(self.quantifiers)}_{c.id}_")
        root, _ = self._node(c.test, tree)
        return c, root, tree

    def _near_sql(self) -> str:
        """SQL: ``near_misses`` (``runner.near_misses``' strings) from each patient's evidence on
        the failing side of its failing criteria (``near``: criterion id and evidence), each
        written once with its test's subject, threshold and unit (a small table, ``k``)."""
        rows = ", ".join(
            f"({k}, {literal(subject)}, CAST({threshold!r} AS DOUBLE), "
            f"{literal(_python_number(threshold) + (f' {unit}' if unit else ''))})"
            for k, (subject, threshold, unit) in enumerate(self.templates, start=1)
        )
        margin = "round_even(x.x - t.threshold, 6)"
        relation = f"CASE WHEN {margin} < 0 THEN ' < ' WHEN {margin} > 0 THEN ' > ' ELSE ' = ' END"
        distance = (
            f"CASE WHEN {margin} < 0 THEN {number_text(f'-{margin}')} || ' below' "
            f"WHEN {margin} > 0 THEN {number_text(margin)} || ' above' ELSE 'at threshold' END"
        )
        text = (
            f"x.c || ': ' || coalesce(x.l || ': ', '') || t.subject || ' ' || {number_text('x.x')} || "
            f"{relation} || t.shown || ' (' || {distance} || ')'"
        )
        if not rows:
            return "SELECT pid, unknown, CAST([] AS VARCHAR[]) AS near_misses, engine FROM reasons_raw"
        items = (
            "SELECT pid, i, near[i] AS x FROM (SELECT pid, near, generate_subscripts(near, 1) AS i "
            "FROM reasons_raw WHERE len(near) > 0)"
        )
        texts = (
            f"SELECT pid, list({text} ORDER BY i) AS near_misses, "
            # Python writes a number of 1e6 or more in exponent form: such a row is the engine's
            f"bool_or(abs(x.x) >= 999999.5 OR abs({margin}) >= 999999.5) AS big FROM ({items}) "
            f"JOIN (VALUES {rows}) t(k, subject, threshold, shown) ON t.k = x.k GROUP BY pid"
        )
        return (
            "SELECT r.pid, r.unknown, coalesce(n.near_misses, CAST([] AS VARCHAR[])) AS near_misses, "
            "r.engine OR coalesce(n.big, FALSE) AS engine "
            f"FROM reasons_raw r LEFT JOIN ({texts}) n ON n.pid = r.pid ORDER BY r.pid"
        )

    def _assemble(self, criteria: list[tuple[Criterion, Cols, _Tree]]) -> str:
        picked = [f"pw.{ident(col)} AS {ident('pw:' + col)}" for col in sorted(self.used)]
        self.ctes = [cte.replace(_PW_MARK, "".join(x + ", " for x in picked)) for cte in self.ctes]
        for name in self.quantifiers:
            picked.append(f"{name}.pid IS NOT NULL AS {ident(name + '.hit')}")
            picked += [f"{name}.{part} AS {ident(name + '.' + part)}" for part in "vmnf"]
        joins = "".join(f" LEFT JOIN {name} ON {name}.pid = p.pid" for name in self.quantifiers)
        relation = f"(SELECT p.*{''.join(', ' + x for x in picked)} FROM p JOIN pw ON pw.pid = p.pid{joins})"
        # one projection per tree level over all criteria: few nested SELECTs to plan
        levels: list[list[str]] = []
        for _, _, tree in criteria:
            for h, items in enumerate(tree.layers):
                while len(levels) <= h:
                    levels.append([])
                levels[h] += items
        for items in levels:
            relation = f"(SELECT *, {', '.join(items)} FROM {relation})"
        unknown, near, flags = [], [], []
        for c, root, _ in criteria:
            failing_side = c.type != "inclusion"  # an exclusion fails when its test holds
            assert criterion_outcome(c.type, failing_side) == "fail"
            fails = f"{root.v} = {literal(failing_side)}"
            unknown.append(
                f"CASE WHEN {root.v} IS NULL THEN {{'id': {literal(c.id)}, 'missing': {dedup(root.m)}}} END"
            )
            near += [s.under(fails).near(literal(failing_side)) for s in root.e]
            flags.append(f"({root.v} IS NULL AND {root.f})")
        with_clause = ("WITH " + ",\n".join(self.ctes) + "\n") if self.ctes else ""
        return (
            f"{with_clause}SELECT pid, "
            f"list_filter([{', '.join(unknown)}], lambda x: x IS NOT NULL) AS unknown, "
            f"{near_list(near)} AS near, "
            f"coalesce({' OR '.join(flags) or 'FALSE'}, FALSE) AS engine FROM {relation}"
        )


class Reasons:
    """One rule set's reason query, compiled on its first chunk (when ``pw``'s columns are known)."""

    def __init__(self, ruleset: RuleSet, layout: Layout) -> None:
        self.ruleset = ruleset
        self.layout = layout
        self._compiled: ReasonCompiler | None = None

    def fill(self, con: Any) -> None:
        """Fill the temporary table ``reasons`` (pid, unknown, near_misses, engine) for the chunk
        now in ``p``, ``pw``, ``e`` and ``c`` of ``con``."""
        if self._compiled is None:
            columns = {row[0] for row in con.execute("DESCRIBE pw").fetchall()}
            self._compiled = ReasonCompiler(self.ruleset, self.layout, columns)
        # pushing the aggregates' FILTERs down through the tree's projections makes DuckDB inline
        # every column into its parents, and planning time grows with the tree's size: not here
        (disabled,) = con.execute("SELECT current_setting('disabled_optimizers')").fetchone()
        con.execute(f"SET disabled_optimizers = {literal(_with_filter_pushdown_off(disabled))}")
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE reasons_raw AS {self._compiled.sql}")
        finally:
            con.execute(f"SET disabled_optimizers = {literal(disabled or '')}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE reasons AS {self._compiled.near_sql}")
        con.execute("DROP TABLE reasons_raw")


def _with_filter_pushdown_off(disabled: str | None) -> str:
    names = [n.strip() for n in (disabled or "").split(",") if n.strip()]
    return ", ".join(dict.fromkeys([*names, "filter_pushdown"]))


def unknown_cell_sql(unknown: str) -> str:
    """SQL: :func:`screener.batch.runner.unknown_cell` of a list of (id, missing) structs, NULL
    when empty (``"E2: creatinine | weight; E3: lvef"``)."""
    return (
        f"nullif(array_to_string(list_transform({unknown}, lambda u: u.id || ': ' || "
        "array_to_string(u.missing, ' | ')), '; '), '')"
    )


#: the ``reasons`` table of a run without them (``--explain outcomes``): rows join it all the same
EMPTY_REASONS = (
    "CREATE OR REPLACE TEMP TABLE reasons (pid BIGINT, unknown STRUCT(id VARCHAR, missing VARCHAR[])[], "
    "near_misses VARCHAR[], engine BOOLEAN)"
)
