"""``screener screen PATIENT --rules DIR``: one line per trial, the next steps, JSON, audit log,
and a broken rule set reported (exit 2) with the other trials still screened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from screener.audit.trail import read_entries
from screener.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
STORIES = ROOT / "fixtures" / "patients"
ELIGIBLE = STORIES / "eligible_refractory_lupus.yaml"
AS_OF = ["--as-of", "2026-11-25"]


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["screen", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_text_has_one_line_per_trial_then_the_next_trial(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, str(ELIGIBLE), "--rules", str(RULES), *AS_OF)
    assert code == 0 and err == ""
    lines = out.splitlines()
    trial_lines = [line for line in lines if line.startswith("NCT")]
    assert [line.split()[0] for line in trial_lines] == [
        "NCT03562065",  # eligible now first
        "NCT00732940",  # incomplete, fewer things to collect
        "NCT03917797",
        "NCT04184258",  # ineligible last
    ]
    assert trial_lines[0].split()[1] == "eligible"
    assert "fails: I4" in trial_lines[3]
    assert "unknown: I2 (ana_titer, anti_dsdna)" in trial_lines[2]
    assert "Next trial: NCT03562065, eligible now." in lines
    assert any(line.startswith("Collect next: ") for line in lines)


def test_json_holds_each_trials_single_result_document_and_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, str(ELIGIBLE), "--rules", str(RULES), *AS_OF, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["portfolio_schema_version"] == "1" and doc["broken"] == []
    for result in doc["results"]:
        code, single, _ = _run(
            capsys, str(ELIGIBLE), "--rules", str(RULES / result["ruleset"]["id"]), *AS_OF, "--format", "json"
        )
        assert json.loads(single) == result
    summary = doc["summary"]
    assert [o["trial"] for o in summary["order"]] == [r["trial"] for r in doc["results"]]
    assert summary["could_enter"] == ["NCT03562065", "NCT00732940", "NCT03917797"]
    assert summary["next_fact"] == summary["todo"][0]
    assert set(summary["next_fact"]) >= {"text", "trials", "settles", "criteria"}


@pytest.mark.parametrize("rules", ["rules/nct03562065", "rules/nct03562065/rules.yaml"])
def test_one_rule_set_keeps_the_single_trial_output(capsys: pytest.CaptureFixture[str], rules: str) -> None:
    code, out, _ = _run(capsys, str(ELIGIBLE), "--rules", str(ROOT / rules), *AS_OF, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == "2" and doc["trial"] == "NCT03562065" and "summary" not in doc


def test_audit_log_gets_one_entry_per_trial(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    code, _, _ = _run(capsys, str(ELIGIBLE), "--rules", str(RULES), *AS_OF, "--audit-log", str(log))
    assert code == 0
    entries = read_entries(log)
    assert [e["trial"] for e in entries] == ["NCT00732940", "NCT03562065", "NCT03917797", "NCT04184258"]
    assert {e["decision"] for e in entries} == {"eligible", "incomplete", "ineligible"}
    assert len({e["ruleset_sha256"] for e in entries}) == 4


def test_a_broken_rule_set_is_named_and_the_others_screened(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "rules"
    for name in ("nct03562065", "nct04184258"):
        shutil.copytree(RULES / name, folder / name)
    bad = folder / "nct04184258" / "rules.yaml"
    bad.write_text(
        bad.read_text(encoding="utf-8").replace("  - id: I2\n", "  - id: I1\n", 1), encoding="utf-8"
    )
    code, out, err = _run(capsys, str(ELIGIBLE), "--rules", str(folder), *AS_OF)
    assert code == 2
    assert any(line.startswith("NCT03562065  eligible") for line in out.splitlines())
    assert "nct04184258  NOT SCREENED" in out
    assert f"screener: error: {bad}:" in err and "I1 is used twice" in err
    code, out, _ = _run(capsys, str(ELIGIBLE), "--rules", str(folder), *AS_OF, "--format", "json")
    doc = json.loads(out)
    assert code == 2 and [r["trial"] for r in doc["results"]] == ["NCT03562065"]
    assert [b["folder"] for b in doc["broken"]] == ["nct04184258"]


def test_a_folder_without_rule_sets_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, str(ELIGIBLE), "--rules", str(tmp_path), *AS_OF)
    assert code == 2 and out == ""
    assert f"screener: error: {tmp_path}: no rule set in this folder" in err


@pytest.mark.parametrize("story", sorted(STORIES.glob("*.yaml")), ids=lambda p: p.stem)
def test_json_validates_against_the_shipped_portfolio_schema(
    story: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from jsonschema import Draft202012Validator, FormatChecker
    from referencing import Registry, Resource

    from screener.spec.validate import schema

    result_schema = schema("result.schema.json")
    registry = Registry().with_resource(result_schema["$id"], Resource.from_contents(result_schema))
    validator = Draft202012Validator(
        schema("portfolio.schema.json"), registry=registry, format_checker=FormatChecker()
    )
    code, out, _ = _run(capsys, str(story), "--rules", str(RULES), *AS_OF, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and list(validator.iter_errors(doc)) == []
    broken = {**doc, "summary": {**doc["summary"], "order": [{"trial": "x"}]}}
    assert list(validator.iter_errors(broken)) != []  # the schema does check the summary
