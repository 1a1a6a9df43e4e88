"""FHIR Observation (and its components) -> native observations, statuses and assessments."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_number
from screener.importers.fhir.common import at, codings, has_value, text, unit, when
from screener.importers.fhir.oxygen import BLOOD_GASES, component_state, oxygen_code
from screener.importers.fhir.statements import read_classification
from screener.importers.fhir.status import observation_set_aside
from screener.importers.mapping import AssessmentTarget

# SELENA-SLEDAI has no LOINC or SNOMED code (shared/reference terminology.yaml#sledai_score):
# beside a local code in the mapping, an Observation whose code's text or display names the
# SLEDAI total is read as the score (never a descriptor or item of it), with a warning.
_SLEDAI = re.compile(r"\b(selena[- ]?)?sledai(-?2k)?\b", re.IGNORECASE)
_NOT_TOTAL = re.compile(r"descriptor|item|component|criteri|domain", re.IGNORECASE)
SLEDAI_BY_TEXT = AssessmentTarget("selena_sledai", "code text (terminology.yaml#sledai_score)")


def sledai_named(code: Any) -> bool:
    words = text(code) or ""
    return bool(_SLEDAI.search(words)) and not _NOT_TOTAL.search(words)


if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def read_observation(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    conv.log.records += 1
    reason = observation_set_aside(res)
    if reason is not None:
        conv.log.skip(reason)
        return
    if conv.oxygen.note(res):
        return  # an inhaled-oxygen observation: it tells a blood gas's oxygen state
    for c in codings(res.get("code")):
        classified = conv.mapping.classification(c.get("system"), c["code"])
        if classified is not None:  # the number of classification criteria a diagnosis meets (I2)
            day = when(b, res, origin, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
            if day is not None:
                read_classification(conv, b, res, classified, day, origin)
            return
    source = f"Observation/{res.get('id')}"
    oxygen = component_state(res)
    parts: list[tuple[dict[str, Any], str, str]] = [(res, source, "")]
    for i, comp in enumerate(res.get("component") or []):
        if isinstance(comp, dict):
            parts.append((comp, f"{source}#component[{i}]", f"component[{i}]."))
    day: date | None = None
    for part, part_source, prefix in parts:
        code = part.get("code")
        if isinstance(code, dict) and "coding" in code and not isinstance(code["coding"], list):
            b.problem(
                at(origin, prefix + "code.coding"), "code.coding is not a list; not imported", "warning"
            )
            continue
        found = codings(code)
        target = status = assessment = None
        for c in found:
            target = conv.mapping.observation(c.get("system"), c["code"])
            status = conv.mapping.status(c.get("system"), c["code"])
            assessment = conv.mapping.assessment(c.get("system"), c["code"])
            if target or status or assessment:
                break
        if not (target or status or assessment) and part is res and sledai_named(code):
            assessment = SLEDAI_BY_TEXT
            b.problem(
                at(origin, "code"),
                f"SELENA-SLEDAI score read from the code's words ({text(code)!r}): no standard code "
                "exists (terminology.yaml#sledai_score); check it is the total score",
                "warning",
            )
        if not (target or status or assessment):
            if not found and part is res and not parts[1:]:
                words = text(code)
                b.problem(
                    at(origin, "code"),
                    "Observation has no coded code"
                    + (f" (text {words!r})" if words else "")
                    + "; not imported",
                    "warning",
                )
            if part is not res and oxygen_code(code) is not None:
                continue  # read above as the oxygen state of this Observation (component_state)
            if found and not (part is res and parts[1:] and not has_value(res)):
                c = found[0]
                conv.log.unmapped("Observation", c.get("system"), c.get("code"), c.get("display"))
            continue
        if day is None:
            day = when(b, res, origin, "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued")
            if day is None:
                return
        where = at(origin, prefix + "value")
        if status is not None:
            status_value(conv, b, part, status.name, status.answers, day, part_source, where)
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
                        "date": day.isoformat(),
                        "source": part_source,
                    },
                    where,
                )
            except (ValueError, TypeError):
                b.problem(where, f"{assessment.name}: score {score!r} is not a number; not imported")
        elif target is not None:
            item = observation_value(
                conv, b, part, target.name, target.coded, target.method, day, part_source, where
            )
            if item is not None and target.name in BLOOD_GASES:
                if oxygen is not None:
                    item["on_oxygen"] = oxygen
                conv.oxygen.blood_gas(item, res)


def observation_value(
    conv: FhirConverter,
    b: NativeBuilder,
    part: dict[str, Any],
    name: str,
    coded: bool,
    method: str | None,
    day: date,
    source: str,
    where: Origin,
) -> dict[str, Any] | None:
    """Add the observation ``part`` holds; return the item added (None when refused)."""
    item: dict[str, Any] = {"name": name, "date": day.isoformat(), "source": source, "method": method}
    if coded:
        found = answer(conv, part)
        if found is None:
            unrecognised_answer(conv, b, part, name, where)
            return None
        item["value"] = found
        return item if b.add_observation(item, where) else None
    q = part.get("valueQuantity")
    if not isinstance(q, dict) or q.get("value") is None:
        if part.get("dataAbsentReason"):
            reason = text(part["dataAbsentReason"]) or "no reason given"
            b.problem(where, f"{name}: no value ({reason}); not imported", "warning")
        else:
            b.problem(where, f"{name}: no valueQuantity; not imported")
        return None
    if q.get("comparator"):
        # A censored result (<0.5) is not the value 0.5: comparing it with a threshold could
        # decide a criterion the wrong way, so it is left to a person.
        b.problem(where, f"{name}: censored value {q['comparator']}{q['value']} not imported", "warning")
        return None
    try:
        item["value"] = parse_number(q["value"])
    except ValueError as error:
        b.problem(where, f"{name}: {error}; not imported")
        return None
    item["unit"] = unit(q)
    rr = reference_range(part.get("referenceRange"))
    if rr:
        item["reference_range"] = rr
    return item if b.add_observation(item, where) else None


def reference_range(ranges: Any) -> dict[str, Any]:
    """The first ``referenceRange``'s low and high (with their unit) as a native
    ``reference_range``; empty when it gives neither."""
    rr: dict[str, Any] = {}
    if ranges and isinstance(ranges, list) and isinstance(ranges[0], dict):
        for key in ("low", "high"):
            bound = ranges[0].get(key)
            if isinstance(bound, dict) and bound.get("value") is not None:
                rr[key] = float(bound["value"])
                if unit(bound):
                    rr["unit"] = unit(bound)
    return rr


def answer(conv: FhirConverter, part: dict[str, Any]) -> str | None:
    for c in codings(part.get("valueCodeableConcept")):
        found = conv.mapping.answer(c.get("system"), c["code"])
        if found:
            return found
    if isinstance(part.get("valueCodeableConcept"), dict):
        found = conv.mapping.answer_from_text(part["valueCodeableConcept"].get("text"))
        if found:
            return found
    return conv.mapping.answer_from_text(part.get("valueString"))


def unrecognised_answer(
    conv: FhirConverter, b: NativeBuilder, part: dict[str, Any], name: str, where: Origin
) -> None:
    found = codings(part.get("valueCodeableConcept"))
    for c in found[:1]:
        conv.log.unmapped("Observation.value", c.get("system"), c.get("code"), c.get("display"))
    shown = (found[0].get("display") or found[0]["code"]) if found else part.get("valueString")
    b.problem(where, f"{name}: answer {shown!r} is not a known positive/negative answer; not imported")


def status_value(
    conv: FhirConverter,
    b: NativeBuilder,
    part: dict[str, Any],
    name: str,
    answers: dict[tuple[str, str], bool | None],
    day: date,
    source: str,
    where: Origin,
) -> None:
    if isinstance(part.get("valueBoolean"), bool):
        value: bool | None = part["valueBoolean"]
    else:
        value = None
        known = False
        for c in codings(part.get("valueCodeableConcept")):
            key = (conv.mapping.system(c.get("system")), str(c["code"]).strip().upper())
            if key in answers:
                value, known = answers[key], True
                break
        if not known:
            unrecognised_answer(conv, b, part, name, where)
            return
        if value is None:  # an explicit "unknown" answer: no fact
            return
    b.add("statuses", {"name": name, "value": value, "date": day.isoformat(), "source": source}, where)
