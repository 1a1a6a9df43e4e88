"""E14 (in another study), E16 (legal protection) and I2 (SLE classification) from FHIR R4.

- ``in_other_study`` true: an on-study ResearchSubject of another trial (:mod:`.administrative`).
- ``legal_protection`` true: a current guardian (HL7 v3-RoleCode ``GUARD``) in
  ``Patient.contact.relationship`` or ``RelatedPerson.relationship``. A power of attorney
  (``POWATT``, ``DPOWATT``, ``HPOWATT``, ``SPOWATT``), a guardian ad litem (``GUADLTM``) or a bare
  "responsible party" may or may not be a legal protection measure: a person must check, so such
  a record keeps E16 unknown (it blocks any "none" statement) and the report says why.
- ``false`` ("none") only from what says the source is complete for it: an Observation of
  screener's own code (``in-other-study`` / ``legal-protection``, valueBoolean false; read as any
  status of the mapping), or a current List of screener's own code (``research-participations`` /
  ``legal-protection-measures``) that is empty with ``emptyReason`` ``nilknown`` (FHIR R4: "no
  known items for this list after reasonable investigation"). The absence of a ResearchSubject
  or guardian record is never read as "none".
- I2: an Observation of screener's own code ``sle-acr-1997-criteria-met`` (or ``-1982-``), value
  an integer 0-11, gives the SLE diagnosis its ``classification`` and ``criteria_met``; its
  ``focus`` may name the Condition.

Contradictions and the latest classification are settled by
:class:`screener.importers.statements.StatementContext`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings, ref_id
from screener.importers.mapping import ClassificationTarget

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter

LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"


# ------------------------------------------------------------------ legal representatives


def read_related_person(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    """RelatedPerson.relationship: a guardian (legal protection) or a role a person must check."""
    conv.log.records += 1
    if res.get("active") is False:
        conv.log.skip("RelatedPerson (inactive)")
        return
    _representative(
        conv, b, res.get("relationship"), res.get("period"), f"RelatedPerson/{res.get('id')}", origin
    )


def read_patient_contacts(
    conv: FhirConverter, b: NativeBuilder, patient: dict[str, Any], origin: Origin
) -> None:
    contacts = patient.get("contact")
    if not isinstance(contacts, list):
        return
    for i, contact in enumerate(contacts):
        if isinstance(contact, dict):
            _representative(
                conv,
                b,
                contact.get("relationship"),
                contact.get("period"),
                f"Patient/{patient.get('id')}#contact[{i}]",
                at(origin, f"contact[{i}]"),
            )


def _representative(
    conv: FhirConverter,
    b: NativeBuilder,
    relationships: Any,
    period: Any,
    source: str,
    origin: Origin,
) -> None:
    concepts = relationships if isinstance(relationships, list) else []
    found: list[tuple[bool | None, str]] = []
    for concept in concepts:
        for c in codings(concept):
            role = conv.mapping.legal_representative(c.get("system"), c["code"])
            if role is not None:
                found.append(role)
    if not found:
        conv.log.skip(f"{source.split('/')[0]} relationship (not a legal representative)")
        return
    period = period if isinstance(period, dict) else {}
    end = period.get("end")
    if end:
        try:
            ended = parse_date(end) < date.today()
        except ValueError:
            ended = False  # an unreadable end: still read as current (never "none")
            b.problem(at(origin, "period.end"), f"{end!r} is not a date; read as current", "warning")
        if ended:
            conv.log.skip(f"{source.split('/')[0]} (legal representative, ended)")
            return
    if any(value is True for value, _ in found):
        role = next(label for value, label in found if value is True)
        b.add(
            "statuses",
            {"name": "legal_protection", "value": True, "source": f"{source} ({role})"},
            origin,
        )
        conv.statements.current_true("legal_protection", period.get("start"), source)
        return
    role = found[0][1]
    conv.statements.to_check.setdefault("legal_protection", []).append(f"{source} ({role})")
    b.problem(
        origin,
        f"{source} is her {role}: whether that is a legal protection measure (E16) is for a "
        "person to check; no 'none' statement counts while it stands",
        "warning",
    )


# ------------------------------------------------------------------ completeness lists


def read_list(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    """A current List of screener's own code, empty with emptyReason nilknown -> the status is false."""
    conv.log.records += 1
    name = None
    for c in codings(res.get("code")):
        name = conv.mapping.completeness_list(c.get("system"), c["code"])
        if name:
            break
    if name is None:
        conv.log.skip("List (no criterion reads its code)")
        return
    if res.get("status") != "current" or res.get("mode") == "changes":
        conv.log.skip(f"List ({res.get('status')}, {res.get('mode')})")
        return
    if res.get("entry"):
        # its entries (ResearchSubject...) are read as themselves; a list with items says no "none"
        conv.log.skip("List (not empty)")
        return
    reasons = [
        c["code"] for c in codings(res.get("emptyReason")) if c.get("system") in (None, LIST_EMPTY_REASON)
    ]
    if reasons != ["nilknown"]:
        conv.log.skip(f"List (empty: {', '.join(map(str, reasons)) or 'no emptyReason'})")
        return
    if not res.get("date"):
        b.problem(at(origin, "date"), f"List of {name}: no date; not imported (a 'none' needs its date)")
        return
    try:
        day = parse_date(res["date"])
    except ValueError as error:
        b.problem(at(origin, "date"), f"{error}; not imported")
        return
    item = {"name": name, "value": False, "date": day.isoformat(), "source": f"List/{res.get('id')}"}
    b.add("statuses", item, origin)


# ------------------------------------------------------------------ SLE classification


def read_classification(
    conv: FhirConverter,
    b: NativeBuilder,
    res: dict[str, Any],
    target: ClassificationTarget,
    day: date,
    origin: Origin,
) -> None:
    raw = res.get("valueInteger")
    if raw is None and isinstance(res.get("valueQuantity"), dict):
        raw = res["valueQuantity"].get("value")
    focus = res.get("focus")
    focus_id = ref_id(focus[0]) if isinstance(focus, list) and focus else None
    conv.statements.classification(
        b,
        raw,
        target,
        day,
        f"Observation/{res.get('id')}",
        f"Condition/{focus_id}" if focus_id else None,
        at(origin, "value"),
    )
