"""FHIR MedicationStatement / MedicationRequest / MedicationAdministration -> native medications.

The drug comes from ``medicationCodeableConcept`` or a contained or referenced Medication
(including its ingredients). A period ``stopped``/``completed`` without an end date gets
``end = start`` and a warning (its real duration is unknown). MedicationAdministration records
of the same drug, dose and route become one period whose ``administrations`` are their dates.
Which records count as exposure is decided in :mod:`.status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, iso, parse_date, parse_number
from screener.importers.fhir.common import at, codings, first_date, ref_id, text, unit, when
from screener.importers.fhir.contraception import contraceptive_of, read_contraceptive_medication
from screener.importers.fhir.status import MED_ENDED, medication_set_aside
from screener.importers.mapping import DrugTarget

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter

_ROUTE_WORDS = (
    ("intraven", "iv"),
    ("subcut", "sc"),
    ("intramusc", "im"),
    ("oral", "oral"),
    ("mouth", "oral"),
    ("topical", "topical"),
    ("cutaneous", "topical"),
    ("inhal", "inhaled"),
)
_MASS_UNITS = {"mg", "g", "ug", "mcg", "µg", "μg"}
_FREQUENCIES = {
    (1, 1, "d"): "daily",
    (2, 1, "d"): "bid",
    (3, 1, "d"): "tid",
    (4, 1, "d"): "qid",
    (1, 1, "wk"): "weekly",
    (1, 2, "wk"): "every_2_weeks",
    (1, 4, "wk"): "every_4_weeks",
    (1, 1, "mo"): "monthly",
}


def route_of(words: str | None) -> str | None:
    """Native route named in a route's text or display (None when none is recognised)."""
    if not words:
        return None
    low = words.lower()
    for word, route in _ROUTE_WORDS:
        if word in low:
            return route
    return None


def frequency_of(repeat: dict[str, Any]) -> str | None:
    """Native frequency of a FHIR ``Timing.repeat`` (only the exact patterns of the native enum)."""
    try:
        count = float(repeat.get("frequency", 1))
        period = float(repeat["period"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (count.is_integer() and period.is_integer()):
        return None
    return _FREQUENCIES.get((int(count), int(period), str(repeat.get("periodUnit"))))


@dataclass
class Administrations:
    """MedicationAdministration records of one drug, dose and route, merged into one period."""

    drug: DrugTarget
    dose: tuple[float, str] | None
    route: str | None
    dates: list[date]
    sources: list[str]
    origin: Origin


def drug_of(
    conv: FhirConverter,
    b: NativeBuilder,
    res: dict[str, Any],
    origin: Origin,
    medications: dict[str, dict[str, Any]],
) -> DrugTarget | None:
    found = list(codings(res.get("medicationCodeableConcept")))
    ref = res.get("medicationReference")
    if not found and ref is None:
        words = text(res.get("medicationCodeableConcept"))
        b.problem(
            at(origin, "medicationCodeableConcept"),
            f"{res.get('resourceType')} names no coded medication"
            + (f" (text {words!r})" if words else "")
            + "; not imported",
            "warning",
        )
        return None
    if ref is not None:
        rid = ref_id(ref)
        med = None
        if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("#"):
            med = next(
                (c for c in res.get("contained") or [] if isinstance(c, dict) and c.get("id") == rid), None
            )
        if med is None and rid is not None:
            med = medications.get(rid)
        if med is None:
            b.problem(
                at(origin, "medicationReference"),
                f"Medication {ref.get('reference') if isinstance(ref, dict) else ref!r} not found; "
                "not imported",
            )
            return None
        found += codings(med.get("code"))
        for ing in med.get("ingredient") or []:
            if isinstance(ing, dict):
                found += codings(ing.get("itemCodeableConcept"))
    for c in found:
        target = conv.mapping.drug(c.get("system"), c["code"], c.get("display"))
        if target:
            conv.log.answer(str(res.get("resourceType")), target.via, target.matched)
            return target
    for c in found[:1]:
        conv.log.unmapped(str(res.get("resourceType")), c.get("system"), c.get("code"), c.get("display"))
    return None


def outcome_of(conv: FhirConverter, res: dict[str, Any]) -> str | None:
    """inefficacy / adverse_effect from ``statusReason`` (a list in MedicationStatement, one
    CodeableConcept in MedicationRequest); adverse_effect wins when both are given."""
    reasons = res.get("statusReason")
    coded = [c for concept in (reasons if isinstance(reasons, list) else [reasons]) for c in codings(concept)]
    found = {conv.mapping.treatment_outcome(c.get("system"), c["code"]) for c in coded}
    if coded and found == {None}:  # a stop reason screener cannot read: shown in the report
        c = coded[0]
        conv.log.unmapped(
            f"{res.get('resourceType')}.statusReason", c.get("system"), c["code"], c.get("display")
        )
    for outcome in ("adverse_effect", "inefficacy"):
        if outcome in found:
            return outcome
    return None


def medication_concepts(res: dict[str, Any], medications: dict[str, dict[str, Any]]) -> list[Any]:
    """The medication's CodeableConcept, or the code of the Medication it references."""
    concepts: list[Any] = [res.get("medicationCodeableConcept")]
    ref = res.get("medicationReference")
    rid = ref_id(ref)
    if rid is not None:
        contained = [c for c in res.get("contained") or [] if isinstance(c, dict) and c.get("id") == rid]
        med = contained[0] if contained else medications.get(rid)
        if isinstance(med, dict):
            concepts.append(med.get("code"))
    return concepts


def dose_of(dosage: dict[str, Any], target: DrugTarget) -> tuple[float, str] | None:
    quantities = [dr.get("doseQuantity") for dr in dosage.get("doseAndRate") or [] if isinstance(dr, dict)]
    quantities.append(dosage.get("dose"))  # MedicationAdministration.dosage.dose
    for q in quantities:
        if not isinstance(q, dict) or q.get("value") is None:
            continue
        written = unit(q)
        value = parse_number(q["value"])
        if written and written.strip() in _MASS_UNITS:
            return value, written.strip()
        if target.strength_mg is not None and value > 0:
            return value * target.strength_mg, "mg"
    return None


def read_medication(
    conv: FhirConverter,
    b: NativeBuilder,
    res: dict[str, Any],
    origin: Origin,
    medications: dict[str, dict[str, Any]],
) -> None:
    """A MedicationStatement or MedicationRequest: one period."""
    conv.log.records += 1
    kind = str(res.get("resourceType"))
    reason = medication_set_aside(res)
    if reason is not None:
        conv.log.skip(reason)
        return
    dosages = res.get("dosageInstruction") or res.get("dosage") or []
    dosage = dosages[0] if isinstance(dosages, list) and dosages and isinstance(dosages[0], dict) else {}
    timing = (dosage.get("timing") or {}).get("repeat") or {}
    start_value, end_value, start_key = _period(res, timing)
    contraceptive = contraceptive_of(conv, medication_concepts(res, medications))
    status = res.get("status")
    target = None if contraceptive is not None else drug_of(conv, b, res, origin, medications)
    if target is None:  # a drug no criterion reads: it shows the record has a medication history
        conv.lists.medication(*_dates(start_value, end_value, status), f"{kind}/{res.get('id')}", origin)
    if contraceptive is not None:
        read_contraceptive_medication(conv, b, res, origin, contraceptive)
        return
    if target is None:
        return
    here = at(origin, start_key)
    if not start_value:
        b.problem(here, f"{target.drug}: no start date; not imported")
        return
    try:
        start = parse_date(start_value)
        end = parse_date(end_value) if end_value else None
    except ValueError as error:
        b.problem(here, f"{target.drug}: {error}; not imported")
        return
    if end is None and status in MED_ENDED:
        end = start
        b.problem(
            here,
            f"{target.drug}: {kind} is {status} with no end date; end set to the start date "
            f"({start}), real duration unknown",
            "warning",
        )
    if end is not None and end < start:
        b.problem(here, f"{target.drug}: ends ({end}) before it starts ({start}); not imported")
        return
    item: dict[str, Any] = {
        "drug": target.drug,
        "start": start.isoformat(),
        "end": iso(end),
        "source": f"{kind}/{res.get('id')}",
        "route": target.route or route_of(text(dosage.get("route"))),
    }
    item["frequency"] = frequency_of(timing)
    outcome = outcome_of(conv, res)
    if outcome is not None:
        item["outcome"] = outcome
    try:
        dose = dose_of(dosage, target)
    except ValueError as error:
        b.problem(
            at(origin, "dosageInstruction[0]"), f"{target.drug}: dose {error}; dose left out", "warning"
        )
        dose = None
    if dose is not None:
        item["dose"], item["unit"] = dose
    b.add("medications", item, origin)


def _period(res: dict[str, Any], timing: dict[str, Any]) -> tuple[Any, Any, str]:
    """(start, end, field of the start) of a MedicationRequest or MedicationStatement."""
    bounds = timing.get("boundsPeriod") or {}
    if res.get("resourceType") == "MedicationRequest":
        validity = (res.get("dispenseRequest") or {}).get("validityPeriod") or {}
        return (
            bounds.get("start") or res.get("authoredOn"),
            bounds.get("end") or validity.get("end"),
            "authoredOn",
        )
    period = res.get("effectivePeriod") or {}
    start = period.get("start") or res.get("effectiveDateTime") or bounds.get("start")
    return start, period.get("end") or bounds.get("end"), "effectivePeriod.start"


def _dates(start: Any, end: Any, status: Any) -> tuple[date | None, date | None]:
    """Start and end of a period, quietly (None when unreadable); an ended one without end: its start."""
    try:
        first = parse_date(start) if start else None
        last = parse_date(end) if end else None
    except ValueError:
        return None, None
    return first, last if last is not None or status not in MED_ENDED else first


def read_administration(
    conv: FhirConverter,
    b: NativeBuilder,
    res: dict[str, Any],
    origin: Origin,
    medications: dict[str, dict[str, Any]],
    admins: dict[tuple[Any, ...], Administrations],
) -> None:
    conv.log.records += 1
    reason = medication_set_aside(res)
    if reason is not None:
        conv.log.skip(reason)
        return
    target = drug_of(conv, b, res, origin, medications)
    if target is None:
        value, _ = first_date(res, "effectiveDateTime", "effectivePeriod")
        day, _ = _dates(value, value, None)
        conv.lists.medication(day, day, f"MedicationAdministration/{res.get('id')}", origin)
        return
    day = when(b, res, origin, "effectiveDateTime", "effectivePeriod")
    if day is None:
        return
    dosage = res.get("dosage") or {}
    try:
        dose = dose_of(dosage, target)
    except ValueError:
        dose = None
    route = target.route or route_of(text(dosage.get("route")))
    key = (target.drug, dose, route)
    adm = admins.setdefault(key, Administrations(target, dose, route, [], [], origin))
    adm.dates.append(day)
    adm.sources.append(f"MedicationAdministration/{res.get('id')}")


def add_administrations(b: NativeBuilder, admins: dict[tuple[Any, ...], Administrations]) -> None:
    for adm in admins.values():
        dates = sorted(set(adm.dates))
        item: dict[str, Any] = {
            "drug": adm.drug.drug,
            "start": dates[0].isoformat(),
            "end": dates[-1].isoformat(),
            "administrations": [d.isoformat() for d in dates],
            "route": adm.route,
            "source": ", ".join(adm.sources[:5]) + (" ..." if len(adm.sources) > 5 else ""),
        }
        if len(dates) == 1:
            item["frequency"] = "once"
        if adm.dose is not None:
            item["dose"], item["unit"] = adm.dose
        b.add("medications", item, adm.origin)
