"""Next trial and when: the trials sorted by how soon, and the to-do across trials.

How soon (:data:`~screener.portfolio.results.WHEN_ORDER`): eligible now; then eligible from
a date (only waiting periods stand in the way), earliest first; then incomplete (facts to
collect, today or by the end of the waiting periods), soonest possible date first and then
the fewest things to collect; then ineligible. Ties: the trial id.

The to-do across trials merges each open trial's to-do (:func:`screener.explain.todo.todo_items`,
the list the single-trial text and the TUI show). The same thing to collect is one item in
every trial: a fact by its name, a history record by its kind and position; a check only a
person can make on one trial's criterion stays that trial's. An item *settles* a trial when
it is the only item left on that trial's to-do: collecting it decides the trial. Items are
ranked by the number of trials they settle, then the number of open trials waiting for
them, then the number of criteria, then facts before person checks, then their text
(so the order never depends on the order of the rule sets).
"""

from __future__ import annotations

from dataclasses import replace

from screener.explain.todo import TodoItem, todo_items
from screener.model.rules import RuleSet
from screener.portfolio.results import (
    WHEN_ORDER,
    CollectItem,
    FailingCriterion,
    TrialResult,
    UnknownCriterion,
    When,
)
from screener.results import CriterionResult, ScreeningResult


def trial_result(result: ScreeningResult) -> TrialResult:
    """The portfolio line of one trial's screening result."""
    ep = result.earliest_possible
    when: When
    possible_from = None
    if result.decision_reason is not None:
        when = "ineligible"  # decided whatever the criteria say (a death)
    elif result.decision == "eligible":
        when = "now"
    elif result.eligible_from is not None:
        when = "from_date"
    elif result.decision == "incomplete":
        when = "incomplete"
    elif ep is not None and ep.collect:
        when, possible_from = "incomplete", ep.date
    else:
        when = "ineligible"
    return TrialResult(
        trial=result.trial,
        ruleset_id=result.ruleset_id,
        decision=result.decision,
        when=when,
        failing=tuple(FailingCriterion(c.id, c.title, c.eligible_from) for c in result.failing),
        unknown=tuple(UnknownCriterion(c.id, c.title, c.missing, c.person_only) for c in result.unknown),
        eligible_from=result.eligible_from if when == "from_date" else None,
        possible_from=possible_from,
        result=result,
    )


def open_result(trial: TrialResult) -> ScreeningResult | None:
    """What is left to collect for an open trial, as a result whose unknown criteria hold it.

    Incomplete today: the result itself. Incomplete once the waiting periods are over: the
    criteria with facts to collect or renew by then (``earliest_possible.collect``). Other
    trials: None (nothing to collect would change their decision).
    """
    result = trial.result
    if trial.when != "incomplete":
        return None
    if trial.possible_from is None or result.earliest_possible is None:
        return result
    items: dict[str, list[str]] = {}
    for collect in result.earliest_possible.collect:
        for cid in collect.criteria:
            items.setdefault(cid, []).append(collect.item)
    criteria: list[CriterionResult] = []
    for c in result.criteria:
        if c.id not in items:
            continue
        # a person-only criterion still open then comes as "<id>: <title> (to be confirmed ...)"
        missing = tuple(m for m in items[c.id] if not m.startswith(f"{c.id}: "))
        criteria.append(replace(c, outcome="unknown", missing=missing, evidence=()))
    return replace(result, criteria=tuple(criteria), decision="incomplete")


def item_key(trial: str, item: TodoItem) -> str:
    """The same thing to collect in every trial gets the same key."""
    if item.action == "fact" or (item.fact is not None):
        return f"fact:{item.fact}"
    if item.action == "record" and item.record is not None:
        return f"record:{item.record[0]}:{item.record[1]}"
    if item.action == "history":
        return f"history:{item.text}"
    return f"review:{trial}:{item.text}"  # a person's check or review of this trial's criterion


def order(trials: list[TrialResult], todo_counts: dict[str, int]) -> tuple[TrialResult, ...]:
    """Trials by how soon the patient could enter them (module docstring)."""

    def key(t: TrialResult) -> tuple[int, str, int, str]:
        when = t.eligible_from or t.possible_from or t.result.as_of
        return (WHEN_ORDER.index(t.when), when.isoformat(), todo_counts.get(t.trial, 0), t.trial)

    return tuple(sorted(trials, key=key))


def portfolio_todo(
    trials: list[TrialResult], rulesets: dict[str, RuleSet]
) -> tuple[tuple[CollectItem, ...], dict[str, int]]:
    """The to-do across the open trials, ranked (module docstring), and each trial's item count."""
    found: dict[str, dict[str, object]] = {}
    per_trial: dict[str, set[str]] = {}
    for t in sorted(trials, key=lambda t: t.trial):
        result = open_result(t)
        if result is None:
            continue
        keys = per_trial.setdefault(t.trial, set())
        for item in todo_items(result, rulesets[t.trial]):
            key = item_key(t.trial, item)
            keys.add(key)
            entry = found.setdefault(
                key,
                {"item": item, "trials": [], "criteria": []},
            )
            trials_of = entry["trials"]
            criteria_of = entry["criteria"]
            assert isinstance(trials_of, list) and isinstance(criteria_of, list)
            if t.trial not in trials_of:
                trials_of.append(t.trial)
            criteria_of.extend(f"{t.trial} {c}" for c in item.criteria if f"{t.trial} {c}" not in criteria_of)
    items: list[CollectItem] = []
    for key, entry in found.items():
        item = entry["item"]
        trials_of = entry["trials"]
        criteria_of = entry["criteria"]
        assert isinstance(item, TodoItem) and isinstance(trials_of, list) and isinstance(criteria_of, list)
        settles = tuple(t for t in trials_of if per_trial[t] == {key})
        items.append(
            CollectItem(
                key=key,
                text=item.text,
                action=item.action,
                trials=tuple(trials_of),
                settles=settles,
                criteria=tuple(criteria_of),
                fact=item.fact,
                person_only=item.person_only,
            )
        )
    items.sort(
        key=lambda i: (-len(i.settles), -len(i.trials), -len(i.criteria), i.person_only, i.text, i.key)
    )
    return tuple(items), {trial: len(keys) for trial, keys in per_trial.items()}
