"""Differential test: the DuckDB fast path agrees with the durable_rules engine, criterion by criterion."""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screener.engine.evaluate import Engine
from screener.model.patient import patient_from_data
from screener.model.rules import load_ruleset
from screener.yamlio import LineMap

from .conftest import AS_OF, RULES, base_patient

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.vectorized import VectorizedScreener
from screener.vectorized.flatten import FlattenError

RULESET = load_ruleset(RULES)
ENGINE = Engine(RULESET)
FAST = VectorizedScreener(RULESET)
#: random registries per property here and in test_vectorized_tables (a thorough run:
#: SCREENER_REGISTRY_EXAMPLES=200, docs/testing.md)
EXAMPLES = int(os.environ.get("SCREENER_REGISTRY_EXAMPLES", "20"))


def day(offset: int) -> str:
    return (AS_OF - timedelta(days=offset)).isoformat()


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


booleans = maybe(st.booleans())
recent = st.sampled_from([0, 5, 13, 14, 15, 29, 30, 31, 59, 60, 61, 89, 90, 91, 400])


@st.composite
def birth_dates(draw: st.DrawFn) -> str | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    years = draw(st.sampled_from([17, 18, 19, 40, 69, 70, 71]))
    shift = draw(st.integers(-2, 2))
    born = date(AS_OF.year - years, AS_OF.month, AS_OF.day) + timedelta(days=shift)
    return born.isoformat()


@st.composite
def observations(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, value: Any, unit: str | None = None, **extra: Any) -> None:
        item = {"name": name, "value": value, "date": day(draw(recent)), **extra}
        if unit:
            item["unit"] = unit
        out.append(item)

    if draw(st.booleans()):
        add("weight", draw(st.floats(38, 130).map(lambda x: round(x, 1))), "kg")
    if draw(st.booleans()):
        add("height", draw(st.integers(145, 195)), "cm")
    if draw(st.integers(0, 4)):
        if draw(st.booleans()):
            add("creatinine", draw(st.floats(0.4, 6.0).map(lambda x: round(x, 2))), "mg/dL")
        else:
            add("creatinine", draw(st.integers(40, 500)), "umol/L")
    if draw(st.integers(0, 3)) == 0:
        add("creatinine_clearance_measured", draw(st.sampled_from([25, 29.9, 30, 30.1, 45])), "mL/min")
    for name in ("ast", "alt"):
        if draw(st.booleans()):
            extra: dict[str, Any] = {}
            if draw(st.booleans()):
                extra["reference_range"] = {"high": draw(st.sampled_from([35, 40, 45]))}
            if (a := draw(booleans)) is not None:
                extra["attributed_to_sle"] = a
            add(name, draw(st.sampled_from([20, 70, 80, 81, 90, 95, 200])), "U/L", **extra)
    for name, values, unit in (
        ("neutrophils", [0.4, 0.5, 0.6, 3.0], "10*9/L"),
        ("platelets", [29, 30, 31, 200], "10*9/L"),
        ("hemoglobin", [7.9, 8.0, 8.1, 12.0], "g/dL"),
        ("cd4", [199, 200, 201, 600], "10*6/L"),
        ("lvef", [39, 40, 41, 60], "%"),
        ("pap_mean", [49, 50, 51, 20], "mm[Hg]"),
        ("pao2", [69, 70, 71, 95], "mm[Hg]"),
        ("paco2", [49, 50, 51, 40], "mm[Hg]"),
    ):
        if draw(st.integers(0, 4)):
            extra = {}
            flag = "on_oxygen" if name in ("pao2", "paco2") else "attributed_to_sle"
            if (a := draw(booleans)) is not None:
                extra[flag] = a
            add(name, draw(st.sampled_from(values)), unit, **extra)
    for name in ("ana", "hiv", "htlv", "hbsag", "hcv_rna", "hcv_antibody", "anti_hbc", "pregnancy_test"):
        if draw(st.integers(0, 5)):
            add(name, draw(st.sampled_from(["positive", "negative", "negative"])))
    if out and draw(st.integers(0, 2)) == 0:
        # a second value on the same day: agreeing, disagreeing, or another coded result
        item = dict(draw(st.sampled_from(out)))
        value = item["value"]
        if isinstance(value, str):
            item["value"] = draw(st.sampled_from(["positive", "negative"]))
        else:
            # (not 1.5 x a height: 195 cm x 1.5 is past the plausible 280 cm, a load error)
            factors = [1.0, 1.02, 1.03] if item["name"] == "height" else [1.0, 1.02, 1.03, 1.5]
            item["value"] = round(value * draw(st.sampled_from(factors)), 4)
        out.insert(draw(st.integers(0, len(out))), item)
    return out


# every yes/no status the rule set reads (person-only ones included)
STATUS_NAMES = [n for n, f in RULESET.facts.items() if f.kind == "status" and f.type == "boolean"]


@st.composite
def statuses(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for name in STATUS_NAMES:
        value = draw(booleans)
        if value is not None:
            item: dict[str, Any] = {"name": name, "value": value}
            if draw(st.booleans()):
                item["date"] = day(draw(recent))
            out.append(item)
    return out


@st.composite
def conditions(draw: st.DrawFn) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if draw(st.integers(0, 4)):
        sle: dict[str, Any] = {"name": "sle", "onset": day(3000)}
        if draw(st.integers(0, 3)):
            sle["classification"] = draw(st.sampled_from(["acr_1997", "acr_1982", "slicc_2012"]))
        if draw(st.integers(0, 3)):
            sle["criteria_met"] = draw(st.integers(3, 6))
        out.append(sle)
    names = [
        "heart_failure",
        "ventricular_arrhythmia",
        "psychotic_disorder",
        "neuropsychiatric_lupus",
        "neoplasia",
        "myelodysplasia",
        "hiv_infection",
        "chronic_hepatitis_b",
        "substance_abuse",
        "alcohol_abuse",
    ]
    for name in draw(st.lists(st.sampled_from(names), max_size=3)):
        item: dict[str, Any] = {"name": name, "status": draw(st.sampled_from(["active", "resolved"]))}
        if draw(st.booleans()):
            item["onset"] = day(draw(st.sampled_from([-5, 100, 2000])))
        if item["status"] == "resolved" and draw(st.booleans()):
            item["end"] = day(draw(st.sampled_from([-3, 0, 59, 60, 61, 200])))
        if name == "neoplasia" and draw(st.booleans()):
            item["type"] = draw(
                st.sampled_from(["basal_cell_carcinoma", "breast_cancer", "carcinoma_in_situ_cervix"])
            )
        if draw(st.booleans()):
            item["severity"] = draw(st.sampled_from(["mild", "severe"]))
        if (controlled := draw(booleans)) is not None:
            item["controlled"] = controlled
        out.append(item)
    return out


DRUGS = {
    "prednisone": ([5, 6, 7, 20], "daily", "oral"),
    "methylprednisolone": ([4, 5, 500], "daily", "iv"),
    "hydroxychloroquine": ([200], "bid", "oral"),
    "mycophenolate_mofetil": ([1000, 1001, 1500], "bid", "oral"),
    "mycophenolic_acid": ([720, 1441], "bid", "oral"),
    "azathioprine": ([100, 150, 200], "daily", "oral"),
    "methotrexate": ([20, 25], "weekly", "oral"),
    "cyclosporine": ([150, 300], "bid", "oral"),
    "cyclophosphamide": ([500, 1000], "monthly", "iv"),
    "rituximab": ([375, 700, 1000], "once", "iv"),
    "belimumab": ([600, 700], "every_4_weeks", "iv"),
    "hydrocortisone": ([10, 40], "daily", "topical"),
}


@st.composite
def medications(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for drug in draw(st.lists(st.sampled_from(sorted(DRUGS)), max_size=4)):
        doses, frequency, route = DRUGS[drug]
        started = draw(st.sampled_from([-10, 10, 27, 28, 29, 30, 31, 89, 90, 91, 200, 400, 1000]))
        item: dict[str, Any] = {
            "drug": drug,
            "start": day(started),
            "frequency": frequency,
        }
        if (way := draw(st.sampled_from([route, route, "sc", "topical", "inhaled", None]))) is not None:
            item["route"] = way
        if draw(st.integers(0, 5)):
            item["dose"], item["unit"] = draw(st.sampled_from(doses)), "mg"
        if started > 0 and draw(st.booleans()):
            item["end"] = day(draw(st.integers(max(started - 400, -30), started)))
        if drug in ("rituximab", "belimumab") and started > 0 and draw(st.booleans()):
            gaps = draw(
                st.lists(st.sampled_from([0, 14, 28, 59, 60, 61, 181, 182, 183]), min_size=1, max_size=4)
            )
            item["administrations"] = sorted({day(min(g, started)) for g in gaps})
        if (
            outcome := draw(maybe(st.sampled_from(["inefficacy", "adverse_effect", "response"])))
        ) is not None:
            item["outcome"] = outcome
        out.append(item)
    return out


@st.composite
def patients(draw: st.DrawFn) -> dict[str, Any]:
    demographics: dict[str, Any] = {}
    if (born := draw(birth_dates())) is not None:
        demographics["birth_date"] = born
    if (sex := draw(maybe(st.sampled_from(["female", "male"])))) is not None:
        demographics["sex"] = sex
    data: dict[str, Any] = {
        "schema_version": "1",
        "patient_id": "h",
        "demographics": demographics,
        "observations": draw(observations()),
        "statuses": draw(statuses()),
        "conditions": draw(conditions()),
        "medications": draw(medications()),
    }
    if draw(st.integers(0, 4)):
        data["assessments"] = [
            {
                "name": "selena_sledai",
                "score": draw(st.sampled_from([4, 5, 6, 7, 12])),
                "date": day(draw(recent)),
            }
        ]
    return data


def both(
    datas: list[dict[str, Any]], as_of: date = AS_OF
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    people = []
    for i, data in enumerate(datas):
        data = {**data, "patient_id": f"h{i}"}
        people.append(patient_from_data(data, LineMap(f"h{i}", {})))
    slow = [{c.id: c.outcome for c in ENGINE.screen(p, as_of).criteria} for p in people]
    fast = FAST.screen(people, as_of)
    return slow, fast


def test_fixture_patient_agrees() -> None:
    slow, fast = both([base_patient()])
    assert fast == slow and set(fast[0].values()) == {"pass"}


def test_outcomes_cover_fail_and_unknown() -> None:
    renal = base_patient()
    for o in renal["observations"]:
        if o["name"] == "creatinine":
            o["value"], o["unit"] = 3.5, "mg/dL"
    bare = {"schema_version": "1", "patient_id": "b", "demographics": {}}
    slow, fast = both([renal, bare])
    assert fast == slow
    assert fast[0]["E2"] == "fail" and fast[1]["E2"] == "unknown" and fast[1]["I2"] == "fail"


def test_ill_typed_value_is_refused_loudly() -> None:
    from screener.facts import PreparedFacts, context_fact
    from screener.vectorized.flatten import flatten

    odd = PreparedFacts((context_fact(AS_OF), {"kind": "fact", "id": "f:hiv", "name": "hiv", "value": 3}), {})
    with pytest.raises(FlattenError, match="hiv = 3 is not a string"):
        flatten(odd, FAST.layout, FAST.deriver, AS_OF, "odd.yaml")
    fine = PreparedFacts(
        (context_fact(AS_OF), {"kind": "fact", "id": "f:hiv", "name": "hiv", "value": "positive"}), {}
    )
    row, _, _ = flatten(fine, FAST.layout, FAST.deriver, AS_OF, "fine.yaml")
    assert "positive" in row


@settings(max_examples=4 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(patients(), min_size=1, max_size=4))
def test_vectorized_agrees_with_durable_rules_on_every_criterion(datas: list[dict[str, Any]]) -> None:
    slow, fast = both(datas)
    for s, f in zip(slow, fast, strict=True):
        assert f == s, {k: (s[k], f[k]) for k in s if s[k] != f[k]}


def test_chunked_codes_match_whole_evaluation() -> None:
    from .conftest import variant

    people = [patient_from_data(variant(i), LineMap(f"v{i}", {})) for i in range(7)]
    whole = FAST.screen(people, AS_OF)
    chunks = list(FAST.iter_codes(people, AS_OF, chunk_size=3))
    assert [len(ids) for ids, _ in chunks] == [3, 3, 1]
    codes = [row for _, rows in chunks for row in rows]
    names = ("pass", "fail", "unknown")
    assert [
        dict(zip(FAST.query.criteria, (names[c] for c in row[1:]), strict=True)) for row in codes
    ] == whole
    assert [i for ids, _ in chunks for i in ids] == [p.patient_id for p in people]
    slow = [{c.id: c.outcome for c in ENGINE.screen(p, AS_OF).criteria} for p in people]
    assert whole == slow
