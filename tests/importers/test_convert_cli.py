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
    assert main([*args, "--overwrite", "--terminology", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "terminology directory" in err and "Traceback" not in err


# --------------------------------------------------------------------------- output safety (issue 13 §5)

REGISTRY = REPO / "fixtures/registry/lupus_registry.csv"
REGISTRY_MAPPING = ["--registry-mapping", str(REPO / "fixtures/registry/lupus_registry.mapping.yaml")]


def test_to_native_never_writes_through_a_planted_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "native"
    out.mkdir()
    (out / "reg-001.json").symlink_to(victim)
    argv = ["convert", str(REGISTRY), "--to-native", str(out), *REGISTRY_MAPPING]
    assert main(argv) == 2  # a non-empty folder: an earlier run's files
    assert "not empty" in capsys.readouterr().err and (out / "reg-001.json").is_symlink()
    assert main([*argv, "--overwrite"]) == 1  # the registry has one bad row
    assert victim.read_text(encoding="utf-8") == "precious"
    written = out / "reg-001.json"
    assert (
        not written.is_symlink()
        and json.loads(written.read_text(encoding="utf-8"))["patient_id"] == "reg-001"
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "reg-001.json",
        "reg-002.json",
        "reg-003.json",
        "reg-005.json",
    ]


def test_an_existing_report_is_replaced_only_with_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    report.write_text("an earlier report", encoding="utf-8")
    argv = ["convert", str(REGISTRY), "--to-native", str(tmp_path / "a"), *REGISTRY_MAPPING]
    assert main([*argv, "--report", str(report)]) == 2
    assert "--overwrite" in capsys.readouterr().err and not (tmp_path / "a").exists()
    assert report.read_text(encoding="utf-8") == "an earlier report"
    assert main([*argv, "--report", str(report), "--overwrite"]) == 1
    assert json.loads(report.read_text(encoding="utf-8"))["schema_version"] == "1"
    tables = ["convert", "--to", "tables", str(tmp_path / "t"), str(REGISTRY), *REGISTRY_MAPPING]
    assert main([*tables, "--report", str(report)]) == 2
    assert not (tmp_path / "t").exists()


def _registry(out: Path) -> list[str]:
    assert main(["convert", "--to", "tables", str(out), str(REPO / "fixtures" / "patients")]) == 0
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_tables_overwrite_deletes_only_a_registry_screener_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("duckdb")
    one = REPO / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
    # a web app's folder with its own manifest.json
    app = tmp_path / "app"
    app.mkdir()
    (app / "manifest.json").write_text('{"name": "my app", "start_url": "/"}', encoding="utf-8")
    (app / "index.html").write_text("<html></html>", encoding="utf-8")
    assert main(["convert", "--to", "tables", str(app), str(one), "--overwrite"]) == 2
    assert "not a screener tables registry" in capsys.readouterr().err
    assert sorted(p.name for p in app.iterdir()) == ["index.html", "manifest.json"]
    # a screener registry with a file added by hand: refused, nothing deleted
    reg = tmp_path / "reg"
    files = _registry(reg)
    assert "manifest.json" in files and "patients/part-00000.parquet" in files
    (reg / "patients" / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["convert", "--to", "tables", str(reg), str(one), "--overwrite"]) == 2
    assert "patients/notes.txt, which screener did not write" in capsys.readouterr().err
    assert sorted(p.relative_to(reg).as_posix() for p in reg.rglob("*") if p.is_file()) == sorted(
        [*files, "patients/notes.txt"]
    )
    # a registry screener wrote (also one whose manifest predates the file list) is replaced
    (reg / "patients" / "notes.txt").unlink()
    manifest = json.loads((reg / "manifest.json").read_text(encoding="utf-8"))
    del manifest["files"]
    (reg / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["convert", "--to", "tables", str(reg), str(one), "--overwrite"]) == 0
    assert json.loads((reg / "manifest.json").read_text(encoding="utf-8"))["patients"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app", "reg"]  # nothing left beside it
