"""Which FHIR records count, by their status: the status rules in one place.

Each function answers "is this record evidence, and if not, why not" so that every record set
aside is counted in the import report under its reason. Sources: FHIR R4 value sets
condition-clinical, condition-ver-status, medicationrequest-status / -intent,
medication-statement-status, medication-admin-status and observation-status
(http://hl7.org/fhir/R4/valueset-*.html).
"""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.common import codings

# Observation.status: only results that were made count.
OBS_NOT_RESULT = {"preliminary", "registered", "cancelled", "entered-in-error", "unknown"}
# Medication periods stopped or completed (the period ended).
MED_ENDED = {"stopped", "completed"}
# MedicationRequest.status that never was an exposure; .intent that is not an order.
REQUEST_NOT_EXPOSURE = {"cancelled", "entered-in-error", "draft", "unknown"}
REQUEST_NOT_ORDER = {"proposal", "plan"}
# MedicationStatement.status: intended or not taken is not exposure.
STATEMENT_NOT_EXPOSURE = {"intended", "not-taken", "entered-in-error", "unknown"}
# MedicationAdministration.status: only what was (being) given.
ADMINISTRATION_NOT_GIVEN = {"not-done", "entered-in-error", "unknown"}
# Condition.clinicalStatus that says the condition is over.
CONDITION_OVER = {"inactive", "remission", "resolved"}
# Condition.verificationStatus.
CONDITION_IGNORED = {"refuted", "entered-in-error"}
CONDITION_UNCONFIRMED = {"provisional", "differential", "unconfirmed"}


def _code(concept: Any) -> str | None:
    found = codings(concept)
    return str(found[0]["code"]) if found else None


def observation_set_aside(res: dict[str, Any]) -> str | None:
    """Why an Observation is not a result (None when it is one)."""
    status = res.get("status")
    if status in OBS_NOT_RESULT:
        return f"Observation ({status})"
    return None


def medication_set_aside(res: dict[str, Any]) -> str | None:
    """Why a medication record is not evidence of exposure (None when it is).

    A MedicationRequest counts when it is an order (intent order, original-order, reflex-order,
    filler-order, instance-order or absent) that is active, on-hold, completed or stopped;
    a proposal or a plan was never given. A MedicationStatement that is intended or not taken,
    and a MedicationAdministration not done, are no exposure either.
    """
    kind = res.get("resourceType")
    status = res.get("status")
    if kind == "MedicationRequest":
        intent = res.get("intent")
        if intent in REQUEST_NOT_ORDER:
            return f"MedicationRequest (intent {intent})"
        if status in REQUEST_NOT_EXPOSURE:
            return f"MedicationRequest ({status})"
        if res.get("doNotPerform") is True:
            return "MedicationRequest (doNotPerform)"
        return None
    if kind == "MedicationStatement":
        if status in STATEMENT_NOT_EXPOSURE:
            return f"MedicationStatement ({status})"
        return None
    if kind == "MedicationAdministration":
        if status in ADMINISTRATION_NOT_GIVEN:
            return f"MedicationAdministration ({status})"
        return None
    return None


def condition_set_aside(res: dict[str, Any]) -> str | None:
    """Why a Condition is ignored (refuted, entered in error); None when it is read."""
    verification = _code(res.get("verificationStatus"))
    if verification in CONDITION_IGNORED:
        return f"Condition ({verification})"
    return None


def condition_verification(res: dict[str, Any]) -> str:
    """``confirmed`` or ``unconfirmed`` (provisional, differential, unconfirmed).

    A Condition without verificationStatus is read as confirmed: that is how problem lists
    (Synthea, US Core) record diagnoses.
    """
    verification = _code(res.get("verificationStatus"))
    return "unconfirmed" if verification in CONDITION_UNCONFIRMED else "confirmed"


def condition_status(res: dict[str, Any]) -> str:
    """``resolved`` for clinicalStatus inactive/remission/resolved, else ``active``."""
    return "resolved" if _code(res.get("clinicalStatus")) in CONDITION_OVER else "active"
