"""Tests for screener.clinical.body (values checked by hand in the comments).

Where a comment quotes a MedCalc-Bench row, the expected value was also cross-checked against
that row's ground truth (MedCalc-Bench v1.0 test set, ncbi-nlp/MedCalc-Bench, CC-BY-SA 4.0;
/work/shared/data/medcalc-bench/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from screener.clinical.body import (
    adjusted_body_weight,
    bsa_dubois,
    bsa_mosteller,
    ideal_body_weight_devine,
)

# --- BSA ------------------------------------------------------------------------------------


def test_mosteller() -> None:
    # sqrt(170 x 70 / 3600) = sqrt(3.305556) = 1.818119 m2
    assert bsa_mosteller(170, 70) == pytest.approx(1.818119, rel=1e-6)
    # sqrt(160 x 60 / 3600) = sqrt(2.666667) = 1.632993 m2
    assert bsa_mosteller(160, 60) == pytest.approx(1.632993, rel=1e-6)
    # sqrt(180 x 80 / 3600) = sqrt(4) = 2 exactly
    assert bsa_mosteller(180, 80) == pytest.approx(2.0)
    # MedCalc-Bench row 683 (176.1 cm, 77.1 kg): sqrt(13577.31 / 3600) = 1.942 m2
    assert bsa_mosteller(176.1, 77.1) == pytest.approx(1.942, abs=5e-4)


def test_dubois() -> None:
    # 0.007184 x 70^0.425 x 170^0.725 = 0.007184 x 6.083684 x 41.407162 = 1.809708 m2
    assert bsa_dubois(170, 70) == pytest.approx(1.809708, rel=1e-6)
    # 0.007184 x 60^0.425 x 160^0.725 = 0.007184 x 5.697893 x 39.626616 = 1.622063 m2
    assert bsa_dubois(160, 60) == pytest.approx(1.622063, rel=1e-6)


def test_mosteller_and_dubois_agree_within_a_few_percent_for_adults() -> None:
    # terminology.yaml formulas[bsa_dubois].notes: "agree within a few % for adults"
    for height, weight in [(150, 45), (170, 70), (190, 100)]:
        assert bsa_dubois(height, weight) == pytest.approx(bsa_mosteller(height, weight), rel=0.03)


@pytest.mark.parametrize("fn", [bsa_mosteller, bsa_dubois])
@pytest.mark.parametrize(("height", "weight"), [(0, 70), (170, 0), (-170, 70), (170, -70), (math.nan, 70)])
def test_bsa_rejects_non_positive(fn: Callable[[float, float], float], height: float, weight: float) -> None:
    with pytest.raises(ValueError):
        fn(height, weight)


def test_bsa_rejects_non_numbers() -> None:
    with pytest.raises(TypeError):
        bsa_mosteller("170", 70)  # type: ignore[arg-type]


# --- ideal body weight ----------------------------------------------------------------------


def test_devine_male() -> None:
    # 177 cm / 2.54 = 69.685 in; 50 + 2.3 x 9.685 = 72.276 kg (MedCalc-Bench row 161: 72.276)
    assert ideal_body_weight_devine(177, "male") == pytest.approx(72.2756, rel=1e-5)


def test_devine_female() -> None:
    # 155 cm / 2.54 = 61.024 in; 45.5 + 2.3 x 1.024 = 47.854 kg (MedCalc-Bench row 166: 47.855)
    assert ideal_body_weight_devine(155, "female") == pytest.approx(47.8543, rel=1e-5)


def test_devine_at_60_inches() -> None:
    # 152.4 cm = 60 in exactly -> the base weights
    assert ideal_body_weight_devine(152.4, "male") == pytest.approx(50.0)
    assert ideal_body_weight_devine(152.4, "female") == pytest.approx(45.5)


def test_devine_below_60_inches_extrapolates() -> None:
    # 150 cm = 59.055 in; 45.5 + 2.3 x (-0.945) = 43.327 kg
    assert ideal_body_weight_devine(150, "female") == pytest.approx(43.3268, rel=1e-5)


def test_devine_non_positive_result_is_an_error() -> None:
    # 100 cm = 39.37 in; 45.5 + 2.3 x (-20.63) = -1.95 kg -> error
    with pytest.raises(ValueError):
        ideal_body_weight_devine(100, "female")


@pytest.mark.parametrize("sex", ["Male", "m", "other", ""])
def test_devine_sex_must_be_female_or_male(sex: str) -> None:
    with pytest.raises(ValueError, match="sex"):
        ideal_body_weight_devine(170, sex)


def test_devine_rejects_non_positive_height() -> None:
    with pytest.raises(ValueError):
        ideal_body_weight_devine(0, "male")


# --- adjusted body weight -------------------------------------------------------------------


def test_adjusted_body_weight() -> None:
    # 60 + 0.4 x (100 - 60) = 76 kg
    assert adjusted_body_weight(100, 60) == pytest.approx(76.0)
    # equal weights -> unchanged
    assert adjusted_body_weight(60, 60) == pytest.approx(60.0)


def test_adjusted_body_weight_below_ideal_applies_formula_as_written() -> None:
    # MedCalc-Bench row 713 (male, 70 kg, 182 cm): IBW = 50 + 2.3 x (71.654 - 60) = 76.803;
    # AdjBW = 76.803 + 0.4 x (70 - 76.803) = 74.082 kg (ground truth 74.082)
    ibw = ideal_body_weight_devine(182, "male")
    assert ibw == pytest.approx(76.8031, rel=1e-5)
    assert adjusted_body_weight(70, ibw) == pytest.approx(74.082, abs=5e-4)


@pytest.mark.parametrize(("weight", "ideal"), [(0, 60), (100, 0), (-1, 60), (math.inf, 60)])
def test_adjusted_body_weight_errors(weight: float, ideal: float) -> None:
    with pytest.raises(ValueError):
        adjusted_body_weight(weight, ideal)
