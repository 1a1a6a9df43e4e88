"""DuckDB SQL twins of the named clinical functions, for the vectorized fast path.

:data:`SQL_FORMS` maps a name of :data:`screener.clinical.FUNCTIONS` to a function that takes
the same keyword arguments as the Python function (``FUNCTIONS[name].params``), each an SQL
expression string already typed (numbers DOUBLE, dates DATE, strings VARCHAR), and returns a
parenthesised SQL expression computing the same value:

* same formula, same order of floating-point operations and the same constants (tables and
  named constants are imported from the Python modules; literals that the Python code writes
  inline are written here once, next to a reference to the Python line);
* where the Python function raises ValueError/ZeroDivisionError/KeyError (non-finite number,
  weight <= 0, unknown drug or frequency, date before birth, ...) the SQL gives NULL, the
  caller's "unknown"; a NULL argument also gives NULL;
* the same kind of result: DOUBLE for a Python float, BIGINT for a Python int; no rounding
  (the caller rounds floats to 4 decimals in both paths).

String comparisons are written ``COLLATE C`` (DuckDB's binary collation), so they are exact,
as Python's ``==``, even if the connection sets a ``default_collation`` such as ``nocase``.
Arguments are substituted in parentheses, and may appear more than once in the result.

Covered: every entry of :data:`~screener.clinical.FUNCTIONS` (age_in_years, cockcroft_gault,
egfr_ckd_epi_2021, bsa_mosteller, bsa_dubois, ideal_body_weight_devine, adjusted_body_weight,
prednisone_equivalent_mg, mmf_equivalent_mg, dose_per_kg, dose_per_m2, daily_dose_mg,
weekly_dose_mg, monthly_dose_mg, times_upper_limit). None is left out. (``add_months`` and
``days_between`` of :mod:`screener.clinical.dates` are not registered functions, so they have
no form here.)

Each form's docstring ends with the citation of its Python twin, taken from
``FUNCTIONS[name].citation`` when the form is registered.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping

from screener.clinical import body, renal
from screener.clinical.body import CM_PER_INCH
from screener.clinical.dosing import (
    DAYS_PER_MONTH,
    DAYS_PER_WEEK,
    FREQUENCIES,
    MYCOPHENOLATE_FACTORS,
    PREDNISONE_FACTORS,
)
from screener.clinical.registry import FUNCTIONS

__all__ = ["SQL_FORMS", "sql_call"]

SQL_FORMS: dict[str, Callable[..., str]] = {}


def _register(name: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register a form under ``name``; its parameters must be ``FUNCTIONS[name].params``."""

    def decorate(form: Callable[..., str]) -> Callable[..., str]:
        entry = FUNCTIONS[name]
        parameters = inspect.signature(form).parameters.values()
        names = tuple(p.name for p in parameters)
        if names != entry.params or any(p.kind is not inspect.Parameter.KEYWORD_ONLY for p in parameters):
            raise TypeError(f"SQL form of {name} must take keyword-only {entry.params}, takes {names}")
        doc = inspect.cleandoc(form.__doc__ or "")
        form.__doc__ = f"{doc}\n\nCitation (as the Python twin): {entry.citation}"
        SQL_FORMS[name] = form
        return form

    return decorate


def sql_call(name: str, **kwargs: str) -> str:
    """The SQL expression for the clinical function ``name`` applied to SQL expressions.

    Raises:
        KeyError: ``name`` is not a registered clinical function, or it has no SQL form (the
            message says which, and lists the functions that have one).
        TypeError: missing or unexpected keyword arguments (the message lists the expected
            ones).
    """
    form = SQL_FORMS.get(name)
    if form is None:
        have = ", ".join(sorted(SQL_FORMS))
        if name in FUNCTIONS:
            raise KeyError(
                f"clinical function {name!r} has no SQL form; derive it in Python instead "
                f"(functions with an SQL form: {have})"
            )
        close = difflib.get_close_matches(str(name), FUNCTIONS, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise KeyError(f"unknown clinical function {name!r}{hint} (functions with an SQL form: {have})")
    FUNCTIONS[name].check_arguments(kwargs, "SQL form of ")
    return form(**kwargs)


# --------------------------------------------------------------------------------------------
# SQL building blocks
# --------------------------------------------------------------------------------------------


def _num(value: float) -> str:
    """A DOUBLE literal equal to the Python float ``value``.

    Written as a string cast (``CAST('0.8333333333333334' AS DOUBLE)``): a bare ``0.83...`` is a
    DECIMAL in DuckDB, and the shortest repr read back as a double is exactly ``value``.
    """
    return f"CAST('{float(value)!r}' AS DOUBLE)"


def _text(value: str) -> str:
    """A VARCHAR literal."""
    return "'" + value.replace("'", "''") + "'"


def _finite(x: str) -> str:
    """``checks.number``: a finite number (NULL when ``x`` is NULL)."""
    return f"isfinite({x})"


def _positive(x: str) -> str:
    """``checks.positive``: finite and > 0."""
    return f"(isfinite({x}) AND {x} > 0)"


def _non_negative(x: str) -> str:
    """``dosing._dose`` and the ``value`` check of ``times_upper_limit``: finite and >= 0."""
    return f"(isfinite({x}) AND {x} >= 0)"


def _is(x: str, value: str) -> str:
    """``x == value`` as Python compares strings: code point by code point."""
    return f"({x} COLLATE C = {_text(value)})"


def _lookup(key: str, table: Mapping[str, float]) -> str:
    """``table[key]`` as a DOUBLE, NULL when ``key`` is not in ``table`` (exact match)."""
    whens = " ".join(f"WHEN {_text(k)} THEN {_num(v)}" for k, v in table.items())
    return f"(CASE {key} COLLATE C {whens} ELSE NULL END)"


def _sex_base(sex: str, female: str, male: str) -> str:
    """``female`` if ``sex`` is exactly "female", ``male`` if exactly "male", else NULL."""
    return f"(CASE WHEN {_is(sex, 'female')} THEN {female} WHEN {_is(sex, 'male')} THEN {male} ELSE NULL END)"


# dosing._drug_key: " ".join(drug.strip().lower().replace("_", " ").replace("-", " ").split()).
# Python's str.lower() maps to an ASCII letter only A-Z and U+212A KELVIN SIGN (-> "k"); every
# other character whose lowercase differs lowercases to something non-ASCII (U+0130 -> "i" +
# U+0307), so it can never match a table key, which is ASCII. DuckDB's lower() maps U+0130 to a
# plain "i", so it is not used: translate() maps exactly the characters that matter.
# str.split() splits on the characters for which str.isspace() is true (listed below).
# tests/unit/clinical/test_sql.py checks both lists against every code point.
_LOWER_FROM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ\u212a"
_LOWER_TO = "abcdefghijklmnopqrstuvwxyzk"
_PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SEPARATORS_RE = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _PY_WHITESPACE) + "_\\-]+"


def _check_drug_keys(*tables: Mapping[str, float]) -> None:
    """The SQL drug key is exact only for table keys of lowercase ASCII letters, digits, spaces."""
    for table in tables:
        for key in table:
            if not key or not all(c.isascii() and (c.islower() or c.isdigit() or c == " ") for c in key):
                raise ValueError(
                    f"drug key {key!r} is not lowercase ASCII: the SQL drug key would not match it"
                )


_check_drug_keys(PREDNISONE_FACTORS, MYCOPHENOLATE_FACTORS)


def python_lower(text: str) -> str:
    """SQL of ``str.lower()`` for every result that can be ASCII (A-Z, and the Kelvin sign
    to "k"); DuckDB's ``lower()`` would also turn U+0130 into a plain "i"."""
    return f"translate({text}, {_text(_LOWER_FROM)}, {_text(_LOWER_TO)})"


def without_python_whitespace(text: str) -> str:
    """SQL of ``"".join(text.split())``: every character ``str.isspace()`` knows removed."""
    pattern = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in _PY_WHITESPACE) + "]+"
    return f"regexp_replace({text}, {_text(pattern)}, '', 'g')"


def _drug_key(drug: str) -> str:
    """SQL of ``dosing._drug_key(drug)`` (exact for the strings that can match an ASCII key)."""
    lowered = python_lower(drug)
    return f"trim(regexp_replace({lowered}, {_text(_SEPARATORS_RE)}, ' ', 'g'), ' ')"


# --------------------------------------------------------------------------------------------
# Dates
# --------------------------------------------------------------------------------------------


@_register("age_in_years")
def age_in_years(*, birth_date: str, on: str) -> str:
    """Age in completed years (BIGINT); NULL when ``on`` is before ``birth_date``.

    Python: ``on.year - birth.year``, minus 1 if ``on`` is before that year's birthday, where a
    29 February birthday falls on 1 March in a non-leap year. That convention makes "before
    the birthday" the same as comparing (month, day) pairs in every year: in a leap year
    (m, d) < (2, 29) is "before 29 February"; in a non-leap year February stops at 28, so
    (m, d) < (2, 29) is "m <= 2", i.e. "before 1 March". A datetime/TIMESTAMP is reduced to its
    date, as ``dates._as_date`` does.
    """
    b = f"CAST(({birth_date}) AS DATE)"
    d = f"CAST(({on}) AS DATE)"
    before_birthday = f"(month({d}) * 100 + day({d}) < month({b}) * 100 + day({b}))"
    return (
        f"(CASE WHEN {d} >= {b} "
        f"THEN year({d}) - year({b}) - CASE WHEN {before_birthday} THEN 1 ELSE 0 END "
        "ELSE NULL END)"
    )


# --------------------------------------------------------------------------------------------
# Renal function
# --------------------------------------------------------------------------------------------


@_register("cockcroft_gault")
def cockcroft_gault(*, age_years: str, weight_kg: str, creatinine_mg_dl: str, sex: str) -> str:
    """Creatinine clearance, Cockcroft-Gault (mL/min, DOUBLE).

    renal.cockcroft_gault: ``(140.0 - age) * weight / (72.0 * scr)``, then ``* 0.85`` if sex is
    exactly "female"; NULL unless sex is exactly "female"/"male", scr and weight are finite and
    > 0 and age is finite with 0 <= age < 140.
    """
    age, weight, scr = f"({age_years})", f"({weight_kg})", f"({creatinine_mg_dl})"
    clearance = f"(({_num(renal.CG_AGE_FROM)} - {age}) * {weight} / ({_num(renal.CG_DIVISOR)} * {scr}))"
    valid = (
        f"{_positive(scr)} AND {_positive(weight)} AND {_finite(age)} "
        f"AND {age} >= 0 AND {age} < {_num(renal.CG_AGE_FROM)}"
    )
    by_sex = _sex_base(f"({sex})", f"{clearance} * {_num(renal.CG_FEMALE)}", clearance)
    return f"(CASE WHEN {valid} THEN {by_sex} ELSE NULL END)"


@_register("egfr_ckd_epi_2021")
def egfr_ckd_epi_2021(*, age_years: str, creatinine_mg_dl: str, sex: str) -> str:
    """eGFR, CKD-EPI 2021 race-free (mL/min/{1.73_m2}, DOUBLE).

    renal.egfr_ckd_epi_2021: ``142.0 * least(r, 1.0) ** a * greatest(r, 1.0) ** -1.2 *
    0.9938 ** age``, then ``* 1.012`` if sex is exactly "female", where ``r = scr / k``; ``k`` and
    ``a`` by sex (``renal.CKD_EPI_2021_KAPPA``, ``renal.CKD_EPI_2021_ALPHA``). NULL unless sex is
    exactly "female"/"male", scr is finite and > 0 and age is finite with 18 <= age <= 130.
    Python's ``min``/``max`` and ``**`` are DuckDB's ``least``/``greatest`` and ``pow``.
    """
    age, scr, s = f"({age_years})", f"({creatinine_mg_dl})", f"({sex})"
    kappa = _sex_base(s, _num(renal.CKD_EPI_2021_KAPPA["female"]), _num(renal.CKD_EPI_2021_KAPPA["male"]))
    alpha = _sex_base(s, _num(renal.CKD_EPI_2021_ALPHA["female"]), _num(renal.CKD_EPI_2021_ALPHA["male"]))
    ratio = f"({scr} / {kappa})"
    egfr = (
        f"({_num(renal.CKD_EPI_2021_BASE)} * pow(least({ratio}, {_num(1.0)}), {alpha}) "
        f"* pow(greatest({ratio}, {_num(1.0)}), {_num(renal.CKD_EPI_2021_ABOVE_KAPPA)}) "
        f"* pow({_num(renal.CKD_EPI_2021_AGE_BASE)}, {age}))"
    )
    valid = (
        f"{_positive(scr)} AND {_finite(age)} AND {age} >= {_num(renal.CKD_EPI_2021_MIN_AGE)} "
        f"AND {age} <= {_num(renal.CKD_EPI_2021_MAX_AGE)}"
    )
    by_sex = _sex_base(s, f"{egfr} * {_num(renal.CKD_EPI_2021_FEMALE)}", egfr)
    return f"(CASE WHEN {valid} THEN {by_sex} ELSE NULL END)"


# --------------------------------------------------------------------------------------------
# Body size
# --------------------------------------------------------------------------------------------


@_register("bsa_mosteller")
def bsa_mosteller(*, height_cm: str, weight_kg: str) -> str:
    """Body surface area, Mosteller (m2, DOUBLE): ``sqrt(height * weight / 3600.0)``.

    NULL unless height and weight are finite and > 0 (body.bsa_mosteller).
    """
    h, w = f"({height_cm})", f"({weight_kg})"
    return (
        f"(CASE WHEN {_positive(h)} AND {_positive(w)} "
        f"THEN sqrt({h} * {w} / {_num(body.MOSTELLER_DIVISOR)}) ELSE NULL END)"
    )


@_register("bsa_dubois")
def bsa_dubois(*, height_cm: str, weight_kg: str) -> str:
    """Body surface area, Du Bois (m2, DOUBLE): ``0.007184 * weight**0.425 * height**0.725``.

    NULL unless height and weight are finite and > 0 (body.bsa_dubois).
    """
    h, w = f"({height_cm})", f"({weight_kg})"
    bsa = (
        f"{_num(body.DUBOIS_FACTOR)} * pow({w}, {_num(body.DUBOIS_WEIGHT_POWER)}) "
        f"* pow({h}, {_num(body.DUBOIS_HEIGHT_POWER)})"
    )
    return f"(CASE WHEN {_positive(h)} AND {_positive(w)} THEN {bsa} ELSE NULL END)"


@_register("ideal_body_weight_devine")
def ideal_body_weight_devine(*, height_cm: str, sex: str) -> str:
    """Ideal body weight, Devine (kg, DOUBLE): ``base + 2.3 * (height / 2.54 - 60.0)``.

    base = 50.0 if sex is exactly "male", 45.5 if exactly "female"; NULL for another sex, a
    height not finite and > 0, or a result <= 0 (body.ideal_body_weight_devine). 2.54 is
    ``body.CM_PER_INCH``.
    """
    h = f"({height_cm})"
    base = _sex_base(f"({sex})", _num(body.DEVINE_BASE_FEMALE), _num(body.DEVINE_BASE_MALE))
    inches = f"({h} / {_num(CM_PER_INCH)} - {_num(body.DEVINE_FROM_INCHES)})"
    ibw = f"({base} + {_num(body.DEVINE_PER_INCH)} * {inches})"
    return f"(CASE WHEN {_positive(h)} AND {ibw} > 0 THEN {ibw} ELSE NULL END)"


@_register("adjusted_body_weight")
def adjusted_body_weight(*, weight_kg: str, ideal_weight_kg: str) -> str:
    """Adjusted body weight (kg, DOUBLE): ``ideal + 0.4 * (weight - ideal)``.

    NULL unless both weights are finite and > 0 (body.adjusted_body_weight).
    """
    w, ideal = f"({weight_kg})", f"({ideal_weight_kg})"
    return (
        f"(CASE WHEN {_positive(w)} AND {_positive(ideal)} "
        f"THEN {ideal} + {_num(body.ADJBW_FACTOR)} * ({w} - {ideal}) ELSE NULL END)"
    )


# --------------------------------------------------------------------------------------------
# Dosing
# --------------------------------------------------------------------------------------------


@_register("prednisone_equivalent_mg")
def prednisone_equivalent_mg(*, drug: str, dose_mg: str) -> str:
    """Prednisone-equivalent dose (mg, DOUBLE): ``dose * PREDNISONE_FACTORS[drug key]``.

    The drug key is normalised as ``dosing._drug_key`` does (case, ``_``, ``-`` and runs of
    whitespace ignored); NULL for an unknown drug or a dose not finite and >= 0
    (dosing.prednisone_equivalent_mg). Factors: ``dosing.PREDNISONE_FACTORS``.
    """
    dose = f"({dose_mg})"
    factor = _lookup(_drug_key(f"({drug})"), PREDNISONE_FACTORS)
    return f"(CASE WHEN {_non_negative(dose)} THEN {dose} * {factor} ELSE NULL END)"


@_register("mmf_equivalent_mg")
def mmf_equivalent_mg(*, drug: str, dose_mg: str) -> str:
    """Mycophenolate mofetil-equivalent dose (mg, DOUBLE): ``dose * MYCOPHENOLATE_FACTORS[key]``.

    Drug key as in :func:`prednisone_equivalent_mg`; NULL for another drug or a dose not finite
    and >= 0 (dosing.mmf_equivalent_mg). Factors: ``dosing.MYCOPHENOLATE_FACTORS``.
    """
    dose = f"({dose_mg})"
    factor = _lookup(_drug_key(f"({drug})"), MYCOPHENOLATE_FACTORS)
    return f"(CASE WHEN {_non_negative(dose)} THEN {dose} * {factor} ELSE NULL END)"


@_register("dose_per_kg")
def dose_per_kg(*, dose_mg: str, weight_kg: str) -> str:
    """Dose per kg (mg/kg, DOUBLE): ``dose / weight``.

    NULL unless the dose is finite and >= 0 and the weight finite and > 0 (dosing.dose_per_kg).
    """
    dose, w = f"({dose_mg})", f"({weight_kg})"
    return f"(CASE WHEN {_non_negative(dose)} AND {_positive(w)} THEN {dose} / {w} ELSE NULL END)"


@_register("dose_per_m2")
def dose_per_m2(*, dose_mg: str, bsa_m2: str) -> str:
    """Dose per m2 (mg/m2, DOUBLE): ``dose / bsa``.

    NULL unless the dose is finite and >= 0 and the BSA finite and > 0 (dosing.dose_per_m2).
    """
    dose, bsa = f"({dose_mg})", f"({bsa_m2})"
    return f"(CASE WHEN {_non_negative(dose)} AND {_positive(bsa)} THEN {dose} / {bsa} ELSE NULL END)"


def _dose_in_period(dose_mg: str, frequency: str, days: float) -> str:
    """dosing._dose_in_period: ``dose`` for "once", else ``dose * FREQUENCIES[frequency] * days``.

    ``frequency`` must be exactly a key of ``dosing.FREQUENCIES`` (no normalisation, as in
    Python); NULL otherwise, or for a dose not finite and >= 0.
    """
    dose, freq = f"({dose_mg})", f"({frequency})"
    per_day = _lookup(freq, FREQUENCIES)
    amount = f"CASE WHEN {_is(freq, 'once')} THEN {dose} ELSE {dose} * {per_day} * {_num(days)} END"
    return f"(CASE WHEN {_non_negative(dose)} AND {per_day} IS NOT NULL THEN {amount} ELSE NULL END)"


@_register("daily_dose_mg")
def daily_dose_mg(*, dose_mg: str, frequency: str) -> str:
    """Dose per day (mg/d, DOUBLE): dosing.daily_dose_mg (days = 1.0)."""
    return _dose_in_period(dose_mg, frequency, 1.0)


@_register("weekly_dose_mg")
def weekly_dose_mg(*, dose_mg: str, frequency: str) -> str:
    """Dose per 7-day week (mg/wk, DOUBLE): dosing.weekly_dose_mg (``dosing.DAYS_PER_WEEK``)."""
    return _dose_in_period(dose_mg, frequency, DAYS_PER_WEEK)


@_register("monthly_dose_mg")
def monthly_dose_mg(*, dose_mg: str, frequency: str) -> str:
    """Dose per 30.4375-day month (mg/mo, DOUBLE): dosing.monthly_dose_mg (``DAYS_PER_MONTH``)."""
    return _dose_in_period(dose_mg, frequency, DAYS_PER_MONTH)


# --------------------------------------------------------------------------------------------
# Laboratory
# --------------------------------------------------------------------------------------------


@_register("times_upper_limit")
def times_upper_limit(*, value: str, upper_limit: str) -> str:
    """A lab value as a multiple of the ULN (x ULN, DOUBLE): ``value / upper_limit``.

    NULL unless the limit is finite and > 0 and the value finite and >= 0
    (labs.times_upper_limit).
    """
    v, limit = f"({value})", f"({upper_limit})"
    return f"(CASE WHEN {_non_negative(v)} AND {_positive(limit)} THEN {v} / {limit} ELSE NULL END)"
