"""Renal function estimates: creatinine clearance (Cockcroft-Gault) and eGFR (CKD-EPI 2021)."""

from __future__ import annotations

from screener.clinical.checks import number

__all__ = ["cockcroft_gault", "egfr_ckd_epi_2021"]


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


# CKD-EPI 2021 creatinine equation, race-free (Inker et al., N Engl J Med 2021;385:1737-49):
# eGFR = 142 x min(SCr/k, 1)^a x max(SCr/k, 1)^-1.200 x 0.9938^age x 1.012 [if female],
# k = 0.7 (female) / 0.9 (male), a = -0.241 (female) / -0.302 (male).
CKD_EPI_2021_BASE = 142.0
CKD_EPI_2021_KAPPA = {"female": 0.7, "male": 0.9}
CKD_EPI_2021_ALPHA = {"female": -0.241, "male": -0.302}
CKD_EPI_2021_ABOVE_KAPPA = -1.200
CKD_EPI_2021_AGE_BASE = 0.9938
CKD_EPI_2021_FEMALE = 1.012
#: The equation was developed and validated in adults (Inker 2021); below 18 it does not apply.
CKD_EPI_2021_MIN_AGE = 18.0
CKD_EPI_2021_MAX_AGE = 130.0


def egfr_ckd_epi_2021(age_years: float, creatinine_mg_dl: float, sex: str) -> float:
    """Estimated GFR by the CKD-EPI 2021 creatinine equation (race-free). Unit: ``mL/min/{1.73_m2}``.

    ``eGFR = 142 x min(SCr/k, 1)^a x max(SCr/k, 1)^-1.200 x 0.9938^age x 1.012 [if female]``,
    with ``k`` = 0.7 (female) or 0.9 (male) and ``a`` = -0.241 (female) or -0.302 (male).
    The result is normalised to 1.73 m2 of body surface area; it is not a creatinine clearance
    (see :func:`cockcroft_gault`).

    Citation: Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based
    equations to estimate GFR without race. N Engl J Med 2021;385(19):1737-1749.
    doi:10.1056/NEJMoa2102953 (coefficients as published by the National Kidney Foundation,
    kidney.org "CKD-EPI Creatinine Equation (2021)"; LOINC 98979-8 names a result computed
    with it, shared/reference/terminology.yaml loinc/egfr_ckdepi_2021).

    Creatinine must be IDMS-standardised serum creatinine in mg/dL; convert umol/L first
    with ``screener.units.normalize("creatinine", value, "umol/L")`` (/ 88.4).

    Args:
        age_years: age in years at the date of the creatinine (18 <= age <= 130: the equation
            is for adults).
        creatinine_mg_dl: serum creatinine in mg/dL (> 0).
        sex: exactly ``"female"`` or ``"male"``.

    Raises:
        ValueError: sex not ``"female"``/``"male"``; creatinine <= 0; age outside 18..130;
            non-finite numbers.
        TypeError: a numeric argument is not a real number.
    """
    if sex not in ("female", "male"):
        raise ValueError(f"sex must be 'female' or 'male', got {sex!r}")
    age = number("age_years", age_years)
    scr = number("creatinine_mg_dl", creatinine_mg_dl)
    if scr <= 0:
        raise ValueError(f"creatinine_mg_dl must be > 0, got {creatinine_mg_dl!r}")
    if not CKD_EPI_2021_MIN_AGE <= age <= CKD_EPI_2021_MAX_AGE:
        raise ValueError(f"age_years must be in [18, 130] (CKD-EPI is for adults), got {age_years!r}")
    ratio = scr / CKD_EPI_2021_KAPPA[sex]
    egfr = (
        CKD_EPI_2021_BASE
        * min(ratio, 1.0) ** CKD_EPI_2021_ALPHA[sex]
        * max(ratio, 1.0) ** CKD_EPI_2021_ABOVE_KAPPA
        * CKD_EPI_2021_AGE_BASE**age
    )
    if sex == "female":
        egfr *= CKD_EPI_2021_FEMALE
    return egfr
