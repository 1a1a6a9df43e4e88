"""The engine's public API: a rule set compiled once, screening any number of patients.

The work is split by job, each in its own module:

* :mod:`screener.engine.compile`: the rule set as durable_rules rules
  (names shared with the rest in :mod:`screener.engine.names`);
* :mod:`screener.engine.durable`: the durable_rules C core and its pitfalls;
* :mod:`screener.engine.glue`: one session's firings recorded as a :class:`Fired`;
* :mod:`screener.engine.derive`: derived values (named clinical functions);
* :mod:`screener.engine.explain`: each criterion's value with evidence and missing facts;
* :mod:`screener.engine.outcome`: each criterion's outcome alone;
* :mod:`screener.engine.eligible`: the eligible-from search and the earliest possible date;
* :mod:`screener.engine.screening`: what the record leaves uncertain (unconfirmed
  conditions, unobserved time, death) applied around a screening.

The three-valued logic is :mod:`screener.model.logic`, the comparison operators
:mod:`screener.model.operators`; the vectorized path reads the same two tables.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date
from typing import Any, Unpack

from screener.engine.compile import Compiled, compile_ruleset
from screener.engine.derive import Deriver
from screener.engine.durable import Action, DurableRuleset
from screener.engine.eligible import EligibleFrom
from screener.engine.explain import Explainer
from screener.engine.glue import Fired, Glue, engine_fields
from screener.engine.outcome import Outcomes
from screener.engine.screening import ScreenOptions, uncertain_outcomes, uncertain_screen
from screener.engine.uncertain import open_world
from screener.facts import PreparedFacts, prepare
from screener.model.patient import Patient
from screener.model.rules import Criterion, RuleSet
from screener.results import CriterionResult, ScreeningResult, decide

__all__ = ["Engine", "Fired"]


class Engine:
    """A rule set compiled once, ready to screen any number of patients."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.compiled: Compiled = compile_ruleset(ruleset)
        self._durable = DurableRuleset(ruleset.id, self.compiled.rules)
        self._criterion_rulesets: dict[str, DurableRuleset] = {}  # for re-screening, made on demand
        self._lock = threading.Lock()
        self._open_world: Engine | None = None
        # Everything below depends on the rule set only: built once, read for every patient.
        fields = engine_fields(self.compiled)
        self._glue = Glue(self.compiled, fields, Deriver(ruleset, fields))
        self._explainer = Explainer(ruleset, self.compiled)
        self._outcomes = Outcomes(ruleset, self.compiled, self._explainer)
        self._eligible = EligibleFrom(ruleset, self.compiled)
        self.time_dependent: frozenset[str] = self._eligible.time_dependent

    def close(self) -> None:
        self._durable.close()
        if self._open_world is not None:
            self._open_world.close()
        for durable in self._criterion_rulesets.values():
            durable.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ running

    def fire(self, prepared: PreparedFacts) -> Fired:
        """One durable_rules session over ``prepared``: what fired, what was derived."""
        fired = Fired(prepared.by_id())
        self._durable.run(self.engine_facts(prepared), self.action(fired))
        return fired

    def engine_facts(self, prepared: PreparedFacts) -> list[dict[str, Any]]:
        """The facts as sent to durable_rules: only the fields its rules and actions read."""
        return self._glue.engine_facts(prepared)

    def action(self, fired: Fired) -> Action:
        """The callback of every firing: records it in ``fired``, returns the facts it derives."""
        return self._glue.action(fired)

    def _criterion(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> CriterionResult:
        return self._explainer.criterion(c, fired, prepared)

    def _outcome(self, c: Criterion, fired: Fired, prepared: PreparedFacts) -> str:
        return self._outcomes.outcome(c, fired, prepared)

    # ------------------------------------------------------------------ screening

    def screen(self, patient: Patient, as_of: date, **options: Unpack[ScreenOptions]) -> ScreeningResult:
        """Screen ``patient`` on ``as_of``, with what the record leaves uncertain
        (unconfirmed conditions, unobserved time, death: :mod:`screener.engine.uncertain`).
        The options (``explain``, ``evidence``, ``earliest_possible``) are those of
        :meth:`screen_as_recorded`, with its defaults."""
        return uncertain_screen(self, patient, as_of, **options)

    def outcomes(self, patient: Patient, as_of: date) -> dict[str, str]:
        """Every criterion's outcome on ``as_of`` (pass, fail or unknown), nothing else.

        The same session and logic as :meth:`screen`, without explanations or
        eligible-from dates.
        """
        return uncertain_outcomes(self, patient, as_of)

    def open_world(self) -> Engine:
        """This rule set with every "absent means none" reading made unknown (made once)."""
        with self._lock:
            if self._open_world is None:
                self._open_world = Engine(open_world(self.ruleset))
            return self._open_world

    def screen_as_recorded(
        self,
        patient: Patient,
        as_of: date,
        *,
        explain: bool = True,
        evidence: str = "all",
        earliest_possible: bool = True,
    ) -> ScreeningResult:
        """Screen ``patient`` on ``as_of``, taking its records at face value.

        ``explain=False`` (batch) leaves out the facts used by each test; outcomes,
        missing facts, eligible-from dates and the compared values for margins stay.
        ``evidence="failing"`` (batch rows, which show the margins of failing
        criteria and the missing facts of unknown ones) gives evidence to failing
        criteria only: each outcome is read first without any explanation, then a
        failing criterion is explained and an unknown one gets its missing facts.
        ``earliest_possible=False`` leaves out the re-screening at the end of the waiting
        periods (``ScreeningResult.earliest_possible``).
        """
        if evidence not in ("all", "failing"):
            raise ValueError(f"evidence must be 'all' or 'failing', not {evidence!r}")
        prepared = prepare(patient, self.ruleset, as_of)
        fired = self.fire(prepared)
        fired.explain = explain
        results: list[CriterionResult] = []
        for c in self.ruleset.criteria:
            if evidence == "all":
                results.append(self._criterion(c, fired, prepared))
                continue
            outcome = self._outcome(c, fired, prepared)
            if outcome == "pass":
                results.append(self._explainer.passing(c))
            elif outcome == "unknown":
                fired.evidence = False
                results.append(self._criterion(c, fired, prepared))
                fired.evidence = True
            else:
                results.append(self._criterion(c, fired, prepared))
        final = []
        for result in results:
            if result.outcome == "fail":
                criterion = self.ruleset.criterion(result.id)
                when = self._eligible.eligible_from(self, criterion, patient, as_of, fired)
                if when is not None:
                    result = replace(result, eligible_from=when)
            final.append(result)
        decision = decide(r.outcome for r in final)
        failing = [r for r in final if r.outcome == "fail"]
        earliest = None
        searched = earliest_possible and bool(failing) and all(r.eligible_from is not None for r in failing)
        if searched:
            when = max(r.eligible_from for r in failing if r.eligible_from is not None)
            earliest = self._eligible.earliest_possible(self, patient, as_of, when, final)
        return ScreeningResult(
            patient_id=patient.patient_id,
            ruleset_id=self.ruleset.id,
            trial=self.ruleset.trial,
            ruleset_version=self.ruleset.version,
            ruleset_sha256=self.ruleset.sha256,
            as_of=as_of,
            decision=decision,
            criteria=tuple(final),
            earliest_possible=earliest,
            earliest_searched=searched,
        )

    def outcomes_as_recorded(self, patient: Patient, as_of: date) -> dict[str, str]:
        """:meth:`outcomes` taking the records at face value."""
        prepared = prepare(patient, self.ruleset, as_of)
        fired = self.fire(prepared)
        return {c.id: self._outcome(c, fired, prepared) for c in self.ruleset.criteria}

    def outcome(self, criterion: Criterion, patient: Patient, as_of: date) -> str:
        """One criterion's outcome on ``as_of``, from a session of the rules it needs only.

        What re-screening at an eligible-from candidate date needs: the same facts,
        firings and logic for this criterion as :meth:`screen`, without the other
        criteria's rules (a few firings instead of ~80).
        """
        with self._lock:
            durable = self._criterion_rulesets.get(criterion.id)
            if durable is None:
                durable = DurableRuleset(
                    f"{self.ruleset.id}_{criterion.id}", self.compiled.rules_for(criterion.id)
                )
                self._criterion_rulesets[criterion.id] = durable
        prepared = prepare(patient, self.ruleset, as_of)
        fired = Fired(prepared.by_id())
        durable.run(self.engine_facts(prepared), self.action(fired))
        return self._outcome(criterion, fired, prepared)
