"""The engine's screening with what the record leaves uncertain (:mod:`.uncertain`) applied.

:meth:`Engine.screen` and :meth:`Engine.outcomes` come here; the plain session is
:meth:`Engine.screen_as_recorded` / :meth:`Engine.outcomes_as_recorded`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

from screener.engine.uncertain import (
    as_confirmed,
    confirm_todo,
    death_reason,
    merge,
    outside_observation,
    unconfirmed,
    without_unconfirmed,
)
from screener.model.patient import Patient
from screener.results import ScreeningResult, decide

if TYPE_CHECKING:
    from screener.engine.evaluate import Engine


def _engine_for(engine: Engine, patient: Patient, as_of: date) -> Engine:
    return engine.open_world() if outside_observation(patient, as_of) else engine


def uncertain_screen(
    engine: Engine,
    patient: Patient,
    as_of: date,
    *,
    explain: bool = True,
    evidence: str = "all",
    earliest_possible: bool = True,
) -> ScreeningResult:
    target = _engine_for(engine, patient, as_of)
    pending = unconfirmed(patient)
    recorded = as_confirmed(patient) if pending else patient
    result = target.screen_as_recorded(
        recorded, as_of, explain=explain, evidence=evidence, earliest_possible=earliest_possible
    )
    if pending:
        other = target.outcomes_as_recorded(without_unconfirmed(patient), as_of)
        criteria = []
        for c in result.criteria:
            if merge(c.outcome, other[c.id]) != c.outcome:
                todo = confirm_todo(pending, engine.ruleset.criterion(c.id))
                c = replace(c, outcome="unknown", missing=todo, eligible_from=None)
            criteria.append(c)
        changed = [a.outcome for a in result.criteria] != [c.outcome for c in criteria]
        result = replace(
            result,
            criteria=tuple(criteria),
            decision=decide(c.outcome for c in criteria),
            # the waiting-period date was worked out on the record taken as confirmed
            earliest_possible=None if changed else result.earliest_possible,
        )
    death = death_reason(patient, as_of)
    if death is not None:
        result = replace(result, decision="ineligible", decision_reason=death, earliest_possible=None)
    return result


def uncertain_outcomes(engine: Engine, patient: Patient, as_of: date) -> dict[str, str]:
    target = _engine_for(engine, patient, as_of)
    if not unconfirmed(patient):
        return target.outcomes_as_recorded(patient, as_of)
    with_it = target.outcomes_as_recorded(as_confirmed(patient), as_of)
    without_it = target.outcomes_as_recorded(without_unconfirmed(patient), as_of)
    return {cid: merge(outcome, without_it[cid]) for cid, outcome in with_it.items()}
