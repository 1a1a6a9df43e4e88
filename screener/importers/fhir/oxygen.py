"""The oxygen state of a blood gas (``on_oxygen``), from its components or a linked observation.

A PaO2 on supplemental oxygen cannot show the absence of respiratory failure, so a blood gas
must say whether it was taken on room air. FHIR carries that in the inhaled-oxygen
observations of LOINC (the components of the US Core pulse-oximetry profile,
hl7.org/fhir/us/core StructureDefinition-us-core-pulse-oximetry, example satO2-fiO2):

- 3151-8 Inhaled oxygen flow rate: > 0 (L/min) is on oxygen, 0 is room air;
- 3150-0 Inhaled oxygen concentration (FiO2): above 21 % (or a fraction above 0.21) is on
  oxygen, 21 % is room air.

Read as a component of the blood gas Observation itself, or as a separate Observation of the
same patient with the same effective date-time (to the second, as written). Anything else
(no such observation, a unit that is neither % nor L/min) leaves ``on_oxygen`` unset.
"""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.common import codings, unit

LOINC = "http://loinc.org"
FLOW_RATE = "3151-8"
CONCENTRATION = "3150-0"
BLOOD_GASES = ("pao2", "paco2")
ROOM_AIR_FIO2 = 21.0  # percent


def oxygen_code(concept: Any) -> str | None:
    for c in codings(concept):
        if str(c.get("system", "")).rstrip("/") == LOINC and c["code"] in (FLOW_RATE, CONCENTRATION):
            return str(c["code"])
    return None


def state_of(part: dict[str, Any]) -> bool | None:
    """On oxygen (True), on room air (False) or unknown (None), from one inhaled-oxygen value."""
    code = oxygen_code(part.get("code"))
    q = part.get("valueQuantity")
    if code is None or not isinstance(q, dict) or isinstance(q.get("value"), bool):
        return None
    try:
        value = float(q["value"])
    except (KeyError, TypeError, ValueError):
        return None
    written = (unit(q) or "").strip()
    if code == FLOW_RATE:
        if written.lower() not in ("l/min", "l/mn", "lpm", "") or value < 0:
            return None
        return value > 0
    if written == "%":
        return value > ROOM_AIR_FIO2 if value >= ROOM_AIR_FIO2 else None
    if written in ("1", "") and 0 < value <= 1:
        return value > ROOM_AIR_FIO2 / 100 if value >= ROOM_AIR_FIO2 / 100 else None
    return None


def component_state(res: dict[str, Any]) -> bool | None:
    """The oxygen state told by an Observation's components (True wins: any oxygen given)."""
    states = [state_of(c) for c in res.get("component") or [] if isinstance(c, dict)]
    known = [s for s in states if s is not None]
    return any(known) if known else None


def effective(res: dict[str, Any]) -> str | None:
    value = res.get("effectiveDateTime") or res.get("effectiveInstant")
    if isinstance(res.get("effectivePeriod"), dict):
        value = value or res["effectivePeriod"].get("start")
    return str(value).strip() if value else None


class OxygenContext:
    """One patient's inhaled-oxygen observations by time, and its blood gases still without a state."""

    def __init__(self) -> None:
        self.by_time: dict[str, bool] = {}
        self.pending: list[tuple[dict[str, Any], str]] = []

    def note(self, res: dict[str, Any]) -> bool:
        """Keep a standalone inhaled-oxygen Observation; True if ``res`` was one."""
        if oxygen_code(res.get("code")) is None:
            return False
        state, when = state_of(res), effective(res)
        if state is not None and when is not None:
            self.by_time[when] = self.by_time.get(when, False) or state
        return True

    def blood_gas(self, item: dict[str, Any], res: dict[str, Any]) -> None:
        if item.get("name") not in BLOOD_GASES or item.get("on_oxygen") is not None:
            return
        when = effective(res)
        if when is not None:
            self.pending.append((item, when))

    def settle(self) -> None:
        for item, when in self.pending:
            if when in self.by_time:
                item["on_oxygen"] = self.by_time[when]
        self.pending.clear()
