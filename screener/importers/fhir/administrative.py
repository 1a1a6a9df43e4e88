"""FHIR Consent, Coverage and ResearchSubject -> native statuses.

Consent -> ``informed_consent`` when its scope is one of the mapping's ``fhir.consent_scopes``
(default ``research``); Coverage -> ``social_security`` when active; ResearchSubject ->
``in_other_study`` when on-study, unless its study is this trial (``fhir.own_study_identifiers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings, first_date

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
    if own_study(conv, res.get("study")):
        conv.log.skip("ResearchSubject (this trial)")
        return
    status = str(res.get("status", ""))
    flag(conv, b, res, origin, "in_other_study", status.startswith("on-study"))


def read_coverage(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    flag(conv, b, res, origin, "social_security", res.get("status") == "active")


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
    date_key: str = "period",
) -> None:
    conv.log.records += 1
    if not value and name != "informed_consent":
        # An inactive coverage or an off-study record says nothing about other coverages/studies.
        conv.log.skip(f"{res.get('resourceType')} ({res.get('status')})")
        return
    raw, _ = first_date(res, date_key)
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
