"""FHIR R4 importer: Bundle JSON files and Bulk Data NDJSON (one resource per line).

Resources read: Patient, Observation (and its components), Condition, MedicationStatement,
MedicationRequest, MedicationAdministration (``medicationCodeableConcept``, or a contained or
referenced Medication, including its ingredients), Procedure (codes counted; no fact uses them
yet), Consent (-> ``informed_consent`` when its scope is one of the mapping's
``fhir.consent_scopes``, default ``research``), Coverage (-> ``social_security`` when active) and
ResearchSubject (-> ``in_other_study`` when on-study, unless its study is this trial:
``fhir.own_study_identifiers``). Any other resource type is counted as
"not used". Each fact keeps ``source: "<ResourceType>/<id>"``.

Quantities keep their UCUM code (``valueQuantity.code``) and the patient loader converts them.

Choices (stated, not hidden):

- a medication period ``stopped``/``completed`` without an end date gets ``end = start`` and a
  warning (its real duration is unknown); ``entered-in-error``, ``cancelled``, ``draft``,
  ``not-taken`` records are not used;
- MedicationAdministration records of the same drug, dose and route become one period whose
  ``administrations`` are their dates;
- observations ``cancelled`` / ``entered-in-error`` and conditions refuted or entered in error
  are not used; a condition's clinical status ``inactive``/``remission``/``resolved`` gives
  ``status: resolved``;
- sex is the US Core birth-sex extension when present, else ``Patient.gender`` (other/unknown
  leave it unset).

Memory: a Bundle file is read whole (one patient per Synthea bundle). NDJSON is streamed: a first
pass reads every line once and keeps, per patient, only (file, byte offset, line) of its
resources, plus Medication resources (shared, referenced by id); the second pass reads one
patient's lines back by offset, converts them and lets them go. So memory holds the offset
index and one patient at a time; each line is parsed twice.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from screener.fileio import loads_json, read_json
from screener.importers.core import (
    ImportIssue,
    ImportLog,
    ImportRun,
    NativeBuilder,
    Origin,
    PatientRecord,
    iso,
    parse_date,
    parse_number,
)
from screener.importers.mapping import DrugTarget, Mapping, NotCriterion, load_mapping, norm_system

UCUM = "http://unitsofmeasure.org"
BIRTHSEX_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"

# References from a resource to its patient, by resource type (first present wins).
_PATIENT_REFS = ("subject", "patient", "beneficiary", "individual")
_USED = {
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Procedure",
    "Consent",
    "Coverage",
    "ResearchSubject",
}
_MED_SKIP_STATUS = {"entered-in-error", "cancelled", "draft", "not-taken", "unknown"}
_MED_ENDED_STATUS = {"stopped", "completed"}
_OBS_SKIP_STATUS = {"cancelled", "entered-in-error"}

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


def _codings(concept: Any) -> list[dict[str, Any]]:
    if not isinstance(concept, dict):
        return []
    return [c for c in concept.get("coding") or [] if isinstance(c, dict) and c.get("code") is not None]


def _ref_id(ref: Any) -> str | None:
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
    for key in _PATIENT_REFS:
        if key in resource:
            value = resource[key]
            if isinstance(value, list):  # Consent.patient is single; some resources use lists
                value = value[0] if value else None
            return _ref_id(value)
    return None


def route_of(text: str | None) -> str | None:
    if not text:
        return None
    low = text.lower()
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


def _first_date(resource: dict[str, Any], *keys: str) -> tuple[Any, str | None]:
    """The first present date-ish value among ``keys`` (``effectivePeriod`` -> its start)."""
    for key in keys:
        value = resource.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        if value:
            return value, key
    return None, None


@dataclass
class _Admin:
    drug: DrugTarget
    dose: tuple[float, str] | None
    route: str | None
    dates: list[date]
    sources: list[str]
    origin: Origin


class FhirConverter:
    """Turns one patient's FHIR resources into a :class:`PatientRecord`."""

    def __init__(self, mapping: Mapping, log: ImportLog) -> None:
        self.mapping = mapping
        self.log = log

    # -- entry point ---------------------------------------------------------------------------
    def convert(
        self,
        patient: dict[str, Any],
        patient_origin: Origin,
        resources: Iterable[tuple[dict[str, Any], Origin]],
        medications: dict[str, dict[str, Any]],
    ) -> PatientRecord | None:
        pid = str(patient.get("id") or patient_origin.field or "unknown")
        b = NativeBuilder(pid, patient_origin.file)
        self._patient(b, patient, patient_origin)
        admins: dict[tuple[Any, ...], _Admin] = {}
        for resource, origin in resources:
            kind = resource.get("resourceType")
            try:
                if kind == "Observation":
                    self._observation(b, resource, origin)
                elif kind == "Condition":
                    self._condition(b, resource, origin)
                elif kind in ("MedicationStatement", "MedicationRequest"):
                    self._medication(b, resource, origin, medications)
                elif kind == "MedicationAdministration":
                    self._administration(b, resource, origin, medications, admins)
                elif kind == "Procedure":
                    for c in _codings(resource.get("code"))[:1]:
                        self.log.unmapped("Procedure", c.get("system"), c.get("code"), c.get("display"))
                elif kind == "Consent":
                    self._consent(b, resource, origin)
                elif kind == "Coverage":
                    self._flag(b, resource, origin, "social_security", resource.get("status") == "active")
                elif kind == "ResearchSubject":
                    if self._own_study(resource.get("study")):
                        self.log.skip("ResearchSubject (this trial)")
                        continue
                    status = str(resource.get("status", ""))
                    self._flag(b, resource, origin, "in_other_study", status.startswith("on-study"))
                else:
                    self.log.skip(str(kind))
            except (KeyError, TypeError, AttributeError, ValueError) as error:
                b.problem(origin, f"malformed {kind}: {error!r}; not imported")
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
        return b.finish(self.log)

    # -- resources -----------------------------------------------------------------------------
    def _patient(self, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        source = f"Patient/{res.get('id')}"
        b.demographics["source"] = source
        if res.get("birthDate"):
            try:
                b.demographics["birth_date"] = parse_date(res["birthDate"]).isoformat()
            except ValueError as error:
                b.problem(Origin(origin.file, origin.line, _f(origin, "birthDate")), str(error))
        else:
            b.problem(Origin(origin.file, origin.line, _f(origin, "birthDate")), "no birth date", "warning")
        sex = None
        for ext in res.get("extension") or []:
            if isinstance(ext, dict) and ext.get("url") == BIRTHSEX_URL:
                sex = {"F": "female", "M": "male"}.get(str(ext.get("valueCode")))
        if sex is None:
            sex = {"female": "female", "male": "male"}.get(str(res.get("gender")))
        b.demographics["sex"] = sex
        if res.get("deceasedDateTime") or res.get("deceasedBoolean"):
            b.problem(
                origin, f"patient is deceased ({res.get('deceasedDateTime') or 'date unknown'})", "warning"
            )

    def _when(self, b: NativeBuilder, res: dict[str, Any], origin: Origin, *keys: str) -> date | None:
        value, key = _first_date(res, *keys)
        if value is None:
            b.problem(
                Origin(origin.file, origin.line, _f(origin, keys[0])),
                f"{res.get('resourceType')} has no date ({' / '.join(keys)}); not imported",
            )
            return None
        try:
            when = parse_date(value)
        except ValueError as error:
            b.problem(Origin(origin.file, origin.line, _f(origin, key or keys[0])), f"{error}; not imported")
            return None
        if key == "issued":
            b.problem(
                Origin(origin.file, origin.line, _f(origin, "issued")),
                f"no effective date; the report date {when} is used",
                "warning",
            )
        return when

    def _observation(self, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        self.log.records += 1
        if res.get("status") in _OBS_SKIP_STATUS:
            self.log.skip(f"Observation ({res.get('status')})")
            return
        source = f"Observation/{res.get('id')}"
        parts: list[tuple[dict[str, Any], str, str]] = [(res, source, "")]
        for i, comp in enumerate(res.get("component") or []):
            if isinstance(comp, dict):
                parts.append((comp, f"{source}#component[{i}]", f"component[{i}]."))
        when: date | None = None
        for part, part_source, prefix in parts:
            codings = _codings(part.get("code"))
            target = status = assessment = None
            for c in codings:
                target = self.mapping.observation(c.get("system"), c["code"])
                status = self.mapping.status(c.get("system"), c["code"])
                assessment = self.mapping.assessment(c.get("system"), c["code"])
                if target or status or assessment:
                    break
            if not (target or status or assessment):
                if codings and not (part is res and parts[1:] and not _has_value(res)):
                    c = codings[0]
                    self.log.unmapped("Observation", c.get("system"), c.get("code"), c.get("display"))
                continue
            if when is None:
                when = self._when(
                    b, res, origin, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued"
                )
                if when is None:
                    return
            where = Origin(origin.file, origin.line, _f(origin, prefix + "value"))
            if status is not None:
                self._status_value(b, part, status.name, status.answers, when, part_source, where)
            elif assessment is not None:
                score = (
                    part.get("valueQuantity", {}).get("value")
                    if isinstance(part.get("valueQuantity"), dict)
                    else part.get("valueInteger")
                )
                try:
                    b.add(
                        "assessments",
                        {
                            "name": assessment.name,
                            "score": parse_number(score),
                            "date": when.isoformat(),
                            "source": part_source,
                        },
                        where,
                    )
                except (ValueError, TypeError):
                    b.problem(where, f"{assessment.name}: score {score!r} is not a number; not imported")
            elif target is not None:
                self._observation_value(
                    b, part, target.name, target.coded, target.method, when, part_source, where
                )

    def _observation_value(
        self,
        b: NativeBuilder,
        part: dict[str, Any],
        name: str,
        coded: bool,
        method: str | None,
        when: date,
        source: str,
        where: Origin,
    ) -> None:
        item: dict[str, Any] = {"name": name, "date": when.isoformat(), "source": source, "method": method}
        if coded:
            answer = self._answer(part)
            if answer is None:
                self._unrecognised_answer(b, part, name, where)
                return
            item["value"] = answer
            b.add_observation(item, where)
            return
        q = part.get("valueQuantity")
        if not isinstance(q, dict) or q.get("value") is None:
            if part.get("dataAbsentReason"):
                reason = _text(part["dataAbsentReason"]) or "no reason given"
                b.problem(where, f"{name}: no value ({reason}); not imported", "warning")
            else:
                b.problem(where, f"{name}: no valueQuantity; not imported")
            return
        if q.get("comparator"):
            # A censored result (<0.5) is not the value 0.5: comparing it with a threshold could
            # decide a criterion the wrong way, so it is left to a person.
            b.problem(where, f"{name}: censored value {q['comparator']}{q['value']} not imported", "warning")
            return
        try:
            item["value"] = parse_number(q["value"])
        except ValueError as error:
            b.problem(where, f"{name}: {error}; not imported")
            return
        item["unit"] = _unit(q)
        ranges = part.get("referenceRange") or []
        if ranges and isinstance(ranges[0], dict):
            rr: dict[str, Any] = {}
            for key in ("low", "high"):
                bound = ranges[0].get(key)
                if isinstance(bound, dict) and bound.get("value") is not None:
                    rr[key] = float(bound["value"])
                    if _unit(bound):
                        rr["unit"] = _unit(bound)
            if rr:
                item["reference_range"] = rr
        b.add_observation(item, where)

    def _answer(self, part: dict[str, Any]) -> str | None:
        for c in _codings(part.get("valueCodeableConcept")):
            found = self.mapping.answer(c.get("system"), c["code"])
            if found:
                return found
        if isinstance(part.get("valueCodeableConcept"), dict):
            found = self.mapping.answer_from_text(part["valueCodeableConcept"].get("text"))
            if found:
                return found
        return self.mapping.answer_from_text(part.get("valueString"))

    def _unrecognised_answer(self, b: NativeBuilder, part: dict[str, Any], name: str, where: Origin) -> None:
        codings = _codings(part.get("valueCodeableConcept"))
        for c in codings[:1]:
            self.log.unmapped("Observation.value", c.get("system"), c.get("code"), c.get("display"))
        shown = (codings[0].get("display") or codings[0]["code"]) if codings else part.get("valueString")
        b.problem(where, f"{name}: answer {shown!r} is not a known positive/negative answer; not imported")

    def _status_value(
        self,
        b: NativeBuilder,
        part: dict[str, Any],
        name: str,
        answers: dict[tuple[str, str], bool | None],
        when: date,
        source: str,
        where: Origin,
    ) -> None:
        if isinstance(part.get("valueBoolean"), bool):
            value: bool | None = part["valueBoolean"]
        else:
            value = None
            known = False
            for c in _codings(part.get("valueCodeableConcept")):
                key = (self.mapping.system(c.get("system")), str(c["code"]).strip().upper())
                if key in answers:
                    value, known = answers[key], True
                    break
            if not known:
                self._unrecognised_answer(b, part, name, where)
                return
            if value is None:  # an explicit "unknown" answer: no fact
                return
        b.add("statuses", {"name": name, "value": value, "date": when.isoformat(), "source": source}, where)

    def _condition(self, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        self.log.records += 1
        verification = [c.get("code") for c in _codings(res.get("verificationStatus"))]
        if any(v in ("refuted", "entered-in-error") for v in verification):
            self.log.skip(f"Condition ({verification[0]})")
            return
        codings = _codings(res.get("code"))
        found = self.mapping.classify_condition(
            ((c.get("system"), c["code"], c.get("display")) for c in codings), _text(res.get("code"))
        )
        if isinstance(found, NotCriterion):
            self.log.skip(f"Condition ({found.reason})")
            return
        target = found
        if target is None:
            for c in codings[:1]:
                self.log.unmapped("Condition", c.get("system"), c.get("code"), c.get("display"))
            return
        self.log.answer("Condition", target.via, target.matched)
        clinical = [c.get("code") for c in _codings(res.get("clinicalStatus"))]
        status = "resolved" if clinical and clinical[0] in ("inactive", "remission", "resolved") else "active"
        item: dict[str, Any] = {
            "name": target.name,
            "type": target.type,
            "status": target.status or status,
            "source": f"Condition/{res.get('id')}",
        }
        if target.verification == "unconfirmed":
            item["verification"] = "unconfirmed"
            b.problem(origin, f"{target.name} to confirm: {target.source} (no code classifies it)", "warning")
        for key, out in (
            ("onsetDateTime", "onset"),
            ("onsetPeriod", "onset"),
            ("abatementDateTime", "end"),
            ("abatementPeriod", "end"),
        ):
            value = res.get(key)
            if isinstance(value, dict):
                value = value.get("start")
            if value and out not in item:
                try:
                    item[out] = parse_date(value).isoformat()
                except ValueError as error:
                    b.problem(
                        Origin(origin.file, origin.line, _f(origin, key)),
                        f"{error}; date left out",
                        "warning",
                    )
        if "onset" not in item and res.get("recordedDate"):
            with contextlib.suppress(ValueError):
                item["onset"] = parse_date(res["recordedDate"]).isoformat()
        if item.get("onset") and item.get("end") and item["end"] < item["onset"]:
            b.problem(
                origin,
                f"{target.name} ends ({item['end']}) before onset ({item['onset']}); end left out",
                "warning",
            )
            del item["end"]
        b.add("conditions", item, origin)

    def _drug(
        self, b: NativeBuilder, res: dict[str, Any], origin: Origin, medications: dict[str, dict[str, Any]]
    ) -> DrugTarget | None:
        codings = list(_codings(res.get("medicationCodeableConcept")))
        ref = res.get("medicationReference")
        if ref is not None:
            rid = _ref_id(ref)
            med = None
            if isinstance(ref, dict) and str(ref.get("reference", "")).startswith("#"):
                med = next((c for c in res.get("contained") or [] if c.get("id") == rid), None)
            if med is None and rid is not None:
                med = medications.get(rid)
            if med is None:
                b.problem(
                    Origin(origin.file, origin.line, _f(origin, "medicationReference")),
                    f"Medication {ref.get('reference') if isinstance(ref, dict) else ref!r} not found; "
                    "not imported",
                )
                return None
            codings += _codings(med.get("code"))
            for ing in med.get("ingredient") or []:
                codings += _codings(ing.get("itemCodeableConcept"))
        for c in codings:
            target = self.mapping.drug(c.get("system"), c["code"], c.get("display"))
            if target:
                self.log.answer(str(res.get("resourceType")), target.via, target.matched)
                return target
        for c in codings[:1]:
            self.log.unmapped(str(res.get("resourceType")), c.get("system"), c.get("code"), c.get("display"))
        return None

    def _dose(self, dosage: dict[str, Any], target: DrugTarget) -> tuple[float, str] | None:
        for dr in dosage.get("doseAndRate") or []:
            q = dr.get("doseQuantity") if isinstance(dr, dict) else None
            if not isinstance(q, dict) or q.get("value") is None:
                continue
            unit = _unit(q)
            value = parse_number(q["value"])
            if unit and unit.strip() in _MASS_UNITS:
                return value, unit.strip()
            if target.strength_mg is not None and value > 0:
                return value * target.strength_mg, "mg"
        q = dosage.get("dose")  # MedicationAdministration.dosage.dose
        if isinstance(q, dict) and q.get("value") is not None:
            unit = _unit(q)
            value = parse_number(q["value"])
            if unit and unit.strip() in _MASS_UNITS:
                return value, unit.strip()
            if target.strength_mg is not None and value > 0:
                return value * target.strength_mg, "mg"
        return None

    def _medication(
        self, b: NativeBuilder, res: dict[str, Any], origin: Origin, medications: dict[str, dict[str, Any]]
    ) -> None:
        self.log.records += 1
        kind = str(res.get("resourceType"))
        status = res.get("status")
        if status in _MED_SKIP_STATUS:
            self.log.skip(f"{kind} ({status})")
            return
        target = self._drug(b, res, origin, medications)
        if target is None:
            return
        dosages = res.get("dosageInstruction") or res.get("dosage") or []
        dosage = dosages[0] if dosages and isinstance(dosages[0], dict) else {}
        timing = (dosage.get("timing") or {}).get("repeat") or {}
        bounds = timing.get("boundsPeriod") or {}
        if kind == "MedicationRequest":
            start_value = bounds.get("start") or res.get("authoredOn")
            end_value = bounds.get("end") or (
                (res.get("dispenseRequest") or {}).get("validityPeriod") or {}
            ).get("end")
            start_key = "authoredOn"
        else:
            period = res.get("effectivePeriod") or {}
            start_value = period.get("start") or res.get("effectiveDateTime") or bounds.get("start")
            end_value = period.get("end") or bounds.get("end")
            start_key = "effectivePeriod.start"
        here = Origin(origin.file, origin.line, _f(origin, start_key))
        if not start_value:
            b.problem(here, f"{target.drug}: no start date; not imported")
            return
        try:
            start = parse_date(start_value)
            end = parse_date(end_value) if end_value else None
        except ValueError as error:
            b.problem(here, f"{target.drug}: {error}; not imported")
            return
        if end is None and status in _MED_ENDED_STATUS:
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
            "route": target.route or route_of(_text(dosage.get("route"))),
        }
        item["frequency"] = frequency_of(timing)
        try:
            dose = self._dose(dosage, target)
        except ValueError as error:
            b.problem(
                Origin(origin.file, origin.line, _f(origin, "dosageInstruction[0]")),
                f"{target.drug}: dose {error}; dose left out",
                "warning",
            )
            dose = None
        if dose is not None:
            item["dose"], item["unit"] = dose
        b.add("medications", item, origin)

    def _administration(
        self,
        b: NativeBuilder,
        res: dict[str, Any],
        origin: Origin,
        medications: dict[str, dict[str, Any]],
        admins: dict[tuple[Any, ...], _Admin],
    ) -> None:
        self.log.records += 1
        if res.get("status") in _MED_SKIP_STATUS:
            self.log.skip(f"MedicationAdministration ({res.get('status')})")
            return
        target = self._drug(b, res, origin, medications)
        if target is None:
            return
        when = self._when(b, res, origin, "effectiveDateTime", "effectivePeriod")
        if when is None:
            return
        dosage = res.get("dosage") or {}
        try:
            dose = self._dose(dosage, target)
        except ValueError:
            dose = None
        route = target.route or route_of(_text(dosage.get("route")))
        key = (target.drug, dose, route)
        adm = admins.setdefault(key, _Admin(target, dose, route, [], [], origin))
        adm.dates.append(when)
        adm.sources.append(f"MedicationAdministration/{res.get('id')}")

    def _own_study(self, study: Any) -> bool:
        """True when a ResearchSubject.study reference names this trial (``own_study_identifiers``)."""
        if not isinstance(study, dict) or not self.mapping.own_studies:
            return False
        ident = study.get("identifier") if isinstance(study.get("identifier"), dict) else {}
        texts = [
            str(study.get("reference") or ""),
            str(study.get("display") or ""),
            str(ident.get("value") or ""),
        ]
        return any(own.lower() in t.lower() for own in self.mapping.own_studies for t in texts)

    def _consent(self, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        scopes = [str(c.get("code")) for c in _codings(res.get("scope"))]
        if not any(s in self.mapping.consent_scopes for s in scopes):
            for c in _codings(res.get("scope"))[:1] or [{"system": None, "code": "(no scope)"}]:
                self.log.unmapped("Consent.scope", c.get("system"), c.get("code"), c.get("display"))
            return
        status = res.get("status")
        if status not in ("active", "rejected"):
            self.log.skip(f"Consent ({status})")
            return
        self._flag(b, res, origin, "informed_consent", status == "active", "dateTime")

    def _flag(
        self,
        b: NativeBuilder,
        res: dict[str, Any],
        origin: Origin,
        name: str,
        value: bool,
        date_key: str = "period",
    ) -> None:
        self.log.records += 1
        if not value and name != "informed_consent":
            # An inactive coverage or an off-study record says nothing about other coverages/studies.
            self.log.skip(f"{res.get('resourceType')} ({res.get('status')})")
            return
        raw, _ = _first_date(res, date_key)
        item: dict[str, Any] = {
            "name": name,
            "value": value,
            "source": f"{res.get('resourceType')}/{res.get('id')}",
        }
        if raw:
            try:
                item["date"] = parse_date(raw).isoformat()
            except ValueError as error:
                b.problem(
                    Origin(origin.file, origin.line, _f(origin, date_key)),
                    f"{error}; date left out",
                    "warning",
                )
        b.add("statuses", item, origin)


def _has_value(res: dict[str, Any]) -> bool:
    return any(k.startswith("value") for k in res)


def _unit(q: dict[str, Any]) -> str | None:
    if q.get("code") and (not q.get("system") or norm_system(q.get("system")) == UCUM):
        return str(q["code"])
    return str(q["unit"]) if q.get("unit") else None


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    parts = [concept.get("text") or ""] + [c.get("display") or "" for c in concept.get("coding") or []]
    return " ".join(p for p in parts if p) or None


def _f(origin: Origin, sub: str) -> str:
    return f"{origin.field}.{sub}" if origin.field else sub


# ------------------------------------------------------------------------------------------ bundles


def _bundle_records(path: Path, mapping: Mapping, log: ImportLog) -> Iterator[PatientRecord]:
    file = str(path)
    try:
        with path.open("rb") as fh:
            bundle = read_json(fh)  # size-capped, strict: no duplicate keys, NaN, lone surrogates
    except OSError as error:
        log.issue(ImportIssue(file, None, None, f"cannot read file: {error.strerror}"))
        return
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        line = getattr(error, "lineno", None)
        log.issue(ImportIssue(file, line, None, f"malformed JSON: {error}"))
        return
    if not isinstance(bundle, dict):
        log.issue(ImportIssue(file, None, None, "not a FHIR resource (expected a JSON object)"))
        return
    entries = bundle.get("entry") or [] if bundle.get("resourceType") == "Bundle" else [{"resource": bundle}]
    by_full_url: dict[str, str] = {}
    patients: dict[str, tuple[dict[str, Any], Origin]] = {}
    medications: dict[str, dict[str, Any]] = {}
    others: list[tuple[dict[str, Any], Origin]] = []
    for i, entry in enumerate(entries):
        origin = Origin(file, None, f"entry[{i}].resource")
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or "resourceType" not in res:
            log.issue(ImportIssue(file, None, f"entry[{i}]", "entry without a resource"))
            continue
        if isinstance(entry.get("fullUrl"), str) and res.get("id"):
            by_full_url[_ref_id(entry["fullUrl"]) or ""] = str(res["id"])
        kind = res["resourceType"]
        if kind == "Patient":
            patients[str(res.get("id"))] = (res, origin)
        elif kind == "Medication":
            medications[str(res.get("id"))] = res
        elif kind in _USED:
            others.append((res, origin))
        else:
            log.skip(kind)
    grouped: dict[str, list[tuple[dict[str, Any], Origin]]] = {pid: [] for pid in patients}
    for res, origin in others:
        ref = patient_ref(res)
        pid = by_full_url.get(ref or "", ref)
        if pid in grouped:
            grouped[pid].append((res, origin))
        else:
            log.issue(
                ImportIssue(
                    file,
                    None,
                    origin.field,
                    f"{res['resourceType']}/{res.get('id')} refers to patient {ref!r}, "
                    "which is not in this bundle; not imported",
                )
            )
    for med_id in list(medications):
        for full, rid in by_full_url.items():
            if rid == med_id:
                medications[full] = medications[med_id]
    converter = FhirConverter(mapping, log)
    for pid, (res, origin) in patients.items():
        record = converter.convert(res, origin, grouped[pid], medications)
        if record is not None:
            yield record


def iter_bundles(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR Bundle JSON files (a directory means its ``*.json`` files)."""
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-bundle", mapping.file)

    def gen() -> Iterator[PatientRecord]:
        for path in _expand(paths, ("*.json",)):
            yield from _bundle_records(path, mapping, log)

    return ImportRun(gen(), log)


# ------------------------------------------------------------------------------------------ NDJSON


def _expand(paths: Iterable[str | Path], patterns: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found: set[Path] = set()
            for pattern in patterns:
                found.update(p.glob(pattern))
            out.extend(sorted(found))
        else:
            out.append(p)
    return out


def _read_line(handle: BinaryIO, offset: int) -> bytes:
    handle.seek(offset)
    return handle.readline()


def iter_ndjson(paths: Iterable[str | Path], mapping: Mapping | None = None) -> ImportRun:
    """Patients from FHIR Bulk Data NDJSON files (a directory means its ``*.ndjson`` files).

    Streams: see the module docstring for the memory behaviour.
    """
    mapping = mapping or load_mapping()
    log = ImportLog("fhir-ndjson", mapping.file)
    files = _expand(paths, ("*.ndjson", "*.ndjson.txt"))

    def gen() -> Iterator[PatientRecord]:
        index: dict[str, list[tuple[int, int, int]]] = {}
        patients: dict[str, tuple[int, int, int]] = {}
        medications: dict[str, dict[str, Any]] = {}
        for fi, path in enumerate(files):
            try:
                handle = path.open("rb")
            except OSError as error:
                log.issue(ImportIssue(str(path), None, None, f"cannot read file: {error.strerror}"))
                continue
            with handle:
                offset = 0
                for line_no, raw in enumerate(handle, start=1):
                    here = offset
                    offset += len(raw)
                    if not raw.strip():
                        continue
                    try:
                        res = loads_json(raw)  # strict: duplicate keys, NaN, depth, surrogates
                    except (json.JSONDecodeError, UnicodeDecodeError) as error:
                        log.issue(ImportIssue(str(path), line_no, None, f"malformed JSON line: {error}"))
                        continue
                    if not isinstance(res, dict) or "resourceType" not in res:
                        log.issue(ImportIssue(str(path), line_no, "resourceType", "not a FHIR resource"))
                        continue
                    kind = res["resourceType"]
                    if kind == "Patient":
                        pid = str(res.get("id"))
                        if pid in patients:
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line_no,
                                    "id",
                                    f"duplicate Patient {pid}; the first one is used",
                                )
                            )
                            continue
                        patients[pid] = (fi, here, line_no)
                    elif kind == "Medication":
                        medications[str(res.get("id"))] = res
                    elif kind in _USED:
                        pid = patient_ref(res)
                        if pid is None:
                            log.issue(
                                ImportIssue(
                                    str(path),
                                    line_no,
                                    "subject",
                                    f"{kind}/{res.get('id')} has no patient reference; not imported",
                                )
                            )
                            continue
                        index.setdefault(pid, []).append((fi, here, line_no))
                    else:
                        log.skip(kind)
        for pid, entries in index.items():
            if pid not in patients:
                fi, _, line_no = entries[0]
                log.issue(
                    ImportIssue(
                        str(files[fi]),
                        line_no,
                        "subject",
                        f"{len(entries)} resource(s) refer to Patient/{pid}, which is in no "
                        "Patient file; not imported",
                    )
                )
        handles: dict[int, BinaryIO] = {}
        converter = FhirConverter(mapping, log)
        try:
            for pid, (fi, off, line_no) in patients.items():

                def read(fi: int, off: int) -> dict[str, Any]:
                    if fi not in handles:
                        handles[fi] = files[fi].open("rb")
                    return json.loads(_read_line(handles[fi], off))

                patient = read(fi, off)
                resources = [
                    (read(rfi, roff), Origin(str(files[rfi]), rline, None))
                    for rfi, roff, rline in index.get(pid, [])
                ]
                record = converter.convert(
                    patient, Origin(str(files[fi]), line_no, None), resources, medications
                )
                if record is not None:
                    yield record
        finally:
            for h in handles.values():
                h.close()

    return ImportRun(gen(), log)


def split_bundle_to_ndjson(bundle_path: str | Path, out_dir: str | Path) -> list[Path]:
    """Write a Bundle's resources as Bulk Data NDJSON, one ``<Type>.ndjson`` per resource type.

    References of the form ``urn:uuid:<id>`` are rewritten to ``<Type>/<id>`` as a Bulk Data
    server would. Used by tests and to feed the NDJSON importer from sample bundles.
    """
    bundle = json.loads(Path(bundle_path).read_text(encoding="utf-8"))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    types: dict[str, str] = {}
    for entry in bundle.get("entry") or []:
        res = entry["resource"]
        if entry.get("fullUrl"):
            types[entry["fullUrl"]] = f"{res['resourceType']}/{res['id']}"
    text = json.dumps([e["resource"] for e in bundle.get("entry") or []])
    for full, ref in types.items():
        text = text.replace(f'"{full}"', f'"{ref}"')
    written: dict[str, Path] = {}
    handles: dict[str, Any] = {}
    try:
        for res in json.loads(text):
            kind = res["resourceType"]
            if kind not in handles:
                written[kind] = out / f"{kind}.ndjson"
                handles[kind] = written[kind].open("a", encoding="utf-8")
            handles[kind].write(json.dumps(res, separators=(",", ":")) + "\n")
    finally:
        for h in handles.values():
            h.close()
    return sorted(written.values())
