"""Every plausibility bound of screener.units, pinned on both sides, in every accepted unit.

A drifted bound rejects a real value (a platelet count of 0 in aplasia) or lets a unit slip
through (a creatinine in umol/L read as mg/dL). The expected bounds are written out here on
purpose, apart from the code (issue 16 section 7: mutation testing found 41 of the 46 bounds
could move unnoticed). Each bound is checked through a patient file, the way a value reaches
the screener: the value at the bound loads, the value just past it is refused with a message
naming the quantity and the line of the record. The inclusive ``<=`` is pinned by the value at
the bound itself, in the canonical unit.
"""

from __future__ import annotations

import pytest

from screener.errors import PatientDataError
from screener.importers.core import ImportIssue, NativeBuilder, Origin
from screener.model.patient import parse_patient
from screener.model.vocabulary import known_vocabulary
from screener.units import CANONICAL, accepted_units, normalize, plausibility_problem, plausible_range

# quantity -> (low, high), canonical unit, inclusive. Engineering guards, not reference ranges:
# see the comment above _PLAUSIBLE in screener/units.py.
BOUNDS: dict[str, tuple[float, float]] = {
    "creatinine": (0.05, 40.0),  # mg/dL
    "hemoglobin": (1.0, 25.0),  # g/dL
    "neutrophils": (0.0, 200.0),  # 10*9/L
    "platelets": (0.0, 5000.0),  # 10*9/L
    "leukocytes": (0.0, 1000.0),  # 10*9/L
    "lymphocytes": (0.0, 1000.0),  # 10*9/L
    "cd4": (0.0, 10000.0),  # 10*6/L
    "pao2": (5.0, 800.0),  # mm[Hg]
    "paco2": (5.0, 250.0),  # mm[Hg]
    "pap_mean": (1.0, 150.0),  # mm[Hg]
    "pap_systolic": (1.0, 250.0),  # mm[Hg]
    "weight": (0.3, 650.0),  # kg
    "height": (20.0, 280.0),  # cm
    "ast": (0.0, 100000.0),  # U/L
    "alt": (0.0, 100000.0),  # U/L
    "lvef": (0.0, 100.0),  # %
    "creatinine_clearance": (0.0, 500.0),  # mL/min
    "egfr": (0.0, 300.0),  # mL/min/{1.73_m2}
    "ana_titer": (1.0, 10_000_000.0),  # 1:n
    "sledai": (0.0, 105.0),  # {score}
    "dose": (0.0, 1_000_000.0),  # mg
    "hcg": (0.0, 10_000_000.0),  # [IU]/L
    "age": (0.0, 130.0),  # a
    "upcr": (0.0, 50.0),  # mg/mg
    "urine_rbc": (0.0, 1000.0),  # /[HPF]
    "urine_wbc": (0.0, 1000.0),  # /[HPF]
}

# How far past a bound the refused value lies, relative to the bound (absolute at 0): the bound
# is pinned to one part in a million in every unit (a conversion's rounding is ~1e-16).
STEP = 1e-6
SLACK = 1e-9  # the accepted value in another unit is nudged inside by this much (rounding)

HEAD = 'schema_version: "1"\npatient_id: p1\ndemographics: {birth_date: 1960-01-01, sex: female}\n'


def _yaml_number(value: float) -> str:
    return f"{value:.17e}"  # always a dot and a signed exponent: a YAML float, never a string


def _patient(quantity: str, value: float, unit: str) -> str:
    number = _yaml_number(value)
    if quantity == "dose":  # a dose is read from a medication record, not an observation
        row = f"{{drug: prednisone, start: 2026-01-01, dose: {number}, unit: '{unit}'}}"
        return HEAD + f"medications:\n  - {row}\n"
    row = f"{{name: {quantity}, value: {number}, unit: '{unit}', date: 2026-01-01}}"
    return HEAD + f"observations:\n  - {row}\n"


def _loaded(quantity: str, value: float, unit: str) -> float:
    patient = parse_patient(_patient(quantity, value, unit), "p.yaml")
    if quantity == "dose":
        dose = patient.medications[0].dose_mg
        assert dose is not None
        return dose
    return float(patient.observations[0].value)


def _refused(quantity: str, value: float, unit: str) -> PatientDataError:
    with pytest.raises(PatientDataError) as info:
        parse_patient(_patient(quantity, value, unit), "p.yaml")
    return info.value


def _cases() -> list[tuple[str, str]]:
    return [(q, u) for q in sorted(CANONICAL) for u in accepted_units(q)]


# Names a native patient file accepts as observations (the others reach the screener through
# the importers, a rule set's declared quantity, assessments or the TUI).
FILE_NAMES = known_vocabulary().get("observation")


def _imported(quantity: str, value: float, unit: str) -> list[ImportIssue]:
    """What the importers' builder (CSV, FHIR, OMOP) reports for this observation."""
    builder = NativeBuilder("p1", "in.csv")
    item = {"name": quantity, "value": value, "unit": unit, "date": "2026-01-01"}
    kept = builder.add_observation(item, Origin("in.csv", 7, "value"))
    assert kept == (not builder.issues)
    return builder.issues


def test_the_table_covers_every_quantity() -> None:
    assert set(BOUNDS) == set(CANONICAL)
    for quantity, bounds in BOUNDS.items():
        assert plausible_range(quantity) == bounds, quantity


@pytest.mark.parametrize("quantity", sorted(BOUNDS))
def test_each_bound_is_inclusive_in_the_canonical_unit(quantity: str) -> None:
    low, high = BOUNDS[quantity]
    unit = CANONICAL[quantity]
    assert plausibility_problem(quantity, low) is None
    assert plausibility_problem(quantity, high) is None
    below, above = low - max(abs(low), 1.0) * STEP, high + high * STEP
    expected = f"expected {low:g}..{high:g} {unit}"
    assert plausibility_problem(quantity, below) == expected
    assert plausibility_problem(quantity, above) == expected
    if quantity != "dose":
        assert _imported(quantity, low, unit) == [] and _imported(quantity, high, unit) == []
        assert _imported(quantity, below, unit) and _imported(quantity, above, unit)
    if quantity in FILE_NAMES or quantity == "dose":
        if quantity != "dose":  # the schema refuses a dose of 0 before any plausibility guard
            assert _loaded(quantity, low, unit) == low
        assert _loaded(quantity, high, unit) == high


@pytest.mark.parametrize(("quantity", "unit"), _cases(), ids=[f"{q}[{u}]" for q, u in _cases()])
def test_each_bound_holds_in_each_accepted_unit(quantity: str, unit: str) -> None:
    low, high = BOUNDS[quantity]
    factor = normalize(quantity, 1.0, unit)  # canonical value of 1 <unit>
    expected = f"expected {low:g}..{high:g} {CANONICAL[quantity]}"
    # just inside: the canonical value is the bound (to the rounding of the factor), accepted
    inside = ((low + abs(low) * SLACK) / factor, (high - high * SLACK) / factor)
    outside = ((low - max(abs(low), 1.0) * STEP) / factor, (high + high * STEP) / factor)
    for value, bound in zip(inside, (low, high), strict=True):
        canonical = normalize(quantity, value, unit)
        assert canonical == pytest.approx(bound, rel=1e-8, abs=1e-12)
        assert plausibility_problem(quantity, canonical) is None
    for value in outside:
        assert plausibility_problem(quantity, normalize(quantity, value, unit)) == expected
    if quantity != "dose":  # the importers' route: refused with file, line and field
        assert [_imported(quantity, v, unit) for v in inside] == [[], []]
        for value in outside:
            (issue,) = _imported(quantity, value, unit)
            assert issue.message.startswith(f"impossible {quantity} value {value} {unit}: expected ")
            assert (issue.file, issue.line, issue.field, issue.patient_id) == ("in.csv", 7, "value", "p1")
    if quantity not in FILE_NAMES and quantity != "dose":
        return
    # a native patient file: loads inside; refused outside naming the quantity and the line
    label = quantity
    checked = list(zip(inside, outside, strict=True))
    if quantity == "dose":
        checked = checked[1:]  # the schema refuses a dose of 0 or below first (exclusiveMinimum)
    for value_in, value_out in checked:
        assert _loaded(quantity, value_in, unit) == pytest.approx(normalize(quantity, value_in, unit))
        error = _refused(quantity, value_out, unit)
        assert f"impossible {label} value" in error.message, error.message
        assert expected in error.message
        assert error.location is not None and error.location.line == 5
