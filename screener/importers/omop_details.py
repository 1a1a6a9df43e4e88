"""What an OMOP row says beyond a plain value: the oxygen state of a blood gas, the outcome of a
treatment from ``drug_exposure.stop_reason``, and a yes/no status that has no coded answers.

- **Oxygen**: a MEASUREMENT of LOINC 3150-0 (inhaled oxygen concentration, > 21 % = on oxygen,
  21 % = room air) or 3151-8 (inhaled oxygen flow rate, > 0 L/min = on oxygen) with the same
  ``measurement_datetime`` as a PaO2 / PaCO2 gives its ``on_oxygen`` (the rule of
  :mod:`screener.importers.fhir.oxygen`). Without a datetime on both, nothing is matched: a date
  alone cannot tell the room-air gas from the one taken on oxygen the same day.
- **Stop reason**: ``stop_reason`` is free text (CDM 5.3 and 5.4). Only clear words are read:
  "ineffective", "no response", "treatment failure"... -> ``inefficacy``; "adverse", "side
  effect", "intolerance", "not tolerated", "toxicity", "allergy"... -> ``adverse_effect`` (both:
  ``adverse_effect``, as for FHIR). A negated adverse word ("no side effects") or any other text
  leaves the outcome unset, with a warning quoting it: I4a/I4b then stay unknown with their
  to-do. Words that say the treatment simply ended ("completed", "remission", "patient
  choice"...) leave it unset without a warning.
- **Yes/no status** (screener's own codes ``in-other-study``, ``legal-protection``): from
  ``value_as_number`` 1 / 0 or ``value_as_string`` yes/no, true/false.
"""

from __future__ import annotations

import re
from typing import Any

from screener.importers.fhir.oxygen import CONCENTRATION, FLOW_RATE, LOINC, state_of

OXYGEN_CODES = (CONCENTRATION, FLOW_RATE)

_INEFFICACY = re.compile(
    r"\b(ineffective|inefficacy|inefficacious|lack of (efficacy|effect|response)|not effective|"
    r"no response|non-?response|no improvement|treatment failure|failure of treatment|treatment failed|"
    r"failed treatment|refractory)\b"
)
_ADVERSE = re.compile(
    r"\b(adverse|side[- ]effects?|intoleran(ce|t)|not tolerated|toxicity|toxic|allerg(y|ic))\b"
)
_NEGATED = re.compile(
    r"\b(no|not|without|denies|never|nil)\b(\s+\w+){0,2}\s+(adverse|side|toxic|allerg|intoleran)"
)
_ENDED = re.compile(
    r"\b(completed?|course (complete|finished)|finished|remission|resolved|patient (choice|preference)|"
    r"cost|pregnan\w*|switch\w*|taper\w*|planned stop|end of treatment)\b"
)


def outcome_of_stop_reason(text: str) -> tuple[str | None, bool]:
    """(outcome, clear): the medication outcome a stop reason states; ``clear`` is False when
    the words could not be read with confidence (the caller warns and leaves the outcome unset)."""
    words = " ".join(text.lower().split())
    if not words:
        return None, True
    if _NEGATED.search(words):
        return None, False
    adverse, inefficacy = bool(_ADVERSE.search(words)), bool(_INEFFICACY.search(words))
    if adverse:
        return "adverse_effect", True
    if inefficacy:
        return "inefficacy", True
    return None, bool(_ENDED.search(words))


_YES = {"1", "1.0", "yes", "y", "true"}
_NO = {"0", "0.0", "no", "n", "false"}


def yes_no(row: dict[str, str]) -> bool | None:
    """A yes/no status from ``value_as_number`` or ``value_as_string`` (None: not a yes or a no)."""
    for column in ("value_as_number", "value_as_string"):
        text = (row.get(column) or "").strip().lower()
        if text in _YES:
            return True
        if text in _NO:
            return False
    return None


def oxygen_state(code: str, value: str, unit: str) -> bool | None:
    """On oxygen (True), room air (False) or unknown (None) from an inhaled-oxygen measurement."""
    try:
        number = float(value)
    except ValueError:
        return None
    part: dict[str, Any] = {
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "valueQuantity": {"value": number, "code": unit},
    }
    return state_of(part)


class OmopOxygen:
    """One person's inhaled-oxygen measurements by datetime, and the blood gases waiting for them."""

    def __init__(self) -> None:
        self.by_time: dict[str, bool] = {}
        self.pending: list[tuple[dict[str, Any], str]] = []

    def note(self, code: str, row: dict[str, str], unit: str) -> None:
        when = (row.get("measurement_datetime") or "").strip()
        state = oxygen_state(code, row.get("value_as_number") or "", unit)
        if when and state is not None:
            self.by_time[when] = self.by_time.get(when, False) or state

    def blood_gas(self, item: dict[str, Any], row: dict[str, str]) -> None:
        when = (row.get("measurement_datetime") or "").strip()
        if when:
            self.pending.append((item, when))

    def settle(self) -> None:
        for item, when in self.pending:
            if when in self.by_time:
                item["on_oxygen"] = self.by_time[when]
        self.pending.clear()
