from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from screener.cli.main import main
from tests.conftest import EXAMPLE_PATIENT, RULES_DIR


def test_screen_text_names_the_decision(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["screen", str(EXAMPLE_PATIENT), "--rules", str(RULES_DIR), "--as-of", "2026-11-25"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ELIGIBLE" in out and "[PASS] E2" in out


def test_screen_json_is_a_versioned_document(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "screen",
            str(EXAMPLE_PATIENT),
            "--rules",
            str(RULES_DIR),
            "--as-of",
            "2026-11-25",
            "--format",
            "json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["schema_version"] == "2" and doc["decision"] == "eligible"


def test_bad_patient_file_exits_2_with_file_line_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'schema_version: "1"\npatient_id: x\ndemographics: {sex: female}\n'
        "observations:\n  - {name: hemoglobin, value: 12, unit: mmol/L, date: 2026-01-01}\n"
    )
    code = main(["screen", str(bad), "--rules", str(RULES_DIR), "--as-of", "2026-11-25"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert f"{bad}:5: observations[0]" in captured.err and "mmol/L" in captured.err


def test_bad_rule_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: '1'\nruleset: {id: x}\n")
    code = main(["screen", str(EXAMPLE_PATIENT), "--rules", str(tmp_path)])
    assert code == 2
    assert f"{rules}:2: ruleset" in capsys.readouterr().err


def test_bad_date_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as info:
        main(["screen", str(EXAMPLE_PATIENT), "--as-of", "25/11/2026"])
    assert info.value.code == 2


def test_console_script_runs_as_a_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "screener.cli.main", "screen", str(EXAMPLE_PATIENT), "--as-of", "2026-11-25"],
        capture_output=True,
        text=True,
        cwd=RULES_DIR.parents[1],
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Patient story-eligible-001: ELIGIBLE")


def test_screen_reads_a_one_patient_fhir_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "birthDate": "1990-02-01",
                    "gender": "female",
                }
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "subject": {"reference": "Patient/p1"},
                    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                    "effectiveDateTime": "2026-11-20",
                    "valueQuantity": {
                        "value": 61,
                        "unit": "kg",
                        "system": "http://unitsofmeasure.org",
                        "code": "kg",
                    },
                }
            },
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    code = main(["screen", str(path), "--rules", str(RULES_DIR), "--as-of", "2026-11-25", "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["patient_id"] == "p1"
    assert doc["criteria"][0]["id"] == "I1" and doc["criteria"][0]["outcome"] == "pass"
    e2 = next(c for c in doc["criteria"] if c["id"] == "E2")
    assert not any(m.startswith("weight") for m in e2["missing"])  # the bundle's weight was read


def test_a_bundle_with_two_patients_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    two = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "a", "birthDate": "1990-01-01"}},
            {"resource": {"resourceType": "Patient", "id": "b", "birthDate": "1991-01-01"}},
        ],
    }
    path = tmp_path / "two.json"
    path.write_text(json.dumps(two))
    assert main(["screen", str(path), "--rules", str(RULES_DIR)]) == 2
    assert "holds 2 patients" in capsys.readouterr().err
