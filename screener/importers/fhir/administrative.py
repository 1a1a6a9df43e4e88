"""FHIR Consent, Coverage and ResearchSubject -> native statuses.

Consent -> ``informed_consent`` when its scope is one of the mapping's ``fhir.consent_scopes``
(default ``research``); Coverage -> ``social_security`` when active and its payor identifies
French statutory health insurance; ResearchSubject -> ``in_other_study`` when on-study, unless
its study is this trial (``fhir.own_study_identifiers``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings, first_date, ref_id

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def own_study(conv: FhirConverter, study: Any) -> bool:
    """True when a ResearchSubject.study reference names this trial (``own_study_identifiers``)."""
    if not isinstance(study, dict) or not conv.mapping.own_studies:
        return False
    ident = study.get("identifier") if isinstance(study.get("identifier"), dict) else {}
    texts = [
        str(study.get("reference") or ""),
        str(study.get("display") or ""),
        str(ident.get("value") or ""),
    ]
    return any(own.lower() in t.lower() for own in conv.mapping.own_studies for t in texts)


def read_research_subject(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    """``in_other_study``: an on-study ResearchSubject of another trial.

    A participation with no end (``period.end`` absent), or one ending today or later, is
    current: the fact is left undated, so it counts on any screening date instead of being
    judged by its enrolment start. One that has ended is dated by its end (the last day it
    was true).
    """
    if own_study(conv, res.get("study")):
        conv.log.skip("ResearchSubject (this trial)")
        return
    status = str(res.get("status", ""))
    if not status.startswith("on-study"):
        flag(conv, b, res, origin, "in_other_study", False)
        return
    period = res.get("period") if isinstance(res.get("period"), dict) else {}
    end = period.get("end")
    try:
        ended = bool(end) and parse_date(end) < date.today()
    except ValueError:
        ended = True  # flag() reports the unreadable end date
    flag(conv, b, res, origin, "in_other_study", True, "period.end" if ended else None)
    if not ended:  # a current participation: a later "in no other study" contradicts it
        conv.statements.current_true(
            "in_other_study", period.get("start"), f"ResearchSubject/{res.get('id')}"
        )


def read_coverage(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    """``social_security`` (French statutory health insurance, criterion I9) only from what
    identifies it: an active Coverage whose payor (display, or an Organization it references
    in the same input) is named as the French Assurance Maladie (CPAM, CNAM, MSA, "sécurité
    sociale"), or whose payor Organization's address country is France and whose type is
    public healthcare (v3-ActCode PUBLICPOL). Any other coverage (a US commercial plan,
    Medicare) says nothing about it: counted as not used, never read as affiliation."""
    conv.log.records += 1
    if res.get("status") != "active":
        conv.log.skip(f"Coverage ({res.get('status')})")
        return
    if not french_social_security(res, conv.organizations):
        conv.log.skip("Coverage (payor not identified as French social security)")
        return
    item: dict[str, Any] = {"name": "social_security", "value": True, "source": f"Coverage/{res.get('id')}"}
    b.add("statuses", item, origin)


_FRENCH_PAYORS = (
    "assurance maladie",
    "cpam",
    "cnam",
    "securite sociale",
    "sécurité sociale",
    "mutualite sociale agricole",
    "mutualité sociale agricole",
    "msa",
    "regime general",
    "régime général",
)


def french_social_security(res: dict[str, Any], organizations: dict[str, dict[str, Any]]) -> bool:
    payors = res.get("payor") if isinstance(res.get("payor"), list) else []
    public = any(c.get("code") == "PUBLICPOL" for c in codings(res.get("type")))
    for payor in payors:
        if not isinstance(payor, dict):
            continue
        org = organizations.get(ref_id(payor) or "") or {}
        names = " ".join(str(x) for x in (payor.get("display"), org.get("name")) if x).lower()
        if any(re.search(rf"\b{re.escape(word)}\b", names) for word in _FRENCH_PAYORS):
            return True
        addresses = org.get("address") if isinstance(org.get("address"), list) else []
        countries = {str(a.get("country", "")).strip().lower() for a in addresses if isinstance(a, dict)}
        if public and countries & {"fr", "fra", "france"}:
            return True
    return False


def read_consent(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    scopes = [str(c.get("code")) for c in codings(res.get("scope"))]
    if not any(s in conv.mapping.consent_scopes for s in scopes):
        for c in codings(res.get("scope"))[:1] or [{"system": None, "code": "(no scope)"}]:
            conv.log.unmapped("Consent.scope", c.get("system"), c.get("code"), c.get("display"))
        return
    status = res.get("status")
    if status not in ("active", "rejected"):
        conv.log.skip(f"Consent ({status})")
        return
    flag(conv, b, res, origin, "informed_consent", status == "active", "dateTime")


def flag(
    conv: FhirConverter,
    b: NativeBuilder,
    res: dict[str, Any],
    origin: Origin,
    name: str,
    value: bool,
    date_key: str | None = "period",
) -> None:
    conv.log.records += 1
    if not value and name != "informed_consent":
        # An inactive coverage or an off-study record says nothing about other coverages/studies.
        conv.log.skip(f"{res.get('resourceType')} ({res.get('status')})")
        return
    raw = _dated(res, date_key)
    item: dict[str, Any] = {
        "name": name,
        "value": value,
        "source": f"{res.get('resourceType')}/{res.get('id')}",
    }
    if raw:
        try:
            item["date"] = parse_date(raw).isoformat()
        except ValueError as error:
            b.problem(at(origin, date_key), f"{error}; date left out", "warning")
    b.add("statuses", item, origin)


def _dated(res: dict[str, Any], date_key: str | None) -> Any:
    if date_key is None:
        return None
    if "." in date_key:
        outer, inner = date_key.split(".", 1)
        holder = res.get(outer)
        return holder.get(inner) if isinstance(holder, dict) else None
    raw, _ = first_date(res, date_key)
    return raw
