"""``screener screen`` text: a summary first, outcomes in words, human units, escaped ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from screener.cli.main import main
from tests.conftest import ROOT, RULES_DIR

PATIENTS = ROOT / "fixtures" / "patients"
INELIGIBLE = PATIENTS / "ineligible_several_reasons.yaml"
INCOMPLETE = PATIENTS / "incomplete_missing_data.yaml"


def screen_text(capsys: pytest.CaptureFixture[str], patient: Path, *extra: str) -> str:
    code = main(["screen", str(patient), "--rules", str(RULES_DIR), "--as-of", "2026-11-25", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_ineligible_summary_names_the_failing_criteria_before_the_detail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = screen_text(capsys, INELIGIBLE)
    summary, _, detail = out.partition("\nDetail\n")
    assert detail, "the detail follows the summary"
    assert summary.startswith("Patient story-ineligible-002: INELIGIBLE\n")
    why = summary.split("Why not eligible:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in why if not line.startswith("       ")] == ["E2", "E7", "E10"]
    assert "  E2   excluded: Renal failure (creatinine clearance < 30 mL/min)" in why
    # the one-line reason carries the value that decided it, rounded as a clinician writes it
    assert "crcl_cockcroft_gault < 30 mL/min (found 24.9 mL/min)" in summary
    assert "qualifies from 2027-02-25" in summary  # the washout of E10
    # detail: each outcome in words for its kind
    assert "[EXCLUDED]     E7   Active neoplasia" in detail
    assert "[NOT EXCLUDED] E8 " in detail and "[MET]          I1 " in detail
    assert "PASS" not in out and "FAIL" not in out


def test_units_and_values_in_human_form_without_internal_ids(capsys: pytest.CaptureFixture[str]) -> None:
    out = screen_text(capsys, INELIGIBLE)
    assert "neutrophils = 3.4 x10^9/L" in out and "10*9/L" not in out
    assert "selena_sledai = 12 points" in out and "{score}" not in out
    assert "age = 66 years" in out and " a\n" not in out and "66 a " not in out
    assert "mg_per_kg_day = 2.59 mg/kg/day" in out and "2.5862" not in out
    assert "(m0)" not in out and "(c1)" not in out


def test_no_duplicated_evidence_lines(capsys: pytest.CaptureFixture[str]) -> None:
    out = screen_text(capsys, INCOMPLETE)
    detail = out.split("\nDetail\n", 1)[1]
    for block in detail.split("\n["):
        lines = [line for line in block.splitlines()[1:] if line.strip().startswith(("yes", "no"))]
        assert len(lines) == len(set(lines)), block
    i1 = detail.split("I1 ", 1)[1].split("\n[", 1)[0]
    assert i1.count("age_in_years(") == 1  # the derivation of age printed once for two tests


def test_incomplete_summary_lists_the_to_do_once_per_thing(capsys: pytest.CaptureFixture[str]) -> None:
    out = screen_text(capsys, INCOMPLETE, "--brief")
    assert "\nDetail\n" not in out
    todo = out.split("To do before a decision:\n", 1)[1].splitlines()
    assert len(todo) == 9  # nine unknown criteria, one thing to collect each
    assert todo[0] == (
        "  - Complete the condition sle: classification criteria used (e.g. acr_1997), "
        "number of classification criteria met  [I2]"
    )
    assert "  - Ask and record (yes/no): Signed informed consent  [I8]" in todo
    assert not any("(c0)" in line for line in todo)


def test_control_characters_in_ids_are_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(INELIGIBLE.read_text(encoding="utf-8"))
    data["patient_id"] = "p\x1b[2J\x1b[32m\nPatient x: ELIGIBLE"
    data["observations"][0]["source"] = "lab\rreport"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    out = screen_text(capsys, path)
    assert "\x1b" not in out and "\r" not in out
    assert out.startswith("Patient p\\x1b[2J\\x1b[32m\\nPatient x: ELIGIBLE: INELIGIBLE\n")
    assert not any(line.startswith("Patient x") for line in out.splitlines())


def test_json_into_a_closed_pipe_exits_quietly() -> None:
    script = (
        "import subprocess, sys\n"
        f"p = subprocess.Popen([sys.executable, '-m', 'screener.cli.main', 'screen', {str(INELIGIBLE)!r},"
        f" '--rules', {str(RULES_DIR)!r}, '--as-of', '2026-11-25', '--format', 'json'],"
        " stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.close()  # the reader is gone before the first byte is written\n"
        "err = p.stderr.read().decode(); code = p.wait()\n"
        "print(code); print(repr(err))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    code, err = proc.stdout.splitlines()
    assert code == "0" and err == "''"
