"""What the record itself leaves uncertain, whatever the rules say: one generic mechanism.

Three things a source record can tell that no rule tests, applied alike by the engine
(:meth:`screener.engine.evaluate.Engine.screen`) and the vectorized path
(:meth:`screener.vectorized.screen.VectorizedScreener.screen`):

- **Unconfirmed conditions** (``verification: unconfirmed``: a provisional or differential
  diagnosis, a record a person must confirm). Kleene logic: the condition may be true or
  false. The patient is screened twice, once with every unconfirmed condition read as
  confirmed and once without them; a criterion whose outcome differs between the two is
  ``unknown`` with a to-do naming the record to confirm. An outcome the same both ways
  (decided by other records) stands. So an unconfirmed diagnosis never makes a criterion
  pass or fail.
- **Unobserved time** (``demographics.observed``, e.g. OMOP OBSERVATION_PERIOD). When
  observation periods are given and the screening date falls outside all of them, the
  source is not complete for that date: an absent record is not evidence of absence. Every
  ``absent: false`` reading of the rule set ("no record means none") is read as
  ``absent: unknown`` for that patient (:func:`open_world`).
- **Death** (``demographics.deceased``) on or before the screening date: the patient is
  never ``eligible`` or ``incomplete``; the result is ``ineligible`` and its
  ``decision_reason`` says why (:func:`death_reason`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date

from screener.model.logic import ABSENT
from screener.model.patient import Condition, Patient
from screener.model.rules import Criterion, Group, Node, Quantifier, RuleSet


def unconfirmed(patient: Patient) -> tuple[Condition, ...]:
    return tuple(c for c in patient.conditions if c.verification == "unconfirmed")


def as_confirmed(patient: Patient) -> Patient:
    """The patient with every unconfirmed condition read as confirmed."""
    return replace(
        patient,
        conditions=tuple(replace(c, verification="confirmed") for c in patient.conditions),
    )


def without_unconfirmed(patient: Patient) -> Patient:
    """The patient with its unconfirmed conditions left out."""
    return replace(
        patient, conditions=tuple(c for c in patient.conditions if c.verification != "unconfirmed")
    )


def confirm_todo(conditions: tuple[Condition, ...], criterion: Criterion) -> tuple[str, ...]:
    """The to-do lines of a criterion made unknown by unconfirmed conditions it reads."""
    names = criterion_condition_names(criterion)
    chosen = [c for c in conditions if names is None or c.name in names] or list(conditions)
    return tuple(
        f"confirm or refute the unconfirmed {c.name} diagnosis"
        + (f" ({c.type})" if c.type else "")
        + (f" recorded in {c.source}" if c.source else "")
        for c in chosen
    )


def criterion_condition_names(criterion: Criterion) -> set[str] | None:
    """Condition names a criterion's quantifiers match (None when one matches any name)."""
    names: set[str] = set()
    for node in _nodes(criterion.test):
        if isinstance(node, Quantifier) and node.record == "condition":
            matched = dict(node.match).get("name")
            if matched is None:
                return None
            names.update(str(n) for n in matched)
    return names


def merge(with_it: str, without_it: str) -> str:
    """One criterion's outcome when an unconfirmed condition may be true or false."""
    return with_it if with_it == without_it else "unknown"


def readings(patient: Patient) -> list[Patient]:
    """The record as every route screens it: as recorded when no condition is unconfirmed,
    else twice, each unconfirmed condition read as confirmed and then left out (in that
    order; :func:`merge_readings` combines their outcomes)."""
    return [as_confirmed(patient), without_unconfirmed(patient)] if unconfirmed(patient) else [patient]


def merge_readings(outcomes: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Criterion id -> outcome over the outcomes of each of :func:`readings`, in its order:
    the one reading's outcomes, or each criterion :func:`merge`-d over the two."""
    if len(outcomes) == 1:
        return dict(outcomes[0])
    with_it, without_it = outcomes
    return {cid: merge(outcome, without_it[cid]) for cid, outcome in with_it.items()}


def outside_observation(patient: Patient, as_of: date) -> bool:
    """Whether observation periods are given and ``as_of`` falls in none of them."""
    if not patient.observed:
        return False
    return not any(start <= as_of and (end is None or as_of <= end) for start, end in patient.observed)


def death_reason(patient: Patient, as_of: date) -> str | None:
    """Why a dead patient is not screened as alive (None when not known dead on ``as_of``)."""
    if patient.deceased is None or patient.deceased is False:
        return None
    where = f" ({patient.demographics_source})" if patient.demographics_source else ""
    if patient.deceased is True:
        return f"the patient is recorded as deceased{where}"
    if patient.deceased <= as_of:
        return f"the patient died on {patient.deceased.isoformat()}{where}, on or before the screening date"
    return None


def records_missing(node: Quantifier) -> str:
    """The to-do item of a quantifier without any matching record that leaves it unknown."""
    return node.missing or f"{node.record} records ({', '.join(str(x) for _, v in node.match for x in v)})"


def open_world(ruleset: RuleSet) -> RuleSet:
    """The rule set with every ``absent: false`` reading made ``absent: unknown``."""
    criteria = tuple(replace(c, test=_open(c.test)) for c in ruleset.criteria)
    return replace(ruleset, criteria=criteria)


def _open(node: Node) -> Node:
    if isinstance(node, Quantifier):
        if ABSENT[node.absent] is None:  # already unknown
            return node
        label = (
            records_missing(node)
            + " (the record does not cover the screening date, so none recorded is not none)"
        )
        return replace(node, absent="unknown", missing=label)
    if isinstance(node, Group):
        return replace(node, children=tuple(_open(c) for c in node.children))
    return node


def _nodes(node: Node) -> list[Node]:
    out: list[Node] = [node]
    if isinstance(node, Group):
        for child in node.children:
            out.extend(_nodes(child))
    return out
