"""What a portfolio screening produces: frozen results per trial and the next steps.

Views (CLI text and JSON, the TUI, batch files) only read these; none of them decides
eligibility. Each trial keeps its full :class:`~screener.results.ScreeningResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from screener.portfolio.load import BrokenRuleSet
from screener.results import Decision, ScreeningResult

# How soon a patient could enter a trial, soonest first:
#   now        eligible on the screening date;
#   from_date  ineligible today only because of waiting periods, eligible from a date as
#              the record stands (nothing else open, nothing too old by then);
#   incomplete nothing rules the patient out, facts are missing (today, or by the end of
#              the waiting periods: ``possible_from``);
#   ineligible a criterion fails for good (or the patient died).
When = Literal["now", "from_date", "incomplete", "ineligible"]
WHEN_ORDER: tuple[When, ...] = ("now", "from_date", "incomplete", "ineligible")

# 1: the first portfolio document (screener screen --rules DIR --format json)
PORTFOLIO_SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class FailingCriterion:
    id: str
    title: str
    eligible_from: date | None = None  # a waiting period: the date it would pass


@dataclass(frozen=True)
class UnknownCriterion:
    """A criterion left unknown, and what to collect (or confirm in person) to settle it."""

    id: str
    title: str
    collect: tuple[str, ...]  # the engine's ``missing`` items; empty: a person must confirm it
    person_only: bool = False


@dataclass(frozen=True)
class TrialResult:
    """One trial of the portfolio for one patient, in the words of the portfolio line."""

    trial: str
    ruleset_id: str
    decision: Decision
    when: When
    failing: tuple[FailingCriterion, ...]
    unknown: tuple[UnknownCriterion, ...]
    eligible_from: date | None  # ``when == "from_date"``: the date it holds as the record stands
    # ``when == "incomplete"`` after waiting periods: the earliest date, once facts are collected
    possible_from: date | None
    result: ScreeningResult


@dataclass(frozen=True)
class CollectItem:
    """One thing to collect for the portfolio (a fact, a record to complete, a person's check).

    ``trials``: the open trials (``incomplete``) whose to-do holds it; ``settles``: those of
    them for which it is the only item left, so that collecting it decides the trial.
    """

    key: str  # the same thing in every trial: "fact:<name>", "record:<kind>:<index>", ...
    text: str
    action: str  # as screener.explain.todo.ACTIONS: fact, record, history, review
    trials: tuple[str, ...]
    settles: tuple[str, ...]
    criteria: tuple[str, ...]  # "NCT03562065 I2", ...
    fact: str | None = None
    person_only: bool = False


@dataclass(frozen=True)
class PortfolioResult:
    """One patient against every trial of a portfolio.

    ``trials`` are sorted by how soon the patient could enter them (:data:`WHEN_ORDER`,
    then the date, then the fewest things to collect, then the trial id). ``todo`` is the
    nurse's to-do across trials, the item settling most trials first; ``next_fact`` is its
    first item (None when no trial is open).
    """

    patient_id: str
    as_of: date
    trials: tuple[TrialResult, ...]
    broken: tuple[BrokenRuleSet, ...]
    todo: tuple[CollectItem, ...]

    @property
    def next_fact(self) -> CollectItem | None:
        return self.todo[0] if self.todo else None

    @property
    def could_enter(self) -> tuple[TrialResult, ...]:
        """The trials the patient could still enter, soonest first."""
        return tuple(t for t in self.trials if t.when != "ineligible")

    def trial(self, trial: str) -> TrialResult:
        for t in self.trials:
            if t.trial == trial or t.ruleset_id == trial:
                return t
        raise KeyError(trial)

    def summary_dict(self) -> dict[str, Any]:
        def day(d: date | None) -> str | None:
            return d.isoformat() if d else None

        return {
            "order": [
                {
                    "trial": t.trial,
                    "ruleset": t.ruleset_id,
                    "decision": t.decision,
                    "when": t.when,
                    "eligible_from": day(t.eligible_from),
                    "possible_from": day(t.possible_from),
                    "failing": [c.id for c in t.failing],
                    "unknown": [{"id": c.id, "collect": list(c.collect)} for c in t.unknown],
                }
                for t in self.trials
            ],
            "could_enter": [t.trial for t in self.could_enter],
            "next_fact": None if self.next_fact is None else _item_dict(self.next_fact),
            "todo": [_item_dict(i) for i in self.todo],
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``screener screen --rules DIR --format json``.

        ``results``: one single-trial result document per trial (its own schema_version),
        in the order of ``summary.order``; ``broken``: the rule sets not screened, and why.
        """
        return {
            "portfolio_schema_version": PORTFOLIO_SCHEMA_VERSION,
            "patient_id": self.patient_id,
            "as_of": self.as_of.isoformat(),
            "results": [t.result.to_dict() for t in self.trials],
            "broken": [{"folder": b.folder, "file": b.file, "error": b.error} for b in self.broken],
            "summary": self.summary_dict(),
        }


def _item_dict(item: CollectItem) -> dict[str, Any]:
    return {
        "key": item.key,
        "text": item.text,
        "action": item.action,
        "fact": item.fact,
        "person_only": item.person_only,
        "trials": list(item.trials),
        "settles": list(item.settles),
        "criteria": list(item.criteria),
    }
