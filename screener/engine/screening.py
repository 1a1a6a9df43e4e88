"""The engine's screening with what the record leaves uncertain (:mod:`.uncertain`) applied.

:meth:`Engine.screen` and :meth:`Engine.outcomes` come here; the plain session is
:meth:`Engine.screen_as_recorded` / :meth:`Engine.outcomes_as_recorded`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, TypedDict, Unpack

from screener.engine.uncertain import (
    confirm_todo,
    death_reason,
    merge,
    merge_readings,
    outside_observation,
    readings,
    unconfirmed,
)
from screener.model.patient import Patient
from screener.results import ScreeningResult, decide

if TYPE_CHECKING:
    from screener.engine.evaluate import Engine


def _engine_for(engine: Engine, patient: Patient, as_of: date) -> Engine:
    return engine.open_world() if outside_observation(patient, as_of) else engine


class ScreenOptions(TypedDict, total=False):
    """The options of a screening, passed through unchanged to
    :meth:`Engine.screen_as_recorded`, which holds their defaults and their meaning."""

    explain: bool
    evidence: str
    earliest_possible: bool


def uncertain_screen(
    engine: Engine, patient: Patient, as_of: date, **options: Unpack[ScreenOptions]
) -> ScreeningResult:
    target = _engine_for(engine, patient, as_of)
    recorded, *without_it = readings(patient)
    result = target.screen_as_recorded(recorded, as_of, **options)
    if without_it:
        other = target.outcomes_as_recorded(without_it[0], as_of)
        criteria = []
        for c in result.criteria:
            if merge(c.outcome, other[c.id]) != c.outcome:
                todo = confirm_todo(unconfirmed(patient), engine.ruleset.criterion(c.id))
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
    return merge_readings([target.outcomes_as_recorded(p, as_of) for p in readings(patient)])
