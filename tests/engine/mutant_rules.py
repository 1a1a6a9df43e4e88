"""A synthetic rule set whose criteria each exercise one operator or construct, at one site
(a fact's value, a fact's date, an exposure field, a per-exposure derived value, a condition
field), and patients that sit just below, on and just above each threshold.

Used by the tests that kill mutants of the engine, the durable_rules compiler and the SQL
compiler (issue 16 section 7): where ``<`` and ``<=`` are chosen, the three-valued groups, the
outcome-only evaluator. Nothing clinical: thresholds are round numbers, not protocol values.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet, parse_ruleset
from screener.yamlio import LineMap

AS_OF = date(2026, 3, 10)
THRESHOLD = 100  # platelets 10*9/L, azathioprine mg/day, prednisone-equivalent mg/day
STEP = 0.5
CRITERIA_MET = 4  # condition field threshold (an integer field)
WINDOW_DAYS = 30

# op -> truth at (just below, at, just above) the threshold: strict vs non-strict, by hand.
TRUTH: dict[str, tuple[bool, bool, bool]] = {
    "lt": (True, False, False),
    "lte": (True, True, False),
    "gt": (False, False, True),
    "gte": (False, True, True),
    "eq": (False, True, False),
    "ne": (True, False, True),
}
# window -> truth for a date (WINDOW_DAYS + 1, WINDOW_DAYS, WINDOW_DAYS - 1) days before AS_OF:
# min_ago = at least N days before (inclusive), max_ago = at most N days before (inclusive).
WINDOW_TRUTH: dict[str, tuple[bool, bool, bool]] = {
    "min_ago": (True, True, False),
    "max_ago": (False, True, True),
}
POSITIONS = ("below", "at", "above")

_HEAD = """schema_version: "1"
ruleset:
  id: mutants
  trial: NCT00000000
  title: Synthetic rule set for mutation tests (one construct per criterion)
  version: "1.0.0"
  protocol_source: none (synthetic)
facts:
  birth_date: {kind: demographic, type: date, label: Date of birth}
  sex: {kind: demographic, type: string, values: [female, male], label: Sex at birth}
  platelets: {kind: observation, type: number, unit: 10*9/L, label: Platelets}
  lvef: {kind: observation, type: number, unit: '%', label: LVEF}
  ana: {kind: observation, type: string, values: [positive, negative], label: ANA}
derived:
  - name: age
    label: Age
    function: age_in_years
    inputs: {birth_date: birth_date, "on": context.as_of}
    unit: a
  - name: pred_eq
    label: Prednisone equivalent
    per: exposure
    match: {drug: [prednisone]}
    function: prednisone_equivalent_mg
    inputs: {drug: exposure.drug, dose_mg: exposure.daily_dose_mg}
    unit: mg/d
criteria:
"""


def _criterion(cid: str, test: str, kind: str = "inclusion") -> str:
    return (
        f"  - id: {cid}\n    type: {kind}\n    title: {cid} synthetic\n"
        f"    protocol: {{section: synthetic, quote: synthetic}}\n    reading: synthetic\n"
        f"    test: {test}\n"
    )


def _sites() -> dict[str, str]:
    """criterion id -> its test (YAML flow style); ids say the site and operator."""
    tests: dict[str, str] = {}
    n = 1
    for op in TRUTH:  # a fact's value
        tests[f"I{n}"] = f"{{fact: platelets, {op}: {THRESHOLD}, unit: 10*9/L}}"
        n += 1
    for op in ("lt", "lte", "gt", "gte"):  # an exposure field
        tests[f"I{n}"] = (
            "{exists: exposure, match: {drug: [azathioprine]}, absent: 'false', "
            f"where: {{field: daily_dose_mg, {op}: {THRESHOLD}}}}}"
        )
        n += 1
    for op in ("lt", "lte", "gt", "gte"):  # a per-exposure derived value
        tests[f"I{n}"] = (
            "{exists: exposure, match: {drug: [prednisone]}, absent: 'false', "
            f"where: {{field: pred_eq, {op}: {THRESHOLD}, unit: mg/d}}}}"
        )
        n += 1
    for op in ("lt", "lte", "gt", "gte"):  # a condition field (integer)
        tests[f"I{n}"] = (
            "{exists: condition, match: {name: [sle]}, absent: 'false', "
            f"where: {{field: criteria_met, {op}: {CRITERIA_MET}}}}}"
        )
        n += 1
    for op in WINDOW_TRUTH:  # a fact's date, an exposure's start
        tests[f"I{n}"] = f"{{fact: platelets, field: date, {op}: {{days: {WINDOW_DAYS}}}}}"
        n += 1
        tests[f"I{n}"] = (
            "{exists: exposure, match: {drug: [azathioprine]}, absent: 'false', "
            f"where: {{field: start, {op}: {{days: {WINDOW_DAYS}}}}}}}"
        )
        n += 1
    return tests


SITES = _sites()
# the same tests as exclusions: the outcome flips (pass <-> fail), unknown stays unknown
EXCLUSIONS = {f"E{cid[1:]}": test for cid, test in SITES.items()}

# Groups and quantifiers, for the three-valued logic (lvef and ana may be absent: unknown).
LOW_LVEF = "{fact: lvef, lt: 40, unit: '%'}"
POSITIVE_ANA = "{fact: ana, eq: positive}"
LOGIC: dict[str, str] = {
    "I40": f"{{not: {LOW_LVEF}}}",
    "I41": f"{{all: [{LOW_LVEF}, {POSITIVE_ANA}]}}",
    "I42": f"{{any: [{LOW_LVEF}, {POSITIVE_ANA}]}}",
    "I43": f"{{first_known: [{LOW_LVEF}, {POSITIVE_ANA}]}}",
    "I44": f"{{first_known: [{POSITIVE_ANA}, {LOW_LVEF}]}}",
    "I45": "{exists: condition, match: {name: [sle]}, absent: 'false'}",
    "I46": "{exists: condition, match: {name: [sle]}, absent: unknown}",
    "I47": f"{{not: {{exists: condition, match: {{name: [sle]}}, absent: 'false', "
    f"where: {{field: criteria_met, gte: {CRITERIA_MET}}}}}}}",
    "I48": "{every: exposure, match: {drug: [azathioprine]}, absent: 'false', "
    f"where: {{field: daily_dose_mg, lte: {THRESHOLD}}}}}",
    "I49": "{all: [{fact: age, gte: 18, unit: a}, {fact: sex, eq: male}]}",
    "I52": "{all: [{fact: age, gt: 17, unit: a}, {fact: sex, eq: male}]}",
    "I53": f"{{any: [{{exists: condition, match: {{name: [sle]}}, absent: 'false'}}, {LOW_LVEF}]}}",
    "I54": "{fact: platelets, lt: 100, unit: 10*9/L, unknown_when: false, missing: a repeat platelet count}",
    "I50": "{fact: ana, in: [positive]}",
    "I51": "{fact: ana, not_in: [positive]}",
    "E40": f"{{not: {LOW_LVEF}}}",
    "E41": f"{{any: [{LOW_LVEF}, {POSITIVE_ANA}]}}",
}


def rules_text() -> str:
    body = "".join(_criterion(cid, test) for cid, test in SITES.items())
    body += "".join(_criterion(cid, test, "exclusion") for cid, test in EXCLUSIONS.items())
    body += "".join(
        _criterion(cid, test, "exclusion" if cid.startswith("E") else "inclusion")
        for cid, test in LOGIC.items()
    )
    return _HEAD + body


def ruleset() -> RuleSet:
    return parse_ruleset(rules_text(), "mutants.yaml")


def site_value(position: str) -> float:
    return THRESHOLD + {"below": -STEP, "at": 0.0, "above": STEP}[position]


def window_date(position: str) -> date:
    days = WINDOW_DAYS + {"below": 1, "at": 0, "above": -1}[position]
    return AS_OF - timedelta(days=days)


def boundary_patient(position: str) -> Patient:
    """Every site just below, on or just above its threshold (dates: before, on, after the edge)."""
    when = window_date(position)
    dose = site_value(position)
    data: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": f"boundary-{position}",
        "demographics": {"birth_date": "1980-01-01", "sex": "female"},
        "observations": [
            {"name": "platelets", "value": site_value(position), "unit": "10*9/L", "date": when.isoformat()}
        ],
        "medications": [
            {
                "drug": "azathioprine",
                "dose": dose,
                "unit": "mg",
                "frequency": "daily",
                "start": when.isoformat(),
            },
            {"drug": "prednisone", "dose": dose, "unit": "mg", "frequency": "daily", "start": "2026-01-01"},
        ],
        "conditions": [
            {
                "name": "sle",
                "status": "active",
                "criteria_met": CRITERIA_MET + {"below": -1, "at": 0, "above": 1}[position],
            }
        ],
    }
    return patient_from_data(data, LineMap("<boundary>", {}))


def patient(
    patient_id: str,
    *,
    lvef: float | None = None,
    ana: str | None = None,
    sle: int | bool | None = None,
    azathioprine: list[float] | None = None,
    birth_date: str = "1980-01-01",
    sex: str = "female",
) -> Patient:
    """A patient with some of the logic criteria's facts (None: no record)."""
    data: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": patient_id,
        "demographics": {"birth_date": birth_date, "sex": sex},
    }
    observations = []
    if lvef is not None:
        observations.append({"name": "lvef", "value": lvef, "unit": "%", "date": "2026-03-01"})
    if ana is not None:
        observations.append({"name": "ana", "value": ana, "date": "2026-03-01"})
    if observations:
        data["observations"] = observations
    if sle is not None and sle is not False:
        condition: dict[str, Any] = {"name": "sle", "status": "active"}
        if sle is not True:
            condition["criteria_met"] = sle
        data["conditions"] = [condition]
    if azathioprine:
        data["medications"] = [
            {
                "drug": "azathioprine",
                "dose": d,
                "unit": "mg",
                "frequency": "daily",
                "start": "2026-01-01",
                "source": f"MedicationStatement/aza-{n}",
            }
            for n, d in enumerate(azathioprine)
        ]
    return patient_from_data(data, LineMap("<logic>", {}))
