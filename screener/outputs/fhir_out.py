"""FHIR R4 resources from a batch's results: a Group of the eligible patients, and one
ResearchSubject per screened patient pointing to a ResearchStudy for the trial.

- Group (R4): ``type`` person, ``actual`` true, members as ``Patient/<id>`` references (member
  period: from the screening date, or from the date a waiting period ends for ``upcoming``
  patients); characteristics name the trial (``valueReference`` to the ResearchStudy) and the
  rule set (id, version, sha256) with the screening date as their period.
- ResearchSubject (R4): ``status`` from the decision, with the codes of
  http://hl7.org/fhir/research-subject-status (R4 4.0.1, checked on hl7.org/fhir/R4):
  eligible -> ``eligible``, ineligible -> ``ineligible``, incomplete -> ``screening``
  ("being evaluated for eligibility": facts are missing or need a person's confirmation).
- ResearchStudy (R4): the trial, identified by its registry number; ``status`` is required by
  R4 and is written as ``active`` (screening for it is going on) - set it to the real status
  when loading into a server that tracks it.

A patient id that is not a valid FHIR id (``[A-Za-z0-9\\-.]{1,64}``) is referred to by
identifier (system :data:`PATIENT_ID_SYSTEM`) instead of a literal reference. Every resource
carries the provenance in ``meta.tag`` (system :data:`RULESET_SYSTEM`, code the rule set's
sha256). Format version :data:`FHIR_FORMAT_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from screener.errors import InputError, Location
from screener.outputs.files import refuse_existing, write_new
from screener.outputs.provenance import Provenance
from screener.outputs.rows import Row

FHIR_FORMAT_VERSION = "1"
STATUS = {"eligible": "eligible", "ineligible": "ineligible", "incomplete": "screening"}
PATIENT_ID_SYSTEM = "urn:screener:patient-id"
RULESET_SYSTEM = "urn:screener:ruleset-sha256"
TRIAL_SYSTEM = "https://clinicaltrials.gov"  # NCT numbers; other registries keep their own id
CHARACTERISTIC_SYSTEM = "urn:screener:group-characteristic"
_FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def _safe_id(text: str) -> str:
    if _FHIR_ID.match(text):
        return text
    cleaned = re.sub(r"[^A-Za-z0-9\-.]+", "-", text).strip("-.")[:47] or "id"
    return f"{cleaned}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


def patient_reference(patient_id: str) -> dict[str, Any]:
    if _FHIR_ID.match(patient_id):
        return {"reference": f"Patient/{patient_id}"}
    return {"identifier": {"system": PATIENT_ID_SYSTEM, "value": patient_id}, "display": patient_id}


def _meta(p: Provenance) -> dict[str, Any]:
    return {
        "tag": [
            {
                "system": RULESET_SYSTEM,
                "code": p.ruleset_sha256,
                "display": f"rule set {p.ruleset_id} v{p.ruleset_version}, as of {p.as_of.isoformat()}, "
                f"screener {p.screener_version}",
            }
        ]
    }


def study_id(p: Provenance) -> str:
    return _safe_id((p.trial or p.ruleset_id).lower())


def research_study(p: Provenance, title: str | None = None) -> dict[str, Any]:
    trial = p.trial or p.ruleset_id
    system = TRIAL_SYSTEM if trial.upper().startswith("NCT") else "urn:screener:trial"
    return {
        "resourceType": "ResearchStudy",
        "id": study_id(p),
        "meta": _meta(p),
        "identifier": [{"system": system, "value": trial}],
        "title": title or trial,
        "status": "active",
    }


def study_reference(p: Provenance) -> dict[str, Any]:
    return {"reference": f"ResearchStudy/{study_id(p)}", "display": p.trial or p.ruleset_id}


def group(
    rows: Iterable[Row], p: Provenance, include_incomplete: bool = False, upcoming: bool = False
) -> dict[str, Any]:
    members = []
    for row in rows:
        start = p.as_of
        if row.decision == "eligible" or (row.decision == "incomplete" and include_incomplete):
            pass
        elif row.decision == "ineligible" and upcoming and row.eligible_from and not row.has_unknown:
            start = row.eligible_from
        else:
            continue
        members.append({"entity": patient_reference(row.patient_id), "period": {"start": start.isoformat()}})
    trial = p.trial or p.ruleset_id
    who = "eligible or to confirm" if include_incomplete else "eligible"
    period = {"start": p.as_of.isoformat(), "end": p.as_of.isoformat()}
    return {
        "resourceType": "Group",
        "id": _safe_id(f"{study_id(p)}-{who.replace(' ', '-')}-{p.as_of.isoformat()}"),
        "meta": _meta(p),
        "type": "person",
        "actual": True,
        "name": f"{trial}: {who} on {p.as_of.isoformat()} (rule set {p.ruleset_id} v{p.ruleset_version})",
        "quantity": len(members),
        "characteristic": [
            {
                "code": {
                    "coding": [
                        {"system": CHARACTERISTIC_SYSTEM, "code": "trial", "display": "screened for trial"}
                    ],
                    "text": f"{who} for trial",
                },
                "valueReference": study_reference(p),
                "exclude": False,
                "period": period,
            },
            {
                "code": {
                    "coding": [
                        {"system": CHARACTERISTIC_SYSTEM, "code": "ruleset", "display": "screening rule set"}
                    ],
                    "text": "screening rule set",
                },
                "valueCodeableConcept": {
                    "coding": [
                        {"system": RULESET_SYSTEM, "code": p.ruleset_sha256, "version": p.ruleset_version}
                    ],
                    "text": f"{p.ruleset_id} version {p.ruleset_version} (sha256 {p.ruleset_sha256})",
                },
                "exclude": False,
                "period": period,
            },
        ],
        "member": members,
    }


def research_subject(row: Row, p: Provenance) -> dict[str, Any]:
    return {
        "resourceType": "ResearchSubject",
        "id": _safe_id(f"{study_id(p)}-{row.patient_id}"),
        "meta": _meta(p),
        "identifier": [{"system": PATIENT_ID_SYSTEM, "value": row.patient_id}],
        "status": STATUS[row.decision],
        "period": {"start": p.as_of.isoformat()},
        "study": study_reference(p),
        "individual": patient_reference(row.patient_id),
    }


def _json(resource: dict[str, Any]) -> bytes:
    return (json.dumps(resource, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def write_group(
    path: Path, rows: Iterable[Row], p: Provenance, overwrite: bool = False, **kw: bool
) -> list[Path]:
    write_new(path, _json(group(rows, p, **kw)), overwrite)
    return [path]


def write_subjects(
    directory: Path, rows: Callable[[], Iterable[Row]], p: Provenance, source: str, overwrite: bool = False
) -> list[Path]:
    """``ResearchStudy-<id>.json`` and one ``ResearchSubject-<id>.json`` per row in ``directory``.

    ``rows`` is called twice (the rows are streamed, never all held): a first pass checks every
    target (an existing file is refused unless ``overwrite``, a patient twice is an error)
    before anything is written.
    """
    study = research_study(p)
    paths = [directory / f"ResearchStudy-{study['id']}.json"]
    seen: dict[str, int] = {}
    for row in rows():
        if row.decision not in STATUS:
            raise InputError(f"unknown decision {row.decision!r}", Location(source, row.line, "decision"))
        rid = _safe_id(f"{study_id(p)}-{row.patient_id}")
        if rid in seen:
            raise InputError(
                f"patient {row.patient_id!r} appears twice (also line {seen[rid]})",
                Location(source, row.line, "patient_id"),
            )
        seen[rid] = row.line
        paths.append(directory / f"ResearchSubject-{rid}.json")
    for path in paths:
        refuse_existing(path, overwrite)
    write_new(paths[0], _json(study), overwrite)
    for row in rows():
        subject = research_subject(row, p)
        write_new(directory / f"ResearchSubject-{subject['id']}.json", _json(subject), overwrite)
    return paths
