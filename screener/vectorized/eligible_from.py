"""The eligible-from date of each failing patient, in SQL, as the rule engine finds it.

:mod:`screener.engine.eligible` is the specification; this module writes the same search
over the vectorized tables, for a whole chunk of patients at once:

1. **Candidates.** For a criterion failing on the screening date, the dates where one of
   its date-window tests changes value: the window's end after each recorded date the test
   looks at (the fact's chosen value; for a test inside a quantifier, every record the
   quantifier matches), plus 0, 1 and 2 days; and, for a lower bound on a value derived
   from the screening date (age), the coming anniversaries of the date it is derived from
   and the day after each (29 February), as many years ahead as the threshold needs. Only
   dates after the screening date; at most 90 per criterion, the earliest.
2. **Re-screening.** The patients' rows are re-keyed by ``screen_at(key, pid, as_of)``
   (:mod:`screener.vectorized.at`), one key per patient and candidate date, and prepared
   and screened by the same SQL as the chunk: one query for every pair. A criterion's
   eligible-from date is its earliest candidate at which it passes.
3. **The row's date** (:attr:`screener.results.ScreeningResult.eligible_from`, as the engine
   fills it through :meth:`~screener.engine.eligible.EligibleFrom.earliest_possible`): with
   every failing criterion given a date, the patient is screened again on the latest of
   them (with the open-world reading where that date is outside the observed time, as
   :func:`screener.engine.screening.uncertain_screen` does); failing nothing and open on
   nothing then, that date is the row's; failing criteria with dates of their own move it
   on (at most 4 times); a criterion failing with no date, or too many moves, leaves no
   date (:attr:`screener.results.ScreeningResult.earliest_searched`).

A key whose record cannot be prepared at a candidate date (a value of the wrong type dated
later) counts as not passing there: never an eligible-from date that was not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from screener.clinical import FUNCTIONS
from screener.engine.uncertain import open_world
from screener.model.operators import OPERATORS, WINDOW_OPS
from screener.model.rules import Criterion, FactTest, FieldTest, Group, Node, Quantifier, RuleSet
from screener.vectorized.at import At, add_months_sql, sql_date, window_end_sql, window_start_sql
from screener.vectorized.flatten import Layout, target_key
from screener.vectorized.prepare import Sources, TablePreparation
from screener.vectorized.sql import CompiledQuery, compile_sql, ident, literal

#: As :data:`screener.engine.eligible._MAX_CANDIDATE_DATES` and ``_MAX_WAITS``.
MAX_CANDIDATE_DATES = 90
MAX_WAITS = 4
_MAX_YEARS = 120  # the engine's cap on anniversaries ahead

#: The table the batch rows read the date from (pid, ISO date).
ELIGIBLE_SQL = "CREATE OR REPLACE TEMP TABLE eligible_at (pid BIGINT, eligible_from VARCHAR)"


def _tests(node: Node, quantifier: Quantifier | None = None) -> Iterator[tuple[FactTest | FieldTest, Any]]:
    """Every fact and field test of a tree, a field test with its enclosing quantifier."""
    if isinstance(node, FactTest):
        yield node, None
    elif isinstance(node, FieldTest):
        yield node, quantifier
    elif isinstance(node, Quantifier):
        if node.where is not None:
            yield from _tests(node.where, node)  # type: ignore[arg-type]
    elif isinstance(node, Group):
        for child in node.children:
            yield from _tests(child, quantifier)


def outside_observation_sql(observed: str, when: str) -> str:
    """SQL: :func:`screener.engine.uncertain.outside_observation` of the patients table's
    ``observed`` text (``start/end;...``, end empty when open) at the DATE ``when``."""
    return (
        f"({observed} IS NOT NULL AND len(list_filter(string_split({observed}, ';'), lambda p: "
        f"CAST(split_part(p, '/', 1) AS DATE) <= {when} "
        f"AND coalesce({when} <= CAST(nullif(split_part(p, '/', 2), '') AS DATE), TRUE))) = 0)"
    )


class EligibleFromSQL:
    """The eligible-from search of one rule set over one connection's prepared tables."""

    def __init__(self, ruleset: RuleSet, layout: Layout, preparation: TablePreparation, query: CompiledQuery):
        self.ruleset = ruleset
        self.layout = layout
        self.preparation = preparation
        self.closed = query
        self.open = compile_sql(open_world(ruleset), layout)  # the same tables, other readings
        self.criteria = tuple(c.id for c in ruleset.criteria)
        grows = {d.name for d in ruleset.derived if any(i.ref == "context.as_of" for i in d.inputs)}
        self.windows: dict[str, list[tuple[FactTest | FieldTest, Quantifier | None]]] = {}
        self.lower_bounds: dict[str, list[FactTest]] = {}
        for c in ruleset.criteria:
            tests = list(_tests(c.test))
            self.windows[c.id] = [(n, q) for n, q in tests if n.comparison.op in WINDOW_OPS]
            self.lower_bounds[c.id] = [
                n
                for n, _ in tests
                if isinstance(n, FactTest)
                and OPERATORS[n.comparison.op].numeric
                and OPERATORS[n.comparison.op].bound == "lower"
            ]
        #: criteria a failing patient may pass later (the engine's ``time_dependent``)
        self.time_dependent = frozenset(
            c.id
            for c in ruleset.criteria
            if self.windows[c.id] or any(n.fact in grows for n in self.lower_bounds[c.id])
        )

    # ------------------------------------------------------------------ SQL pieces

    def _failing_list(self, relation: str, criteria: tuple[str, ...] | list[str] | None = None) -> str:
        items = ", ".join(
            f"CASE WHEN {relation}.{ident(c)} = 1 THEN {literal(c)} END" for c in criteria or self.criteria
        )
        return f"list_filter([{items}], lambda x: x IS NOT NULL)"

    def _any(self, relation: str, code: int, criteria: tuple[str, ...] | list[str]) -> str:
        return " OR ".join(f"{relation}.{ident(c)} = {code}" for c in criteria) or "FALSE"

    def _code_of(self, relation: str, criterion: str) -> str:
        cases = " ".join(f"WHEN {literal(c)} THEN {relation}.{ident(c)}" for c in self.criteria)
        return f"(CASE {criterion} {cases} END)"

    def _candidates_sql(self, criterion: Criterion) -> list[str]:
        """SELECTs of (pid, criterion, when) over the prepared tables keyed by ``ef_origin``."""
        cid = literal(criterion.id)
        todo = f"list_contains(o.failing, {cid})"
        origin = "o.as_of"
        selects: list[str] = []
        for node, quantifier in self.windows[criterion.id]:
            window = node.comparison.value
            column = ident(target_key(node))
            if isinstance(node, FactTest):
                if node.fact not in self.ruleset.facts:
                    continue  # a derived value has no recorded date to wait from
                column = ident(self.layout.patient_column(node.fact, target_key(node)))
                source = "p r"
                where = f"{todo} AND r.{column} IS NOT NULL"
            else:
                assert quantifier is not None
                source = f"{'e' if quantifier.record == 'exposure' else 'c'} r"
                match = " AND ".join(
                    f"r.{ident(k)} IN ({', '.join(literal(v) for v in values)})"
                    for k, values in quantifier.match
                )
                where = f"{todo} AND r.{column} IS NOT NULL" + (f" AND {match}" if match else "")
            day = f"CAST({window_start_sql(origin, window)} + CAST(r.{column} AS INTEGER) AS DATE)"
            edge = window_end_sql(day, window)
            selects.append(
                f"SELECT o.pid, {cid} AS criterion, CAST({edge} + t.k AS DATE) AS when_ "
                f"FROM {source} JOIN ef_origin o ON o.key = r.pid, (VALUES (0), (1), (2)) t(k) WHERE {where}"
            )
        for node in self.lower_bounds[criterion.id]:
            derived = self.ruleset.derived_by_name.get(node.fact)
            if derived is None or not any(i.ref == "context.as_of" for i in derived.inputs):
                continue
            if not isinstance(node.comparison.value, int | float) or isinstance(node.comparison.value, bool):
                continue
            if FUNCTIONS[derived.function].unit in ("", "bool"):
                continue  # not a number: the engine's ``isinstance(current, int | float)``
            current = f"r.{ident(node.fact + '.value')}"
            threshold = literal(node.comparison.value)
            years = f"least(CAST(trunc({threshold} - {current}) AS BIGINT) + 2, {_MAX_YEARS})"
            for source_fact in derived.fact_inputs():
                definition = self.ruleset.facts.get(source_fact)
                if definition is None or definition.type != "date":
                    continue
                if "value" not in self.preparation.keys.get(source_fact, ()):
                    continue
                born = f"CAST(r.{ident(source_fact + '.value')} AS DATE)"
                anniversary = add_months_sql(born, "12 * g.k")
                selects.append(
                    f"SELECT pid, criterion, CAST(a + t.k AS DATE) AS when_ FROM ("
                    f"SELECT o.pid, {cid} AS criterion, o.as_of, {anniversary} AS a "
                    f"FROM pw r JOIN ef_origin o ON o.key = r.pid, "
                    f"LATERAL (SELECT unnest(range(1, year(o.as_of) - year({born}) + {years} + 1)) AS k) g "
                    f"WHERE {todo} AND {born} IS NOT NULL AND {current} IS NOT NULL) "
                    f", (VALUES (0), (1)) t(k) WHERE a > as_of"
                )
        return selects

    # ------------------------------------------------------------------ running

    def _prepare_at(self, con: Any, sources: Sources, first: int, last: int) -> None:
        """Prepare the pairs of ``screen_at(key, pid, as_of, open)`` (pids in ``first``..``last``)
        into ``p``, ``pw``, ``e`` and ``c`` keyed by ``key``, and screen them into ``ef_codes``
        (a key with ``open`` with the open-world reading: :func:`~screener.engine.uncertain.open_world`)."""
        rekeyed: dict[str, str] = {}
        for table in Sources.__annotations__:
            relation = getattr(sources, table)
            rekeyed[table] = f"ef_{table}"
            con.execute(
                f"CREATE OR REPLACE TEMP VIEW ef_{table} AS SELECT k.key AS pid, r.* EXCLUDE (pid), "
                f'k.as_of AS "__as_of" FROM {relation} r JOIN screen_at k ON k.pid = r.pid '
                f"WHERE r.pid BETWEEN {int(first)} AND {int(last)}"
            )
        for statement in self.preparation.statements(Sources(**rekeyed), At()):
            con.execute(statement)
        con.execute(f"CREATE OR REPLACE TEMP TABLE ef_closed AS {self.closed.sql}")
        if con.execute("SELECT count(*) FROM screen_at WHERE open").fetchall()[0][0]:
            con.execute(f"CREATE OR REPLACE TEMP TABLE ef_opened AS {self.open.sql}")
            codes = ", ".join(
                f"CASE WHEN k.open THEN w.{ident(c)} ELSE z.{ident(c)} END AS {ident(c)}"
                for c in self.criteria
            )
            opened = " JOIN ef_opened w ON w.pid = z.pid"
        else:
            codes = ", ".join(f"z.{ident(c)}" for c in self.criteria)
            opened = ""
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ef_codes AS SELECT k.key, k.pid, k.as_of, k.open, {codes} "
            f"FROM ef_closed z JOIN screen_at k ON k.key = z.pid{opened}"
        )

    def _search(self, con: Any, sources: Sources, first: int, last: int) -> bool:
        """Each failing criterion's eligible-from date for the origins in ``ef_origin``
        (key, pid, as_of, open, failing: prepared in ``p``/``pw``/``e``/``c`` under ``key``):
        ``ef_pass(pid, criterion, when_)`` and ``ef_found(pid, found, latest)``, ``found`` true
        when every failing criterion has one and ``latest`` the latest of them. False (and
        nothing done) when ``ef_origin`` is empty."""
        if not con.execute("SELECT count(*) FROM ef_origin").fetchall()[0][0]:
            return False
        selects = [
            s for c in self.ruleset.criteria if c.id in self.time_dependent for s in self._candidates_sql(c)
        ]
        union = (
            " UNION ".join(selects)
            or "SELECT NULL::BIGINT AS pid, NULL::VARCHAR AS criterion, NULL::DATE AS when_ WHERE FALSE"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ef_cand AS SELECT pid, criterion, when_ FROM ("
            f"SELECT *, row_number() OVER (PARTITION BY pid, criterion ORDER BY when_) AS n "
            f"FROM (SELECT DISTINCT pid, criterion, when_ FROM ({union}) u "
            f"JOIN ef_origin o USING (pid) WHERE when_ > o.as_of)) WHERE n <= {MAX_CANDIDATE_DATES}"
        )
        # re-evaluated as the origin's engine does (Engine.outcome: that engine's reading)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE screen_at AS SELECT "
            "row_number() OVER (ORDER BY x.pid, x.when_) AS key, "
            "x.pid, x.when_ AS as_of, o.open FROM (SELECT DISTINCT pid, when_ FROM ef_cand) x "
            "JOIN ef_origin o USING (pid)"
        )
        self._prepare_at(con, sources, first, last)
        passed = self._code_of("k", "x.criterion")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ef_pass AS SELECT x.pid, x.criterion, min(x.when_) AS when_ "
            f"FROM ef_cand x JOIN ef_codes k ON k.pid = x.pid AND k.as_of = x.when_ WHERE {passed} = 0 "
            "GROUP BY x.pid, x.criterion"
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ef_found AS SELECT o.pid, "
            "count(f.criterion) = len(o.failing) AS found, max(f.when_) AS latest FROM ef_origin o "
            "LEFT JOIN ef_pass f ON f.pid = o.pid GROUP BY o.pid, o.failing"
        )
        return True

    def run(
        self, con: Any, sources: Sources, as_of: date, first: int, last: int, skip: str, every: bool = False
    ) -> None:
        """Fill ``eligible_at`` (:data:`ELIGIBLE_SQL`) for the chunk's pids ``first``..``last``
        screened into ``outcomes`` and prepared into ``p``/``pw``/``e``/``c`` at ``as_of``;
        ``skip``: a SQL condition on ``outcomes.pid`` for patients whose rows come from the
        engine. The chunk's tables ``p``, ``pw``, ``e``, ``c`` and ``errors`` are replaced.

        Each failing criterion's own date goes to ``eligible_criteria`` (pid, criterion, date),
        for the patients whose row may get a date; ``every``: for every patient failing a
        criterion it may pass later, as the engine's results give it (the differential tests).
        """
        con.execute(ELIGIBLE_SQL)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE eligible_criteria (pid BIGINT, criterion VARCHAR, when_ DATE)"
        )
        settled = [c for c in self.criteria if c not in self.time_dependent]
        waiting = [c for c in self.criteria if c in self.time_dependent]
        settled_today = self._any("outcomes", 1, settled)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE ef_origin AS SELECT outcomes.pid AS key, outcomes.pid, "
            f"{sql_date(as_of)} AS as_of, FALSE AS open, "
            f"{self._failing_list('outcomes', waiting)} AS failing, ({settled_today}) AS settled "
            f"FROM outcomes WHERE ({self._any('outcomes', 1, waiting)}) "
            f"AND {'TRUE' if every else f'NOT ({settled_today})'} AND NOT ({skip})"
        )
        if not con.execute("SELECT count(*) FROM ef_origin").fetchall()[0][0]:
            return
        # the searched patients' records only, read once: every re-screening below reads these
        for table in Sources.__annotations__:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE ef_src_{table} AS SELECT * FROM {getattr(sources, table)} "
                f"WHERE pid BETWEEN {int(first)} AND {int(last)} AND pid IN (SELECT pid FROM ef_origin)"
            )
        sources = Sources(**{t: f"ef_src_{t}" for t in Sources.__annotations__})
        if not self._search(con, sources, first, last):
            return
        # each failing criterion's own date (CriterionResult.eligible_from), for the tests
        con.execute("INSERT INTO eligible_criteria SELECT pid, criterion, when_ FROM ef_pass")
        # the first date every waiting period is over, for patients failing nothing else
        con.execute(
            "CREATE OR REPLACE TEMP TABLE ef_state AS SELECT f.pid, f.latest AS w "
            "FROM ef_found f JOIN ef_origin o USING (pid) WHERE f.found AND NOT o.settled"
        )
        failing_at = self._any("k", 1, self.criteria)
        for _ in range(MAX_WAITS):
            if not con.execute("SELECT count(*) FROM ef_state").fetchall()[0][0]:
                break
            # screened as Engine.screen does: open-world where that date is outside the observed time
            outside = outside_observation_sql("x.observed", "s.w")
            con.execute(
                "CREATE OR REPLACE TEMP TABLE screen_at AS SELECT row_number() OVER (ORDER BY s.pid) AS key, "
                f"s.pid, s.w AS as_of, {outside} AS open "
                f"FROM ef_state s JOIN {sources.patients} x ON x.pid = s.pid"
            )
            self._prepare_at(con, sources, first, last)
            # failing nothing on that date: eligible from it if nothing is open then either (a key
            # that could not be prepared then gets no date: never one that was not checked)
            con.execute(
                "INSERT INTO eligible_at SELECT s.pid, CAST(s.w AS VARCHAR) "
                "FROM ef_state s JOIN ef_codes k ON k.pid = s.pid "
                f"WHERE NOT ({failing_at}) AND NOT ({self._any('k', 2, self.criteria)})"
            )
            # failing then, only criteria with a later date of their own: the date moves on; a
            # criterion failing for good then leaves no date (ScreeningResult.earliest_searched)
            con.execute(
                "CREATE OR REPLACE TEMP TABLE ef_origin AS SELECT k.key, k.pid, k.as_of, k.open, "
                f"{self._failing_list('k')} AS failing, FALSE AS settled FROM ef_codes k "
                f"WHERE ({failing_at}) AND NOT ({self._any('k', 1, settled)})"
            )
            if not self._search(con, sources, first, last):
                break
            con.execute(
                "CREATE OR REPLACE TEMP TABLE ef_state AS SELECT pid, latest AS w FROM ef_found WHERE found"
            )
        # still moving after MAX_WAITS re-screenings: no date, as the engine gives none
