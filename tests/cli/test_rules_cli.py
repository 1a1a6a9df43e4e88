"""``screener rules check|report|diff``: exit codes and file:line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screener.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "rules"
TRIAL = REPO / "rules" / "nct03562065"


def _line(path: Path, snippet: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if snippet in line:
            return number
    raise AssertionError(snippet)


# --------------------------------------------------------------------------- check


def test_check_clean_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(DATA / "clean.yaml")]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 error(s), 0 finding(s)" in captured.err


def test_check_trial_rule_set_and_rules_root_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(TRIAL)]) == 0
    assert main(["rules", "check", str(REPO / "rules")]) == 0
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("name", "code", "snippet"),
    [
        ("unused_fact.yaml", "SCR001", "height:"),
        ("missing_quote.yaml", "SCR004", "quote: TODO"),
        ("contradictory_thresholds.yaml", "SCR007", "lt: 40"),
        ("person_only_fact.yaml", "SCR011", "id: I2"),
    ],
)
def test_check_findings_exit_1_with_file_line_and_code(
    name: str, code: str, snippet: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = DATA / name
    assert main(["rules", "check", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"{path}:{_line(path, snippet)}: ")
    assert f" {code} " in out[0]


@pytest.mark.parametrize(
    ("name", "snippet", "message"),
    [
        ("unknown_fact.yaml", "creatinin, gt", "unknown fact 'creatinin'; did you mean 'creatinine'?"),
        ("unit_mismatch.yaml", "unit: mL/s", "threshold unit mL/s does not match"),
        ("malformed.yaml", "age, lt: 70", "malformed YAML"),  # where the parser gives up
        ("schema_error.yaml", "severity: high", "unknown key 'severity'"),
    ],
)
def test_check_unusable_rule_file_exits_2_with_file_line(
    name: str, snippet: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = DATA / name
    assert main(["rules", "check", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    first = captured.err.splitlines()[0]
    line = _line(path, snippet)
    # a schema error is reported on the line of the offending key
    assert first.startswith(f"{path}:{line}:")
    assert message in first


def test_check_missing_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "nowhere")]) == 2
    assert "no rule file here" in capsys.readouterr().err


def test_check_worst_of_several_files_wins(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(DATA / "clean.yaml"), str(DATA / "unused_fact.yaml")]
    assert main(["rules", "check", *files]) == 1
    assert main(["rules", "check", *files, str(DATA / "unknown_fact.yaml")]) == 2
    capsys.readouterr()


def test_check_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(DATA / "redundant_thresholds.yaml"), str(DATA / "unit_mismatch.yaml")]
    assert main(["rules", "check", *files, "--format", "json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == "1"
    first, second = doc["rulesets"]
    assert [f["code"] for f in first["findings"]] == ["SCR008"]
    assert first["findings"][0]["line"] == _line(DATA / "redundant_thresholds.yaml", "gt: 16")
    assert first["catalogue"].endswith("catalogue.md")
    assert second["findings"] == []
    assert second["errors"][0]["line"] == _line(DATA / "unit_mismatch.yaml", "unit: mL/s")


def test_check_explicit_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["rules", "check", str(DATA / "clean.yaml"), "--catalogue"]
    assert main([*args, str(DATA / "catalogue_with_e2.md")]) == 1
    assert "SCR002 catalogue criterion E2 is not covered" in capsys.readouterr().out
    assert main([*args, str(tmp_path / "missing.md")]) == 2
    assert "missing.md" in capsys.readouterr().err


def test_rules_without_subcommand_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 2
    assert "check" in capsys.readouterr().err


# --------------------------------------------------------------------------- report


def test_report_markdown_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "report", str(TRIAL)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Treatment of refractory SLE")
    assert "## I4b (inclusion):" in out


def test_report_html_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out" / "report.html"
    assert main(["rules", "report", str(DATA / "clean.yaml"), "--format", "html", "--out", str(target)]) == 0
    assert capsys.readouterr().out == ""
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<h1>Clean test rule set</h1>" in text


def test_report_out_replaces_a_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    target = tmp_path / "report.md"
    target.symlink_to(victim)
    assert main(["rules", "report", str(DATA / "clean.yaml"), "--out", str(target)]) == 0
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert not target.is_symlink()
    assert target.read_text(encoding="utf-8").startswith("#")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_report_of_unusable_rules_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "report", str(DATA / "unknown_fact.yaml")]) == 2
    assert f"{DATA / 'unknown_fact.yaml'}:" in capsys.readouterr().err


# --------------------------------------------------------------------------- diff


def test_diff_text_json_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    old, new = str(DATA / "clean.yaml"), str(DATA / "redundant_thresholds.yaml")
    assert main(["rules", "diff", old, old]) == 0
    assert "no criterion-level changes" in capsys.readouterr().out
    assert main(["rules", "diff", old, new]) == 0
    out = capsys.readouterr().out
    assert "I1: logic changed: all of: age >= 18 a; age < 70 a -> " in out
    assert main(["rules", "diff", old, new, "--exit-code"]) == 1
    capsys.readouterr()
    assert main(["rules", "diff", old, new, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["kind"] for c in doc["changes"]] == ["logic"]


def test_diff_with_unusable_side_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "diff", str(DATA / "clean.yaml"), str(DATA / "malformed.yaml")]) == 2
    assert "malformed.yaml:" in capsys.readouterr().err


def test_rules_show_prints_one_criterion_with_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    from screener.cli.main import main
    from tests.conftest import RULES_DIR

    assert main(["rules", "show", "E2", "--rules", str(RULES_DIR)]) == 0
    out = capsys.readouterr().out
    lines = (RULES_DIR / "rules.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.strip() == "- id: E2")
    assert f"rules.yaml:{line}" in out
    assert "crcl_cockcroft_gault < 30 mL/min" in out and "derived: age, crcl_cockcroft_gault" in out
    assert main(["rules", "show", "E99", "--rules", str(RULES_DIR)]) == 2
    assert "no criterion 'E99'" in capsys.readouterr().err
