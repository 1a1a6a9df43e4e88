"""Tests for screener.units. Expected values are hand calculations (shown in comments) from
the factors in /work/shared/reference/terminology.yaml (unit_conversions)."""

from __future__ import annotations

import math

import pytest

from screener.units import CANONICAL, UnitError, accepted_units, normalize, plausible_range

# --- canonical units ------------------------------------------------------------------------


def test_canonical_units_are_the_agreed_ones() -> None:
    assert CANONICAL == {
        "creatinine": "mg/dL",
        "hemoglobin": "g/dL",
        "neutrophils": "10*9/L",
        "platelets": "10*9/L",
        "leukocytes": "10*9/L",
        "lymphocytes": "10*9/L",
        "cd4": "10*6/L",
        "pao2": "mm[Hg]",
        "paco2": "mm[Hg]",
        "pap_mean": "mm[Hg]",
        "pap_systolic": "mm[Hg]",
        "weight": "kg",
        "height": "cm",
        "ast": "U/L",
        "alt": "U/L",
        "lvef": "%",
        "creatinine_clearance": "mL/min",
        "egfr": "mL/min/{1.73_m2}",
        "ana_titer": "1",
        "sledai": "{score}",
        "dose": "mg",
        "hcg": "[IU]/L",
        "age": "a",
        "upcr": "mg/mg",
        "urine_rbc": "/[HPF]",
        "urine_wbc": "/[HPF]",
    }


@pytest.mark.parametrize("quantity", sorted(CANONICAL))
def test_canonical_unit_is_identity(quantity: str) -> None:
    assert normalize(quantity, 12.5, CANONICAL[quantity]) == 12.5
    assert accepted_units(quantity)[0] == CANONICAL[quantity]


# --- creatinine -----------------------------------------------------------------------------


@pytest.mark.parametrize("unit", ["umol/L", "µmol/L", "μmol/L", "umol/l", " µmol / L "])
def test_creatinine_umol_per_l(unit: str) -> None:
    # 88.4 umol/L / 88.4 = 1.0 mg/dL; 183 / 88.4 = 2.0701 mg/dL
    assert normalize("creatinine", 88.4, unit) == pytest.approx(1.0)
    assert normalize("creatinine", 183, unit) == pytest.approx(2.070136, rel=1e-6)


@pytest.mark.parametrize("unit", ["mg/dL", "mg/dl", "MG/DL"])
def test_creatinine_mg_per_dl(unit: str) -> None:
    assert normalize("creatinine", 1.4, unit) == pytest.approx(1.4)


def test_creatinine_unknown_unit() -> None:
    with pytest.raises(UnitError) as info:
        normalize("creatinine", 1.0, "mg/L")
    assert info.value.quantity == "creatinine"
    assert info.value.unit == "mg/L"
    assert "umol/L" in str(info.value) and "mg/dL" in str(info.value)


# --- hemoglobin -----------------------------------------------------------------------------


def test_hemoglobin_g_per_l() -> None:
    # notes.md: 8 g/dL = 80 g/L
    assert normalize("hemoglobin", 80, "g/L") == pytest.approx(8.0)
    assert normalize("hemoglobin", 80, "g/l") == pytest.approx(8.0)
    assert normalize("hemoglobin", 9.6, "g/dL") == pytest.approx(9.6)


def test_hemoglobin_mmol_per_l_is_rejected() -> None:
    with pytest.raises(UnitError) as info:
        normalize("hemoglobin", 5.0, "mmol/L")
    assert info.value.quantity == "hemoglobin"
    assert info.value.unit == "mmol/L"
    assert "unverified" in str(info.value)
    assert isinstance(info.value, ValueError)


# --- cell counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["neutrophils", "platelets", "leukocytes", "lymphocytes"])
@pytest.mark.parametrize(
    "unit", ["10*9/L", "10^9/L", "G/L", "10*3/uL", "10^3/uL", "/nL", "10*3/µL", "10^3/μL"]
)
def test_counts_factor_one(quantity: str, unit: str) -> None:
    assert normalize(quantity, 1.5, unit) == pytest.approx(1.5)


@pytest.mark.parametrize("unit", ["/uL", "{cells}/uL", "cells/uL", "/mm3", "10*6/L"])
def test_counts_per_microlitre(unit: str) -> None:
    # 1500 /uL = 1500 x 10^6/L = 1.5 x 10^9/L
    assert normalize("neutrophils", 1500, unit) == pytest.approx(1.5)


@pytest.mark.parametrize("unit", ["10*6/L", "/uL", "{cells}/uL", "cells/uL", "/mm3", "/µL"])
def test_cd4_factor_one(unit: str) -> None:
    assert normalize("cd4", 200, unit) == pytest.approx(200.0)


@pytest.mark.parametrize("unit", ["10*9/L", "10^9/L", "G/L", "10*3/uL"])
def test_cd4_from_10e9_per_l(unit: str) -> None:
    # unit_conversions[count_per_uL_10e6L]: 0.2 x 10^9/L = 200 x 10^6/L
    assert normalize("cd4", 0.2, unit) == pytest.approx(200.0)


def test_cd4_percent_is_rejected() -> None:
    # notes.md choice 5: CD4 % cannot be compared with the absolute threshold
    with pytest.raises(UnitError):
        normalize("cd4", 20, "%")


# --- pressures ------------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["pao2", "paco2", "pap_mean", "pap_systolic"])
def test_pressures(quantity: str) -> None:
    assert normalize(quantity, 60, "mm[Hg]") == pytest.approx(60.0)
    assert normalize(quantity, 60, "mmHg") == pytest.approx(60.0)
    assert normalize(quantity, 60, "mm Hg") == pytest.approx(60.0)
    # 8 kPa x 7.50062 = 60.00496 mmHg
    assert normalize(quantity, 8, "kPa") == pytest.approx(60.00496)
    assert normalize(quantity, 8, "kpa") == pytest.approx(60.00496)


# --- weight, height -------------------------------------------------------------------------


def test_weight() -> None:
    assert normalize("weight", 70, "kg") == pytest.approx(70.0)
    assert normalize("weight", 70500, "g") == pytest.approx(70.5)
    # 150 lb x 0.45359237 = 68.0388555 kg
    assert normalize("weight", 150, "[lb_av]") == pytest.approx(68.0388555)
    assert normalize("weight", 150, "lb") == pytest.approx(68.0388555)
    assert normalize("weight", 150, "lbs") == pytest.approx(68.0388555)


def test_height() -> None:
    assert normalize("height", 163, "cm") == pytest.approx(163.0)
    assert normalize("height", 1.63, "m") == pytest.approx(163.0)
    # 65 in x 2.54 = 165.1 cm
    assert normalize("height", 65, "[in_i]") == pytest.approx(165.1)
    assert normalize("height", 65, "in") == pytest.approx(165.1)


def test_weight_and_height_units_not_swapped() -> None:
    with pytest.raises(UnitError):
        normalize("weight", 170, "cm")
    with pytest.raises(UnitError):
        normalize("height", 70, "kg")


# --- enzymes, others ------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", ["ast", "alt"])
@pytest.mark.parametrize("unit", ["U/L", "[IU]/L", "IU/L", "u/l"])
def test_transaminases_convention(quantity: str, unit: str) -> None:
    assert normalize(quantity, 40, unit) == pytest.approx(40.0)


@pytest.mark.parametrize("quantity", ["ast", "alt"])
@pytest.mark.parametrize("unit", ["ukat/L", "µkat/L"])
def test_transaminases_ukat_rejected(quantity: str, unit: str) -> None:
    # no ukat/L factor in terminology.yaml -> rejected, not guessed
    with pytest.raises(UnitError) as info:
        normalize(quantity, 0.5, unit)
    assert "ukat/L" in str(info.value)


def test_lvef_clearance_egfr() -> None:
    assert normalize("lvef", 35, "%") == pytest.approx(35.0)
    assert normalize("creatinine_clearance", 29, "ml/min") == pytest.approx(29.0)
    assert normalize("egfr", 29, "mL/min/1.73m2") == pytest.approx(29.0)
    with pytest.raises(UnitError):
        normalize("creatinine_clearance", 29, "mL/min/{1.73_m2}")  # eGFR is not a CrCl
    with pytest.raises(UnitError):
        normalize("lvef", 0.35, "1")


def test_dose() -> None:
    assert normalize("dose", 1, "g") == pytest.approx(1000.0)
    assert normalize("dose", 750, "ug") == pytest.approx(0.75)
    assert normalize("dose", 750, "mcg") == pytest.approx(0.75)
    assert normalize("dose", 750, "µg") == pytest.approx(0.75)
    assert normalize("dose", 5, "mg") == pytest.approx(5.0)


def test_scores_titres_hcg_age() -> None:
    assert normalize("ana_titer", 160, "{titer}") == 160.0
    assert normalize("sledai", 6, "{score}") == 6.0
    # m[IU]/mL = [IU]/L (milli in numerator and denominator cancel)
    assert normalize("hcg", 25, "m[IU]/mL") == pytest.approx(25.0)
    assert normalize("hcg", 25, "mIU/mL") == pytest.approx(25.0)
    assert normalize("age", 45, "a") == 45.0


# --- errors ---------------------------------------------------------------------------------


def test_unknown_quantity() -> None:
    with pytest.raises(UnitError) as info:
        normalize("creatinin", 1.0, "mg/dL")
    assert info.value.quantity == "creatinin"
    assert info.value.unit == "mg/dL"
    assert "creatinine" in str(info.value)


def test_unit_error_names_quantity_unit_and_accepted_units() -> None:
    with pytest.raises(UnitError) as info:
        normalize("weight", 70, "stone")
    message = str(info.value)
    assert "'weight'" in message and "'stone'" in message
    assert "kg" in message and "[lb_av]" in message
    assert info.value.accepted == accepted_units("weight")


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_values(value: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        normalize("creatinine", value, "mg/dL")


@pytest.mark.parametrize("value", ["1.0", None, True])
def test_non_numeric_values(value: object) -> None:
    with pytest.raises(TypeError):
        normalize("creatinine", value, "mg/dL")  # type: ignore[arg-type]


# --- plausibility ---------------------------------------------------------------------------


@pytest.mark.parametrize("quantity", sorted(CANONICAL))
def test_every_quantity_has_a_range(quantity: str) -> None:
    bounds = plausible_range(quantity)
    assert bounds is not None
    low, high = bounds
    assert low < high


def _inside(quantity: str, value: float) -> bool:
    bounds = plausible_range(quantity)
    assert bounds is not None
    return bounds[0] <= value <= bounds[1]


@pytest.mark.parametrize(
    ("quantity", "impossible"),
    [
        ("creatinine", -1.0),
        ("creatinine", 0.0),
        ("creatinine", 500.0),
        ("weight", 0.0),
        ("weight", 700.0),
        ("hemoglobin", 40.0),
        ("lvef", 120.0),
        ("sledai", 106.0),
        ("sledai", -1.0),
        ("age", 131.0),
        ("age", -1.0),
        ("height", 0.0),
    ],
)
def test_impossible_values_outside(quantity: str, impossible: float) -> None:
    assert not _inside(quantity, impossible)


@pytest.mark.parametrize(
    ("quantity", "typical"),
    [
        ("creatinine", 1.0),
        ("creatinine", 10.7),  # dialysis-range value
        ("weight", 60.0),
        ("hemoglobin", 8.0),
        ("lvef", 35.0),
        ("sledai", 105.0),
        ("sledai", 0.0),
        ("age", 18.0),
        ("age", 130.0),
        ("cd4", 200.0),
        ("neutrophils", 1.5),
        ("pao2", 60.0),
        ("ast", 6562.0),
    ],
)
def test_typical_values_inside(quantity: str, typical: float) -> None:
    assert _inside(quantity, typical)


def test_plausible_range_unknown_quantity() -> None:
    with pytest.raises(UnitError):
        plausible_range("weigth")


# --- urine: protein/creatinine ratio and sediment counts --------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"), [(1.0, "g/g", 1.0), (1000, "mg/g", 1.0), (999, "mg/g", 0.999)]
)
def test_upcr_mass_ratios(value: float, unit: str, expected: float) -> None:
    assert normalize("upcr", value, unit) == pytest.approx(expected)


def test_upcr_mg_per_mmol() -> None:
    # 113.12 mg/mmol = 1 mg/mg (1 mmol creatinine = 113.12 mg); 100 mg/mmol = 0.884 mg/mg
    assert normalize("upcr", 113.12, "mg/mmol") == pytest.approx(1.0)
    assert normalize("upcr", 100, "mg/mmol") == pytest.approx(0.88402, rel=1e-4)
    assert normalize("upcr", 0.11312, "g/mmol") == pytest.approx(1.0)


def test_upcr_refuses_a_24_hour_excretion() -> None:
    with pytest.raises(UnitError, match="24-hour"):
        normalize("upcr", 1.2, "g/(24.h)")


@pytest.mark.parametrize("quantity", ["urine_rbc", "urine_wbc"])
@pytest.mark.parametrize("unit", ["/[HPF]", "/hpf", "cells/HPF", "{cells}/[HPF]"])
def test_sediment_counts_per_hpf(quantity: str, unit: str) -> None:
    assert normalize(quantity, 6, unit) == 6.0


@pytest.mark.parametrize("quantity", ["urine_rbc", "urine_wbc"])
def test_sediment_count_per_volume_is_refused(quantity: str) -> None:
    with pytest.raises(UnitError, match="per high-power field"):
        normalize(quantity, 25, "/uL")


def test_urine_plausibility() -> None:
    assert plausible_range("upcr") == (0.0, 50.0)
    assert plausible_range("urine_rbc") == (0.0, 1000.0)
