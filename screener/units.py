"""Unit normalisation for the clinical quantities used by the NCT03562065 screener.

Every quantity has one canonical unit (:data:`CANONICAL`, UCUM codes). :func:`normalize`
converts a value given in any accepted unit into that canonical unit, and raises
:class:`UnitError` for anything it does not know. Nothing is guessed: a unit is accepted only
when its factor to the canonical unit is written below *with its source*.

Sources: ``/work/shared/reference/terminology.yaml`` (sections ``units`` and
``unit_conversions``; cited below as ``terminology.yaml units[<code>]`` or
``unit_conversions[<id>]``) and ``/work/shared/reference/notes.md``. Factors that are pure
UCUM prefix arithmetic cite ucum-org/ucum@d060c6d:ucum-essence.xml (UCUM 2.2), the UCUM
source listed in terminology.yaml ``meta.main_sources.ucum``.

Spelling tolerance: unit strings are matched after removing whitespace, mapping the micro
signs ``µ`` (U+00B5) and ``μ`` (U+03BC) to ``u`` and ``^`` to ``*``, and ignoring case. The
accepted spellings of one quantity are checked at import time never to collide after this
folding (for example counts accept ``G/L`` = giga per litre, which would otherwise be read as
gram per litre for hemoglobin; the two live in different quantities).

No third-party dependencies.
"""

from __future__ import annotations

import math
from numbers import Real

__all__ = ["CANONICAL", "UnitError", "accepted_units", "normalize", "plausible_range"]


class UnitError(ValueError):
    """A unit (or quantity) that the screener cannot normalise.

    Attributes:
        quantity: the quantity name as given (for example ``"creatinine"``).
        unit: the unit string as given (``""`` when the quantity itself is unknown and no
            unit was involved).
        accepted: the units accepted for this quantity (empty if the quantity is unknown).
    """

    def __init__(
        self,
        quantity: str,
        unit: str,
        accepted: tuple[str, ...] = (),
        reason: str | None = None,
    ) -> None:
        self.quantity = quantity
        self.unit = unit
        self.accepted = accepted
        if quantity not in CANONICAL:
            message = (
                f"unknown quantity {quantity!r} (unit {unit!r}); "
                f"known quantities: {', '.join(sorted(CANONICAL))}"
            )
        else:
            message = f"unit {unit!r} is not accepted for quantity {quantity!r}"
            if reason:
                message += f" ({reason})"
            message += f"; accepted units: {', '.join(accepted)}"
        super().__init__(message)


# --------------------------------------------------------------------------------------------
# Canonical units (UCUM codes). The names of the quantities are part of the public API.
# --------------------------------------------------------------------------------------------
CANONICAL: dict[str, str] = {
    "creatinine": "mg/dL",
    "hemoglobin": "g/dL",
    "neutrophils": "10*9/L",
    "platelets": "10*9/L",
    "leukocytes": "10*9/L",
    "lymphocytes": "10*9/L",
    "cd4": "10*6/L",  # = cells/uL (unit_conversions[count_per_uL_10e6L])
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
    "ana_titer": "1",  # the titre denominator: "1:160" -> 160 (unit_conversions[ana_titer])
    "sledai": "{score}",
    "dose": "mg",
    "hcg": "[IU]/L",
    "age": "a",
}

# --------------------------------------------------------------------------------------------
# Conversion tables: unit spelling -> factor such that value_canonical = value * factor.
# Every factor cites its source.
# --------------------------------------------------------------------------------------------

# creatinine: unit_conversions[creatinine_umolL_mgdL] "creatinine[mg/dL] = creatinine[umol/L]
# / 88.4" (molar mass 113.12 g/mol; source rstrotmann/nif@3bf1d84:docs/reference/crea_mdrd.md),
# also notes.md choice 2.
_CREATININE_UMOL_PER_MGDL = 88.4

_CREATININE: dict[str, float] = {
    # canonical; terminology.yaml units[mg/dL] (HL7/Vulcan-schedule-ig LOINC-2160-0 permittedUnit)
    "mg/dL": 1.0,
    # unit_conversions[creatinine_umolL_mgdL]: / 88.4 (rstrotmann/nif@3bf1d84 crea_mdrd.md)
    "umol/L": 1.0 / _CREATININE_UMOL_PER_MGDL,
    "µmol/L": 1.0 / _CREATININE_UMOL_PER_MGDL,  # same, micro sign U+00B5
    "μmol/L": 1.0 / _CREATININE_UMOL_PER_MGDL,  # same, Greek mu U+03BC
}

_HEMOGLOBIN: dict[str, float] = {
    # canonical; terminology.yaml units[g/dL] (HL7/Vulcan-schedule-ig LOINC-718-7 permittedUnit)
    "g/dL": 1.0,
    # unit_conversions[hemoglobin_gL_gdL]: Hb[g/dL] = Hb[g/L] / 10 (ucum-essence.xml, prefix
    # d = 1e-1)
    "g/L": 0.1,
}

# Counts in the 10*9/L family.
_COUNT_10E9: dict[str, float] = {
    # canonical; terminology.yaml units[10*9/L] (bmilius-nmdp/pytestfhir@1ffaa2c:loinc.csv)
    "10*9/L": 1.0,
    # UCUM also defines "10^" as "the number ten for arbitrary powers" (ucum-essence.xml)
    "10^9/L": 1.0,
    # "G/L" (giga per litre) is the usual French lab spelling. It is NOT a UCUM code (a UCUM
    # prefix cannot stand alone); read as 10*9/L, UCUM prefix G = 1e9 (ucum-essence.xml).
    "G/L": 1.0,
    # unit_conversions[count_10e3uL_10e9L]: N[10*9/L] = N[10*3/uL], factor 1
    # (ucum-essence.xml, prefix u = 1e-6)
    "10*3/uL": 1.0,
    "10^3/uL": 1.0,
    # 1/nL = 1/(1e-9 L) = 10*9/L: UCUM prefix n = 1e-9 (ucum-essence.xml); same derivation as
    # unit_conversions[count_10e3uL_10e9L]
    "/nL": 1.0,
    # unit_conversions[count_per_uL_10e6L]: /uL = {cells}/uL = 10*6/L, and "200 x 10^6/L =
    # 0.2 x 10^9/L", so 1 /uL = 0.001 x 10*9/L (ucum-essence.xml)
    "10*6/L": 1e-3,
    "/uL": 1e-3,
    "{cells}/uL": 1e-3,
    "cells/uL": 1e-3,
    # 1 mm3 = 1e-6 L = 1 uL: UCUM l = dm3 and prefix m = 1e-3 (ucum-essence.xml)
    "/mm3": 1e-3,
}

_CD4: dict[str, float] = {
    # canonical; terminology.yaml units[10*6/L] (ucum-essence.xml)
    "10*6/L": 1.0,
    "10^6/L": 1.0,
    # unit_conversions[count_per_uL_10e6L]: N[10*6/L] = N[/uL] = N[{cells}/uL], factor 1
    # (ucum-essence.xml). units[/uL] seen in po4dun/langchain@ba4328d:data/loinc.csv (24467-3);
    # units[{cells}/uL] is verified: false in terminology.yaml (valid UCUM syntax only).
    "/uL": 1.0,
    "{cells}/uL": 1.0,
    "cells/uL": 1.0,
    # 1 mm3 = 1 uL (UCUM l = dm3, prefix m = 1e-3; ucum-essence.xml)
    "/mm3": 1.0,
    # unit_conversions[count_per_uL_10e6L]: "200 x 10^6/L = 0.2 x 10^9/L" -> x 1000
    "10*9/L": 1000.0,
    "10^9/L": 1000.0,
    "G/L": 1000.0,  # French spelling of 10*9/L, see _COUNT_10E9
    # 10*3/uL = 10*9/L (unit_conversions[count_10e3uL_10e9L]) -> x 1000
    "10*3/uL": 1000.0,
    "10^3/uL": 1000.0,
}

# kPa -> mm[Hg]: unit_conversions[kPa_mmHg] "p[mm[Hg]] = p[kPa] x 7.50062" (UCUM m[Hg] =
# 133.3220 kPa; ucum-org/ucum@d060c6d:ucum-essence.xml)
_MMHG_PER_KPA = 7.50062

_PRESSURE: dict[str, float] = {
    # canonical; terminology.yaml units[mm[Hg]] (po4dun/langchain loinc.csv 2703-7, 2019-8)
    "mm[Hg]": 1.0,
    "mmHg": 1.0,  # common spelling of mm[Hg]
    # unit_conversions[kPa_mmHg] (ucum-essence.xml)
    "kPa": _MMHG_PER_KPA,
}

# [lb_av] -> kg: unit_conversions[lb_kg] "kg = [lb_av] x 0.45359237" (ucum-essence.xml:
# [lb_av] = 7000 [gr], [gr] = 64.79891 mg)
_KG_PER_LB = 0.45359237

_WEIGHT: dict[str, float] = {
    # canonical; terminology.yaml units[kg] (HL7/US-Core body-weight profile, FHIR R4
    # ValueSet ucum-bodyweight = {kg, [lb_av], g})
    "kg": 1.0,
    # units[g]; UCUM prefix k = 1e3 (ucum-essence.xml)
    "g": 1e-3,
    # unit_conversions[lb_kg] (ucum-essence.xml)
    "[lb_av]": _KG_PER_LB,
    "lb": _KG_PER_LB,
    "lbs": _KG_PER_LB,
}

# [in_i] -> cm: unit_conversions[in_cm] "cm = [in_i] x 2.54" (ucum-essence.xml)
_CM_PER_INCH = 2.54

_HEIGHT: dict[str, float] = {
    # canonical; terminology.yaml units[cm] (HL7/US-Core body-height profile)
    "cm": 1.0,
    # UCUM prefix c = 1e-2 (ucum-essence.xml)
    "m": 100.0,
    # unit_conversions[in_cm] (ucum-essence.xml)
    "[in_i]": _CM_PER_INCH,
    "in": _CM_PER_INCH,
}

_TRANSAMINASE: dict[str, float] = {
    # canonical; terminology.yaml units[U/L] (HL7/Vulcan-schedule-ig LOINC-1742-6/1920-8)
    "U/L": 1.0,
    # units[U/L] notes and notes.md choice 3: treat U/L and [IU]/L as the same unit for
    # transaminases. CONVENTION, not UCUM ([IU] is an arbitrary unit) - UNVERIFIED assumption.
    "[IU]/L": 1.0,
    "IU/L": 1.0,
}

_LVEF: dict[str, float] = {
    # canonical; terminology.yaml units[%] (po4dun/langchain loinc.csv; ucum-essence.xml)
    "%": 1.0,
}

_CLEARANCE: dict[str, float] = {
    # canonical; terminology.yaml units[mL/min] (po4dun/langchain loinc.csv 2164-2)
    "mL/min": 1.0,
}

_EGFR: dict[str, float] = {
    # canonical; terminology.yaml units[mL/min/{1.73_m2}] (RKI mio.prep.bericht GFR units,
    # po4dun/langchain loinc.csv 62238-1). Only other spellings of the same unit are accepted;
    # an eGFR is NOT a creatinine clearance (notes.md choice 1).
    "mL/min/{1.73_m2}": 1.0,
    "mL/min/1.73m2": 1.0,
    "mL/min/1.73_m2": 1.0,
}

_ANA_TITER: dict[str, float] = {
    # canonical "1": the titre denominator (unit_conversions[ana_titer], convention, verified:
    # false). units[{titer}] from po4dun/langchain loinc.csv (5048-4); UCUM annotations {..}
    # are unit 1 (ucum-essence.xml).
    "1": 1.0,
    "{titer}": 1.0,
}

_SLEDAI: dict[str, float] = {
    # canonical "{score}": SELENA-SLEDAI total, 0-105 points (formulas[selena_sledai]); UCUM
    # annotation {score} is unit 1 (ucum-essence.xml)
    "{score}": 1.0,
    "1": 1.0,
}

_DOSE: dict[str, float] = {
    # canonical; terminology.yaml units[mg/d] family (ucum-essence.xml)
    "mg": 1.0,
    # UCUM prefixes m = 1e-3, u = 1e-6 (ucum-essence.xml): 1 g = 1000 mg, 1 ug = 0.001 mg
    "g": 1000.0,
    "ug": 1e-3,
    "µg": 1e-3,
    "μg": 1e-3,
    "mcg": 1e-3,  # common (non-UCUM) spelling of ug
}

_HCG: dict[str, float] = {
    # canonical [IU]/L; [IU] is defined in ucum-essence.xml (arbitrary unit)
    "[IU]/L": 1.0,
    "IU/L": 1.0,
    # units[m[IU]/mL] (po4dun/langchain loinc.csv 45194-8): m[IU]/mL = [IU]/L because the
    # prefix m = 1e-3 appears in numerator and denominator (ucum-essence.xml)
    "m[IU]/mL": 1.0,
    "mIU/mL": 1.0,
}

_AGE: dict[str, float] = {
    # canonical "a" (UCUM year, = a_j = 365.25 d; ucum-essence.xml). Other spellings of year.
    "a": 1.0,
    "yr": 1.0,
    "year": 1.0,
    "years": 1.0,
}

_CONVERSIONS: dict[str, dict[str, float]] = {
    "creatinine": _CREATININE,
    "hemoglobin": _HEMOGLOBIN,
    "neutrophils": _COUNT_10E9,
    "platelets": _COUNT_10E9,
    "leukocytes": _COUNT_10E9,
    "lymphocytes": _COUNT_10E9,
    "cd4": _CD4,
    "pao2": _PRESSURE,
    "paco2": _PRESSURE,
    "pap_mean": _PRESSURE,
    "pap_systolic": _PRESSURE,
    "weight": _WEIGHT,
    "height": _HEIGHT,
    "ast": _TRANSAMINASE,
    "alt": _TRANSAMINASE,
    "lvef": _LVEF,
    "creatinine_clearance": _CLEARANCE,
    "egfr": _EGFR,
    "ana_titer": _ANA_TITER,
    "sledai": _SLEDAI,
    "dose": _DOSE,
    "hcg": _HCG,
    "age": _AGE,
}

# Units deliberately REJECTED, with the reason given in the UnitError message.
_REJECTED: dict[str, dict[str, str]] = {
    "hemoglobin": {
        # unit_conversions[hemoglobin_mmolL_gdL] is verified: false; units[mmol/L] says
        # "avoid silent conversion"; notes.md lists "the Hb mmol/L conversion" as not verified.
        "mmol/L": "hemoglobin mmol/L conversion is unverified in terminology.yaml; convert "
        "upstream and state the factor",
    },
    "ast": {
        "ukat/L": "no verified ukat/L -> U/L factor in terminology.yaml",
        "µkat/L": "no verified ukat/L -> U/L factor in terminology.yaml",
    },
    "alt": {
        "ukat/L": "no verified ukat/L -> U/L factor in terminology.yaml",
        "µkat/L": "no verified ukat/L -> U/L factor in terminology.yaml",
    },
}


def _fold(unit: str) -> str:
    """Fold a unit spelling for tolerant matching (see module docstring)."""
    return "".join(unit.split()).replace("\u00b5", "u").replace("\u03bc", "u").replace("^", "*").lower()


def _build_lookup() -> dict[str, dict[str, float]]:
    lookup: dict[str, dict[str, float]] = {}
    for quantity, table in _CONVERSIONS.items():
        folded: dict[str, float] = {}
        for spelling, factor in table.items():
            key = _fold(spelling)
            if key in folded and folded[key] != factor:  # pragma: no cover - import-time guard
                raise RuntimeError(f"unit spellings collide for {quantity}: {spelling!r}")
            folded[key] = factor
        rejected = {_fold(u) for u in _REJECTED.get(quantity, {})}
        if rejected & folded.keys():  # pragma: no cover - import-time guard
            raise RuntimeError(f"unit both accepted and rejected for {quantity}")
        lookup[quantity] = folded
    return lookup


_LOOKUP = _build_lookup()
if set(_LOOKUP) != set(CANONICAL):  # pragma: no cover - import-time guard
    raise RuntimeError("every canonical quantity needs a conversion table")


def accepted_units(quantity: str) -> tuple[str, ...]:
    """The unit spellings accepted for ``quantity`` (canonical unit first).

    Raises:
        UnitError: ``quantity`` is unknown.
    """
    if quantity not in CANONICAL:
        raise UnitError(quantity, "")
    return tuple(_CONVERSIONS[quantity])


def normalize(quantity: str, value: float, unit: str) -> float:
    """Return ``value`` (given in ``unit``) expressed in ``CANONICAL[quantity]``.

    Examples: ``normalize("creatinine", 88.4, "umol/L") == 1.0`` (mg/dL);
    ``normalize("hemoglobin", 80, "g/L") == 8.0`` (g/dL); ``normalize("cd4", 0.2, "10*9/L")
    == 200.0`` (10*6/L = cells/uL).

    Raises:
        UnitError: unknown quantity, or a unit that is not accepted for it (including units
            rejected on purpose, such as hemoglobin in mmol/L).
        ValueError: ``value`` is NaN or infinite.
        TypeError: ``value`` is not a real number (``bool`` and strings are refused).
    """
    if quantity not in CANONICAL:
        raise UnitError(quantity, unit)
    if not isinstance(unit, str):
        raise UnitError(quantity, repr(unit), accepted_units(quantity), "unit must be a string")
    key = _fold(unit)
    factor = _LOOKUP[quantity].get(key)
    if factor is None:
        reason = None
        for rejected, why in _REJECTED.get(quantity, {}).items():
            if _fold(rejected) == key:
                reason = why
                break
        raise UnitError(quantity, unit, accepted_units(quantity), reason)
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{quantity}: value must be a real number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{quantity}: value must be finite, got {value!r}")
    return number * factor


# --------------------------------------------------------------------------------------------
# Plausibility guards.
#
# These are PLAUSIBILITY GUARDS, NOT REFERENCE RANGES: wide bounds (canonical units,
# inclusive) outside which a value is physically or physiologically impossible in a living
# patient, or is almost certainly a data-entry or unit error (creatinine -1 or 500 mg/dL,
# weight 0 or 700 kg, hemoglobin 40 g/dL, LVEF 120 %, SLEDAI > 105, age > 130). A value
# inside the bounds may still be grossly abnormal. The bounds are engineering choices made for
# this screener, not values taken from a clinical source, except where a comment says so.
# --------------------------------------------------------------------------------------------
_PLAUSIBLE: dict[str, tuple[float, float] | None] = {
    "creatinine": (0.05, 40.0),  # mg/dL
    "hemoglobin": (1.0, 25.0),  # g/dL
    "neutrophils": (0.0, 200.0),  # 10*9/L
    "platelets": (0.0, 5000.0),  # 10*9/L
    "leukocytes": (0.0, 1000.0),  # 10*9/L (hyperleukocytosis can reach hundreds)
    "lymphocytes": (0.0, 1000.0),  # 10*9/L
    "cd4": (0.0, 10000.0),  # 10*6/L = cells/uL
    "pao2": (5.0, 800.0),  # mm[Hg]; up to ~700 on 100 % oxygen at sea level
    "paco2": (5.0, 250.0),  # mm[Hg]
    "pap_mean": (1.0, 150.0),  # mm[Hg]
    "pap_systolic": (1.0, 250.0),  # mm[Hg]
    "weight": (0.3, 650.0),  # kg
    "height": (20.0, 280.0),  # cm
    "ast": (0.0, 100000.0),  # U/L
    "alt": (0.0, 100000.0),  # U/L
    "lvef": (0.0, 100.0),  # % (a fraction of end-diastolic volume cannot exceed 100 %)
    "creatinine_clearance": (0.0, 500.0),  # mL/min
    "egfr": (0.0, 300.0),  # mL/min/{1.73_m2}
    "ana_titer": (1.0, 10_000_000.0),  # denominator of 1:n
    "sledai": (0.0, 105.0),  # formulas[selena_sledai] range 0-105 (8x8 + 6x4 + 7x2 + 3x1)
    "dose": (0.0, 1_000_000.0),  # mg per administration (1 kg); catches unit slips only
    "hcg": (0.0, 10_000_000.0),  # [IU]/L
    "age": (0.0, 130.0),  # a
}
if set(_PLAUSIBLE) != set(CANONICAL):  # pragma: no cover - import-time guard
    raise RuntimeError("every canonical quantity needs a plausibility entry (None allowed)")


def plausible_range(quantity: str) -> tuple[float, float] | None:
    """Inclusive ``(low, high)`` physiologically possible bounds, in the canonical unit.

    A plausibility guard for catching impossible values and unit slips, NOT a reference
    range. ``None`` means no guard is defined for this quantity.

    Raises:
        UnitError: ``quantity`` is unknown (``unit`` attribute is ``""``).
    """
    if quantity not in CANONICAL:
        raise UnitError(quantity, "")
    return _PLAUSIBLE[quantity]
