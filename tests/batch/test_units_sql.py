"""Units the loader does not convert, read in SQL as the engine reads them.

The loader converts a value to its canonical unit when the fact's *name* is a known quantity
(``units.CANONICAL``); every other numeric observation keeps the unit it was recorded in, and
the SQL preparation (``TablePreparation._converted``) converts it, or finds no conversion. No
shipped rule set has such a fact, so this synthetic one (the language suite's rule set plus two
facts) pins both ways on both fast routes: a fact of a known quantity under another name
(``body_mass``, kilograms: pounds and grams convert) and a fact of no known quantity
(``protein_24h``, g/d: only the same unit, or none, is read).
"""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.case_routes import route_outcomes
from screener.engine.evaluate import Engine
from screener.errors import PatientDataError
from screener.model.patient import patient_from_data
from screener.model.rules import parse_ruleset
from screener.vectorized import VectorizedScreener
from screener.yamlio import LineMap, load_file

SUITE = Path(__file__).resolve().parents[1] / "data" / "language"
AS_OF = date(2026, 11, 25)


def _ruleset() -> Any:
    data = copy.deepcopy(load_file(SUITE / "rules.yaml")[0])
    data["facts"]["body_mass"] = {
        "kind": "observation",
        "type": "number",
        "unit": "kg",
        "quantity": "weight",
        "max_age_days": 90,
        "label": "Body mass",
    }
    data["facts"]["protein_24h"] = {
        "kind": "observation",
        "type": "number",
        "unit": "g/d",
        "max_age_days": 90,
        "label": "Proteinuria",
    }
    common = {"protocol": {"section": "test", "quote": "test"}, "reading": "test"}
    tests = {
        "I1": {"fact": "body_mass", "gte": 40, "unit": "kg"},
        "E1": {"fact": "protein_24h", "gt": 0.5, "unit": "g/d"},
    }
    data["criteria"] = [
        {"id": cid, "type": "inclusion" if cid[0] == "I" else "exclusion", "title": cid, "test": test}
        | common
        for cid, test in tests.items()
    ]
    return parse_ruleset(yaml.safe_dump(data, sort_keys=False), "units.yaml")


# (body_mass value and unit, protein value and unit): both sides of each bound, each spelling
RECORDS: list[tuple[Any, Any]] = [
    ((40, "kg"), (0.5, "g/d")),  # the bounds themselves: I1 passes, E1 does not exclude
    ((39.99, "kg"), (0.51, "g/d")),  # just past both
    ((40, None), (0.6, None)),  # no unit: the rule set's
    ((88.2, "[lb_av]"), (0.4, "g/d")),  # 40.007 kg: passes
    ((88.1, "lb"), (0.4, "g/d")),  # 39.96 kg: fails
    ((40000, "g"), (600, "mg/d")),  # grams convert; mg/d is no unit protein_24h knows
    ((40, "mmol/L"), (0.6, "g/d")),  # no conversion known from mmol/L to kg
    ((40, "kg"), (0.6, "g/L")),  # nor from g/L to g/d
]


@pytest.mark.parametrize("route", ["python", "sql"])
def test_units_the_loader_keeps_are_converted_or_refused_as_the_engine_does(route: str) -> None:
    ruleset = _ruleset()
    patients = []
    for i, ((mass, mass_unit), (protein, protein_unit)) in enumerate(RECORDS):
        observations = [
            {"name": "body_mass", "value": mass, "date": "2026-11-01"}
            | ({"unit": mass_unit} if mass_unit else {}),
            {"name": "protein_24h", "value": protein, "date": "2026-11-01"}
            | ({"unit": protein_unit} if protein_unit else {}),
        ]
        data = {"schema_version": "1", "patient_id": f"u{i}", "demographics": {"sex": "female"}}
        data["observations"] = observations
        patients.append(patient_from_data(data, LineMap(f"u{i}.yaml", {})))
    want: list[Any] = []
    with Engine(ruleset) as engine:
        for patient in patients:
            try:
                outcomes = engine.outcomes(patient, AS_OF)
                want.append((outcomes["I1"], outcomes["E1"]))
            except PatientDataError as error:  # a unit with no conversion: the patient is an error
                want.append(str(error).split(": ", 1)[1])
    fast = VectorizedScreener(ruleset)
    try:
        got = route_outcomes(route, fast, [(p, AS_OF) for p in patients])
    finally:
        fast.close()
    # the engine's reading, pinned: what each record makes of the two criteria
    # (an exclusion "passes" when it does not apply: E1 fails on more than 0.5 g/d)
    assert want == [
        ("pass", "pass"),
        ("fail", "fail"),
        ("pass", "fail"),
        ("pass", "pass"),
        ("fail", "pass"),
        "observations[name=protein_24h, date=2026-11-01].unit: protein_24h is in mg/d; the rule set "
        "needs g/d and no conversion is known",
        "observations[name=body_mass, date=2026-11-01].unit: unit 'mmol/L' is not accepted for "
        "quantity 'weight'; accepted units: kg, g, [lb_av], lb, lbs",
        "observations[name=protein_24h, date=2026-11-01].unit: protein_24h is in g/L; the rule set "
        "needs g/d and no conversion is known",
    ]
    for record, engine_reading, route_reading in zip(RECORDS, want, got, strict=True):
        if isinstance(engine_reading, tuple):
            assert isinstance(route_reading, dict), (record, route_reading)
            assert (route_reading["I1"], route_reading["E1"]) == engine_reading, record
        else:
            # the same refusal of the patient, naming the fact and the unit (in its own words on the
            # SQL route: "body_mass is in mmol/L; the rule set needs kg and no conversion is known")
            assert isinstance(route_reading, str), (record, route_reading)
            fact, unit = ("body_mass", "mmol/L") if "body_mass" in engine_reading else ("protein_24h", None)
            unit = unit or engine_reading.split(" is in ", 1)[1].split(";")[0]
            assert f"{fact} is in {unit};" in route_reading or engine_reading in route_reading, route_reading
