from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from screener.batch import outputs, runner
from screener.batch.runner import BatchOptions, make_row, near_misses, run_batch
from screener.batch.safe_io import OutputError
from screener.cli.main import main
from screener.engine.evaluate import Engine
from screener.errors import InputError
from screener.model.patient import patient_from_data
from screener.model.rules import load_ruleset
from screener.results import CriterionResult, Evidence, ScreeningResult
from screener.yamlio import LineMap

from .conftest import AS_OF, RULES, variant, write_jsonl


def options(inputs: list[Path], out: Path, **kw) -> BatchOptions:
    return BatchOptions(inputs=tuple(map(str, inputs)), rules=RULES, as_of=AS_OF, out=out, **kw)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _criterion(cid: str, ctype: str, outcome: str, evidence: tuple[Evidence, ...]) -> CriterionResult:
    return CriterionResult(cid, ctype, "t", outcome, "s", "q", "r", evidence=evidence)


def test_near_miss_margins_name_value_threshold_unit_and_distance() -> None:
    crcl = Evidence(
        "crcl_cockcroft_gault < 30 mL/min", True, value=27.0, threshold=30, op="lt", unit="mL/min"
    )
    sledai = Evidence("selena_sledai >= 6 {score}", False, value=4.0, threshold=6, op="gte", unit="{score}")
    passing = Evidence("age >= 18 a", True, value=30, threshold=18, op="gte", unit="a")
    not_numeric = Evidence("ana is positive", False, op="eq")
    result = ScreeningResult(
        "p",
        "r",
        "t",
        "1",
        "sha",
        AS_OF,
        "ineligible",
        (
            _criterion("I1", "inclusion", "pass", (passing,)),
            _criterion("I3", "inclusion", "fail", (sledai, not_numeric)),
            _criterion("E2", "exclusion", "fail", (crcl,)),
        ),
    )
    assert near_misses(result) == [
        "I3: selena_sledai 4 < 6 {score} (2 below)",
        "E2: crcl_cockcroft_gault 27 < 30 mL/min (3 below)",
    ]
    above = Evidence("ast_uln_ratio > 2 x ULN", True, value=2.5, threshold=2, op="gt", unit="x ULN")
    result = replace(result, criteria=(_criterion("E4", "exclusion", "fail", (above,)),))
    assert near_misses(result) == ["E4: ast_uln_ratio 2.5 > 2 x ULN (0.5 above)"]


def test_rows_are_what_the_engine_says(tmp_path: Path, registry: Path) -> None:
    report = run_batch(options([registry], tmp_path / "out.jsonl", fmt="jsonl"))
    assert report.complete and report.rows == 23 and report.errors == 0
    rows = read_jsonl(tmp_path / "out.jsonl")
    ruleset = load_ruleset(RULES)
    with Engine(ruleset) as engine:
        for line, row in enumerate(rows, start=1):
            result = engine.screen(patient_from_data(variant(line - 1), LineMap("x", {})), AS_OF)
            assert row["patient_id"] == result.patient_id
            assert row["decision"] == result.decision
            assert row["failing"] == [c.id for c in result.failing]
            assert row["unknown"] == [{"id": c.id, "missing": list(c.missing)} for c in result.unknown]
            assert row["line"] == line and row["source"] == str(registry)
            # the batch screens with explain=False, evidence="failing": the same row as in full
            assert row == make_row(result, str(registry), line)
    by_kind = {r["patient_id"]: r for r in rows}
    assert by_kind["p0000"]["decision"] == "eligible"
    renal = by_kind["p0001"]
    assert renal["failing"] == ["E2"] and renal["near_misses"][0].startswith("E2: crcl_cockcroft_gault ")
    assert renal["near_misses"][0].endswith(" below)") and "< 30 mL/min" in renal["near_misses"][0]
    assert by_kind["p0002"]["near_misses"] == ["I3: selena_sledai 4 < 6 {score} (2 below)"]
    consent = by_kind["p0003"]
    assert consent["decision"] == "incomplete" and consent["unknown"][0]["id"] == "I8"
    assert "informed_consent" in consent["unknown"][0]["missing"][0]
    washout = by_kind["p0004"]
    # the washout ends 2027-03-02, when today's labs are too old: not a true "eligible from" date
    assert washout["failing"] == ["E10"] and washout["eligible_from"] is None
    assert not list(tmp_path.glob("*.partial*"))  # renamed, checkpoint removed
    assert not (tmp_path / "out.jsonl.errors.jsonl").exists()  # no errors, none asked for


def test_csv_output_has_one_row_per_patient(tmp_path: Path, registry: Path) -> None:
    run_batch(options([registry], tmp_path / "out.csv"))
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["patient_id"] for r in rows] == [f"p{i:04d}" for i in range(23)]
    assert list(rows[0]) == list(runner.CSV_COLUMNS)
    assert rows[1]["failing"] == "E2" and rows[3]["unknown"].startswith("I8: informed_consent")
    assert rows[4]["eligible_from"] == "" and rows[0]["eligible_from"] == ""  # washout: labs stale by then


def test_bad_records_go_to_the_errors_file_and_the_batch_goes_on(tmp_path: Path) -> None:
    patients = [variant(i) for i in range(6)]
    patients[2]["observations"][0]["unit"] = "stone"  # weight in an unknown unit
    del patients[4]["demographics"]  # schema: required
    path = write_jsonl(tmp_path / "in.jsonl", patients, extra_lines={3: "{oops", 5: "[]"})
    errors = tmp_path / "errs.jsonl"
    report = run_batch(options([path], tmp_path / "out.jsonl", fmt="jsonl", errors=errors))
    assert report.complete and report.rows == 4 and report.errors == 4
    assert [r["patient_id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [
        "p0000",
        "p0001",
        "p0003",
        "p0005",
    ]
    found = {e["line"]: e for e in read_jsonl(errors)}
    assert sorted(found) == [3, 4, 6, 7]
    assert found[3]["patient_id"] == "p0002" and found[3]["field"] == "observations[0]"
    assert "stone" in found[3]["message"] and found[3]["source"] == str(path)
    assert "malformed JSON" in found[4]["message"] and found[4]["field"] is None
    assert "got list" in found[6]["message"]
    assert found[7]["patient_id"] == "p0004" and "demographics" in found[7]["message"]


def test_yaml_directory_errors_point_inside_the_file(tmp_path: Path) -> None:
    import yaml

    folder = tmp_path / "patients"
    folder.mkdir()
    good, bad = variant(0), variant(1)
    bad["assessments"][0]["score"] = 300
    (folder / "a.yaml").write_text(yaml.safe_dump(good, sort_keys=False), encoding="utf-8")
    (folder / "b.yaml").write_text(yaml.safe_dump(bad, sort_keys=False), encoding="utf-8")
    report = run_batch(options([folder], tmp_path / "out.csv"))
    assert report.rows == 1 and report.errors == 1
    (error,) = read_jsonl(tmp_path / "out.csv.errors.jsonl")
    text = (folder / "b.yaml").read_text(encoding="utf-8").splitlines()
    assert error["source"].endswith("b.yaml") and error["field"] == "assessments[0].score"
    assert "score: 300" in text[error["line"] - 1]


def test_interrupted_run_resumes_without_duplicates_or_losses(tmp_path: Path, registry: Path) -> None:
    full = tmp_path / "full.jsonl"
    whole = run_batch(options([registry], full, fmt="jsonl"))
    out = tmp_path / "out.jsonl"
    first = run_batch(options([registry], out, fmt="jsonl", chunk_size=4, limit=9))
    assert not first.complete and first.records == 9 and not out.exists()
    partial = outputs.partial_path(out)
    assert len(partial.read_text(encoding="utf-8").splitlines()) == 9
    # a crash after writing rows but before the next checkpoint: extra bytes to drop
    with partial.open("ab") as handle:
        handle.write(b'{"patient_id": "half-written row')
    second = run_batch(options([registry], out, fmt="jsonl", chunk_size=4, limit=5, resume=True))
    assert not second.complete and second.resumed_from == 9 and second.records == 14
    third = run_batch(options([registry], out, fmt="jsonl", chunk_size=4, resume=True))
    assert third.complete and third.records == 23 and third.rows == 23
    rows = read_jsonl(out)
    ids = [r["patient_id"] for r in rows]
    assert ids == [f"p{i:04d}" for i in range(23)] and len(set(ids)) == 23
    assert rows == read_jsonl(full)
    assert third.funnel.screened == 23 and third.funnel.rows() == whole.funnel.rows()
    assert not outputs.checkpoint_path(out).exists() and not partial.exists()


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path: Path, registry: Path) -> None:
    out = tmp_path / "out.csv"
    run_batch(options([registry], out, limit=5))
    with pytest.raises(InputError, match=r"other inputs .*rules, date"):
        run_batch(replace(options([registry], out, resume=True), as_of=date(2026, 1, 1)))
    report = run_batch(options([registry], out, resume=True))  # same run: fine
    assert report.complete and report.resumed_from == 5 and report.rows == 23


def test_resume_refuses_changed_inputs_and_unreadable_checkpoints(tmp_path: Path, registry: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_batch(options([registry], out, fmt="jsonl", limit=5))
    with registry.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(variant(99)) + "\n")
    with pytest.raises(InputError, match="changed since"):
        run_batch(options([registry], out, fmt="jsonl", resume=True))
    outputs.checkpoint_path(out).write_text("{half", encoding="utf-8")
    with pytest.raises(InputError, match="checkpoint unreadable"):
        run_batch(options([registry], out, fmt="jsonl", resume=True))
    with pytest.raises(OutputError, match=r"interrupted run .*--resume.*--overwrite"):
        run_batch(options([registry], out, fmt="jsonl"))  # an interrupted run is not dropped unasked
    fresh = run_batch(options([registry], out, fmt="jsonl", overwrite=True))  # starts again
    assert fresh.complete and fresh.rows == 24 and len(read_jsonl(out)) == 24


def test_resume_after_the_limit_exactly_at_the_end(tmp_path: Path, registry: Path) -> None:
    out = tmp_path / "out.csv"
    report = run_batch(options([registry], out, limit=23))
    assert report.complete and out.exists()


def test_parallel_pool_gives_the_same_rows_in_order(tmp_path: Path, registry: Path) -> None:
    run_batch(options([registry], tmp_path / "one.jsonl", fmt="jsonl"))
    report = run_batch(options([registry], tmp_path / "two.jsonl", fmt="jsonl", workers=2, chunk_size=3))
    assert report.complete and report.rows == 23
    assert read_jsonl(tmp_path / "two.jsonl") == read_jsonl(tmp_path / "one.jsonl")


def test_a_worker_builds_one_engine_and_reuses_it(registry: Path) -> None:
    from screener.batch.inputs import iter_records

    runner._ENGINES.clear()
    job = runner.Job(
        RULES.joinpath("rules.yaml").read_text(), "rules.yaml", load_ruleset(RULES).sha256, AS_OF
    )
    runner._init_worker(job)
    engine = runner._ENGINES[job.sha256][1]
    records = list(iter_records([registry]))
    outcomes = runner._pool_chunk(records[:3]) + runner._pool_chunk(records[3:6])
    assert [kind for kind, _ in outcomes] == ["row"] * 6
    assert runner.engines_built() == 1 and runner._ENGINES[job.sha256][1] is engine


def test_workers_reuse_the_rule_set_parsed_by_the_batch(
    tmp_path: Path, registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_batch(options([registry], tmp_path / "out.csv", limit=1))  # parses the rules once
    rule_file = str(RULES / "rules.yaml")
    text = RULES.joinpath("rules.yaml").read_text(encoding="utf-8")
    job = runner.Job(text, rule_file, load_ruleset(RULES).sha256, AS_OF)

    def no_parsing(*args: object) -> None:
        raise AssertionError("rule set parsed again")

    monkeypatch.setattr(runner, "parse_ruleset", no_parsing)
    runner._init_worker(job)  # what a forked pool worker runs first
    assert runner._ENGINES[job.sha256][0].sha256 == job.sha256
    runner._ENGINES.clear()


def test_cli_batch_writes_rows_summary_and_exit_codes(tmp_path: Path, registry: Path, capsys) -> None:
    out, summary = tmp_path / "out.csv", tmp_path / "funnel.svg"
    argv = [
        "batch",
        str(registry),
        "--rules",
        str(RULES),
        "--as-of",
        "2026-11-25",
        "--out",
        str(out),
        "--workers",
        "1",
        "--summary",
        str(summary),
        "--no-progress",
    ]
    assert main([*argv, "--stop-after", "7"]) == 130
    assert "--resume" in capsys.readouterr().err and not out.exists()
    assert main([*argv, "--resume"]) == 0
    captured = capsys.readouterr()
    assert "resumed after 7 records" in captured.err
    assert "23 patients screened" in captured.out and "E2" in captured.out
    assert len(out.read_text(encoding="utf-8").splitlines()) == 24
    assert summary.read_text(encoding="utf-8").startswith("<svg")
    bad = write_jsonl(tmp_path / "bad.jsonl", [variant(0)], extra_lines={1: "nope"})
    assert (
        main(
            [
                "batch",
                str(bad),
                "--rules",
                str(RULES),
                "--as-of",
                "2026-11-25",
                "--out",
                str(tmp_path / "b.jsonl"),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 1
    )
    assert "1 records could not be screened" in capsys.readouterr().err


def test_cli_batch_appends_its_summary_to_the_audit_trail(tmp_path: Path, registry: Path) -> None:
    from screener.audit.trail import verify

    log = tmp_path / "audit.jsonl"
    argv = [
        "batch",
        str(registry),
        "--rules",
        str(RULES),
        "--as-of",
        "2026-11-25",
        "--out",
        str(tmp_path / "out.jsonl"),
        "--workers",
        "1",
        "--no-progress",
        "--audit-log",
        str(log),
        "--operator",
        "analyst",
    ]
    assert main(argv) == 0
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["action"] == "batch" and entry["operator"] == "analyst"
    assert entry["count"] == 23
    summary = entry["summary"]
    assert summary["eligible"] + summary["ineligible"] + summary["incomplete"] == 23
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert summary["ineligible"] == sum(r["decision"] == "ineligible" for r in rows)
    assert summary["eligible"] == sum(r["decision"] == "eligible" for r in rows)
    assert verify(log) == []
