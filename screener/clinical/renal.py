"""Renal function estimates (criterion E2: creatinine clearance)."""

from __future__ import annotations

from screener.clinical.checks import number

__all__ = ["cockcroft_gault"]


# Cockcroft & Gault 1976 (see cockcroft_gault): CrCl = (140 - age) x weight / (72 x SCr), x 0.85 female.
CG_AGE_FROM = 140.0
CG_DIVISOR = 72.0
CG_FEMALE = 0.85


def cockcroft_gault(age_years: float, weight_kg: float, creatinine_mg_dl: float, sex: str) -> float:
    """Creatinine clearance estimated by Cockcroft-Gault. Unit: ``mL/min`` (not per 1.73 m2).

    ``CrCl = (140 - age[years]) x weight[kg] / (72 x SCr[mg/dL])``, times 0.85 if female.

    Citation: Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum
    creatinine. Nephron 1976;16(1):31-41. doi:10.1159/000180580 (terminology.yaml
    ``formulas[cockcroft_gault]``; formula and x0.85 female from Taber's; derivation per
    Millar, NZMJ 2012).

    Weight: pass **actual (total) body weight** - the default recommended in terminology.yaml
    and notes.md choice 1 (the 1976 derivation used measured body weight). Ideal or adjusted
    body weight (:func:`screener.clinical.body.ideal_body_weight_devine`,
    :func:`screener.clinical.body.adjusted_body_weight`) are sensitivity variants the caller
    may pass instead and must then state.

    Creatinine must be in mg/dL; convert umol/L first with
    ``screener.units.normalize("creatinine", value, "umol/L")`` (/ 88.4).

    Args:
        age_years: age in years at the date of the creatinine (0 <= age < 140).
        weight_kg: body weight in kg (> 0).
        creatinine_mg_dl: serum creatinine in mg/dL (> 0).
        sex: exactly ``"female"`` or ``"male"`` (FHIR administrative gender codes).

    Raises:
        ValueError: sex not ``"female"``/``"male"``; creatinine or weight <= 0; age < 0 or
            >= 140 (the formula gives no positive clearance there); non-finite numbers.
        TypeError: a numeric argument is not a real number.
    """
    if sex not in ("female", "male"):
        raise ValueError(f"sex must be 'female' or 'male', got {sex!r}")
    age = number("age_years", age_years)
    weight = number("weight_kg", weight_kg)
    scr = number("creatinine_mg_dl", creatinine_mg_dl)
    if scr <= 0:
        raise ValueError(f"creatinine_mg_dl must be > 0, got {creatinine_mg_dl!r}")
    if weight <= 0:
        raise ValueError(f"weight_kg must be > 0, got {weight_kg!r}")
    if not 0 <= age < CG_AGE_FROM:
        raise ValueError(f"age_years must be in [0, 140), got {age_years!r}")
    clearance = (CG_AGE_FROM - age) * weight / (CG_DIVISOR * scr)
    if sex == "female":
        clearance *= CG_FEMALE
    return clearance
