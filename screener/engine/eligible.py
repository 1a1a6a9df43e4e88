"""The eligible-from search: when a failing patient may pass, and what is open then.

A criterion failing on a date window (a washout, a recent value) or on a lower
bound of a value that grows with the screening date (age) may pass later; the
candidate dates are where such a test changes value, and the criterion is
re-evaluated from scratch at each (:meth:`Engine.outcome`), in order. The
earliest date all waiting periods are over is screened again for what is still
to collect then (:class:`screener.results.EarliestPossible`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from screener.clinical.dates import add_months
from screener.engine.compile import Compiled
from screener.engine.glue import Fired
from screener.engine.names import base_fact_id, derived_fact_id
from screener.facts import from_day_number, window_end
from screener.model.operators import OPERATORS, WINDOW_OPS
from screener.model.patient import Patient
from screener.model.rules import Criterion, FactTest, FieldTest, Node, RuleSet, Window, walk
from screener.results import CriterionResult, EarliestPossible, ToCollect

if TYPE_CHECKING:
    from screener.engine.evaluate import Engine

_MAX_CANDIDATE_DATES = 90  # 3 per recorded date in a window test; bounds re-screening work
_MAX_WAITS = 4  # re-screenings at a later earliest date when another wait shows up on the first


class EligibleFrom:
    """The eligible-from search of one rule set (what it looks at is found once)."""

    def __init__(self, ruleset: RuleSet, compiled: Compiled) -> None:
        self.ruleset = ruleset
        self._derived_by_name = ruleset.derived_by_name  # properties: a new dict at every read
        self._fact_inputs = {d.name: tuple(d.fact_inputs()) for d in ruleset.derived}
        # per criterion, its date-window tests (with their quantifier) and the lower bounds
        # on derived values, found once instead of walking the tree per failure
        self._windows: dict[str, list[tuple[FactTest | FieldTest, str | None]]] = {}
        self._lower_bounds: dict[str, list[FactTest]] = {}
        for c in ruleset.criteria:
            tests = list(_walk_tests(c.test))
            self._windows[c.id] = [
                (n, compiled.tests[compiled.test_of_node[id(n)]].quantifier)
                for n in tests
                if n.comparison.op in WINDOW_OPS
            ]
            self._lower_bounds[c.id] = [
                n
                for n in tests
                if isinstance(n, FactTest) and OPERATORS[n.comparison.op].numeric
                if OPERATORS[n.comparison.op].bound == "lower"
            ]
        # criteria a failing patient may still pass later: a date window, or a lower bound on
        # a value that grows with the screening date (age); eligible_from looks for that date
        grows = {d.name for d in ruleset.derived if any(i.ref == "context.as_of" for i in d.inputs)}
        self.time_dependent: frozenset[str] = frozenset(
            c.id
            for c in ruleset.criteria
            if self._windows[c.id] or any(n.fact in grows for n in self._lower_bounds[c.id])
        )

    def eligible_from(
        self, engine: Engine, criterion: Criterion, patient: Patient, as_of: date, fired: Fired
    ) -> date | None:
        """For a criterion failing on a date window, the first date it would pass.

        Candidate dates are where a window test on a recorded date changes value
        (the date plus the window, and the day after). The criterion is
        re-evaluated from scratch at each candidate, in order; the first one at
        which it passes is the answer. A lower bound on a value that grows with
        the screening date (age from a birth date) adds the coming anniversaries
        of that date. Criteria with neither get none.
        """
        windows: list[tuple[str, Window, list[dict[str, Any]]]] = []
        candidates: set[date] = set(self._anniversaries(criterion, as_of, fired))
        for node, quantifier in self._windows[criterion.id]:
            if isinstance(node, FactTest):
                fact = fired.facts.get(base_fact_id(node.fact)) or fired.facts.get(derived_fact_id(node.fact))
                windows.append((node.field or "value", node.comparison.value, [fact] if fact else []))
            else:  # only the records this test's quantifier looks at
                records = list(fired.candidates.get(quantifier or "", {}).values())
                windows.append((node.field, node.comparison.value, records))
        for target, window, records in windows:
            for record in records:
                day = record.get(f"{target}_day")
                if day is None:
                    continue
                edge = window_end(from_day_number(day), window)
                for offset in (0, 1, 2):
                    when = edge + timedelta(days=offset)
                    if when > as_of:
                        candidates.add(when)
        for when in sorted(candidates)[:_MAX_CANDIDATE_DATES]:
            if engine.outcome(criterion, patient, when) == "pass":
                return when
        return None

    def _anniversaries(self, criterion: Criterion, as_of: date, fired: Fired) -> Iterator[date]:
        """Coming anniversaries of the date behind a failing ``>=``/``>`` test on an age-like value.

        Age-like: derived from the screening date (``context.as_of``) and a date
        fact, so it grows by one a year; only as many years as the threshold needs.
        """
        for node in self._lower_bounds[criterion.id]:
            derived = self._derived_by_name.get(node.fact)
            current = fired.facts.get(derived_fact_id(node.fact), {}).get("value")
            if derived is None or not isinstance(current, int | float):
                continue
            if not any(i.ref == "context.as_of" for i in derived.inputs):
                continue
            years = min(int(node.comparison.value - current) + 2, 120)
            for source in self._fact_inputs[derived.name]:
                day = fired.facts.get(base_fact_id(source), {}).get("value_day")
                if day is None or self.ruleset.facts[source].type != "date":
                    continue
                origin = from_day_number(day)
                for k in range(1, as_of.year - origin.year + years + 1):
                    when = add_months(origin, 12 * k)
                    if when > as_of:
                        yield when
                        yield when + timedelta(days=1)  # 29 February birthdays

    def earliest_possible(
        self, engine: Engine, patient: Patient, as_of: date, when: date, now: list[CriterionResult]
    ) -> EarliestPossible | None:
        """Screen again on ``when`` (the end of the last waiting period): what is still open then.

        Facts missing today stay missing; facts usable today may be too old by then (to
        renew). A criterion failing on that date with a later date of its own moves the
        date on; one failing for good means there is no such date (None).
        """
        missing_now = {m for r in now if r.outcome == "unknown" for m in r.missing}
        for _ in range(_MAX_WAITS):
            later = engine.screen(patient, when, explain=False, evidence="failing", earliest_possible=False)
            failing = later.failing
            if any(r.eligible_from is None for r in failing):
                return None
            if failing:
                when = max(r.eligible_from for r in failing if r.eligible_from is not None)
                continue
            items: dict[str, list[str]] = {}
            for r in later.unknown:
                for m in r.missing or (f"{r.id}: {r.title} (to be confirmed by a person)",):
                    items.setdefault(m, []).append(r.id)
            collect = tuple(
                ToCollect(item=m, criteria=tuple(ids), renew=m not in missing_now) for m, ids in items.items()
            )
            return EarliestPossible(when, collect)
        return None


def _walk_tests(node: Node) -> Iterator[FactTest | FieldTest]:
    for n in walk(node):
        if isinstance(n, FactTest | FieldTest):
            yield n
