"""Random rule trees and random patients: the engine and both fast routes agree on every one.

hypothesis draws rule sets over the constructs of the rule schema (fact tests with every
comparison, windows in days, months and years, fields of facts, ``unknown_when``, derived
values, person-only facts and criteria, all / any / not / first_known, exists / every over
medication periods and conditions with ``match``, ``where`` trees and both ``absent``
readings), in the vocabulary of the language suite (tests/data/language/rules.yaml), and
patients whose values and dates sit on and beside the thresholds and window edges, with
unconfirmed diagnoses, observed periods and deaths. Each patient is screened by the rule
engine, the Python-prepared fast route and the SQL-prepared fast route
(:func:`screener.case_routes.route_outcomes`); every criterion must get the same outcome.

Sizes are bounded so the test runs in seconds. A person can run a larger search with
``SCREENER_RULE_TREES=500 pytest tests/test_random_rule_trees.py`` (examples per test).
"""

from __future__ import annotations

import copy
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.case_routes import route_outcomes
from screener.engine.evaluate import Engine
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import parse_ruleset
from screener.yamlio import LineMap, load_file

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.vectorized import VectorizedScreener

SUITE = Path(__file__).resolve().parent / "data" / "language"
BASE, _ = load_file(SUITE / "rules.yaml")
EXAMPLES = int(os.environ.get("SCREENER_RULE_TREES", "15"))
AS_OF = date(2026, 11, 25)
DATES = (AS_OF, date(2027, 2, 28), date(2026, 3, 1))

# ---------------------------------------------------------------------------- rule trees

NUMBERS: dict[str, tuple[list[float], str]] = {
    "creatinine": ([1.0, 1.5, 2.0], "mg/dL"),
    "weight": ([50, 60, 70], "kg"),
    "selena_sledai": ([4, 6], "{score}"),
    "age": ([17, 18, 65], "a"),
    "crcl": ([30, 60], "mL/min"),
    "ast_uln": ([1, 2], "x ULN"),
    "ast": ([40, 80], "U/L"),
}
CODED: dict[str, list[Any]] = {
    "sex": ["female", "male"],
    "hiv": ["positive", "negative"],
    "ana": ["positive", "negative"],
    "pregnancy_test": ["positive", "negative"],
    "renal_biopsy_class": ["class_iii", "class_iv", "class_v", "class_iii_v"],
    "pregnant": [True, False],
    "sle_active": [True, False],
    "informed_consent": [True, False],
}
DATED = ["renal_biopsy_class", "pregnancy_test", "creatinine", "hiv"]  # {fact: F, field: date, ...}
windows = st.one_of(
    st.builds(lambda n: {"days": n}, st.sampled_from([0, 7, 14, 30, 60])),
    st.builds(lambda n: {"months": n}, st.sampled_from([1, 3, 12])),
    st.builds(lambda n: {"years": n}, st.sampled_from([1, 5, 18])),
)
comparisons_num = st.sampled_from(["lt", "lte", "gt", "gte", "eq", "ne"])


@st.composite
def fact_tests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["number", "coded", "date", "window", "field"]))
    if kind == "number":
        fact = draw(st.sampled_from(sorted(NUMBERS)))
        values, unit = NUMBERS[fact]
        test = {"fact": fact, draw(comparisons_num): draw(st.sampled_from(values)), "unit": unit}
    elif kind == "coded":
        fact = draw(st.sampled_from(sorted(CODED)))
        values = CODED[fact]
        op = draw(st.sampled_from(["eq", "ne", "in", "not_in"]))
        if op in ("in", "not_in"):
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))
            test = {"fact": fact, op: chosen}
        else:
            test = {"fact": fact, op: draw(st.sampled_from(values))}
    elif kind == "date":
        test = {"fact": "birth_date", draw(st.sampled_from(["min_ago", "max_ago"])): draw(windows)}
    elif kind == "window":
        fact = draw(st.sampled_from(DATED))
        test = {"fact": fact, "field": "date", draw(st.sampled_from(["min_ago", "max_ago"])): draw(windows)}
    else:
        test = draw(
            st.sampled_from(
                [
                    {"fact": "pao2", "field": "on_oxygen", "eq": True},
                    {"fact": "pao2", "field": "on_oxygen", "ne": False},
                    {"fact": "ast", "field": "reference_high", "gt": 40},
                    {"fact": "pao2", "lt": 70, "unit": "mm[Hg]"},
                ]
            )
        )
    if draw(st.integers(0, 5)) == 0:
        test = {**test, "unknown_when": draw(st.booleans()), "missing": "a person to look"}
    return test


EXPOSURE_FIELDS = st.sampled_from(
    [
        {"field": "route", "eq": "oral"},
        {"field": "route", "in": ["iv", "sc"]},
        {"field": "route", "not_in": ["oral"]},
        {"field": "frequency", "ne": "weekly"},
        {"field": "daily_dose_mg", "gt": 10},
        {"field": "daily_dose_mg", "lte": 200},
        {"field": "dose_mg", "gte": 100},
        {"field": "start", "max_ago": {"months": 3}},
        {"field": "start", "min_ago": {"days": 30}},
        {"field": "end", "min_ago": {"days": 30}},
        {"field": "end", "max_ago": {"years": 1}},
        {"field": "ongoing", "eq": True},
        {"field": "ongoing", "ne": True},
        {"field": "failed", "eq": True},
        {"field": "duration_days", "gte": 90},
    ]
)
GLUCOCORTICOID_FIELDS = st.sampled_from(
    [{"field": "pred_mg_day", "gt": 10}, {"field": "pred_mg_day", "lte": 7.5}]
)
CONDITION_FIELDS = st.sampled_from(
    [
        {"field": "active", "eq": True},
        {"field": "status", "in": ["resolved"]},
        {"field": "type", "in": ["basal_cell_carcinoma"]},
        {"field": "type", "not_in": ["basal_cell_carcinoma"]},
        {"field": "criteria_met", "gte": 4},
        {"field": "criteria_met", "lt": 4},
        {"field": "classification", "ne": "acr_1997"},
        {"field": "onset", "max_ago": {"years": 5}},
        {"field": "end", "min_ago": {"months": 12}},
        {"field": "severity", "eq": "severe"},
    ]
)
DRUG_GROUPS = [
    ["prednisone", "methylprednisolone"],
    ["prednisone"],
    ["methotrexate"],
    ["azathioprine", "rituximab"],
]


def where_trees(leaves: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda x: {"not": x}, inner),
        ),
        max_leaves=3,
    )


@st.composite
def quantifiers(draw: st.DrawFn) -> dict[str, Any]:
    record = draw(st.sampled_from(["exposure", "condition"]))
    if record == "exposure":
        drugs = draw(st.sampled_from(DRUG_GROUPS))
        match: dict[str, list[Any]] = {"drug": drugs}
        leaves = EXPOSURE_FIELDS
        if set(drugs) <= {"prednisone", "methylprednisolone"}:  # the per-exposure derived value
            leaves = st.one_of(EXPOSURE_FIELDS, GLUCOCORTICOID_FIELDS)
    else:
        match = {"name": draw(st.sampled_from([["neoplasia"], ["sle"], ["neoplasia", "sle"]]))}
        leaves = CONDITION_FIELDS
    node: dict[str, Any] = {draw(st.sampled_from(["exists", "every"])): record, "match": match}
    node["absent"] = draw(st.sampled_from(["false", "unknown"]))
    if node["absent"] == "unknown":
        node["missing"] = "the history"
    if draw(st.integers(0, 4)):
        node["where"] = draw(where_trees(leaves))
    return node


conditions = st.recursive(
    st.one_of(fact_tests(), quantifiers()),
    lambda inner: st.one_of(
        st.builds(lambda xs: {"all": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda xs: {"any": xs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda x: {"not": x}, inner),
        st.builds(lambda xs: {"first_known": xs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)


@st.composite
def rule_sets(draw: st.DrawFn) -> str:
    data = copy.deepcopy(BASE)
    tests = draw(st.lists(conditions, min_size=1, max_size=4))
    data["criteria"] = [
        {
            "id": f"I{i + 1}" if kind == "inclusion" else f"E{i + 1}",
            "type": kind,
            "title": "random",
            "protocol": {"section": "random", "quote": "random"},
            "reading": "random",
            "person_only": draw(st.integers(0, 9)) == 0,
            "test": test,
        }
        for i, test in enumerate(tests)
        for kind in [draw(st.sampled_from(["inclusion", "exclusion"]))]
    ]
    return yaml.safe_dump(data, sort_keys=False)


# ---------------------------------------------------------------------------- patients

EDGES = [0, 1, 6, 7, 8, 13, 14, 15, 29, 30, 31, 59, 60, 61, 89, 90, 91, 92, 93, 364, 365, 366, 1826, 6575]


def day(draw: st.DrawFn) -> str:
    return (AS_OF - timedelta(days=draw(st.sampled_from([-3, *EDGES])))).isoformat()


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    demographics: dict[str, Any] = {}
    if draw(st.integers(0, 7)):
        years = draw(st.sampled_from([17, 18, 40, 65]))
        shift = draw(st.sampled_from([-1, 0, 1, 200]))
        demographics["birth_date"] = (date(AS_OF.year - years, 11, 25) + timedelta(days=shift)).isoformat()
    if draw(st.integers(0, 7)):
        demographics["sex"] = draw(st.sampled_from(["female", "male"]))
    if draw(st.integers(0, 9)) == 0:
        demographics["observed"] = [
            {"start": "2010-01-01", **draw(st.sampled_from([{}, {"end": "2025-12-31"}]))}
        ]
    if draw(st.integers(0, 19)) == 0:
        demographics["deceased"] = "2026-10-01"
    observations: list[dict[str, Any]] = []
    for fact, (values, unit) in NUMBERS.items():
        if fact in ("age", "crcl", "ast_uln", "selena_sledai") or not draw(st.booleans()):
            continue
        value = draw(st.sampled_from([*values, *(v + 0.01 for v in values), *(v - 0.01 for v in values)]))
        item: dict[str, Any] = {"name": fact, "value": round(value, 2), "unit": unit, "date": day(draw)}
        if fact == "ast" and draw(st.booleans()):
            item["reference_range"] = {"high": draw(st.sampled_from([35, 40, 45]))}
        observations.append(item)
        if draw(st.integers(0, 5)) == 0:  # a second value on the same day: agreeing or in conflict
            observations.append(
                {**item, "value": round(item["value"] * draw(st.sampled_from([1.01, 1.2])), 2)}
            )
    if draw(st.booleans()):
        item = {
            "name": "pao2",
            "value": draw(st.sampled_from([69, 70, 71])),
            "unit": "mm[Hg]",
            "date": day(draw),
        }
        if draw(st.integers(0, 3)):
            item["on_oxygen"] = draw(st.booleans())
        observations.append(item)
    for fact in ("hiv", "ana", "pregnancy_test", "renal_biopsy_class"):
        for _ in range(draw(st.integers(0, 2))):
            observations.append(
                {"name": fact, "value": draw(st.sampled_from(CODED[fact])), "date": day(draw)}
            )
    statuses = [
        {"name": fact, "value": draw(st.booleans()), "date": day(draw)}
        for fact in ("pregnant", "sle_active")
        for _ in range(draw(st.integers(0, 2)))
    ]
    if draw(st.booleans()):
        statuses.append(
            {
                "name": "informed_consent",
                "value": draw(st.booleans()),
                "date": day(draw),
                **({"confirmed_by": "Dr Martin"} if draw(st.booleans()) else {}),
            }
        )
    assessments = [
        {"name": "selena_sledai", "score": draw(st.sampled_from([3, 4, 5, 6, 7])), "date": day(draw)}
        for _ in range(draw(st.integers(0, 2)))
    ]
    medications = []
    for _ in range(draw(st.integers(0, 3))):
        start = day(draw)
        med: dict[str, Any] = {
            "drug": draw(
                st.sampled_from(
                    ["prednisone", "methylprednisolone", "methotrexate", "azathioprine", "rituximab"]
                )
            ),
            "start": start,
        }
        if draw(st.integers(0, 5)):
            med.update(dose=draw(st.sampled_from([5, 7.5, 8, 10, 12, 100, 200])), unit="mg")
        if draw(st.integers(0, 5)):
            med["route"] = draw(st.sampled_from(["oral", "iv", "sc"]))
        if draw(st.integers(0, 5)):
            med["frequency"] = draw(st.sampled_from(["daily", "bid", "weekly", "once"]))
        if draw(st.booleans()):
            end = day(draw)
            if end >= start:
                med["end"] = end
        if draw(st.integers(0, 3)) == 0:
            med["outcome"] = draw(st.sampled_from(["inefficacy", "response"]))
        medications.append(med)
    conditions_: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["neoplasia", "sle"]))
        cond: dict[str, Any] = {"name": name, "status": draw(st.sampled_from(["active", "resolved"]))}
        if draw(st.booleans()):
            cond["onset"] = day(draw)
        if cond["status"] == "resolved" and draw(st.booleans()):
            cond["end"] = day(draw)
            if "onset" in cond and cond["end"] < cond["onset"]:
                cond["end"] = cond["onset"]
        if name == "neoplasia" and draw(st.booleans()):
            cond["type"] = draw(st.sampled_from(["basal_cell_carcinoma", "melanoma"]))
        if name == "sle":
            cond["classification"] = draw(st.sampled_from(["acr_1997", "slicc_2012"]))
            cond["criteria_met"] = draw(st.sampled_from([3, 4, 5]))
        if draw(st.integers(0, 3)) == 0:
            cond["severity"] = draw(st.sampled_from(["mild", "severe"]))
        if draw(st.integers(0, 6)) == 0:
            cond["verification"] = "unconfirmed"
        conditions_.append(cond)
    born = demographics.get("birth_date", "0001-01-01")  # a record before birth is refused on load
    observations = [o for o in observations if o["date"] >= born]
    statuses = [o for o in statuses if o["date"] >= born]
    assessments = [o for o in assessments if o["date"] >= born]
    medications = [m for m in medications if m["start"] >= born]
    return {
        "schema_version": "1",
        "patient_id": "random",
        "demographics": demographics,
        "observations": observations,
        "statuses": statuses,
        "assessments": assessments,
        "medications": medications,
        "conditions": conditions_,
    }


def _patient(data: dict[str, Any], i: int) -> Patient:
    return patient_from_data({**data, "patient_id": f"r{i}"}, LineMap(f"r{i}.yaml", {}))


# ---------------------------------------------------------------------------- the test


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(text=rule_sets(), datas=st.lists(patients(), min_size=1, max_size=5), as_of=st.sampled_from(DATES))
def test_the_engine_and_both_fast_routes_agree_on_random_rule_trees(
    text: str, datas: list[dict[str, Any]], as_of: date
) -> None:
    ruleset = parse_ruleset(text, "random.yaml")  # a generator bug if the tree does not load
    group = [_patient(d, i) for i, d in enumerate(datas)]
    jobs = [(p, as_of) for p in group]
    with Engine(ruleset) as engine:
        want = [engine.outcomes(p, as_of) for p in group]
    fast = VectorizedScreener(ruleset)
    try:
        for route in ("python", "sql"):
            got = route_outcomes(route, fast, jobs)
            for patient, w, g in zip(group, want, got, strict=True):
                assert g == w, (
                    route,
                    patient.raw,
                    {k: (w[k], g[k]) for k in w if isinstance(g, dict) and g[k] != w[k]},
                    g,
                )
    finally:
        fast.close()
