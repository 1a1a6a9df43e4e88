"""screener.cases (loading and checking fixture cases) and the ``screener test`` command."""

from __future__ import annotations

import json
import shutil
import textwrap
from datetime import date
from pathlib import Path

import pytest

from screener.cases import CaseFileError, collect_cases, load_cases, run_case, run_cases
from screener.cli.main import main
from screener.engine.evaluate import Engine
from screener.errors import InputError, PatientDataError
from screener.model.rules import RuleSet
from tests.conftest import EXAMPLE_PATIENT, RULES_DIR

MINIMAL = """
    schema_version: "1"
    patient_id: {pid}
    demographics: {{birth_date: {birth}, sex: female}}
"""


def case_text(
    note: str = "I1 on the 18th birthday passes",
    want: str = "criteria: {I1: pass}",
    birth: str = "2008-11-25",
    pid: str = "p1",
) -> str:
    patient = textwrap.indent(textwrap.dedent(MINIMAL.format(pid=pid, birth=birth)).strip(), " " * 6)
    return f"  - note: {note}\n    as_of: 2026-11-25\n    patient:\n{patient}\n    want:\n      {want}\n"


def make_rule_set(root: Path, files: dict[str, str], name: str = "rs") -> Path:
    """A rule-set directory holding a copy of the real rules.yaml and the given case files."""
    d = root / name
    (d / "tests").mkdir(parents=True)
    shutil.copy(RULES_DIR / "rules.yaml", d / "rules.yaml")
    for file_name, text in files.items():
        (d / "tests" / file_name).write_text(text, encoding="utf-8")
    return d


# ---------------------------------------------------------------------------- loading


def test_load_cases_reads_inline_and_file_patients(tmp_path: Path, ruleset: RuleSet) -> None:
    ref = Path("..") / ".." / "eligible.yaml"
    shutil.copy(EXAMPLE_PATIENT, tmp_path / "eligible.yaml")
    text = (
        "cases:\n"
        + case_text()
        + (
            "  - note: whole story\n"
            "    as_of: 2026-11-25\n"
            f"    patient_file: {ref.as_posix()}\n"
            "    want:\n"
            "      decision: eligible\n"
            "      eligible_from: {E10: null}\n"
            "      missing: {I3: selena}\n"
        )
    )
    d = make_rule_set(tmp_path, {"a.yaml": text})
    cases = load_cases(d, ruleset)
    assert [c.line for c in cases] == [2, 10]
    first, second = cases
    assert first.note == "I1 on the 18th birthday passes" and first.as_of == date(2026, 11, 25)
    assert first.patient.birth_date == date(2008, 11, 25)
    assert dict(first.want.criteria) == {"I1": "pass"}
    assert first.where == f"{d / 'tests' / 'a.yaml'}:2"
    assert second.patient.patient_id == "story-eligible-001"
    assert second.want.decision == "eligible"
    assert dict(second.want.eligible_from) == {"E10": None}
    assert dict(second.want.missing) == {"I3": ("selena",)}


def test_no_tests_directory_gives_no_cases(tmp_path: Path, ruleset: RuleSet) -> None:
    d = make_rule_set(tmp_path, {})
    shutil.rmtree(d / "tests")
    assert load_cases(d, ruleset) == []


MALFORMED = [
    ("cases:\n  - note: x\n    as_of: [2026\n", 4, "malformed YAML"),
    ("cases: {a: 1}\n", 1, "'cases:' list"),
    ("cases:\n" + case_text(want="criteria: {I1: maybe}"), 9, "pass, fail, unknown"),
    ("cases:\n" + case_text(want="criteria: {I99: pass}"), 9, "unknown criterion 'I99'"),
    ("cases:\n" + case_text(want="decision: great"), 9, "decision must be one of"),
    ("cases:\n" + case_text(want="eligible_from: {E10: soon}"), 9, "YYYY-MM-DD"),
    ("cases:\n" + case_text(want="colour: red"), 9, "unknown key(s) in want: colour"),
    ("cases:\n" + case_text(want="missing: {I3: []}"), 9, "non-empty strings"),
    ("cases:\n" + case_text().replace("as_of: 2026-11-25", "as_of: tomorrow"), 3, "as_of must be a date"),
    ("cases:\n" + case_text().replace("    as_of: 2026-11-25\n", ""), 2, "case has no as_of"),
    ("cases:\n" + case_text(want="{}"), 8, "want is empty"),
    (
        "cases:\n" + case_text(want="criteria: {I1: pass}\n      criteria: {I2: fail}"),
        10,
        "'criteria' is given twice",
    ),
    ("cases:\n" + case_text().replace("note:", "nte:"), 2, "unknown key(s) in case: nte"),
    ("cases:\n" + case_text(birth="2008-13-45"), 7, "demographics.birth_date"),
    (
        "cases:\n" + case_text().replace("    want:", "    patient_file: nowhere.yaml\n    want:"),
        2,
        "exactly one of patient",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), MALFORMED, ids=[m[2] for m in MALFORMED])
def test_malformed_case_names_file_and_line(
    tmp_path: Path, ruleset: RuleSet, text: str, line: int, fragment: str
) -> None:
    d = make_rule_set(tmp_path, {"bad.yaml": text})
    with pytest.raises(InputError) as info:
        load_cases(d, ruleset)
    error = info.value
    assert error.location is not None
    assert error.location.file == str(d / "tests" / "bad.yaml")
    assert error.location.line == line, str(error)
    assert fragment in str(error)


def test_inline_patient_error_points_into_the_case_file(tmp_path: Path, ruleset: RuleSet) -> None:
    text = "cases:\n" + case_text().replace(
        "      demographics:",
        "      observations:\n        - {name: weight, value: 900, unit: kg, date: 2026-11-01}\n"
        "      demographics:",
    )
    d = make_rule_set(tmp_path, {"bad.yaml": text})
    with pytest.raises(PatientDataError) as info:
        load_cases(d, ruleset)
    assert info.value.location is not None
    assert info.value.location.line == 8
    assert info.value.location.field == "cases[0].patient.observations[0]"
    assert "impossible weight" in str(info.value)


def test_missing_patient_file_is_reported_on_its_line(tmp_path: Path, ruleset: RuleSet) -> None:
    text = (
        "cases:\n  - note: x\n    as_of: 2026-11-25\n"
        "    patient_file: gone.yaml\n    want: {decision: eligible}\n"
    )
    d = make_rule_set(tmp_path, {"bad.yaml": text})
    with pytest.raises(CaseFileError, match=r"gone\.yaml not found") as info:
        load_cases(d, ruleset)
    assert info.value.location is not None and info.value.location.line == 4


def test_collect_cases_carries_on_past_a_bad_case(tmp_path: Path, ruleset: RuleSet) -> None:
    text = "cases:\n" + case_text(want="criteria: {I1: perhaps}") + case_text(pid="p2")
    d = make_rule_set(tmp_path, {"mixed.yaml": text, "broken.yaml": "cases: [\n"})
    cases, errors = collect_cases(d, ruleset)
    assert [c.patient.patient_id for c in cases] == ["p2"]
    assert sorted(Path(e.location.file).name for e in errors if e.location) == ["broken.yaml", "mixed.yaml"]


# ---------------------------------------------------------------------------- running


def _one(tmp_path: Path, ruleset: RuleSet, **kw: str) -> list:
    d = make_rule_set(tmp_path, {"c.yaml": "cases:\n" + case_text(**kw)})
    return load_cases(d, ruleset)


def test_passing_case_passes(tmp_path: Path, ruleset: RuleSet, engine: Engine) -> None:
    [result] = run_cases(engine, _one(tmp_path, ruleset))
    assert result.passed and not result.skipped and result.problems == ()
    assert result.status == "passed"


def test_failing_criterion_is_reported_with_evidence(
    tmp_path: Path, ruleset: RuleSet, engine: Engine
) -> None:
    # Born the day after: 17 on the screening date, so I1 fails where the case wants pass.
    [result] = run_cases(engine, _one(tmp_path, ruleset, birth="2008-11-26"))
    assert not result.passed and result.status == "failed"
    [problem] = result.problems
    assert problem.startswith("I1: want pass, got fail")
    assert "age >= 18" in problem and "[value 17]" in problem


def test_wrong_unknown_names_what_is_missing(tmp_path: Path, ruleset: RuleSet, engine: Engine) -> None:
    [result] = run_cases(engine, _one(tmp_path, ruleset, want="criteria: {I3: pass}"))
    [problem] = result.problems
    assert problem.startswith("I3: want pass, got unknown") and "selena_sledai" in problem


def test_decision_missing_and_eligible_from_mismatches(
    tmp_path: Path, ruleset: RuleSet, engine: Engine
) -> None:
    want = "decision: eligible\n      missing: {I3: [weight]}\n      eligible_from: {I1: 2027-01-01}"
    cases = _one(tmp_path, ruleset, want=want)
    [result] = run_cases(engine, cases)
    problems = "\n".join(result.problems)
    assert len(result.problems) == 3
    assert "decision: want eligible, got ineligible (I2 fail" in problems
    assert "I3: missing should mention 'weight'" in problems and "selena_sledai" in problems
    assert "I1: eligible_from want 2027-01-01, got none (outcome pass)" in problems


def test_engine_error_becomes_a_failed_case(tmp_path: Path, ruleset: RuleSet) -> None:
    class Broken:
        def screen(self, patient: object, as_of: date) -> None:
            raise PatientDataError("boom")

    [case] = _one(tmp_path, ruleset)
    result = run_case(Broken(), case)  # type: ignore[arg-type]
    assert not result.passed and "PatientDataError: boom" in result.problems[0]


def test_todo_case_is_skipped_with_its_reason(tmp_path: Path, ruleset: RuleSet, engine: Engine) -> None:
    cases = _one(tmp_path, ruleset, note="'todo: engine gets I1 wrong'", birth="2008-11-26")
    [result] = run_cases(engine, cases)
    assert result.skipped and not result.passed and result.status == "skipped"
    assert result.problems == ("skipped: engine gets I1 wrong",)


# ---------------------------------------------------------------------------- the command


def test_cli_exit_0_when_all_pass_and_json_lists_every_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = "cases:\n" + case_text() + case_text(note="'todo: later'", pid="p2")
    d = make_rule_set(tmp_path, {"ok.yaml": text})
    code = main(["test", str(d), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["schema_version"] == "2"
    assert doc["routes"] == ["engine", "python", "sql"]
    every_route = {"passed": 1, "failed": 0, "skipped": 1, "gap": 0}
    assert doc["summary"] == {
        "cases": 2,
        "passed": 1,
        "failed": 0,
        "skipped": 1,
        "gap": 0,
        "errors": 0,
        "empty_rule_sets": 0,
        "stale_gaps": 0,
        "routes": {"engine": every_route, "python": every_route, "sql": every_route},
    }
    [rs] = doc["rule_sets"]
    assert [c["status"] for c in rs["cases"]] == ["passed", "skipped"]
    first = rs["cases"][0]
    assert first["note"] == "I1 on the 18th birthday passes"
    assert first["location"] == f"{d / 'tests' / 'ok.yaml'}:2"
    assert first["passed"] is True and first["problems"] == []
    assert {r: v["status"] for r, v in first["routes"].items()} == dict.fromkeys(doc["routes"], "passed")


def test_cli_exit_1_when_a_case_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_rule_set(tmp_path, {"f.yaml": "cases:\n" + case_text(birth="2008-11-26")})
    code = main(["test", str(d)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "f.yaml:2" in out and "I1: want pass, got fail" in out
    assert "1 cases: 0 passed, 1 failed" in out


def test_cli_exit_2_for_a_bad_case_file_and_still_runs_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = make_rule_set(tmp_path, {"good.yaml": "cases:\n" + case_text(), "bad.yaml": "cases:\n  - note: [\n"})
    code = main(["test", str(d), "--format", "json"])
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    assert code == 2
    assert doc["summary"]["passed"] == 1 and doc["summary"]["errors"] == 1
    [error] = doc["rule_sets"][0]["errors"]
    assert error["file"].endswith("bad.yaml") and error["line"] == 3
    assert "bad.yaml:3" in captured.err


def test_cli_exit_2_without_a_rule_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(tmp_path / "nothing")]) == 2
    assert "no rule set here" in capsys.readouterr().err


def test_cli_fail_on_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_rule_set(tmp_path, {})
    assert main(["test", str(d)]) == 0
    assert "no cases" in capsys.readouterr().out
    assert main(["test", str(d), "--fail-on-empty"]) == 1


def test_cli_runs_every_rule_set_under_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_rule_set(tmp_path, {"a.yaml": "cases:\n" + case_text()}, name="one")
    make_rule_set(tmp_path, {"b.yaml": "cases:\n" + case_text(birth="2008-11-26")}, name="two")
    code = main(["test", str(tmp_path), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [Path(r["dir"]).name for r in doc["rule_sets"]] == ["one", "two"]
    assert [r["cases"][0]["passed"] for r in doc["rule_sets"]] == [True, False]


def test_cli_on_the_real_rule_set_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["test", str(RULES_DIR), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0, [c for c in doc["rule_sets"][0]["cases"] if c["status"] == "failed"]
    assert doc["summary"]["cases"] >= 100 and doc["summary"]["failed"] == 0


def test_cli_exit_2_for_a_broken_rule_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = make_rule_set(tmp_path, {"a.yaml": "cases:\n" + case_text()})
    (d / "rules.yaml").write_text("schema_version: '1'\ncriteria: [\n", encoding="utf-8")
    code = main(["test", str(d), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 2
    [error] = json.loads(captured.out)["rule_sets"][0]["errors"]
    assert error["file"].endswith("rules.yaml") and error["line"] is not None
    assert "rules.yaml" in captured.err
