"""Rule cases on every route (screener.case_routes), known gaps (screener.case_gaps) and the
``screener test --route`` option."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import screener.case_routes as case_routes
from screener.case_gaps import KnownGap, load_gaps
from screener.case_routes import Difference, differences, run_route
from screener.cases import Case, Want, load_cases
from screener.cli.main import main
from screener.engine.evaluate import Engine
from screener.model.patient import patient_from_data
from screener.model.rules import load_ruleset
from screener.yamlio import LineMap

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

SUITE = Path(__file__).resolve().parent / "data" / "language"

CASES = """\
cases:
  - note: I1 lt fails on 1.5 exactly
    as_of: 2026-11-25
    patient:
      schema_version: "1"
      patient_id: r1
      demographics: {birth_date: 1980-01-01, sex: female}
      observations: [{name: creatinine, value: 1.5, unit: mg/dL, date: 2026-11-20}]
    want: {criteria: {I1: fail}}
  - note: I6 ne positive passes on a negative result
    as_of: 2026-11-25
    patient:
      schema_version: "1"
      patient_id: r2
      demographics: {birth_date: 1980-01-01, sex: female}
      observations: [{name: hiv, value: negative, date: 2026-11-20}]
    want: {criteria: {I6: pass, I23: fail}, decision: ineligible}
"""


def rule_set(tmp_path: Path, cases: str = CASES, gaps: str | None = None) -> Path:
    d = tmp_path / "lang"
    (d / "tests").mkdir(parents=True)
    shutil.copy(SUITE / "rules.yaml", d / "rules.yaml")
    (d / "tests" / "cases.yaml").write_text(cases, encoding="utf-8")
    if gaps is not None:
        (d / "known-gaps.yaml").write_text(gaps, encoding="utf-8")
    return d


def flip_i5(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the Python route say I5 (sex female) fails wherever it passes (a drifted route)."""
    real = case_routes._python

    def drifted(fast: Any, jobs: Any) -> list[Any]:
        got = real(fast, jobs)
        return [{**g, "I5": "fail"} if isinstance(g, dict) and g["I5"] == "pass" else g for g in got]

    monkeypatch.setattr(case_routes, "_python", drifted)


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    code = main(["test", *args, "--format", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


# ---------------------------------------------------------------------------- routes


@pytest.mark.parametrize("route", ["engine", "python", "sql"])
def test_a_wrong_want_fails_on_every_route(tmp_path: Path, route: str) -> None:
    d = rule_set(tmp_path, CASES.replace("want: {criteria: {I1: fail}}", "want: {criteria: {I1: pass}}"))
    with Engine(load_ruleset(d)) as engine:
        first, second = run_route(route, engine, load_cases(d))
    assert (first.status, second.status) == ("failed", "passed")
    assert any("I1: want pass, got fail" in p for p in first.problems), first.problems
    assert first.route == second.route == route


def test_every_criterion_must_agree_with_the_engine_not_only_the_wanted_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flip_i5(monkeypatch)
    d = rule_set(tmp_path)
    with Engine(load_ruleset(d)) as engine:
        cases = load_cases(d)
        python = run_route("python", engine, cases)
        sql = run_route("sql", engine, cases)
    # neither case lists I5 (both patients are women): the route must still agree on it
    for result in python:
        assert result.status == "failed"
        assert result.problems == ("I5: engine pass, python route fail",)
    assert [r.status for r in sql] == ["passed", "passed"]


def test_differences_name_the_decision_the_wanted_and_the_other_criteria() -> None:
    patient = patient_from_data(
        {"schema_version": "1", "patient_id": "d1", "demographics": {"sex": "female"}}, LineMap("d1", {})
    )
    case = Case("f.yaml", 3, "I1 note", date(2026, 11, 25), patient, Want({"I1": "pass"}, "eligible"))
    got = differences(case, "sql", {"I1": "fail", "I2": "unknown"}, {"I1": "fail", "I2": "pass"})
    assert got == [
        Difference(None, "decision: want eligible, got ineligible (I1 fail, I2 unknown)"),
        Difference("I1", "I1: want pass, got fail on the sql route"),
        Difference("I2", "I2: engine pass, sql route unknown"),
    ]
    assert differences(case, "sql", {"I1": "pass", "I2": "pass"}, {"I1": "pass", "I2": "pass"}) == []
    assert differences(case, "sql", "sql route: x: bad", {}) == [Difference(None, "sql route: x: bad")]


def test_a_dead_patient_is_ineligible_on_the_fast_routes_too() -> None:
    patient = patient_from_data(
        {
            "schema_version": "1",
            "patient_id": "dead",
            "demographics": {"sex": "female", "deceased": "2026-01-01"},
        },
        LineMap("dead", {}),
    )
    case = Case("f.yaml", 3, "dead", date(2026, 11, 25), patient, Want({}, "eligible"))
    (difference,) = differences(case, "python", {"I1": "pass"}, {"I1": "pass"})
    assert difference.text.startswith("decision: want eligible, got ineligible")


def test_a_route_that_raises_fails_its_cases_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: Any) -> Any:
        raise RuntimeError("no such column")

    monkeypatch.setattr(case_routes, "_sql", broken)
    code, doc, _ = run_json([str(rule_set(tmp_path))], capsys)
    assert code == 1
    for case in doc["rule_sets"][0]["cases"]:
        assert case["routes"]["sql"]["problems"] == ["sql route raised RuntimeError: no such column"]
        assert case["routes"]["python"]["status"] == "passed"
        assert case["status"] == "failed"


# ---------------------------------------------------------------------------- known gaps

GAP = """\
gaps:
  - route: python
    criteria: [I5]
    reason: a drifted route, for the test
"""


def test_a_known_gap_sets_the_difference_aside_and_lists_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flip_i5(monkeypatch)
    d = rule_set(tmp_path, gaps=GAP)
    assert main(["test", str(d)]) == 0
    out = capsys.readouterr().out
    assert "GAP     [python]" in out and "(known gap, " in out and "a drifted route, for the test" in out
    assert "known-gaps.yaml:2 [python] I5: a drifted route, for the test - used" in out
    code, doc, _ = run_json([str(d)], capsys)
    assert code == 0
    [gap] = doc["rule_sets"][0]["known_gaps"]
    assert (gap["used"], gap["stale"], gap["routes"]) == (True, False, ["python"])
    assert doc["summary"]["gap"] == 2 and doc["summary"]["routes"]["python"]["gap"] == 2
    assert doc["rule_sets"][0]["cases"][0]["routes"]["python"]["known_gaps"][0].startswith(
        "I5: engine pass, python route fail (known gap, "
    )
    assert doc["summary"]["routes"]["sql"] == {"passed": 2, "failed": 0, "skipped": 0, "gap": 0}


def test_a_gap_covering_another_criterion_does_not_hide_the_difference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flip_i5(monkeypatch)
    d = rule_set(tmp_path, gaps=GAP.replace("[I5]", "[I6]").replace("route: python", "route: fast"))
    code, doc, _ = run_json([str(d)], capsys)
    assert code == 1
    assert doc["summary"]["failed"] == 2 and doc["summary"]["stale_gaps"] == 1


def test_a_stale_known_gap_fails_and_says_to_remove_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = rule_set(tmp_path, gaps=GAP)
    assert main(["test", str(d)]) == 1
    assert "STALE (covered nothing: remove it)" in capsys.readouterr().out
    # a gap is judged only on a route that ran
    assert main(["test", str(d), "--route", "sql"]) == 0
    assert "not run" in capsys.readouterr().out


def test_gap_coverage() -> None:
    by_case = KnownGap(("sql",), "r", "I1 note", (), "g:2")
    by_criteria = KnownGap(("python", "sql"), "r", None, ("I2",), "g:6")
    assert by_case.covers("sql", "I1 note", "I7") and by_case.covers("sql", "I1 note", None)
    assert not by_case.covers("python", "I1 note", "I7") and not by_case.covers("sql", "other", "I7")
    assert by_criteria.covers("python", "any note", "I2") and by_criteria.covers("sql", "x", "I2")
    assert not by_criteria.covers("sql", "x", "I3")
    assert not by_criteria.covers("sql", "x", None)  # a decision follows from every outcome


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "- {route: engine, criteria: [I1], reason: r}",
            "route must be one of python, sql, fast, got engine",
        ),
        ("- {route: duckdb, criteria: [I1], reason: r}", "got 'duckdb'"),
        ("- {route: sql, reason: r}", "a known gap needs case or criteria"),
        ("- {route: sql, criteria: [I99], reason: r}", "unknown criterion 'I99'"),
        ("- {route: sql, criteria: [I1]}", "reason must say why"),
        ("- {route: sql, criteria: [I1], reason: r, until: 2027}", "unknown key(s) in a known gap: until"),
    ],
)
def test_a_bad_known_gap_is_an_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], entry: str, message: str
) -> None:
    d = rule_set(tmp_path, gaps=f"gaps:\n  - {{route: sql, criteria: [I1], reason: fine}}\n  {entry}\n")
    gaps, errors = load_gaps(d, [c.id for c in load_ruleset(d).criteria])
    assert len(gaps) == 1
    (error,) = errors
    assert message in str(error) and error.location is not None and error.location.line == 3
    assert main(["test", str(d)]) == 2
    assert "known-gaps.yaml:3" in capsys.readouterr().err


def test_a_known_gaps_file_that_is_not_a_list_is_an_error(tmp_path: Path) -> None:
    d = rule_set(tmp_path, gaps="gap:\n  - route: sql\n")
    _, (error,) = load_gaps(d, ["I1"])
    assert "a mapping with only a 'gaps:' list" in str(error)
    d2 = rule_set(tmp_path / "b", gaps="gaps: [\n")
    _, (error,) = load_gaps(d2, ["I1"])
    assert str(error).startswith(str(d2 / "known-gaps.yaml"))


# ---------------------------------------------------------------------------- --route


def test_route_option_picks_the_routes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = rule_set(tmp_path)
    code, doc, _ = run_json([str(d), "--route", "engine"], capsys)
    assert code == 0 and doc["routes"] == ["engine"] and list(doc["summary"]["routes"]) == ["engine"]
    assert list(doc["rule_sets"][0]["cases"][0]["routes"]) == ["engine"]
    code, doc, _ = run_json([str(d), "--route", "sql"], capsys)
    assert code == 0 and doc["routes"] == ["sql"]
    code, doc, _ = run_json([str(d), "--route", "all"], capsys)
    assert code == 0 and doc["routes"] == ["engine", "python", "sql"]
    assert main(["test", str(d)]) == 0
    out = capsys.readouterr().out
    assert "engine: 2 passed" in out and "python: 2 passed" in out and "sql   : 2 passed" in out


def test_without_duckdb_the_default_runs_the_engine_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import screener.cli.commands.test as command

    monkeypatch.setattr(command, "fast_routes_missing", lambda: "DuckDB is not installed (test)")
    d = rule_set(tmp_path)
    code, doc, err = run_json([str(d)], capsys)
    assert code == 0 and doc["routes"] == ["engine"]
    assert "only the engine route ran: DuckDB is not installed (test)" in err
    assert main(["test", str(d), "--route", "python"]) == 2
    assert "--route python: DuckDB is not installed (test)" in capsys.readouterr().err


def test_every_shipped_rule_set_agrees_on_every_route(capsys: pytest.CaptureFixture[str]) -> None:
    """Done when of issue 16: the three routes agree on every rule case and on the language suite."""
    root = Path(__file__).resolve().parents[1]
    for target in (root / "rules", SUITE):
        code, doc, _ = run_json([str(target), "--route", "all"], capsys)
        failed = [c for r in doc["rule_sets"] for c in r["cases"] if c["status"] != "passed"]
        assert code == 0 and not failed, failed[:3]
        assert doc["summary"]["routes"]["sql"]["passed"] == doc["summary"]["cases"] > 100


def test_one_patient_the_python_route_cannot_screen_fails_only_its_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screener.vectorized import VectorizedScreener

    real = VectorizedScreener.screen

    def picky(self: VectorizedScreener, patients: Any, as_of: date) -> list[dict[str, str]]:
        patients = list(patients)
        if any(p.patient_id == "r1" for p in patients):
            raise ValueError("cannot flatten r1")
        return real(self, patients, as_of)

    monkeypatch.setattr(VectorizedScreener, "screen", picky)
    d = rule_set(tmp_path)
    with Engine(load_ruleset(d)) as engine:
        first, second = run_route("python", engine, load_cases(d))
    assert first.problems == ("python route raised ValueError: cannot flatten r1",)
    assert second.status == "passed"
