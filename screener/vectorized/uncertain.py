"""The vectorized path's side of :mod:`screener.engine.uncertain`: the same reading of
unconfirmed conditions and unobserved time as the engine, so the two never disagree.

A patient with unconfirmed conditions is flattened twice (read as confirmed, and without
them) and each criterion whose outcome differs is unknown; a patient screened outside its
observed periods goes to a screener of the rule set with every "absent means none" reading
made unknown. Death changes the decision, not the outcomes: see :func:`decision_reasons`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from screener.engine.uncertain import death_reason, merge_readings, outside_observation, readings
from screener.model.patient import Patient

if TYPE_CHECKING:
    from screener.vectorized.screen import Tables, VectorizedScreener


def screen_patients(
    screener: VectorizedScreener, patients: list[Patient], as_of: date
) -> list[dict[str, str]]:
    """Per patient (in order), criterion id -> pass | fail | unknown, uncertainty applied."""
    jobs: dict[int, tuple[VectorizedScreener, Tables, list[int]]] = {}
    for i, patient in enumerate(patients):
        target = screener.open_world() if outside_observation(patient, as_of) else screener
        if id(target) not in jobs:
            jobs[id(target)] = (target, target.tables(), [])
        _, tables, slots = jobs[id(target)]
        for variant in readings(patient):
            target.add(tables, variant, as_of)
            slots.append(i)
    found: list[list[dict[str, str]]] = [[] for _ in patients]
    for target, tables, slots in jobs.values():
        for i, outcomes in zip(slots, target.evaluate(tables), strict=True):
            found[i].append(outcomes)
    return [merge_readings(variants) for variants in found]


def decision_reasons(patients: list[Patient], as_of: date) -> list[str | None]:
    """Per patient, why the decision is ineligible whatever the outcomes say (death), or None."""
    return [death_reason(p, as_of) for p in patients]
