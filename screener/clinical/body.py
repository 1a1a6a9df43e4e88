"""Body size: body surface area and reference body weights (criteria I4b, E2)."""

from __future__ import annotations

import math

from screener.clinical.checks import positive

__all__ = [
    "adjusted_body_weight",
    "bsa_dubois",
    "bsa_mosteller",
    "ideal_body_weight_devine",
]

# formulas[ideal_body_weight_devine]: height[in] = height[cm] / 2.54 (unit_conversions[in_cm],
# ucum-essence.xml: [in_i] = 2.54 cm)
CM_PER_INCH = 2.54
# The formulas' constants, each from the paper its function cites.
MOSTELLER_DIVISOR = 3600.0  # BSA = sqrt(height x weight / 3600)
DUBOIS_FACTOR, DUBOIS_WEIGHT_POWER, DUBOIS_HEIGHT_POWER = 0.007184, 0.425, 0.725
DEVINE_BASE_MALE, DEVINE_BASE_FEMALE = 50.0, 45.5  # kg at 60 inches
DEVINE_PER_INCH, DEVINE_FROM_INCHES = 2.3, 60.0
ADJBW_FACTOR = 0.4  # AdjBW = IBW + 0.4 x (actual - IBW)


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    """Body surface area by Mosteller. Unit: ``m2``.

    ``BSA = sqrt(height[cm] x weight[kg] / 3600)``. The default BSA formula for this screener
    (notes.md choice 9).

    Citation: Mosteller RD. Simplified calculation of body-surface area. N Engl J Med
    1987;317(17):1098 (terminology.yaml ``formulas[bsa_mosteller]``; formula checked on
    globalrph.com/bsa2.htm).

    Raises:
        ValueError: height or weight not finite and > 0.
    """
    height = positive("height_cm", height_cm)
    weight = positive("weight_kg", weight_kg)
    return math.sqrt(height * weight / MOSTELLER_DIVISOR)


def bsa_dubois(height_cm: float, weight_kg: float) -> float:
    """Body surface area by Du Bois. Unit: ``m2``.

    ``BSA = 0.007184 x weight[kg]^0.425 x height[cm]^0.725``. Alternative to Mosteller.

    Citation: Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if
    height and weight be known. Arch Intern Med 1916;17:863-871 (terminology.yaml
    ``formulas[bsa_dubois]``; formula checked on globalrph.com/bsa2.htm).

    Raises:
        ValueError: height or weight not finite and > 0.
    """
    height = positive("height_cm", height_cm)
    weight = positive("weight_kg", weight_kg)
    return DUBOIS_FACTOR * weight**DUBOIS_WEIGHT_POWER * height**DUBOIS_HEIGHT_POWER


def ideal_body_weight_devine(height_cm: float, sex: str) -> float:
    """Ideal body weight by Devine. Unit: ``kg``.

    ``IBW = 50 (male) or 45.5 (female) + 2.3 x (height[in] - 60)``, ``height[in] =
    height[cm] / 2.54``.

    Citation: Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655
    (terminology.yaml ``formulas[ideal_body_weight_devine]``: "citation as commonly given; not
    read"; formula checked on harderworld.com and superglobalcalculator.com).

    Below 60 in (152.4 cm) the formula is applied as written, i.e. it extrapolates linearly
    downwards; it was not designed for such heights and the caller should treat the result with
    caution.

    Raises:
        ValueError: sex not exactly ``"female"``/``"male"``; height not finite and > 0; the
            formula gives a weight <= 0 (very short stature).
    """
    if sex not in ("female", "male"):
        raise ValueError(f"sex must be 'female' or 'male', got {sex!r}")
    height = positive("height_cm", height_cm)
    base = DEVINE_BASE_MALE if sex == "male" else DEVINE_BASE_FEMALE
    ibw = base + DEVINE_PER_INCH * (height / CM_PER_INCH - DEVINE_FROM_INCHES)
    if ibw <= 0:
        raise ValueError(f"Devine ideal body weight is not defined for height {height_cm!r} cm")
    return ibw


def adjusted_body_weight(weight_kg: float, ideal_weight_kg: float) -> float:
    """Adjusted body weight. Unit: ``kg``.

    ``AdjBW = IBW + 0.4 x (actual weight - IBW)``. The formula is applied as written for any
    weights; choosing *when* to use it is the caller's job: terminology.yaml
    ``formulas[cockcroft_gault].weight`` uses it as a sensitivity variant when actual weight
    is above ~120-130 % of IBW or BMI >= 30, and says to use actual weight when actual < IBW.

    Citation: Winter MA et al. Impact of various body weights and serum creatinine
    concentrations on the bias and accuracy of the Cockcroft-Gault equation. Pharmacotherapy
    2012;32(7):604-612 (terminology.yaml ``formulas[adjusted_body_weight]``: journal as
    commonly cited, UNVERIFIED; formula checked on creatinineclearancecalculator.net and
    clincalc.com/Vancomycin).

    Raises:
        ValueError: a weight not finite and > 0.
    """
    weight = positive("weight_kg", weight_kg)
    ideal = positive("ideal_weight_kg", ideal_weight_kg)
    return ideal + ADJBW_FACTOR * (weight - ideal)
