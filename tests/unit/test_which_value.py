""" "Which value counts" is specified once (screener.which_value): each rule's Python function and
its SQL twin give the same answer, boundaries included, and the packed order key round-trips
(issue 16 section 4)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from screener import which_value as wv
from screener.errors import PatientDataError
from screener.facts import prepare
from screener.model.patient import parse_patient
from screener.model.rules import load_ruleset

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[2]
DAYS = (
    wv.UNDATED_DAY,
    wv.day_of(date.min),
    wv.day_of(date(1899, 12, 31)),
    0,
    1,
    wv.day_of(date(2026, 11, 25)),
    wv.day_of(date.max),
)
SEQS = (0, 1, wv.SEQ_SPAN - 1)


@pytest.fixture(scope="module")
def con() -> Any:
    connection = duckdb.connect(":memory:")
    yield connection
    connection.close()


def _sql(con: Any, expr: str) -> Any:
    return con.execute(f"SELECT {expr}").fetchone()[0]


def test_the_order_key_round_trips_at_the_boundaries() -> None:
    for day in DAYS:
        for seq in SEQS:
            for preferred in (False, True):
                key = wv.order_key(day, seq, preferred)
                assert wv.decode_key(key) == (day, seq, preferred)
                assert abs(key) < 2**53  # exact as a DOUBLE too


def test_the_order_key_orders_preferred_then_date_then_listing() -> None:
    triples = [(p, d, s) for p in (False, True) for d in DAYS for s in SEQS]
    keys = [wv.order_key(d, s, p) for p, d, s in triples]
    assert sorted(keys) == keys  # triples are listed in (preferred, day, seq) order
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    ("day", "seq"),
    [(0, -1), (0, wv.SEQ_SPAN), (wv.UNDATED_DAY - 1, 0), (wv.day_of(date.max) + 1, 0)],
)
def test_an_order_key_that_could_be_read_back_wrong_is_refused(day: int, seq: int) -> None:
    with pytest.raises(ValueError):
        wv.order_key(day, seq)


def test_the_sql_order_key_is_the_python_one(con: Any) -> None:
    for day in DAYS:
        for seq in SEQS:
            for preferred in (False, True):
                key = wv.order_key(day, seq, preferred)
                sql = wv.order_key_sql(str(day), str(seq), "TRUE" if preferred else "FALSE")
                assert _sql(con, sql) == key
                assert _sql(con, wv.key_day_sql(str(key))) == day
            assert _sql(con, wv.order_key_sql(str(day), str(seq))) == wv.order_key(day, seq)


def test_days_and_dates_agree_in_both_languages(con: Any) -> None:
    for when in (date.min, date(1899, 12, 31), wv.KEY_EPOCH, date(2024, 2, 29), date.max):
        day = wv.day_of(when)
        assert wv.date_of_day(day) == when
        assert _sql(con, wv.day_of_sql(f"DATE '{when.isoformat()}'")) == day
        assert _sql(con, wv.date_of_day_sql(str(day))) == when
    assert wv.day_of(None) == wv.UNDATED_DAY and wv.date_of_day(wv.UNDATED_DAY) is None
    assert _sql(con, wv.day_of_sql("CAST(NULL AS DATE)", undated=True)) == wv.UNDATED_DAY
    assert _sql(con, wv.date_of_day_sql(str(wv.UNDATED_DAY))) is None
    assert wv.day_of(None) < wv.day_of(date.min)  # undated is older than any date


def test_same_day_in_sql_is_decode_key_day() -> None:
    connection = duckdb.connect(":memory:")
    try:
        for a, b in [((5, 0), (5, wv.SEQ_SPAN - 1)), ((5, wv.SEQ_SPAN - 1), (6, 0)), ((-1, 3), (-1, 9))]:
            ka, kb = wv.order_key(*a), wv.order_key(*b)
            same = wv.decode_key(ka)[0] == wv.decode_key(kb)[0]
            assert _sql(connection, wv.same_day_sql(str(ka), str(kb))) == same
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("age", "limit", "fresh"),
    [(30, 30, True), (31, 30, False), (0, 0, True), (1, 0, False), (10_000, None, True)],
)
def test_freshness_on_both_sides_of_the_limit(con: Any, age: int, limit: int | None, fresh: bool) -> None:
    as_of = date(2026, 11, 25)
    when = as_of - timedelta(days=age)
    assert wv.is_fresh(when, as_of, limit) is fresh
    assert _sql(con, wv.is_fresh_sql(f"DATE '{when}'", f"DATE '{as_of}'", limit)) is fresh
    assert wv.is_fresh(None, as_of, limit) is True
    assert _sql(con, wv.is_fresh_sql("CAST(NULL AS DATE)", f"DATE '{as_of}'", limit)) is True


@pytest.mark.parametrize(("who", "confirmed"), [(None, False), ("", False), ("Dr Roux", True)])
def test_confirmation_in_both_languages(con: Any, who: str | None, confirmed: bool) -> None:
    assert wv.is_confirmed(who) is confirmed
    shown = "CAST(NULL AS VARCHAR)" if who is None else f"'{who}'"
    assert _sql(con, wv.is_confirmed_sql(shown)) is confirmed


@pytest.mark.parametrize(
    ("a", "b", "differ"),
    [
        (100.0, 102.5, False),  # 2.5 / 102.5 = 2.44 % of the larger
        (100.0, 102.6, True),  # 2.53 %
        (102.5, 100.0, False),
        (0.0, 0.0, False),
        (0.0, 0.001, True),
        (-100.0, -102.5, False),
    ],
)
def test_disagreement_of_numbers_on_both_sides_of_the_agreement(
    con: Any, a: float, b: float, differ: bool
) -> None:
    assert wv.AGREEMENT == 0.025
    assert wv.disagree(a, b) is differ
    assert (
        _sql(con, wv.disagree_sql(f"CAST({a!r} AS DOUBLE)", f"CAST({b!r} AS DOUBLE)", numbers=True)) is differ
    )


@pytest.mark.parametrize(
    ("a", "b", "differ"), [("positive", "positive", False), ("positive", "negative", True)]
)
def test_disagreement_of_coded_values(con: Any, a: str, b: str, differ: bool) -> None:
    assert wv.disagree(a, b) is differ
    assert _sql(con, wv.disagree_sql(f"'{a}'", f"'{b}'", numbers=False)) is differ


def test_preferred_values_match_only_of_the_same_type(con: Any) -> None:
    assert wv.is_preferred("positive", "positive")
    assert not wv.is_preferred("negative", "positive")
    assert wv.is_preferred(True, True) and not wv.is_preferred(1, True) and not wv.is_preferred(True, 1)
    assert not wv.is_preferred("positive", None)
    assert _sql(con, wv.is_preferred_sql("'positive'", "'positive'")) is True
    assert _sql(con, wv.is_preferred_sql("CAST(NULL AS VARCHAR)", "'positive'")) is False


def _status_patient(statuses: str) -> Any:
    return parse_patient(
        f'schema_version: "1"\npatient_id: p\ndemographics: {{}}\nstatuses:\n{statuses}', "p.yaml"
    )


def test_an_undated_status_is_older_than_one_dated_year_1() -> None:
    """The undated status is listed later; the dated one still counts (both routes: before, the
    Python preparation took the undated one, as date.min tied with 0001-01-01)."""
    ruleset = load_ruleset(ROOT / "rules" / "nct03562065")
    patient = _status_patient(
        "  - {name: informed_consent, value: true, date: 0001-01-01, confirmed_by: Dr Roux}\n"
        "  - {name: informed_consent, value: false, confirmed_by: Dr Roux}\n"
    )
    facts = {
        f["name"]: f for f in prepare(patient, ruleset, date(2026, 11, 25)).facts if f.get("kind") == "fact"
    }
    assert facts["informed_consent"]["value"] is True
    swapped = _status_patient(
        "  - {name: informed_consent, value: false, confirmed_by: Dr Roux}\n"
        "  - {name: informed_consent, value: true, date: 0001-01-01, confirmed_by: Dr Roux}\n"
    )
    facts = {
        f["name"]: f for f in prepare(swapped, ruleset, date(2026, 11, 25)).facts if f.get("kind") == "fact"
    }
    assert facts["informed_consent"]["value"] is True


def test_more_records_than_the_key_can_order_is_a_patient_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import screener.facts

    ruleset = load_ruleset(ROOT / "rules" / "nct03562065")
    rows = "".join(f"  - {{name: pregnant, value: false, date: 2026-11-{d:02d}}}\n" for d in range(1, 5))
    patient = _status_patient(rows)
    monkeypatch.setattr(screener.facts, "SEQ_SPAN", 4)
    prepare(patient, ruleset, date(2026, 11, 25))  # 4 fit
    monkeypatch.setattr(screener.facts, "SEQ_SPAN", 3)
    with pytest.raises(PatientDataError, match="4 statuses: at most 3") as info:
        prepare(patient, ruleset, date(2026, 11, 25))
    assert info.value.location is not None and info.value.location.file == "p.yaml"


def test_the_sql_route_chooses_the_same_status_as_python(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    from screener.engine.evaluate import Engine
    from screener.tables.write import TablesWriter
    from screener.vectorized import VectorizedScreener
    from screener.vectorized.sql import OUTCOME_CODES

    ruleset = load_ruleset(ROOT / "rules" / "nct03562065")
    group = [
        _status_patient(
            f"  - {{name: informed_consent, value: {first}, date: 0001-01-01, confirmed_by: Dr Roux}}\n"
            f"  - {{name: informed_consent, value: {second}, confirmed_by: Dr Roux}}\n"
        )
        for first, second in (("true", "false"), ("false", "true"))
    ]
    as_of = date(2026, 11, 25)
    with TablesWriter(tmp_path / "registry", 10) as writer:
        for patient in group:
            writer.add(patient)
    engine, fast = Engine(ruleset), VectorizedScreener(ruleset)
    try:
        consent = [c.id for c in ruleset.criteria if "informed_consent" in repr(c.test)]
        assert consent
        seen: dict[int, str] = {}
        for chunk in fast.iter_tables(tmp_path / "registry", as_of):
            for i, pid in enumerate(chunk.pids):
                want = engine.outcomes(group[pid], as_of)
                got = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in chunk.codes}
                assert got == want
                seen[pid] = want[consent[0]]
        assert seen == {0: "pass", 1: "fail"}  # the dated value decides, wherever it is listed
    finally:
        engine.close()
        fast.close()
