"""Registry of named clinical functions that rule files refer to by name.

Rule files never contain code: they name a function from :data:`FUNCTIONS` and give its
keyword arguments. Each entry records its parameters (in order), the unit of its result, and
the clinical source it implements (from ``/work/shared/reference/terminology.yaml``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from screener.clinical import body, dates, dosing, labs, renal

__all__ = ["FUNCTIONS", "ClinicalFunction", "call"]


@dataclass(frozen=True)
class ClinicalFunction:
    """A named, tested clinical function.

    Attributes:
        name: the name rule files use.
        fn: the implementation.
        params: names of its keyword arguments, in signature order.
        unit: UCUM unit of the result (``"1"`` for a dimensionless number).
        citation: the clinical source (paper, BNF, label) or "arithmetic" with its basis.
        description: one line saying what it computes.
    """

    name: str
    fn: Callable[..., float | int | str | bool | None]
    params: tuple[str, ...]
    unit: str
    citation: str
    description: str

    def check_arguments(self, names: Iterable[str], what: str = "") -> None:
        """Raise TypeError unless ``names`` are exactly this function's parameters."""
        given = set(names)
        missing = [p for p in self.params if p not in given]
        unexpected = sorted(given - set(self.params))
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected {', '.join(unexpected)}")
            raise TypeError(f"{what}{self.name}() takes {', '.join(self.params)}: {'; '.join(parts)}")

    def __call__(self, **kwargs: Any) -> float | int | str | bool | None:
        self.check_arguments(kwargs)
        return self.fn(**kwargs)


_CALENDAR = "calendar arithmetic (proleptic Gregorian calendar, Python datetime)"
_CG = (
    "Cockcroft DW, Gault MH. Prediction of creatinine clearance from serum creatinine. "
    "Nephron 1976;16(1):31-41. doi:10.1159/000180580"
)
_MOSTELLER = "Mosteller RD. Simplified calculation of body-surface area. N Engl J Med 1987;317(17):1098"
_DUBOIS = (
    "Du Bois D, Du Bois EF. A formula to estimate the approximate surface area if height and "
    "weight be known. Arch Intern Med 1916;17:863-871"
)
_DEVINE = (
    "Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-655 "
    "(citation as commonly given; not read)"
)
_ADJBW = (
    "Winter MA et al. Impact of various body weights and serum creatinine concentrations on "
    "the bias and accuracy of the Cockcroft-Gault equation. Pharmacotherapy 2012;32(7):604-612 "
    "(journal as commonly cited; UNVERIFIED)"
)
_BNF = (
    'British National Formulary, chapter 6.3 "Equivalent anti-inflammatory doses of '
    'corticosteroids"; prednisone = prednisolone mg for mg (FDA prednisolone label)'
)
_MYCOPHENOLATE = (
    "Myfortic / CellCept US prescribing information (renal transplant: MMF 1 g twice daily vs "
    "mycophenolic acid 720 mg twice daily; not interchangeable mg for mg)"
)
_PERIOD = (
    "arithmetic; bid/tid/qid = 2/3/4 administrations a day; week = 7 d, month = 365.25/12 = "
    "30.4375 d (UCUM wk and mo = mo_j = a_j/12, ucum-essence.xml)"
)

_ENTRIES: tuple[ClinicalFunction, ...] = (
    ClinicalFunction(
        "age_in_years",
        dates.age_in_years,
        ("birth_date", "on"),
        "a",
        _CALENDAR + "; 29 February birthdays fall on 1 March in non-leap years (convention)",
        "Age in completed years on a date.",
    ),
    ClinicalFunction(
        "cockcroft_gault",
        renal.cockcroft_gault,
        ("age_years", "weight_kg", "creatinine_mg_dl", "sex"),
        "mL/min",
        _CG,
        "Creatinine clearance (Cockcroft-Gault, actual body weight by default, x0.85 female).",
    ),
    ClinicalFunction(
        "bsa_mosteller",
        body.bsa_mosteller,
        ("height_cm", "weight_kg"),
        "m2",
        _MOSTELLER,
        "Body surface area, Mosteller: sqrt(height x weight / 3600).",
    ),
    ClinicalFunction(
        "bsa_dubois",
        body.bsa_dubois,
        ("height_cm", "weight_kg"),
        "m2",
        _DUBOIS,
        "Body surface area, Du Bois: 0.007184 x weight^0.425 x height^0.725.",
    ),
    ClinicalFunction(
        "ideal_body_weight_devine",
        body.ideal_body_weight_devine,
        ("height_cm", "sex"),
        "kg",
        _DEVINE,
        "Ideal body weight, Devine: 50 (male) / 45.5 (female) + 2.3 kg per inch over 60 in.",
    ),
    ClinicalFunction(
        "adjusted_body_weight",
        body.adjusted_body_weight,
        ("weight_kg", "ideal_weight_kg"),
        "kg",
        _ADJBW,
        "Adjusted body weight: IBW + 0.4 x (actual - IBW).",
    ),
    ClinicalFunction(
        "prednisone_equivalent_mg",
        dosing.prednisone_equivalent_mg,
        ("drug", "dose_mg"),
        "mg",
        _BNF,
        "Prednisone-equivalent dose of a systemic glucocorticoid (oral/IV only).",
    ),
    ClinicalFunction(
        "mmf_equivalent_mg",
        dosing.mmf_equivalent_mg,
        ("drug", "dose_mg"),
        "mg",
        _MYCOPHENOLATE,
        "Mycophenolate mofetil-equivalent dose (mycophenolic acid x 1000/720).",
    ),
    ClinicalFunction(
        "dose_per_kg",
        dosing.dose_per_kg,
        ("dose_mg", "weight_kg"),
        "mg/kg",
        "arithmetic (dose / body weight); unit mg/kg(/d) per UCUM syntax",
        "Dose per kg of body weight.",
    ),
    ClinicalFunction(
        "dose_per_m2",
        dosing.dose_per_m2,
        ("dose_mg", "bsa_m2"),
        "mg/m2",
        "arithmetic (dose / body surface area); unit mg/m2 per UCUM syntax",
        "Dose per m2 of body surface area.",
    ),
    ClinicalFunction(
        "daily_dose_mg",
        dosing.daily_dose_mg,
        ("dose_mg", "frequency"),
        "mg/d",
        _PERIOD,
        "Dose per day (average over the schedule; a single dose counts in full).",
    ),
    ClinicalFunction(
        "weekly_dose_mg",
        dosing.weekly_dose_mg,
        ("dose_mg", "frequency"),
        "mg/wk",
        _PERIOD,
        "Dose per 7-day week (average over the schedule; a single dose counts in full).",
    ),
    ClinicalFunction(
        "monthly_dose_mg",
        dosing.monthly_dose_mg,
        ("dose_mg", "frequency"),
        "mg/mo",
        _PERIOD,
        "Dose per 30.4375-day month (average over the schedule; a single dose counts in full).",
    ),
    ClinicalFunction(
        "times_upper_limit",
        labs.times_upper_limit,
        ("value", "upper_limit"),
        "x ULN",
        "value / laboratory upper limit of normal, as in 'n x ULN' thresholds "
        "(NCI CTCAE v5.0 definitions of AST/ALT increased)",
        "A lab value as a multiple of the upper limit of normal.",
    ),
)

FUNCTIONS: dict[str, ClinicalFunction] = {entry.name: entry for entry in _ENTRIES}


def call(name: str, **kwargs: Any) -> float | int | str | bool | None:
    """Call the registered function ``name`` with keyword arguments.

    Raises:
        KeyError: unknown name; the message suggests the closest registered names.
        TypeError: missing or unexpected keyword arguments (the message lists the expected
            ones).
    """
    entry = FUNCTIONS.get(name)
    if entry is None:
        close = difflib.get_close_matches(str(name), FUNCTIONS, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown clinical function {name!r}{hint} (known: {', '.join(sorted(FUNCTIONS))})")
    return entry(**kwargs)
