"""What a screening produces: frozen, JSON-ready results with their explanation.

Views (terminal text, JSON, the TUI, batch files) only read these; none of them
decides eligibility.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal

Outcome = Literal["pass", "fail", "unknown"]
Decision = Literal["eligible", "ineligible", "incomplete"]

# 2: adds screener_version (provenance: which program produced the document),
# decision_reason (a decision the criteria alone do not give, e.g. death),
# earliest_possible (eligible_from only when it truly holds) and, per criterion, conflicts.
JSON_SCHEMA_VERSION = "2"


# The decision from the criteria's outcomes, first match wins: any fail is ineligible,
# otherwise any unknown leaves it incomplete; all passing is eligible. One rule for the
# engine and for the fast path's SQL (screener.vectorized.sql.outcome_lists).
DECISION_RULE: tuple[tuple[Outcome, Decision], ...] = (("fail", "ineligible"), ("unknown", "incomplete"))
ALL_PASS: Decision = "eligible"


def decide(outcomes: Iterable[Outcome]) -> Decision:
    seen = set(outcomes)
    return next((decision for outcome, decision in DECISION_RULE if outcome in seen), ALL_PASS)


@dataclass(frozen=True)
class FactUse:
    """One fact an explanation relies on, with where it came from."""

    name: str
    value: Any
    unit: str | None = None
    date: str | None = None
    source: str | None = None
    record: str | None = None  # e.g. "azathioprine from 2025-01-02" for a medication field
    function: str | None = None  # derived values: the clinical function that computed it
    citation: str | None = None
    inputs: tuple[FactUse, ...] = ()
    note: str | None = None  # e.g. "default upper limit used", "converted from 88 umol/L"


@dataclass(frozen=True)
class Evidence:
    """One test of a criterion, its outcome and the facts it read."""

    test: str  # "creatinine_clearance_cg < 30 mL/min"
    outcome: bool
    facts: tuple[FactUse, ...] = ()
    value: float | None = None  # the compared value, for margins
    threshold: float | None = None
    op: str | None = None
    unit: str | None = None

    @property
    def margin(self) -> float | None:
        """Signed distance from the threshold (value - threshold), when numeric."""
        if isinstance(self.value, int | float) and isinstance(self.threshold, int | float):
            return round(float(self.value) - float(self.threshold), 6)
        return None


@dataclass(frozen=True)
class CriterionResult:
    id: str
    type: str  # inclusion | exclusion
    title: str
    outcome: Outcome
    section: str
    quote: str
    reading: str
    person_only: bool = False
    missing: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    eligible_from: date | None = None
    # contradictions in the record that leave this criterion unknown: each names both records
    # and asks a person to resolve them (their text is also among ``missing``)
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToCollect:
    """A fact to collect (or renew) before the earliest possible date can become a decision."""

    item: str  # as in the criteria's ``missing``: "creatinine (latest value dated ... older than 60 days)"
    criteria: tuple[str, ...]  # the criteria it leaves unknown on that date
    renew: bool = False  # recorded and usable today, but too old by that date: to measure again


@dataclass(frozen=True)
class EarliestPossible:
    """When only waiting periods (washouts, stable-dose windows, age) make a patient fail today:
    the first date all of them are over, and what must be collected by then.

    ``collect`` empty: the patient is eligible from ``date`` as the record stands (nothing else
    is open and nothing will be too old by then). Otherwise the patient can be eligible from
    ``date`` at the earliest, once these facts are collected or renewed.
    """

    date: date
    collect: tuple[ToCollect, ...] = ()


@dataclass(frozen=True)
class ScreeningResult:
    patient_id: str
    ruleset_id: str
    trial: str
    ruleset_version: str
    ruleset_sha256: str
    as_of: date
    decision: Decision
    criteria: tuple[CriterionResult, ...] = field(default_factory=tuple)
    # Why the decision is not the criteria's (e.g. the patient died before the screening date)
    decision_reason: str | None = None
    # set by the engine when only waiting periods fail (see EarliestPossible)
    earliest_possible: EarliestPossible | None = None
    # the engine screened again at the end of the waiting periods: with ``earliest_possible``
    # None, a criterion then fails for good (or the waits kept moving) and no date holds
    earliest_searched: bool = False

    def criterion(self, criterion_id: str) -> CriterionResult:
        for c in self.criteria:
            if c.id == criterion_id:
                return c
        raise KeyError(criterion_id)

    @property
    def failing(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.outcome == "fail")

    @property
    def unknown(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.outcome == "unknown")

    @property
    def eligible_from(self) -> date | None:
        """The date from which the patient is eligible, only when that truly holds.

        Only waiting periods fail, nothing else is open (no unknown criterion) and no
        fact will be too old by then. Otherwise None; ``earliest_possible`` then says
        from when at the earliest, and what to collect or renew first.
        """
        if self.decision_reason is not None:
            return None  # decided whatever the criteria say (a death): never eligible
        if self.earliest_possible is not None:
            return None if self.earliest_possible.collect else self.earliest_possible.date
        if self.earliest_searched:
            return None  # failing for good at the end of the waits: never today's dates
        failing = self.failing  # a result made without the engine's search (older records)
        if not failing or self.unknown or any(c.eligible_from is None for c in failing):
            return None
        return max(c.eligible_from for c in failing if c.eligible_from is not None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``screener screen --format json`` (schema_version 2)."""
        from screener.outputs.provenance import screener_version

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items() if v not in (None, (), [])}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            if isinstance(value, date):
                return value.isoformat()
            return value

        criteria = []
        for c in self.criteria:
            item = clean(asdict(c))
            item["outcome"] = c.outcome
            item["missing"] = list(c.missing)
            item["eligible_from"] = c.eligible_from.isoformat() if c.eligible_from else None
            item["conflicts"] = list(c.conflicts)
            item["evidence"] = [
                {**clean(asdict(e)), "outcome": e.outcome, "margin": e.margin} for e in c.evidence
            ]
            criteria.append(item)
        return {
            "schema_version": JSON_SCHEMA_VERSION,
            "patient_id": self.patient_id,
            "trial": self.trial,
            "ruleset": {
                "id": self.ruleset_id,
                "version": self.ruleset_version,
                "sha256": self.ruleset_sha256,
            },
            "as_of": self.as_of.isoformat(),
            "screener_version": screener_version(),
            "decision": self.decision,
            "decision_reason": self.decision_reason,
            "eligible_from": self.eligible_from.isoformat() if self.eligible_from else None,
            "earliest_possible": None
            if self.earliest_possible is None
            else {
                "date": self.earliest_possible.date.isoformat(),
                "collect": [
                    {"item": c.item, "criteria": list(c.criteria), "renew": c.renew}
                    for c in self.earliest_possible.collect
                ],
            },
            "criteria": criteria,
        }
