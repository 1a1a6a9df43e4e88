"""Tests for screener.clinical.dosing (values checked by hand in the comments).

Factors: terminology.yaml formulas[glucocorticoid_prednisone_equivalent] (BNF 6.3) and
formulas[mycophenolate_equivalence] (MMF 1000 mg = mycophenolic acid 720 mg).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from screener.clinical.dosing import (
    FREQUENCIES,
    PREDNISONE_FACTORS,
    daily_dose_mg,
    dose_per_kg,
    dose_per_m2,
    mmf_equivalent_mg,
    monthly_dose_mg,
    prednisone_equivalent_mg,
    weekly_dose_mg,
)

# --- glucocorticoids ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("drug", "mg_equivalent_to_prednisone_5mg"),
    [
        ("prednisone", 5),
        ("prednisolone", 5),
        ("methylprednisolone", 4),
        ("dexamethasone", 0.75),
        ("hydrocortisone", 20),
        ("deflazacort", 6),
        ("betamethasone", 0.75),
        ("triamcinolone", 4),
        ("cortisone acetate", 25),
    ],
)
def test_bnf_table_each_drug_equals_prednisone_5mg(drug: str, mg_equivalent_to_prednisone_5mg: float) -> None:
    assert prednisone_equivalent_mg(drug, mg_equivalent_to_prednisone_5mg) == pytest.approx(5.0)


def test_factors_match_terminology_yaml_rounded_factors() -> None:
    # terminology.yaml factor_to_prednisone_mg (rounded to 4 significant figures)
    yaml_factors = {
        "prednisone": 1.0,
        "prednisolone": 1.0,
        "methylprednisolone": 1.25,
        "dexamethasone": 6.667,
        "hydrocortisone": 0.25,
        "deflazacort": 0.8333,
        "betamethasone": 6.667,
        "triamcinolone": 1.25,
        "cortisone acetate": 0.2,
    }
    assert set(PREDNISONE_FACTORS) == set(yaml_factors)
    for drug, factor in yaml_factors.items():
        assert PREDNISONE_FACTORS[drug] == pytest.approx(factor, rel=1e-4)


def test_prednisone_equivalent_examples() -> None:
    # methylprednisolone 16 mg x 1.25 = 20 mg; dexamethasone 1.5 mg x 5/0.75 = 10 mg
    assert prednisone_equivalent_mg("methylprednisolone", 16) == pytest.approx(20.0)
    assert prednisone_equivalent_mg("dexamethasone", 1.5) == pytest.approx(10.0)
    # MedCalc-Bench rows 964 and 966 (hydrocortisone -> prednisone, CC-BY-SA 4.0):
    # 186.669 / 4 = 46.667; 152.535 / 4 = 38.134
    assert prednisone_equivalent_mg("hydrocortisone", 186.669) == pytest.approx(46.667, abs=5e-4)
    assert prednisone_equivalent_mg("hydrocortisone", 152.535) == pytest.approx(38.134, abs=5e-4)
    assert prednisone_equivalent_mg("prednisone", 0) == 0.0


@pytest.mark.parametrize("spelling", ["Dexamethasone", " DEXAMETHASONE ", "dexamethasone"])
def test_prednisone_equivalent_spelling(spelling: str) -> None:
    assert prednisone_equivalent_mg(spelling, 0.75) == pytest.approx(5.0)


def test_cortisone_acetate_spellings() -> None:
    assert prednisone_equivalent_mg("cortisone_acetate", 25) == pytest.approx(5.0)
    assert prednisone_equivalent_mg("cortisone-acetate", 50) == pytest.approx(10.0)


def test_unknown_glucocorticoid_names_known_drugs() -> None:
    with pytest.raises(ValueError) as info:
        prednisone_equivalent_mg("fludrocortisone", 0.1)
    message = str(info.value)
    assert "fludrocortisone" in message
    for drug in ("prednisone", "methylprednisolone", "dexamethasone", "hydrocortisone"):
        assert drug in message


@pytest.mark.parametrize("dose", [-1.0, math.nan, math.inf])
def test_prednisone_equivalent_bad_dose(dose: float) -> None:
    with pytest.raises(ValueError):
        prednisone_equivalent_mg("prednisone", dose)


# --- mycophenolate --------------------------------------------------------------------------


def test_mmf_equivalent() -> None:
    assert mmf_equivalent_mg("mycophenolate_mofetil", 1000) == pytest.approx(1000.0)
    # 720 x 1000/720 = 1000 mg MMF
    assert mmf_equivalent_mg("mycophenolic_acid", 720) == pytest.approx(1000.0)


def test_mmf_threshold_2000_both_sides() -> None:
    # "MMF > 2000 mg/day" <=> MPA > 1440 mg/day: 1440 -> 2000; 1441 -> 2001.39; 1439 -> 1998.61
    assert mmf_equivalent_mg("mycophenolic_acid", 1440) == pytest.approx(2000.0)
    assert mmf_equivalent_mg("mycophenolic_acid", 1441) == pytest.approx(2001.3889, rel=1e-6)
    assert mmf_equivalent_mg("mycophenolic_acid", 1439) == pytest.approx(1998.6111, rel=1e-6)
    assert mmf_equivalent_mg("mycophenolic_acid", 1441) > 2000
    assert mmf_equivalent_mg("mycophenolic_acid", 1439) < 2000


def test_mmf_spelling() -> None:
    assert mmf_equivalent_mg("Mycophenolic acid", 720) == pytest.approx(1000.0)


@pytest.mark.parametrize("drug", ["azathioprine", "mycophenolate", "prednisone"])
def test_mmf_other_drug(drug: str) -> None:
    with pytest.raises(ValueError) as info:
        mmf_equivalent_mg(drug, 500)
    assert "mycophenolate_mofetil" in str(info.value)
    assert "mycophenolic_acid" in str(info.value)


def test_mmf_negative_dose() -> None:
    with pytest.raises(ValueError):
        mmf_equivalent_mg("mycophenolate_mofetil", -500)


# --- dose per size --------------------------------------------------------------------------


def test_dose_per_kg() -> None:
    # 150 mg / 60 kg = 2.5 mg/kg
    assert dose_per_kg(150, 60) == pytest.approx(2.5)
    assert dose_per_kg(0, 60) == 0.0


def test_dose_per_m2() -> None:
    # 675 mg / 1.8 m2 = 375 mg/m2
    assert dose_per_m2(675, 1.8) == pytest.approx(375.0)


@pytest.mark.parametrize("size", [0.0, -1.0, math.nan])
def test_dose_per_size_errors(size: float) -> None:
    with pytest.raises(ValueError):
        dose_per_kg(100, size)
    with pytest.raises(ValueError):
        dose_per_m2(100, size)


def test_dose_per_size_negative_dose() -> None:
    with pytest.raises(ValueError):
        dose_per_kg(-1, 60)


# --- dose per period ------------------------------------------------------------------------


def test_frequencies() -> None:
    assert set(FREQUENCIES) == {
        "once",
        "daily",
        "bid",
        "tid",
        "qid",
        "weekly",
        "every_2_weeks",
        "every_4_weeks",
        "monthly",
    }
    assert FREQUENCIES["bid"] == 2.0
    assert FREQUENCIES["weekly"] == pytest.approx(1 / 7)
    assert FREQUENCIES["every_4_weeks"] == pytest.approx(1 / 28)
    # 365.25 / 12 = 30.4375 days per month
    assert FREQUENCIES["monthly"] == pytest.approx(1 / 30.4375)


def test_daily_dose() -> None:
    assert daily_dose_mg(10, "daily") == pytest.approx(10.0)
    assert daily_dose_mg(500, "bid") == pytest.approx(1000.0)
    assert daily_dose_mg(500, "tid") == pytest.approx(1500.0)
    assert daily_dose_mg(250, "qid") == pytest.approx(1000.0)
    # 15 mg weekly / 7 = 2.142857 mg/d (average)
    assert daily_dose_mg(15, "weekly") == pytest.approx(2.142857, rel=1e-6)
    assert daily_dose_mg(1000, "once") == pytest.approx(1000.0)


def test_daily_dose_mmf_threshold_both_sides() -> None:
    # MMF 1000 mg bid = 2000 mg/d (not > 2000); 1000 mg tid = 3000 mg/d (> 2000)
    assert daily_dose_mg(1000, "bid") == pytest.approx(2000.0)
    assert daily_dose_mg(1000, "tid") > 2000


def test_weekly_dose() -> None:
    # 2.5 mg x 7 = 17.5 mg/wk
    assert weekly_dose_mg(2.5, "daily") == pytest.approx(17.5)
    assert weekly_dose_mg(20, "weekly") == pytest.approx(20.0)
    assert weekly_dose_mg(40, "every_2_weeks") == pytest.approx(20.0)
    assert weekly_dose_mg(40, "every_4_weeks") == pytest.approx(10.0)
    # 30.4375 mg monthly x 7 / 30.4375 = 7 mg/wk
    assert weekly_dose_mg(30.4375, "monthly") == pytest.approx(7.0)
    assert weekly_dose_mg(1000, "once") == pytest.approx(1000.0)


def test_methotrexate_weekly_threshold_both_sides() -> None:
    # methotrexate > 20 mg/week (terminology.yaml units[mg/wk]): 20 weekly is not above, 22.5 is
    assert weekly_dose_mg(20, "weekly") == pytest.approx(20.0)
    assert weekly_dose_mg(22.5, "weekly") > 20


def test_monthly_dose() -> None:
    # 30.4375-day month: 10 mg daily -> 304.375 mg/month
    assert monthly_dose_mg(10, "daily") == pytest.approx(304.375)
    assert monthly_dose_mg(1000, "monthly") == pytest.approx(1000.0)
    # 28 mg every 4 weeks -> 28 / 28 x 30.4375 = 30.4375 mg/month
    assert monthly_dose_mg(28, "every_4_weeks") == pytest.approx(30.4375)
    # 7 mg weekly -> 30.4375 mg/month
    assert monthly_dose_mg(7, "weekly") == pytest.approx(30.4375)
    assert monthly_dose_mg(1000, "once") == pytest.approx(1000.0)


@pytest.mark.parametrize("fn", [daily_dose_mg, weekly_dose_mg, monthly_dose_mg])
def test_period_errors(fn: Callable[[float, str], float]) -> None:
    with pytest.raises(ValueError) as info:
        fn(10, "q2w")
    assert "every_2_weeks" in str(info.value)
    with pytest.raises(ValueError):
        fn(-10, "daily")
    with pytest.raises(ValueError):
        fn(math.nan, "daily")
