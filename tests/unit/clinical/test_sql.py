"""SQL twins of the clinical functions agree with the Python functions (screener.clinical.sql).

Each function is evaluated both ways on the same inputs: in Python (``FUNCTIONS[name].fn``,
ValueError/ZeroDivisionError/KeyError meaning None, as the vectorized path's flatten treats
them) and in DuckDB (the SQL form applied to typed SQL literals, and to columns of a table).
Results must agree: both None/NULL, equal ints, or floats within 1e-9 relative.
"""

from __future__ import annotations

import calendar
import inspect
import math
from collections.abc import Callable, Iterator, Mapping
from datetime import date, timedelta
from typing import Any

import pytest

duckdb = pytest.importorskip("duckdb")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from screener.clinical import FUNCTIONS  # noqa: E402
from screener.clinical import sql as sql_module  # noqa: E402
from screener.clinical.dosing import FREQUENCIES, MYCOPHENOLATE_FACTORS, PREDNISONE_FACTORS  # noqa: E402
from screener.clinical.sql import SQL_FORMS, sql_call  # noqa: E402

REQUIRED = {
    "age_in_years",
    "cockcroft_gault",
    "egfr_ckd_epi_2021",
    "bsa_mosteller",
    "times_upper_limit",
    "prednisone_equivalent_mg",
    "mmf_equivalent_mg",
    "dose_per_kg",
    "dose_per_m2",
}

# SQL type of each parameter; every other parameter is a DOUBLE.
TEXT_PARAMS = {"sex", "drug", "frequency"}
DATE_PARAMS = {"birth_date", "on"}


def sql_type(param: str) -> str:
    if param in TEXT_PARAMS:
        return "VARCHAR"
    if param in DATE_PARAMS:
        return "DATE"
    return "DOUBLE"


def literal(param: str, value: Any) -> str:
    """``value`` as a typed SQL literal, e.g. ``CAST(72.5 AS DOUBLE)``."""
    kind = sql_type(param)
    if value is None:
        return f"CAST(NULL AS {kind})"
    if kind == "DOUBLE":
        return f"CAST('{float(value)!r}' AS DOUBLE)"
    if kind == "DATE":
        return f"CAST('{value.isoformat()}' AS DATE)"
    return "CAST('" + value.replace("'", "''") + "' AS VARCHAR)"


@pytest.fixture(scope="module")
def con() -> Iterator[Any]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def in_python(name: str, kwargs: Mapping[str, Any]) -> Any:
    try:
        return FUNCTIONS[name].fn(**kwargs)
    except (ValueError, ZeroDivisionError, KeyError):
        return None


def in_sql(con: Any, name: str, kwargs: Mapping[str, Any]) -> Any:
    expr = SQL_FORMS[name](**{p: literal(p, v) for p, v in kwargs.items()})
    return con.execute("SELECT " + expr).fetchone()[0]


def agree(expected: Any, got: Any) -> bool:
    if expected is None or got is None:
        return expected is None and got is None
    if isinstance(expected, bool):
        return isinstance(got, bool) and expected == got
    if isinstance(expected, int):
        return type(got) is int and expected == got
    assert isinstance(expected, float)
    if type(got) is not float:
        return False
    if math.isnan(expected):
        return math.isnan(got)
    return math.isclose(expected, got, rel_tol=1e-9, abs_tol=0.0)


def check(con: Any, name: str, kwargs: Mapping[str, Any]) -> None:
    expected = in_python(name, kwargs)
    got = in_sql(con, name, kwargs)
    assert agree(expected, got), f"{name}({kwargs!r}): Python {expected!r}, SQL {got!r}"


# --- strategies -----------------------------------------------------------------------------

SPECIAL_NUMBERS = [
    0.0,
    -0.0,
    -1.0,
    -1e-300,
    5e-324,
    1e-300,
    1.0,
    1e308,
    1.7976931348623157e308,
    math.nan,
    math.inf,
    -math.inf,
]


def numbers(low: float, high: float, *extra: float) -> st.SearchStrategy[float]:
    """Clinically plausible values, boundaries (zero, negative, non-finite, huge) and any float."""
    return st.one_of(
        st.floats(low, high),
        st.sampled_from([*SPECIAL_NUMBERS, *extra]),
        st.floats(allow_nan=True, allow_infinity=True),
    )


def _around(x: float) -> list[float]:
    return [math.nextafter(x, -math.inf), x, math.nextafter(x, math.inf)]


# Heights at which the Devine ideal body weight crosses 0 (female 45.5 kg, male 50 kg base).
DEVINE_ZERO_HEIGHTS = [h for base in (45.5, 50.0) for h in _around((60.0 - base / 2.3) * 2.54)]

# Any text DuckDB can hold: UTF-8 encodable (no lone surrogates), no NUL.
TEXT = st.characters(codec="utf-8", exclude_characters="\x00")

SEXES = st.one_of(
    st.sampled_from(["female", "male", "Female", "MALE", "female ", " male", "f", "", "other", "fémale"]),
    st.text(TEXT, max_size=8),
)

FREQUENCY_NAMES = st.one_of(
    st.sampled_from(
        [*FREQUENCIES, "BID", "Daily", "every 2 weeks", "every-2-weeks", " once", "once ", "q.d.", ""]
    ),
    st.text(TEXT, max_size=12),
)

# Separators that Python's _drug_key folds into one space, and look-alikes it does not
# (zero-width space, Mongolian vowel separator, no-break hyphen).
_FOLDED = [*sql_module._PY_WHITESPACE, "_", "-"]
_NOT_FOLDED = ["\u200b", "\u180e", "\u2011", "."]
_SEPARATOR = st.text(alphabet=st.sampled_from(_FOLDED), min_size=1, max_size=3)
_MAYBE_SEPARATOR = st.one_of(
    st.just(""), _SEPARATOR, st.text(alphabet=st.sampled_from(_FOLDED + _NOT_FOLDED), max_size=2)
)
DRUG_KEYS = sorted({*PREDNISONE_FACTORS, *MYCOPHENOLATE_FACTORS})
NEAR_MISSES = ["prednisone acetate", "predni sone", "dexamethasone2", "mycophenolate", "cortisoneacetate"]


def _spellings(ch: str) -> list[str]:
    """Ways to write ``ch`` that Python's lower() may or may not fold back to it."""
    spellings = [ch, ch.upper()]
    if ch == "k":
        spellings.append("\u212a")  # KELVIN SIGN: lower() gives "k"
    if ch == "i":
        spellings.append("\u0130")  # I WITH DOT ABOVE: lower() gives "i" + U+0307, not "i"
    return spellings


@st.composite
def drug_names(draw: st.DrawFn) -> str:
    """A known drug (or a near miss) in random case, with random separators and padding."""
    key = draw(st.sampled_from(DRUG_KEYS + NEAR_MISSES))
    parts = [draw(_MAYBE_SEPARATOR)]
    for ch in key:
        if ch == " ":
            parts.append(draw(st.one_of(_SEPARATOR, _MAYBE_SEPARATOR)))
        else:
            parts.append(draw(st.sampled_from(_spellings(ch))))
    parts.append(draw(_MAYBE_SEPARATOR))
    return "".join(parts)


DRUGS = st.one_of(drug_names(), st.text(TEXT, max_size=20))

LEAP_YEARS = st.integers(1, 9999).filter(calendar.isleap)


def _shift(d: date, days: int) -> date:
    try:
        return d + timedelta(days=days)
    except OverflowError:
        return d


@st.composite
def birth_and_on(draw: st.DrawFn) -> dict[str, date]:
    """A birth date (often 29 February) and a date near a birthday, on it, or anywhere."""
    birth = draw(st.one_of(st.dates(), LEAP_YEARS.map(lambda y: date(y, 2, 29))))
    mode = draw(st.sampled_from(["any", "near_birthday", "near_birth"]))
    if mode == "any":
        return {"birth_date": birth, "on": draw(st.dates())}
    if mode == "near_birth":  # born today, tomorrow, yesterday...
        return {"birth_date": birth, "on": _shift(birth, draw(st.integers(-2, 2)))}
    year = draw(st.integers(birth.year, 9999))
    if (birth.month, birth.day) == (2, 29) and not calendar.isleap(year):
        anchor = draw(st.sampled_from([date(year, 2, 28), date(year, 3, 1)]))
    else:
        anchor = date(year, birth.month, birth.day)
    return {"birth_date": birth, "on": _shift(anchor, draw(st.integers(-2, 2)))}


def _args(**params: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(params)


ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "age_in_years": birth_and_on(),
    "cockcroft_gault": _args(
        age_years=numbers(0.0, 150.0, 139.99999999999997, 140.0, 18.0),
        weight_kg=numbers(0.0, 300.0),
        creatinine_mg_dl=numbers(0.0, 15.0),
        sex=SEXES,
    ),
    "egfr_ckd_epi_2021": _args(
        age_years=numbers(0.0, 150.0, 18.0, 17.999999999999996, 130.0, 130.00000000000003),
        creatinine_mg_dl=numbers(0.0, 15.0, 0.7, 0.9, 0.6999999999999998, 0.9000000000000001),
        sex=SEXES,
    ),
    "bsa_mosteller": _args(height_cm=numbers(0.0, 250.0), weight_kg=numbers(0.0, 300.0)),
    "bsa_dubois": _args(height_cm=numbers(0.0, 250.0), weight_kg=numbers(0.0, 300.0)),
    "ideal_body_weight_devine": _args(height_cm=numbers(0.0, 250.0, *DEVINE_ZERO_HEIGHTS), sex=SEXES),
    "adjusted_body_weight": _args(weight_kg=numbers(0.0, 300.0), ideal_weight_kg=numbers(0.0, 120.0)),
    "prednisone_equivalent_mg": _args(drug=DRUGS, dose_mg=numbers(0.0, 1000.0, 0.75, 1.5)),
    "mmf_equivalent_mg": _args(drug=DRUGS, dose_mg=numbers(0.0, 4000.0, 720.0, 1440.0)),
    "dose_per_kg": _args(dose_mg=numbers(0.0, 5000.0), weight_kg=numbers(0.0, 300.0)),
    "dose_per_m2": _args(dose_mg=numbers(0.0, 5000.0), bsa_m2=numbers(0.0, 3.0)),
    "daily_dose_mg": _args(dose_mg=numbers(0.0, 5000.0), frequency=FREQUENCY_NAMES),
    "weekly_dose_mg": _args(dose_mg=numbers(0.0, 5000.0), frequency=FREQUENCY_NAMES),
    "monthly_dose_mg": _args(dose_mg=numbers(0.0, 5000.0), frequency=FREQUENCY_NAMES),
    "times_upper_limit": _args(value=numbers(0.0, 5000.0), upper_limit=numbers(0.0, 200.0)),
}

# Hand-picked cases: each function's boundaries, written out so that they always run.
D = date
CASES: list[tuple[str, dict[str, Any]]] = [
    # 29 February: 17 on 28 February and 18 on 1 March in a non-leap year; 18 on 29 February in
    # a leap year.
    ("age_in_years", {"birth_date": D(2008, 2, 29), "on": D(2026, 2, 28)}),
    ("age_in_years", {"birth_date": D(2008, 2, 29), "on": D(2026, 3, 1)}),
    ("age_in_years", {"birth_date": D(2008, 2, 29), "on": D(2028, 2, 28)}),
    ("age_in_years", {"birth_date": D(2008, 2, 29), "on": D(2028, 2, 29)}),
    ("age_in_years", {"birth_date": D(2000, 2, 29), "on": D(2100, 2, 28)}),  # 2100 is not leap
    ("age_in_years", {"birth_date": D(2000, 2, 29), "on": D(2100, 3, 1)}),
    ("age_in_years", {"birth_date": D(2008, 11, 25), "on": D(2026, 11, 24)}),  # birthday tomorrow
    ("age_in_years", {"birth_date": D(2008, 11, 25), "on": D(2026, 11, 25)}),  # birthday today
    ("age_in_years", {"birth_date": D(2026, 1, 1), "on": D(2026, 1, 1)}),  # born today
    ("age_in_years", {"birth_date": D(2026, 1, 2), "on": D(2026, 1, 1)}),  # born tomorrow
    ("age_in_years", {"birth_date": D(1, 1, 1), "on": D(9999, 12, 31)}),
    ("cockcroft_gault", {"age_years": 60.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "female"}),
    ("cockcroft_gault", {"age_years": 60.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("cockcroft_gault", {"age_years": 60.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "Male"}),
    ("cockcroft_gault", {"age_years": 140.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("cockcroft_gault", {"age_years": -0.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("cockcroft_gault", {"age_years": 60.0, "weight_kg": 0.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("cockcroft_gault", {"age_years": 60.0, "weight_kg": 72.0, "creatinine_mg_dl": 0.0, "sex": "male"}),
    ("cockcroft_gault", {"age_years": math.nan, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    # overflow: inf / inf = nan in both
    ("cockcroft_gault", {"age_years": 0.0, "weight_kg": 1e308, "creatinine_mg_dl": 1e308, "sex": "male"}),
    ("egfr_ckd_epi_2021", {"age_years": 55.0, "creatinine_mg_dl": 1.2, "sex": "male"}),
    ("egfr_ckd_epi_2021", {"age_years": 27.0, "creatinine_mg_dl": 1.78, "sex": "female"}),
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 0.7, "sex": "female"}),  # at k
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 0.5, "sex": "female"}),  # below k
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 0.9, "sex": "male"}),  # at k
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 0.6, "sex": "male"}),  # below k
    ("egfr_ckd_epi_2021", {"age_years": 18.0, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("egfr_ckd_epi_2021", {"age_years": 17.0, "creatinine_mg_dl": 1.0, "sex": "male"}),  # child
    ("egfr_ckd_epi_2021", {"age_years": 130.0, "creatinine_mg_dl": 1.0, "sex": "female"}),
    ("egfr_ckd_epi_2021", {"age_years": 131.0, "creatinine_mg_dl": 1.0, "sex": "female"}),
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 0.0, "sex": "male"}),
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 1.0, "sex": "Male"}),
    ("egfr_ckd_epi_2021", {"age_years": 40.0, "creatinine_mg_dl": 1e-300, "sex": "female"}),  # overflow
    ("egfr_ckd_epi_2021", {"age_years": math.nan, "creatinine_mg_dl": 1.0, "sex": "male"}),
    ("bsa_mosteller", {"height_cm": 170.0, "weight_kg": 70.0}),
    ("bsa_mosteller", {"height_cm": 0.0, "weight_kg": 70.0}),
    ("bsa_mosteller", {"height_cm": 170.0, "weight_kg": -70.0}),
    ("bsa_mosteller", {"height_cm": 1e308, "weight_kg": 1e308}),  # inf in both
    ("bsa_dubois", {"height_cm": 170.0, "weight_kg": 70.0}),
    ("bsa_dubois", {"height_cm": math.inf, "weight_kg": 70.0}),
    ("ideal_body_weight_devine", {"height_cm": 170.0, "sex": "female"}),
    ("ideal_body_weight_devine", {"height_cm": 170.0, "sex": "male"}),
    ("ideal_body_weight_devine", {"height_cm": 90.0, "sex": "male"}),  # formula gives <= 0
    ("ideal_body_weight_devine", {"height_cm": 170.0, "sex": "unknown"}),
    ("adjusted_body_weight", {"weight_kg": 120.0, "ideal_weight_kg": 70.0}),
    ("adjusted_body_weight", {"weight_kg": 120.0, "ideal_weight_kg": 0.0}),
    ("prednisone_equivalent_mg", {"drug": "dexamethasone", "dose_mg": 1.5}),
    ("prednisone_equivalent_mg", {"drug": " Cortisone_Acetate ", "dose_mg": 25.0}),
    ("prednisone_equivalent_mg", {"drug": "cortisone--acetate", "dose_mg": 25.0}),
    ("prednisone_equivalent_mg", {"drug": "PREDN\u0130SONE", "dose_mg": 10.0}),  # DuckDB lower() -> match
    ("prednisone_equivalent_mg", {"drug": "Prednisone", "dose_mg": -1.0}),
    ("prednisone_equivalent_mg", {"drug": "budesonide", "dose_mg": 9.0}),
    ("prednisone_equivalent_mg", {"drug": "", "dose_mg": 9.0}),
    ("prednisone_equivalent_mg", {"drug": "it's", "dose_mg": 9.0}),
    ("mmf_equivalent_mg", {"drug": "mycophenolic_acid", "dose_mg": 720.0}),
    ("mmf_equivalent_mg", {"drug": "Mycophenolate-Mofetil", "dose_mg": 1000.0}),
    ("mmf_equivalent_mg", {"drug": "prednisone", "dose_mg": 1000.0}),
    ("dose_per_kg", {"dose_mg": 0.0, "weight_kg": 70.0}),
    ("dose_per_kg", {"dose_mg": 500.0, "weight_kg": 0.0}),
    ("dose_per_kg", {"dose_mg": 500.0, "weight_kg": -0.0}),
    ("dose_per_kg", {"dose_mg": -0.0, "weight_kg": 70.0}),
    ("dose_per_m2", {"dose_mg": 375.0, "bsa_m2": 1.8}),
    ("dose_per_m2", {"dose_mg": 375.0, "bsa_m2": math.inf}),
    ("daily_dose_mg", {"dose_mg": 500.0, "frequency": "bid"}),
    ("daily_dose_mg", {"dose_mg": 500.0, "frequency": "BID"}),
    ("weekly_dose_mg", {"dose_mg": 2.5, "frequency": "daily"}),
    ("weekly_dose_mg", {"dose_mg": 1000.0, "frequency": "once"}),
    ("monthly_dose_mg", {"dose_mg": 1000.0, "frequency": "monthly"}),
    ("monthly_dose_mg", {"dose_mg": 1000.0, "frequency": "every_4_weeks"}),
    ("monthly_dose_mg", {"dose_mg": -1.0, "frequency": "once"}),
    ("times_upper_limit", {"value": 100.0, "upper_limit": 40.0}),
    ("times_upper_limit", {"value": -0.0, "upper_limit": 40.0}),
    ("times_upper_limit", {"value": 100.0, "upper_limit": 0.0}),
    ("times_upper_limit", {"value": -5.0, "upper_limit": 40.0}),
]


# --- the registry and the API ---------------------------------------------------------------


def test_every_required_function_has_an_sql_form() -> None:
    assert set(SQL_FORMS) >= REQUIRED
    assert set(SQL_FORMS) <= set(FUNCTIONS)


def test_every_sql_form_is_tested_here() -> None:
    assert set(ARGUMENTS) == set(SQL_FORMS)
    assert {name for name, _ in CASES} == set(SQL_FORMS)


@pytest.mark.parametrize("name", sorted(SQL_FORMS))
def test_sql_form_takes_the_python_parameters(name: str) -> None:
    parameters = inspect.signature(SQL_FORMS[name]).parameters
    assert tuple(parameters) == FUNCTIONS[name].params


@pytest.mark.parametrize("name", sorted(SQL_FORMS))
def test_sql_form_cites_the_python_source(name: str) -> None:
    assert FUNCTIONS[name].citation in (SQL_FORMS[name].__doc__ or "")


def test_sql_call_builds_the_expression(con: Any) -> None:
    expr = sql_call("dose_per_kg", dose_mg="CAST(500 AS DOUBLE)", weight_kg="CAST(50 AS DOUBLE)")
    assert expr.startswith("(") and expr.endswith(")")
    assert con.execute("SELECT " + expr).fetchone()[0] == 10.0


def test_sql_call_unknown_function_is_a_key_error() -> None:
    with pytest.raises(KeyError, match=r"unknown clinical function 'bsa_mostelle'.*mean 'bsa_mosteller'"):
        sql_call("bsa_mostelle", height_cm="1", weight_kg="1")


def test_sql_call_function_without_sql_form_is_a_key_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(SQL_FORMS, "bsa_dubois")
    with pytest.raises(KeyError, match="'bsa_dubois' has no SQL form"):
        sql_call("bsa_dubois", height_cm="1", weight_kg="1")


def test_sql_call_checks_the_arguments() -> None:
    with pytest.raises(TypeError, match="missing weight_kg; unexpected weight"):
        sql_call("dose_per_kg", dose_mg="1", weight="1")


def test_python_character_tables_of_the_drug_key() -> None:
    """The SQL drug key folds exactly the characters Python's str.lower()/str.split() fold."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert "".join(c for c in chars if c.isspace()) == sql_module._PY_WHITESPACE
    to_ascii = {c: c.lower() for c in chars if c.lower() != c and c.lower().isascii()}
    assert to_ascii == dict(zip(sql_module._LOWER_FROM, sql_module._LOWER_TO, strict=True))
    # Every other character whose lowercase differs lowercases to something non-ASCII, so it can
    # match no (ASCII) drug key in Python, and is left as is (non-ASCII) in SQL.
    for c in chars:
        if c.lower() != c and c not in to_ascii:
            assert not c.isascii() and not c.lower().isascii(), repr(c)


# --- agreement ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_boundary_cases_agree(con: Any, name: str, kwargs: dict[str, Any]) -> None:
    check(con, name, kwargs)


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_agrees_with_python(con: Any, name: str, data: st.DataObject) -> None:
    check(con, name, data.draw(ARGUMENTS[name], label="kwargs"))


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_agrees_with_python_on_table_columns(con: Any, name: str, data: st.DataObject) -> None:
    """Over columns of a table (no constant folding; valid and invalid rows mixed)."""
    rows = data.draw(st.lists(ARGUMENTS[name], min_size=1, max_size=40), label="rows")
    params = FUNCTIONS[name].params
    columns = ", ".join(f'"{p}" {sql_type(p)}' for p in params)
    con.execute(f"CREATE OR REPLACE TEMP TABLE args (i INTEGER, {columns})")
    values = ", ".join(
        "(" + ", ".join([str(i), *(literal(p, row[p]) for p in params)]) + ")" for i, row in enumerate(rows)
    )
    con.execute(f"INSERT INTO args VALUES {values}")
    expr = SQL_FORMS[name](**{p: f'"{p}"' for p in params})
    got = [r[0] for r in con.execute(f"SELECT {expr} FROM args ORDER BY i").fetchall()]
    for row, value in zip(rows, got, strict=True):
        expected = in_python(name, row)
        assert agree(expected, value), f"{name}({row!r}): Python {expected!r}, SQL {value!r}"


VALID: dict[str, dict[str, Any]] = {
    "age_in_years": {"birth_date": D(1980, 6, 15), "on": D(2026, 6, 15)},
    "cockcroft_gault": {"age_years": 60.0, "weight_kg": 72.0, "creatinine_mg_dl": 1.0, "sex": "female"},
    "egfr_ckd_epi_2021": {"age_years": 60.0, "creatinine_mg_dl": 1.0, "sex": "female"},
    "bsa_mosteller": {"height_cm": 170.0, "weight_kg": 70.0},
    "bsa_dubois": {"height_cm": 170.0, "weight_kg": 70.0},
    "ideal_body_weight_devine": {"height_cm": 170.0, "sex": "male"},
    "adjusted_body_weight": {"weight_kg": 120.0, "ideal_weight_kg": 70.0},
    "prednisone_equivalent_mg": {"drug": "prednisolone", "dose_mg": 10.0},
    "mmf_equivalent_mg": {"drug": "mycophenolic acid", "dose_mg": 720.0},
    "dose_per_kg": {"dose_mg": 500.0, "weight_kg": 50.0},
    "dose_per_m2": {"dose_mg": 375.0, "bsa_m2": 1.5},
    "daily_dose_mg": {"dose_mg": 500.0, "frequency": "once"},
    "weekly_dose_mg": {"dose_mg": 500.0, "frequency": "once"},
    "monthly_dose_mg": {"dose_mg": 500.0, "frequency": "once"},
    "times_upper_limit": {"value": 100.0, "upper_limit": 40.0},
}


def _null_cases() -> Iterator[tuple[str, str]]:
    for name in sorted(FUNCTIONS):
        for param in FUNCTIONS[name].params:
            yield name, param


def test_valid_inputs_give_a_value(con: Any) -> None:
    assert set(VALID) == set(SQL_FORMS)
    for name, kwargs in VALID.items():
        assert in_python(name, kwargs) is not None
        check(con, name, kwargs)


@pytest.mark.parametrize(("name", "param"), list(_null_cases()))
def test_a_null_argument_gives_null(con: Any, name: str, param: str) -> None:
    """The caller derives nothing when an input is missing; SQL NULL in must give NULL out."""
    assert in_sql(con, name, {**VALID[name], param: None}) is None


def test_string_comparisons_ignore_the_default_collation() -> None:
    """With SET default_collation = 'nocase', "Male", "BID" still do not match (as in Python)."""
    connection = duckdb.connect()
    try:
        connection.execute("SET default_collation = 'nocase'")
        cases: list[tuple[str, dict[str, Any]]] = [
            ("cockcroft_gault", {**VALID["cockcroft_gault"], "sex": "Female"}),
            ("ideal_body_weight_devine", {"height_cm": 170.0, "sex": "MALE"}),
            ("daily_dose_mg", {"dose_mg": 500.0, "frequency": "BID"}),
            ("daily_dose_mg", {"dose_mg": 500.0, "frequency": "ONCE"}),
            ("prednisone_equivalent_mg", {"drug": "PREDNISONE", "dose_mg": 10.0}),
            ("cockcroft_gault", VALID["cockcroft_gault"]),
        ]
        for name, kwargs in cases:
            check(connection, name, kwargs)
    finally:
        connection.close()


def test_result_types(con: Any) -> None:
    """Python int -> BIGINT, Python float -> DOUBLE."""
    for name, kwargs in VALID.items():
        expr = SQL_FORMS[name](**{p: literal(p, v) for p, v in kwargs.items()})
        (kind,) = con.execute(f"SELECT typeof({expr})").fetchone()
        python_type: Callable[..., Any] = type(in_python(name, kwargs))
        assert kind == {int: "BIGINT", float: "DOUBLE"}[python_type], name
