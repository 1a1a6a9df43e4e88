"""Dose arithmetic: steroid and mycophenolate equivalence, dose per size, dose per period.

Criteria I4a, I4b and I5 compare medication exposure with thresholds such as "prednisone
> X mg/day" or "MMF > 2000 mg/day". These functions turn a recorded dose into the quantity
the threshold is written in; all doses are in mg (convert first with
``screener.units.normalize("dose", value, unit)``).
"""

from __future__ import annotations

from screener.clinical.checks import number, positive

__all__ = [
    "DAYS_PER_MONTH",
    "FREQUENCIES",
    "GLUCOCORTICOID_EQUIVALENT_TO_PREDNISONE_5MG",
    "MYCOPHENOLATE_FACTORS",
    "PREDNISONE_FACTORS",
    "daily_dose_mg",
    "dose_per_kg",
    "dose_per_m2",
    "mmf_equivalent_mg",
    "monthly_dose_mg",
    "prednisone_equivalent_mg",
    "weekly_dose_mg",
]


def _dose(value: float) -> float:
    dose = number("dose_mg", value)
    if dose < 0:
        raise ValueError(f"dose_mg must be >= 0, got {value!r}")
    return dose


def _drug_key(drug: str) -> str:
    if not isinstance(drug, str):
        raise TypeError(f"drug must be a string, got {drug!r}")
    return " ".join(drug.strip().lower().replace("_", " ").replace("-", " ").split())


# --------------------------------------------------------------------------------------------
# Glucocorticoids (I4a, I5)
# --------------------------------------------------------------------------------------------

# terminology.yaml formulas[glucocorticoid_prednisone_equivalent]
# .table_mg_equivalent_to_prednisone_5mg: mg of each drug equivalent to prednisone 5 mg.
# BNF chapter 6.3 "Equivalent anti-inflammatory doses of corticosteroids" (prednisolone 5 mg =
# betamethasone 750 ug = cortisone acetate 25 mg = deflazacort 6 mg = dexamethasone 750 ug =
# hydrocortisone 20 mg = methylprednisolone 4 mg = triamcinolone 4 mg); prednisone =
# prednisolone mg for mg (FDA prednisolone label equivalence table).
GLUCOCORTICOID_EQUIVALENT_TO_PREDNISONE_5MG: dict[str, float] = {
    "prednisone": 5.0,
    "prednisolone": 5.0,
    "methylprednisolone": 4.0,
    "dexamethasone": 0.75,
    "hydrocortisone": 20.0,
    "deflazacort": 6.0,
    "betamethasone": 0.75,
    "triamcinolone": 4.0,
    "cortisone acetate": 25.0,
}

# factor_to_prednisone_mg = 5 / (mg equivalent to prednisone 5 mg). Computed from the table
# rather than copying the rounded factors of terminology.yaml (6.667, 0.8333), so that
# dexamethasone 0.75 mg gives exactly 5 mg; the two agree to 4 significant figures.
PREDNISONE_FACTORS: dict[str, float] = {
    drug: 5.0 / mg for drug, mg in GLUCOCORTICOID_EQUIVALENT_TO_PREDNISONE_5MG.items()
}


def prednisone_equivalent_mg(drug: str, dose_mg: float) -> float:
    """Prednisone-equivalent dose of a systemic glucocorticoid. Unit: ``mg`` (of prednisone).

    ``prednisone_equivalent_mg = dose_mg x 5 / (mg of drug equivalent to prednisone 5 mg)``,
    for example dexamethasone 1.5 mg -> 10 mg, hydrocortisone 20 mg -> 5 mg. Known drugs:
    prednisone, prednisolone, methylprednisolone, dexamethasone, hydrocortisone, deflazacort,
    betamethasone, triamcinolone, cortisone acetate (case, ``_`` and ``-`` are ignored, so
    ``"cortisone_acetate"`` works).

    Valid for oral/IV anti-inflammatory equivalence only; not for topical, inhaled or
    intra-articular use (the caller must filter by route).

    Citation: British National Formulary, chapter 6.3 "Equivalent anti-inflammatory doses of
    corticosteroids"; prednisone = prednisolone mg for mg (FDA prednisolone label)
    (terminology.yaml ``formulas[glucocorticoid_prednisone_equivalent]``, notes.md choice 8).

    Raises:
        ValueError: unknown drug (the message lists the known drugs); dose < 0 or not finite.
    """
    key = _drug_key(drug)
    if key not in PREDNISONE_FACTORS:
        raise ValueError(f"unknown glucocorticoid {drug!r}; known drugs: {', '.join(PREDNISONE_FACTORS)}")
    return _dose(dose_mg) * PREDNISONE_FACTORS[key]


# --------------------------------------------------------------------------------------------
# Mycophenolate (I4b)
# --------------------------------------------------------------------------------------------

# terminology.yaml formulas[mycophenolate_equivalence]: "MMF-equivalent mg = mycophenolic
# acid (as mycophenolate sodium, Myfortic) mg x 1000/720"; Myfortic / CellCept US prescribing
# information (MMF 1 g twice daily vs mycophenolic acid 720 mg twice daily).
MYCOPHENOLATE_FACTORS: dict[str, float] = {
    "mycophenolate mofetil": 1.0,
    "mycophenolic acid": 1000.0 / 720.0,
}


def mmf_equivalent_mg(drug: str, dose_mg: float) -> float:
    """Mycophenolate mofetil (MMF)-equivalent dose. Unit: ``mg`` (of MMF).

    ``mycophenolate_mofetil`` x 1; ``mycophenolic_acid`` (MPA, as mycophenolate sodium,
    Myfortic) x 1000/720, so MPA 720 mg -> MMF 1000 mg and "MMF > 2000 mg/day" <=> MPA >
    1440 mg/day. The labels state the two are NOT interchangeable mg for mg; this is an
    equivalence for threshold comparison only (notes.md choice 9).

    Citation: Myfortic / CellCept US prescribing information (renal transplant: MMF 1 g twice
    daily vs mycophenolic acid 720 mg twice daily) (terminology.yaml
    ``formulas[mycophenolate_equivalence]``).

    Raises:
        ValueError: another drug (the message lists the known ones); dose < 0 or not finite.
    """
    key = _drug_key(drug)
    if key not in MYCOPHENOLATE_FACTORS:
        known = ", ".join(k.replace(" ", "_") for k in MYCOPHENOLATE_FACTORS)
        raise ValueError(f"unknown mycophenolate {drug!r}; known drugs: {known}")
    return _dose(dose_mg) * MYCOPHENOLATE_FACTORS[key]


# --------------------------------------------------------------------------------------------
# Dose per body size
# --------------------------------------------------------------------------------------------


def dose_per_kg(dose_mg: float, weight_kg: float) -> float:
    """Dose per kg of body weight. Unit: ``mg/kg`` (``mg/kg/d`` if ``dose_mg`` is a daily dose).

    ``dose_mg / weight_kg``. Weight from LOINC 29463-7 or 3141-9 (notes.md choice 9).
    Citation: arithmetic; unit mg/kg/d per terminology.yaml ``units[mg/kg/d]`` (UCUM syntax).

    Raises:
        ValueError: dose < 0, weight <= 0, or a non-finite number.
    """
    return _dose(dose_mg) / positive("weight_kg", weight_kg)


def dose_per_m2(dose_mg: float, bsa_m2: float) -> float:
    """Dose per m2 of body surface area. Unit: ``mg/m2``.

    ``dose_mg / bsa_m2`` (BSA from :func:`screener.clinical.body.bsa_mosteller` by default).
    Citation: arithmetic; unit mg/m2 per terminology.yaml ``units[mg/m2]`` (UCUM syntax; used for
    rituximab 375 mg/m2).

    Raises:
        ValueError: dose < 0, BSA <= 0, or a non-finite number.
    """
    return _dose(dose_mg) / positive("bsa_m2", bsa_m2)


# --------------------------------------------------------------------------------------------
# Dose per period
# --------------------------------------------------------------------------------------------

# Mean month of 365.25 / 12 = 30.4375 days: UCUM "mo" = mo_j (mean Julian month) = a_j / 12,
# a_j = 365.25 d (ucum-org/ucum ucum-essence.xml, UCUM 2.2). UCUM wk = 7 d.
DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_WEEK = 7.0

# Administrations per day. bid/tid/qid = twice/three/four times a day (bis/ter/quater in die).
# "once" is a single administration, not a schedule: its entry (1.0) is the number of
# administrations on the day it is given, and daily/weekly/monthly_dose_mg count a single
# administration once, in full, in any period that contains it. Do not multiply
# FREQUENCIES["once"] by a number of days.
FREQUENCIES: dict[str, float] = {
    "once": 1.0,
    "daily": 1.0,
    "bid": 2.0,
    "tid": 3.0,
    "qid": 4.0,
    "weekly": 1.0 / DAYS_PER_WEEK,
    "every_2_weeks": 1.0 / (2 * DAYS_PER_WEEK),
    "every_4_weeks": 1.0 / (4 * DAYS_PER_WEEK),
    "monthly": 1.0 / DAYS_PER_MONTH,
}


def _per_day(frequency: str) -> float:
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown frequency {frequency!r}; known frequencies: {', '.join(FREQUENCIES)}")
    return FREQUENCIES[frequency]


def _dose_in_period(dose_mg: float, frequency: str, days: float) -> float:
    per_day = _per_day(frequency)
    dose = _dose(dose_mg)
    if frequency == "once":
        return dose
    return dose * per_day * days


def daily_dose_mg(dose_mg: float, frequency: str) -> float:
    """Dose per day. Unit: ``mg/d``.

    ``dose_mg x administrations per day`` (:data:`FREQUENCIES`): 500 mg ``bid`` -> 1000 mg/d;
    for schedules longer than a day this is the average over the schedule (15 mg ``weekly``
    -> 15/7 mg/d). ``"once"`` (a single administration) -> the dose itself (the amount on the
    day it is given).

    Citation: arithmetic; bid/tid/qid = 2/3/4 administrations a day; week = 7 d and
    month = 365.25/12 = 30.4375 d (UCUM wk, and mo = mo_j = a_j/12 with a_j = 365.25 d;
    ucum-org/ucum ucum-essence.xml, UCUM 2.2).

    Raises:
        ValueError: unknown frequency (the message lists them); dose < 0 or not finite.
    """
    return _dose_in_period(dose_mg, frequency, 1.0)


def weekly_dose_mg(dose_mg: float, frequency: str) -> float:
    """Dose per week (7 days). Unit: ``mg/wk``.

    ``dose_mg x administrations per day x 7``: 2.5 mg ``daily`` -> 17.5 mg/wk; 20 mg
    ``weekly`` -> 20 mg/wk; ``every_2_weeks`` -> half the dose (average). ``"once"`` -> the
    dose itself.

    Citation: arithmetic; bid/tid/qid = 2/3/4 administrations a day; week = 7 d and
    month = 365.25/12 = 30.4375 d (UCUM wk, and mo = mo_j = a_j/12 with a_j = 365.25 d;
    ucum-org/ucum ucum-essence.xml, UCUM 2.2).

    Raises:
        ValueError: unknown frequency (the message lists them); dose < 0 or not finite.
    """
    return _dose_in_period(dose_mg, frequency, DAYS_PER_WEEK)


def monthly_dose_mg(dose_mg: float, frequency: str) -> float:
    """Dose per month of 30.4375 days (= 365.25/12, the mean Julian month). Unit: ``mg/mo``.

    ``dose_mg x administrations per day x 30.4375``: 1000 mg ``monthly`` -> 1000 mg;
    ``every_4_weeks`` -> x 30.4375/28 (average); ``"once"`` -> the dose itself.

    Citation: arithmetic; bid/tid/qid = 2/3/4 administrations a day; week = 7 d and
    month = 365.25/12 = 30.4375 d (UCUM wk, and mo = mo_j = a_j/12 with a_j = 365.25 d;
    ucum-org/ucum ucum-essence.xml, UCUM 2.2).

    Raises:
        ValueError: unknown frequency (the message lists them); dose < 0 or not finite.
    """
    return _dose_in_period(dose_mg, frequency, DAYS_PER_MONTH)
