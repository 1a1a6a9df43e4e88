"""Next trial and when: the order by how soon, and the to-do across trials (how it is counted)."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest

from screener.model.rules import RuleSet
from screener.portfolio import load_portfolio
from screener.portfolio.next import order, portfolio_todo, trial_result
from screener.results import (
    CriterionResult,
    EarliestPossible,
    ScreeningResult,
    ToCollect,
)

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = load_portfolio(ROOT / "rules")
AS_OF = date(2026, 11, 25)


def _c(
    cid: str, outcome: str, missing: tuple[str, ...] = (), eligible_from: date | None = None
) -> CriterionResult:
    return CriterionResult(
        id=cid,
        type="inclusion",
        title=f"title of {cid}",
        outcome=outcome,  # type: ignore[arg-type]
        section="",
        quote="",
        reading="",
        missing=missing,
        eligible_from=eligible_from,
    )


def _result(
    trial: str,
    decision: str,
    *criteria: CriterionResult,
    earliest: EarliestPossible | None = None,
    reason: str | None = None,
) -> ScreeningResult:
    return ScreeningResult(
        patient_id="p1",
        ruleset_id=trial.lower(),
        trial=trial,
        ruleset_version="1",
        ruleset_sha256="0" * 64,
        as_of=AS_OF,
        decision=decision,  # type: ignore[arg-type]
        criteria=criteria,
        earliest_possible=earliest,
        decision_reason=reason,
    )


def _rulesets() -> dict[str, RuleSet]:
    """Every fake trial reads NCT03562065's vocabulary (creatinine, lvef, pap_mean: its facts)."""
    [vocabulary] = [r for r in PORTFOLIO.rulesets if r.trial == "NCT03562065"]
    return {t: vocabulary for t in ("T1", "T2", "T3", "T4", "T5", "T6", "T7")}


def test_when_each_decision_falls() -> None:
    wait = date(2027, 1, 10)
    assert trial_result(_result("T1", "eligible", _c("I1", "pass"))).when == "now"
    waiting = trial_result(
        _result("T2", "ineligible", _c("E1", "fail", eligible_from=wait), earliest=EarliestPossible(wait))
    )
    assert (waiting.when, waiting.eligible_from, waiting.possible_from) == ("from_date", wait, None)
    incomplete = trial_result(_result("T3", "incomplete", _c("I1", "unknown", ("creatinine",))))
    assert (incomplete.when, incomplete.possible_from) == ("incomplete", None)
    later = trial_result(
        _result(
            "T4",
            "ineligible",
            _c("E1", "fail", eligible_from=wait),
            _c("I1", "unknown", ("creatinine",)),
            earliest=EarliestPossible(wait, (ToCollect("creatinine", ("I1",)),)),
        )
    )
    assert (later.when, later.eligible_from, later.possible_from) == ("incomplete", None, wait)
    assert trial_result(_result("T5", "ineligible", _c("E1", "fail"))).when == "ineligible"
    # a patient who died: ineligible whatever the criteria say
    dead = trial_result(_result("T6", "eligible", _c("I1", "pass"), reason="died on 2026-11-01"))
    assert dead.when == "ineligible"


def _portfolio_trials() -> list:
    early, late = date(2027, 1, 10), date(2027, 3, 1)
    return [
        trial_result(_result("T7", "ineligible", _c("E1", "fail"))),
        trial_result(
            _result(
                "T6",
                "ineligible",
                _c("E1", "fail", eligible_from=early),
                _c("I1", "unknown", ("creatinine",)),
                earliest=EarliestPossible(early, (ToCollect("creatinine", ("I1",)),)),
            )
        ),
        trial_result(_result("T5", "incomplete", _c("I1", "unknown", ("creatinine", "lvef")))),
        trial_result(_result("T4", "incomplete", _c("I1", "unknown", ("creatinine",)))),
        trial_result(
            _result("T3", "ineligible", _c("E1", "fail", eligible_from=late), earliest=EarliestPossible(late))
        ),
        trial_result(
            _result(
                "T2", "ineligible", _c("E1", "fail", eligible_from=early), earliest=EarliestPossible(early)
            )
        ),
        trial_result(_result("T1", "eligible", _c("I1", "pass"))),
    ]


def test_trials_sorted_by_how_soon_whatever_the_order_they_come_in() -> None:
    trials = _portfolio_trials()
    want = ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]
    for seed in range(20):
        shuffled = list(trials)
        random.Random(seed).shuffle(shuffled)
        _todo, counts = portfolio_todo(shuffled, _rulesets())
        assert [t.trial for t in order(shuffled, counts)] == want


def test_the_fact_settling_most_trials_comes_first_and_how_it_is_counted() -> None:
    trials = _portfolio_trials()
    todo, counts = portfolio_todo(trials, _rulesets())
    # open trials: T4 (creatinine), T5 (creatinine, lvef) today, T6 (creatinine by 2027-01-10)
    assert counts == {"T4": 1, "T5": 2, "T6": 1}
    first, second = todo
    assert first.key == "fact:creatinine"
    assert first.trials == ("T4", "T5", "T6")
    assert first.settles == ("T4", "T6")  # the only item left on their to-do
    assert first.criteria == ("T4 I1", "T5 I1", "T6 I1")
    assert (second.key, second.trials, second.settles) == ("fact:lvef", ("T5",), ())


def test_an_item_that_settles_a_trial_beats_one_more_trials_need() -> None:
    trials = [
        trial_result(_result("T1", "incomplete", _c("I1", "unknown", ("lvef",)))),
        trial_result(_result("T2", "incomplete", _c("I1", "unknown", ("creatinine", "pap_mean")))),
        trial_result(_result("T3", "incomplete", _c("I1", "unknown", ("creatinine", "pap_mean")))),
    ]
    todo, _ = portfolio_todo(trials, _rulesets())
    assert todo[0].key == "fact:lvef" and todo[0].settles == ("T1",)
    assert {i.key: (i.trials, i.settles) for i in todo[1:]} == {
        "fact:creatinine": (("T2", "T3"), ()),
        "fact:pap_mean": (("T2", "T3"), ()),
    }


def test_ties_are_broken_by_text_not_by_the_order_of_the_rule_sets() -> None:
    a = trial_result(_result("T1", "incomplete", _c("I1", "unknown", ("pap_mean", "lvef"))))
    b = trial_result(_result("T2", "incomplete", _c("I1", "unknown", ("lvef", "pap_mean"))))
    first, _ = portfolio_todo([a, b], _rulesets())
    second, _ = portfolio_todo([b, a], _rulesets())
    assert first == second
    assert [i.text for i in first] == sorted(i.text for i in first)


def test_no_open_trial_means_nothing_to_collect() -> None:
    trials = [
        trial_result(_result("T1", "eligible", _c("I1", "pass"))),
        # unknown criteria of a trial that fails for good change nothing: not on the to-do
        trial_result(_result("T2", "ineligible", _c("E1", "fail"), _c("I1", "unknown", ("lvef",)))),
    ]
    todo, counts = portfolio_todo(trials, _rulesets())
    assert todo == () and counts == {}


@pytest.mark.parametrize("person_only", [True, False])
def test_a_person_check_on_one_trial_is_that_trials_own(person_only: bool) -> None:
    c = CriterionResult("I9", "inclusion", "Consent", "unknown", "", "", "", person_only=person_only)
    trials = [trial_result(_result(t, "incomplete", c)) for t in ("T1", "T2")]
    todo, _ = portfolio_todo(trials, _rulesets())
    assert len(todo) == 2
    assert [i.trials for i in todo] == [("T1",), ("T2",)]
    assert all(i.settles == i.trials for i in todo)
