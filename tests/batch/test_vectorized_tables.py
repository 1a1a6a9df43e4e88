"""Differential test: a columnar registry prepared in SQL screens exactly as the engine does.

The same hypothesis patients go (a) through the durable_rules engine, one by one, and
(b) into a columnar registry (:class:`TablesWriter`) screened by
:meth:`VectorizedScreener.iter_tables`, where the value that counts is chosen in SQL.
Both must give the same outcome for every criterion, at several screening dates; the
prepared tables themselves must equal those of the Python preparation.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.model.patient import Patient, patient_from_data
from screener.tables.write import TablesWriter
from screener.vectorized import VectorizedScreener
from screener.vectorized.sql import OUTCOME_CODES
from screener.yamlio import LineMap

from .conftest import AS_OF, base_patient, variant
from .test_vectorized import ENGINE, EXAMPLES, RULESET, patients

FAST = VectorizedScreener(RULESET)
DATES = (AS_OF, date(2026, 10, 1), date(2027, 2, 28), date(2024, 2, 29))
# Random registries per test; the language suite and the random rule trees cover the routes
# too. A longer search: SCREENER_REGISTRY_EXAMPLES=300 pytest tests/batch/test_vectorized_tables.py


def people(datas: list[dict[str, Any]]) -> list[Patient]:
    return [
        patient_from_data({**d, "patient_id": f"h{i}"}, LineMap(f"h{i}.yaml", {}))
        for i, d in enumerate(datas)
    ]


def write(directory: Path, group: list[Patient], chunk_size: int = 50_000) -> Path:
    with TablesWriter(directory, chunk_size=chunk_size) as writer:
        for patient in group:
            writer.add(patient)
    return directory


def table_outcomes(directory: Path, as_of: date, chunk_size: int = 250_000) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for chunk in FAST.iter_tables(directory, as_of, chunk_size=chunk_size):
        for i, patient_id in enumerate(chunk.patient_ids):
            out[patient_id] = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in FAST.query.criteria}
    return out


def engine_outcomes(group: list[Patient], as_of: date) -> dict[str, dict[str, str]]:
    return {p.patient_id: {c.id: c.outcome for c in ENGINE.screen(p, as_of).criteria} for p in group}


def prepared_tables(con: Any) -> dict[str, list[tuple[Any, ...]]]:
    def clean(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)

    # the SQL route's e and c also carry each record's seq (its id, for explanations)
    columns = {t: "* EXCLUDE (seq)" if "seq" in con.table(t).columns else "*" for t in "pec"}
    return {
        t: [clean(r) for r in con.execute(f"SELECT {columns[t]} FROM {t} ORDER BY ALL").fetchall()]
        for t in "pec"
    }


def test_fixture_variants_agree_with_the_engine(tmp_path: Path) -> None:
    group = [patient_from_data(variant(i), LineMap(f"v{i}", {})) for i in range(10)]
    directory = write(tmp_path / "reg", group, chunk_size=3)
    got = table_outcomes(directory, AS_OF, chunk_size=4)  # chunks of pids cross the parts
    assert got == engine_outcomes(group, AS_OF)
    assert {o["E2"] for o in got.values()} == {"pass", "fail"}  # both sides are exercised


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datas=st.lists(patients(), min_size=1, max_size=6), as_of=st.sampled_from(DATES))
def test_sql_preparation_agrees_with_durable_rules(
    tmp_path_factory: pytest.TempPathFactory, datas: list[dict[str, Any]], as_of: date
) -> None:
    group = people(datas)
    directory = write(tmp_path_factory.mktemp("reg"), group)
    got = table_outcomes(directory, as_of)
    want = engine_outcomes(group, as_of)
    for patient_id, outcomes in want.items():
        assert got[patient_id] == outcomes, {
            k: (v, got[patient_id][k]) for k, v in outcomes.items() if got[patient_id][k] != v
        }


@settings(max_examples=max(EXAMPLES * 2 // 3, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datas=st.lists(patients(), min_size=1, max_size=6), as_of=st.sampled_from(DATES))
def test_sql_preparation_builds_the_same_tables_as_python(
    tmp_path_factory: pytest.TempPathFactory, datas: list[dict[str, Any]], as_of: date
) -> None:
    """Stronger than outcomes: every prepared value (doses, durations, cumulative days...)."""
    group = people(datas)
    tables = FAST.tables()
    for patient in group:
        FAST.add(tables, patient, as_of)
    FAST.register(tables)
    python = prepared_tables(FAST.con)
    directory = write(tmp_path_factory.mktemp("reg"), group)
    list(FAST.iter_tables(directory, as_of))
    assert prepared_tables(FAST.con) == python


def _with(data: dict[str, Any], **observation: Any) -> dict[str, Any]:
    data = {**data, "observations": [*data["observations"], observation]}
    return data


def test_a_value_of_the_wrong_type_makes_that_patient_an_error(tmp_path: Path) -> None:
    good = base_patient()
    odd = _with(base_patient(), name="hiv", value=3, date="2026-11-20")
    group = people([good, odd])
    got = list(FAST.iter_tables(write(tmp_path / "reg", group), AS_OF))
    assert [c.patient_ids for c in got] == [["h0"]]
    (error,) = got[0].errors
    assert (error.patient_id, error.file, error.field) == ("h1", "h1.yaml", "hiv")
    assert "expected one of ['positive', 'negative'], got 3" in error.message


def test_a_unit_with_no_conversion_makes_that_patient_an_error(tmp_path: Path) -> None:
    odd = _with(
        base_patient(), name="creatinine_clearance_measured", value=0.5, unit="mL/s", date="2026-11-20"
    )
    group = people([odd, base_patient()])
    (chunk,) = FAST.iter_tables(write(tmp_path / "reg", group), AS_OF)
    assert chunk.patient_ids == ["h1"]
    (error,) = chunk.errors
    assert error.field == "creatinine_clearance_measured"
    assert "is in mL/s; the rule set needs mL/min" in error.message


def _python_error(patient: Patient) -> str | None:
    from screener.errors import PatientDataError
    from screener.facts import prepare

    try:
        prepare(patient, RULESET, AS_OF)
    except PatientDataError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("kind", "name", "value", "unit", "plausible"),
    [
        # creatinine_clearance_measured is named for its quantity creatinine_clearance (0..500 mL/min)
        ("observations", "creatinine_clearance_measured", 500, "mL/min", True),
        ("observations", "creatinine_clearance_measured", 500.01, "mL/min", False),
        ("observations", "creatinine_clearance_measured", 0, "mL/min", True),
        ("observations", "creatinine_clearance_measured", -0.01, "mL/min", False),
        # selena_sledai's quantity sledai: 0..105 points (the loader also refuses 106 by name)
        ("assessments", "selena_sledai", 105, None, True),
    ],
)
def test_a_value_impossible_for_its_declared_quantity_is_an_error_on_both_routes(
    tmp_path: Path, kind: str, name: str, value: float, unit: str | None, plausible: bool
) -> None:
    """The loader checks quantities by name; a fact named otherwise is checked against the
    quantity its rule set declares, in Python and in SQL alike."""
    data = base_patient()
    if kind == "observations":
        data = _with(data, name=name, value=value, unit=unit, date="2026-11-20")
    else:
        data = {
            **data,
            "assessments": [
                *data.get("assessments", []),
                {"name": name, "score": value, "date": "2026-11-20"},
            ],
        }
    (odd,) = people([data])
    python = _python_error(odd)
    (chunk,) = FAST.iter_tables(write(tmp_path / "reg", [odd]), AS_OF)
    sql = [e.message for e in chunk.errors if e.field == name]
    if plausible:
        assert python is None and sql == []
    else:
        assert python is not None and "is impossible: expected" in python
        assert len(sql) == 1 and sql[0] in python, (sql, python)


def test_an_assessment_is_held_to_its_declared_quantity_too() -> None:
    from screener.facts import implausible

    definition = RULESET.facts["selena_sledai"]
    assert implausible("selena_sledai", definition, 105) is None
    assert "expected 0..105 (sledai)" in (implausible("selena_sledai", definition, 105.5) or "")
    assert implausible("selena_sledai", definition, True) is None  # not a number: the type check says so


def test_skip_resumes_after_the_pids_already_done(tmp_path: Path) -> None:
    group = [patient_from_data(variant(i), LineMap(f"v{i}", {})) for i in range(5)]
    directory = write(tmp_path / "reg", group)
    ids = [i for chunk in FAST.iter_tables(directory, AS_OF, chunk_size=2, skip=3) for i in chunk.patient_ids]
    assert ids == ["p0003", "p0004"]


def test_unit_spellings_fold_in_sql_as_in_python() -> None:
    from screener import units
    from screener.vectorized.prepare import _fold_sql

    spellings = [u for q in units.CANONICAL for u in units.accepted_units(q)]
    variants = [v for u in spellings for v in (u, u.upper(), f" {u}\u00a0", u.replace("u", "\u00b5"))]
    keys = {units._fold(u) for u in spellings}
    assert all(k.isascii() for k in keys)
    for v in variants:
        got, want = FAST.con.execute(f"SELECT {_fold_sql('$1')}", [v]).fetchone()[0], units._fold(v)
        # exact wherever Python's folding can match a spelling (ASCII); elsewhere neither matches
        assert got == want if want.isascii() else got not in keys, (v, got, want)


def test_every_rule_fixture_case_agrees_on_both_fast_routes(tmp_path: Path) -> None:
    """The rule set's own fixture cases (boundaries on both sides, contradictions in the record,
    routes, absent histories): the engine, the Python-prepared and the SQL-prepared fast paths
    give the same outcome for every criterion, at each case's screening date."""
    from screener.cases import load_cases

    from .conftest import RULES

    by_date: dict[date, list[Patient]] = {}
    for case in load_cases(RULES):
        if case.patient is not None:
            by_date.setdefault(case.as_of, []).append(case.patient)
    assert sum(len(g) for g in by_date.values()) > 250
    fast = VectorizedScreener(RULESET)  # its own connection: others' unfinished results stay theirs
    for n, (as_of, group) in enumerate(sorted(by_date.items())):
        group = [
            patient_from_data({**p.raw, "patient_id": f"{p.patient_id}#{i}"}, LineMap(p.file, {}))
            for i, p in enumerate(group)
        ]
        want = engine_outcomes(group, as_of)
        python = dict(zip([p.patient_id for p in group], fast.screen(group, as_of), strict=True))
        sql: dict[str, dict[str, str]] = {}
        for chunk in fast.iter_tables(write(tmp_path / f"reg{n}", group), as_of):
            assert not chunk.errors
            for i, patient_id in enumerate(chunk.patient_ids):
                sql[patient_id] = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in fast.query.criteria}
        for patient_id, outcomes in want.items():
            assert python[patient_id] == outcomes, (patient_id, python[patient_id], outcomes)
            assert sql[patient_id] == outcomes, {
                k: (v, sql[patient_id][k]) for k, v in outcomes.items() if sql[patient_id][k] != v
            }
    fast.close()


@pytest.mark.parametrize("later", [True, False])
def test_two_values_of_a_status_or_a_preferred_value_on_one_day_read_as_the_engine_reads_them(
    tmp_path: Path, later: bool
) -> None:
    """Same-day contradictions are looked for in observations without a preferred value only
    (``facts.prepare``): two heart-failure statements of one day are read latest-listed (E3), two
    ANA results of one day by the preferred value (I2's ANA ever positive), on both routes and
    in either order."""
    data = base_patient()
    day = next(s["date"] for s in data["statuses"] if s["name"] == "heart_failure_signs")
    data["statuses"].append({"name": "heart_failure_signs", "value": later, "date": day})
    ana = next(o for o in data["observations"] if o["name"] == "ana")
    data["observations"].append({**ana, "value": "negative" if later else "positive"})
    group = people([data])
    got = table_outcomes(write(tmp_path / "reg", group), AS_OF)
    assert got == engine_outcomes(group, AS_OF)
    assert got["h0"]["E3"] == ("fail" if later else "pass")  # decided, not unknown: no contradiction
