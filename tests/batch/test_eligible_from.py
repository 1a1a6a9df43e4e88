"""Eligible-from dates computed in SQL (:mod:`screener.vectorized.eligible_from`) against the
rule engine's (:mod:`screener.engine.eligible`): the row's date (``ScreeningResult.eligible_from``,
after the engine's re-screening at the end of the waiting periods) and each failing criterion's
own date, with 0 disagreements, on boundary patients, every rule set's case patients, the
language suite and generated registries (``benchmarks/eligible_from_diff.py`` runs 10k)."""

from __future__ import annotations

import copy
import importlib.util
import sys
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.cases import collect_cases, load_cases
from screener.facts import window_end, window_start
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import Window, load_ruleset
from screener.vectorized.at import add_months_sql, window_end_sql, window_start_sql
from screener.yamlio import LineMap

from .conftest import AS_OF, RULES, base_patient

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = ROOT / "tests" / "data" / "language"
RULE_SET_DIRS = sorted(p.parent for p in (ROOT / "rules").glob("*/rules.yaml"))


def _diff_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "eligible_from_diff", ROOT / "benchmarks" / "eligible_from_diff.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


DIFF = _diff_module()


def _patient(data: dict[str, Any]) -> Patient:
    return patient_from_data(data, LineMap("test", {}))


def _lupus(patient_id: str, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(base_patient())
    data["patient_id"] = patient_id
    for key, value in changes.items():
        if key == "birth_date":
            data["demographics"]["birth_date"] = value
        elif key == "observed":
            data["demographics"]["observed"] = [{"start": "2015-01-01", "end": value}]
        elif key in ("medication", "medications_extra"):
            data["medications"].append(value)
        else:
            data[key] = value
    return data


def _rituximab(last_dose: date) -> dict[str, Any]:
    return {
        "drug": "rituximab",
        "dose": 1000,
        "unit": "mg",
        "route": "iv",
        "frequency": "once",
        "start": last_dose.isoformat(),
        "outcome": "inefficacy",
    }


def _hcq(start: str) -> dict[str, Any]:
    return {
        "drug": "hydroxychloroquine",
        "dose": 200,
        "unit": "mg",
        "route": "oral",
        "frequency": "bid",
        "start": start,
    }


def _check(result: Any) -> None:
    assert result.disagreements == [], "\n".join(result.disagreements)


def test_boundaries_washout_and_age(tmp_path: Path) -> None:
    """E10: rituximab within 6 months (washout ending the day before, on and after the screening
    date); I1: age >= 18 (one day short, on the day, a 29 February birthday)."""
    six_months_back = window_start(AS_OF, Window(months=6))  # 2026-05-25
    patients = [
        _lupus("washout_over_yesterday", medication=_rituximab(six_months_back - timedelta(days=1))),
        _lupus("washout_ends_today", medication=_rituximab(six_months_back)),
        _lupus("washout_ends_tomorrow", medication=_rituximab(six_months_back + timedelta(days=1))),
        _lupus("washout_long", medication=_rituximab(AS_OF - timedelta(days=20))),
        _lupus("one_day_short_of_18", birth_date="2008-11-26"),
        _lupus("eighteen_today", birth_date="2008-11-25"),
        _lupus("born_29_february", birth_date="2012-02-29"),
        _lupus("born_28_february", birth_date="2012-02-28"),
        _lupus("seventeen_and_washout", birth_date="2008-12-01", medication=_rituximab(six_months_back)),
        _lupus("too_old", birth_date="1950-01-01"),
        # I5's wait ends 2026-11-28: 70 that day (I1 fails for good then, no date) or a day later
        _lupus("seventy_at_the_end_of_the_wait", birth_date="1956-11-28", medication=_hcq("2026-10-29")),
        _lupus("sixty_nine_at_the_end_of_the_wait", birth_date="1956-11-29", medication=_hcq("2026-10-29")),
        # I5's wait ends 2026-11-28: inside the observed time then, or outside it (open world)
        _lupus("observed_through_the_wait", medication=_hcq("2026-10-29"), observed="2026-11-30"),
        _lupus("observed_until_before_the_wait_ends", medication=_hcq("2026-10-29"), observed="2026-11-27"),
        # two waits: I5 ends 2026-11-28, and the washout of a rituximab dose dated after today
        _lupus(
            "wait_after_wait", medication=_hcq("2026-10-29"), medications_extra=_rituximab(date(2026, 11, 27))
        ),
    ]
    result = DIFF.compare(RULES, [_patient(p) for p in patients], AS_OF, tmp_path)
    _check(result)
    assert result.rows == len(patients)
    # both sides of each boundary were searched, and some rows carry a date
    assert result.criteria >= 12 and result.criteria_dated >= 11 and result.dated >= 4


def test_boundary_dates_are_the_engines(tmp_path: Path) -> None:
    """The dates themselves, against the engine's reading of the protocol (not only agreement)."""
    six_months_back = window_start(AS_OF, Window(months=6))
    patients = [
        _lupus("washout_ends_today", medication=_rituximab(six_months_back)),
        _lupus("one_day_short_of_18", birth_date="2008-11-26"),
        _lupus("born_29_february", birth_date="2012-02-29"),
    ]
    from screener.batch.fast_piece import RULESETS, FastJob, Piece, _state, release, screen_piece
    from screener.model.rules import find_rule_file, parse_ruleset, read_rule_text
    from screener.tables.write import TablesWriter

    rule_file = find_rule_file(RULES)
    text = read_rule_text(rule_file)
    ruleset = parse_ruleset(text, str(rule_file))
    with TablesWriter(tmp_path / "r", 100) as writer:
        for p in patients:
            writer.add(_patient(p))
    RULESETS[ruleset.sha256] = ruleset
    job = FastJob(str(tmp_path / "r"), text, str(rule_file), ruleset.sha256, AS_OF)
    try:
        piece = screen_piece(job, Piece(0, len(patients) - 1))
        own = {
            (pid, c): when
            for pid, c, when in _state(job).screener.con.execute("SELECT * FROM eligible_criteria").fetchall()
        }
    finally:
        release(job)
    # the washout's last day is the screening date: it passes the day after
    assert own[(0, "E10")] == AS_OF + timedelta(days=1)
    # 18 on the next day; nothing stale by then, so the row carries it
    assert own[(1, "I1")] == date(2026, 11, 26)
    assert dict(piece.eligible)[1] == "2026-11-26"
    # born 29 February 2012: 18 on 1 March 2030 (screener.clinical.dates.age_in_years)
    assert own[(2, "I1")] == date(2030, 3, 1)


def _case_patients(cases: list[Any]) -> dict[date, list[Patient]]:
    by_date: dict[date, dict[str, Patient]] = defaultdict(dict)
    for case in cases:
        by_date[case.as_of].setdefault(case.patient.patient_id, case.patient)
    return {d: list(p.values()) for d, p in by_date.items()}


@pytest.mark.parametrize("rules_dir", RULE_SET_DIRS, ids=lambda p: p.name)
def test_rule_set_cases(rules_dir: Path, tmp_path: Path) -> None:
    """Every rule set's case patients at their screening date and 200 days on."""
    cases, errors = collect_cases(rules_dir, load_ruleset(rules_dir))
    assert not errors
    compared = dated = 0
    # NCT03562065's many case dates at 200 days on only (its dates at the screening date: the
    # generated and boundary patients here; every case and both shifts: benchmarks/eligible_from_diff.py)
    shifts = (200,) if rules_dir.name == "nct03562065" else (0, 200)
    for as_of, patients in sorted(_case_patients(cases).items()):
        for shift in shifts:
            result = DIFF.compare(rules_dir, patients, as_of + timedelta(days=shift), tmp_path)
            _check(result)
            compared += result.rows
            dated += result.criteria_dated
    assert compared > 0 and dated > 0  # the cases include criteria with a date to wait for


def test_language_suite(tmp_path: Path) -> None:
    cases = load_cases(LANGUAGE)
    dated = 0
    for as_of, patients in sorted(_case_patients(cases).items()):
        for shift in (0, 45):
            result = DIFF.compare(LANGUAGE, patients, as_of + timedelta(days=shift), tmp_path)
            _check(result)
            dated += result.criteria_dated
    assert dated > 0


@pytest.mark.parametrize("seed", [11, 13])
def test_generated_registry(seed: int, tmp_path: Path) -> None:
    """400 generated patients in all (the 10k run is benchmarks/eligible_from_diff.py)."""
    as_of = AS_OF + timedelta(days=30 * (seed - 11))
    result = DIFF.compare(RULES, DIFF.generated(200, seed, as_of), as_of, tmp_path)  # 10k: the script
    _check(result)
    assert result.rows >= 195  # of 200 generated (a few may not load)


# ---------------------------------------------------------------------------- calendar twins

DAYS = [date(2023, 12, 31) + timedelta(days=i) for i in range(0, 800, 7)] + [
    date(2024, 2, 29),
    date(2024, 3, 31),
    date(2023, 1, 31),
    date(2024, 1, 31),
    date(2025, 2, 28),
]
WINDOWS = [
    Window(days=1),
    Window(days=30),
    Window(months=1),
    Window(months=6),
    Window(years=1),
    Window(years=3),
]


def test_window_and_month_arithmetic_match_python() -> None:
    import duckdb

    con = duckdb.connect()
    for d in DAYS:
        literal = f"DATE '{d.isoformat()}'"
        for w in WINDOWS:
            got_start, got_end = con.execute(
                f"SELECT {window_start_sql(literal, w)}, {window_end_sql(literal, w)}"
            ).fetchall()[0]
            assert (got_start, got_end) == (window_start(d, w), window_end(d, w)), (d, w)
        for months in (-13, -12, -1, 1, 12, 24):
            from screener.clinical.dates import add_months

            (got,) = con.execute(f"SELECT {add_months_sql(literal, str(months))}").fetchall()[0]
            assert got == add_months(d, months), (d, months)
    con.close()


@pytest.mark.parametrize("rules_dir", [*RULE_SET_DIRS, LANGUAGE], ids=lambda p: p.name)
def test_the_same_criteria_wait_on_both_routes(rules_dir: Path) -> None:
    """The criteria a failing patient may pass later: the engine's and the query's."""
    from screener.engine.evaluate import Engine
    from screener.vectorized import VectorizedScreener
    from screener.vectorized.eligible_from import EligibleFromSQL
    from screener.vectorized.prepare import TablePreparation

    ruleset = load_ruleset(rules_dir)
    engine, fast = Engine(ruleset), VectorizedScreener(ruleset)
    try:
        search = EligibleFromSQL(ruleset, fast.layout, TablePreparation(ruleset, fast.layout), fast.query)
        assert search.time_dependent == engine.time_dependent
        assert search.time_dependent  # every rule set here has a washout or an age limit
    finally:
        engine.close()
        fast.close()
