"""``screener convert``: native files that ``screener screen`` accepts, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screener.cli.main import main
from tests.importers.conftest import REPO, shared_path


def test_convert_fhir_sample_then_screen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sample = shared_path("data", "smart-r4-synthea-sample")
    out = tmp_path / "native"
    report = tmp_path / "report.json"
    assert (
        main(
            [
                "convert",
                str(sample / "Willy_Koepp_ebbb96ce-c538-4ac4-ad6a-7c709ef6639c.json"),
                "--to-native",
                str(out),
                "--report",
                str(report),
            ]
        )
        == 0
    )
    files = sorted(out.glob("*.json"))
    assert [f.name for f in files] == ["082fd114-0415-4ce4-8293-0caebb0fe9de.json"]
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert doc["schema_version"] == "1" and doc["patients"] == 1 and doc["unmapped"]
    capsys.readouterr()
    assert main(["screen", str(files[0]), "--as-of", "2026-11-25", "--format", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["decision"] == "ineligible"
    assert {c["id"]: c["outcome"] for c in result["criteria"]}["I2"] == "fail"


def test_convert_registry_with_errors_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "convert",
            str(REPO / "fixtures/registry/lupus_registry.csv"),
            "--to-native",
            str(tmp_path),
            "--registry-mapping",
            str(REPO / "fixtures/registry/lupus_registry.mapping.yaml"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "lupus_registry.csv:3: creatinine_umol_l: error" in err
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [
        "reg-001.json",
        "reg-002.json",
        "reg-003.json",
        "reg-005.json",
    ]


def test_convert_without_registry_mapping_is_an_input_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["convert", str(REPO / "fixtures/registry/lupus_registry.csv"), "--to-native", str(tmp_path)])
        == 2
    )
    assert "column mapping" in capsys.readouterr().err


def test_convert_with_a_terminology_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--terminology DIR: an RxNorm release answers a product code that has no display."""
    from tests.importers.fhir_builders import RXNORM, bundle, patient
    from tests.terminology.test_rxnorm import _rrf

    (tmp_path / "rxnorm").mkdir()
    rrf = _rrf(tmp_path / "rxnorm")
    request = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-10-01",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "999001"}]},
    }
    source = tmp_path / "b.json"
    source.write_text(json.dumps(bundle(patient(), request)), encoding="utf-8")
    report = tmp_path / "report.json"
    args = ["convert", str(source), "--to-native", str(tmp_path / "out"), "--report", str(report)]
    assert main([*args, "--terminology", str(rrf)]) == 0
    native = json.loads((tmp_path / "out" / "p1.json").read_text(encoding="utf-8"))
    assert native["medications"][0]["drug"] == "prednisone"
    assert json.loads(report.read_text(encoding="utf-8"))["answered_by"] == {
        "MedicationRequest: RxNorm RRF": 1
    }
    capsys.readouterr()
    assert main([*args, "--terminology", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "terminology directory" in err and "Traceback" not in err
