"""Small FHIR R4 helpers every resource mapper uses: codings, references, texts, dates."""

from __future__ import annotations

from datetime import date
from typing import Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.mapping import norm_system

UCUM = "http://unitsofmeasure.org"

# References from a resource to its patient, by resource type (first present wins).
PATIENT_REFS = ("subject", "patient", "beneficiary", "individual")


def codings(concept: Any) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept that carry a code (anything else gives [])."""
    if not isinstance(concept, dict):
        return []
    found = concept.get("coding")
    if not isinstance(found, list):
        return []
    return [c for c in found if isinstance(c, dict) and c.get("code") is not None]


def ref_id(ref: Any) -> str | None:
    """The id a reference points at: ``Patient/x``, ``urn:uuid:x``, absolute URL or ``#x``."""
    if isinstance(ref, dict):
        ref = ref.get("reference")
    if not isinstance(ref, str) or not ref:
        return None
    if ref.startswith("#"):
        return ref[1:]
    if ref.startswith("urn:uuid:") or ref.startswith("urn:oid:"):
        return ref.split(":", 2)[2]
    return ref.rstrip("/").rsplit("/", 1)[-1]


def patient_ref(resource: dict[str, Any]) -> str | None:
    """The id of the patient a resource is about (subject, patient, beneficiary, individual)."""
    for key in PATIENT_REFS:
        if key in resource:
            value = resource[key]
            if isinstance(value, list):  # Consent.patient is single; some resources use lists
                value = value[0] if value else None
            return ref_id(value)
    return None


def first_date(resource: dict[str, Any], *keys: str) -> tuple[Any, str | None]:
    """The first present date-ish value among ``keys`` (``effectivePeriod`` -> its start)."""
    for key in keys:
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        if value:
            return value, key
    return None, None


def has_value(res: dict[str, Any]) -> bool:
    return any(k.startswith("value") for k in res)


def unit(q: dict[str, Any]) -> str | None:
    """A Quantity's unit: its UCUM code, else its written unit."""
    if q.get("code") and (not q.get("system") or norm_system(q.get("system")) == UCUM):
        return str(q["code"])
    return str(q["unit"]) if q.get("unit") else None


def text(concept: Any) -> str | None:
    """A CodeableConcept's text and displays, joined (None when it has none)."""
    if not isinstance(concept, dict):
        return None
    found = concept.get("coding")
    displays = (
        [c.get("display") or "" for c in found if isinstance(c, dict)] if isinstance(found, list) else []
    )
    parts = [str(concept.get("text") or "")] + [str(d) for d in displays]
    return " ".join(p for p in parts if p) or None


def sub(origin: Origin, name: str) -> str:
    """The field path ``name`` inside the resource at ``origin``."""
    return f"{origin.field}.{name}" if origin.field else name


def at(origin: Origin, name: str) -> Origin:
    """``origin`` narrowed to its field ``name``."""
    return Origin(origin.file, origin.line, sub(origin, name))


def when(b: NativeBuilder, res: dict[str, Any], origin: Origin, *keys: str) -> date | None:
    """The resource's date from the first of ``keys`` present; a problem is reported when none."""
    value, key = first_date(res, *keys)
    if value is None:
        b.problem(
            at(origin, keys[0]),
            f"{res.get('resourceType')} has no date ({' / '.join(keys)}); not imported",
        )
        return None
    try:
        found = parse_date(value)
    except ValueError as error:
        b.problem(at(origin, key or keys[0]), f"{error}; not imported")
        return None
    if key == "issued":
        b.problem(at(origin, "issued"), f"no effective date; the report date {found} is used", "warning")
    return found
