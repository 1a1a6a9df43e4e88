"""``screener batch --engine vectorized``: rows, errors, funnel and resumption over a columnar registry."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.batch import outputs
from screener.batch.fast import run_fast_batch
from screener.batch.runner import CSV_COLUMNS, BatchOptions, run_batch
from screener.batch.summary import Funnel
from screener.cli.main import main
from screener.errors import InputError
from screener.model.rules import load_ruleset

from .conftest import AS_OF, RULES, variant, write_jsonl


def options(inputs: list[Path], out: Path, **kw) -> BatchOptions:
    kw.setdefault("chunk_size", 100_000)
    return BatchOptions(inputs=tuple(map(str, inputs)), rules=RULES, as_of=AS_OF, out=out, **kw)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def registry(tmp_path: Path) -> tuple[Path, Path]:
    """The same 23 patients as JSONL and as a columnar registry; p0007 has an ill-typed HIV result."""
    patients = [variant(i) for i in range(23)]
    odd = copy.deepcopy(patients[7])
    odd["observations"].append({"name": "hiv", "value": 3, "date": "2026-11-20"})
    patients[7] = odd
    jsonl = write_jsonl(tmp_path / "registry.jsonl", patients)
    tables = tmp_path / "registry.tables"
    assert main(["convert", "--to", "tables", str(tables), str(jsonl)]) == 0
    return jsonl, tables


def test_rows_agree_with_the_engine_batch(tmp_path: Path, registry: tuple[Path, Path]) -> None:
    jsonl, tables = registry
    slow = run_batch(options([jsonl], tmp_path / "slow.jsonl", fmt="jsonl", chunk_size=200))
    fast = run_fast_batch(options([tables], tmp_path / "fast.jsonl", fmt="jsonl", chunk_size=12))
    assert fast.complete and (fast.rows, fast.errors) == (slow.rows, slow.errors) == (22, 1)
    want = {r["patient_id"]: r for r in read_jsonl(tmp_path / "slow.jsonl")}
    rows = read_jsonl(tmp_path / "fast.jsonl")
    assert [r["patient_id"] for r in rows] == [f"p{i:04d}" for i in range(23) if i != 7]
    for row in rows:
        w = want[row["patient_id"]]
        assert row["decision"] == w["decision"]
        assert row["failing"] == w["failing"]
        assert [u["id"] for u in row["unknown"]] == [u["id"] for u in w["unknown"]]
        assert [c for c, o in row["outcomes"].items() if o == "fail"] == w["failing"]
    assert {r["decision"] for r in rows} == {"eligible", "ineligible", "incomplete"}
    assert fast.funnel.rows() == slow.funnel.rows()
    (error,) = read_jsonl(tmp_path / "fast.jsonl.errors.jsonl")
    assert (error["patient_id"], error["field"]) == ("p0007", "hiv")
    assert "got 3" in error["message"] and error["source"].endswith("registry.jsonl") and error["line"] == 8


def test_cli_writes_csv_with_an_outcome_column_per_criterion(
    tmp_path: Path, registry: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, tables = registry
    out, summary = tmp_path / "fast.csv", tmp_path / "funnel.html"
    code = main(
        [
            "batch",
            str(tables),
            "--engine",
            "vectorized",
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(out),
            "--summary",
            str(summary),
            "--no-progress",
        ]
    )
    assert code == 1  # one patient could not be screened
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    criteria = [c.id for c in load_ruleset(RULES).criteria]
    assert len(rows) == 22 and list(rows[0]) == [*CSV_COLUMNS, *criteria]  # the engine batch's columns first
    eligible = [r for r in rows if r["decision"] == "eligible"]
    assert eligible and all(r["failing"] == "" and r["unknown"] == "" for r in eligible)
    assert all(r["I1"] == "pass" for r in eligible)
    renal = next(r for r in rows if r["patient_id"] == "p0001")
    assert renal["decision"] == "ineligible" and "E2" in renal["failing"].split(";") and renal["E2"] == "fail"
    assert "E2" in summary.read_text(encoding="utf-8")
    # the registry's Parquet files are what the vectorized engine reads: none is "skipped"
    said = capsys.readouterr()
    assert "no reader reads" not in said.out + said.err + summary.read_text(encoding="utf-8")


def test_interrupted_run_resumes_without_duplicates_or_losses(
    tmp_path: Path, registry: tuple[Path, Path]
) -> None:
    _, tables = registry  # chunks of 8 pids (each chunk plans the SQL again: ~2 s)
    whole = run_fast_batch(options([tables], tmp_path / "whole.jsonl", fmt="jsonl"))  # one range
    out = tmp_path / "out.jsonl"
    first = run_fast_batch(options([tables], out, fmt="jsonl", chunk_size=8, limit=9))
    assert not first.complete and first.records == 16 and not out.exists()
    partial = outputs.partial_path(out)
    with partial.open("ab") as handle:  # a crash after writing rows, before the checkpoint
        handle.write(b'{"patient_id": "half-written row')
    second = run_fast_batch(options([tables], out, fmt="jsonl", chunk_size=8, resume=True))
    assert second.complete and second.resumed_from == 16 and second.records == 23
    assert read_jsonl(out) == read_jsonl(tmp_path / "whole.jsonl")
    assert second.funnel.rows() == whole.funnel.rows()
    assert not outputs.checkpoint_path(out).exists() and not partial.exists()
    run_fast_batch(options([tables], out, fmt="jsonl", chunk_size=8, limit=4, overwrite=True))
    with pytest.raises(InputError, match="another registry, rules, date"):
        run_fast_batch(options([tables], out, fmt="csv", chunk_size=8, resume=True))


def test_refuses_what_it_cannot_read(tmp_path: Path, registry: tuple[Path, Path]) -> None:
    jsonl, tables = registry
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no manifest\.json"):
        run_fast_batch(options([tmp_path / "empty"], tmp_path / "o.csv"))
    with pytest.raises(InputError, match="one columnar registry"):
        run_fast_batch(options([tables, tables], tmp_path / "o.csv"))
    with pytest.raises(InputError, match="convert this input first: screener convert --to tables"):
        run_fast_batch(options([jsonl], tmp_path / "o.csv"))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2]), min_size=4, max_size=4), min_size=1, max_size=30))
def test_funnel_from_code_arrays_counts_as_patient_by_patient(codes: list[list[int]]) -> None:
    criteria = ("I1", "I2", "E1", "E2")
    one, many = Funnel(criteria), Funnel(criteria)
    names = ("pass", "fail", "unknown")
    for row in codes:
        one.add(
            [c for c, x in zip(criteria, row, strict=True) if names[x] == "fail"],
            [c for c, x in zip(criteria, row, strict=True) if names[x] == "unknown"],
        )
    many.add_codes(codes)
    assert many.to_state() == one.to_state()


def test_explain_open_gives_the_engine_rows_to_patients_still_in_reach(
    tmp_path: Path, registry: tuple[Path, Path]
) -> None:
    """Explained: patients who fail nothing, or only criteria they may pass later (E10's
    rituximab washout here); not: patients failing a criterion time cannot change (E2)."""
    jsonl, tables = registry
    run_batch(options([jsonl], tmp_path / "slow.jsonl", fmt="jsonl", chunk_size=200))
    want = {r["patient_id"]: r for r in read_jsonl(tmp_path / "slow.jsonl")}
    report = run_fast_batch(
        options([tables], tmp_path / "fast.jsonl", fmt="jsonl", chunk_size=12), explain="open"
    )
    assert report.complete and report.errors == 1  # p0007 only: no disagreement was reported
    rows = read_jsonl(tmp_path / "fast.jsonl")
    explained = [r for r in rows if r["explained"]]
    assert {r["decision"] for r in explained} == {"eligible", "incomplete", "ineligible"}
    for row in explained:
        w = want[row["patient_id"]]
        assert row["unknown"] == w["unknown"] and row["eligible_from"] == w["eligible_from"]
        assert row["near_misses"] == w["near_misses"]
    assert any(u["missing"] for r in explained for u in r["unknown"])  # incomplete ones name what is missing
    waiting = [r for r in explained if r["decision"] == "ineligible"]
    # E10's washout ends in February, when the labs and statuses of today are too old: no true
    # "eligible from" date (the engine's earliest_possible says what to renew), as the slow rows say
    assert waiting and all(r["failing"] == ["E10"] and r["eligible_from"] is None for r in waiting)
    closed = [r for r in rows if not r["explained"]]
    assert closed and all("E2" in r["failing"] or "I3" in r["failing"] for r in closed)
    # not re-screened: their missing facts and near misses come from the SQL, the same
    for row in closed:
        w = want[row["patient_id"]]
        assert (row["unknown"], row["near_misses"]) == (w["unknown"], w["near_misses"])
    assert any(r["near_misses"] for r in closed)


def test_explain_needs_the_vectorized_engine(tmp_path: Path, registry: tuple[Path, Path], capsys) -> None:
    jsonl, _ = registry
    code = main(["batch", str(jsonl), "--explain", "open", "--out", str(tmp_path / "o.csv"), "--no-progress"])
    assert code == 2 and "--explain is for --engine vectorized" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_a_patient_the_engine_cannot_explain_is_reported_and_the_batch_goes_on(
    tmp_path: Path, registry: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from screener.batch import fast_piece

    _, tables = registry
    real = fast_piece.screen_row

    def flaky(engine, patient, as_of, source, line):  # type: ignore[no-untyped-def]
        if patient.patient_id == "p0000":
            raise RuntimeError("engine fault")
        return real(engine, patient, as_of, source, line)

    monkeypatch.setattr(fast_piece, "screen_row", flaky)
    report = run_fast_batch(options([tables], tmp_path / "fast.jsonl", fmt="jsonl"), explain="open")
    assert report.complete and report.rows == 22 and report.errors == 2
    rows = {r["patient_id"]: r for r in read_jsonl(tmp_path / "fast.jsonl")}
    assert not rows["p0000"]["explained"] and rows["p0000"]["decision"] == "eligible"
    assert rows["p0005"]["explained"]
    messages = [e["message"] for e in read_jsonl(tmp_path / "fast.jsonl.errors.jsonl")]
    assert any("not explained: RuntimeError: engine fault" in m for m in messages)


def test_a_patient_whose_rows_cannot_be_read_back_is_reported_and_the_rest_explained(
    tmp_path: Path, registry: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from screener.tables import read

    _, tables = registry
    real = read.read_patients

    def deep(con, relations, pids):  # type: ignore[no-untyped-def]
        if 5 in pids:  # pid 5 is p0005, explained in the normal run
            raise RecursionError("maximum recursion depth exceeded")
        return real(con, relations, pids)

    monkeypatch.setattr(read, "read_patients", deep)
    report = run_fast_batch(options([tables], tmp_path / "fast.jsonl", fmt="jsonl"), explain="open")
    assert report.complete and report.rows == 22
    rows = {r["patient_id"]: r for r in read_jsonl(tmp_path / "fast.jsonl")}
    assert not rows["p0005"]["explained"] and rows["p0000"]["explained"]
    errors = read_jsonl(tmp_path / "fast.jsonl.errors.jsonl")
    (error,) = [e for e in errors if e["patient_id"] == "p0005"]
    assert error["message"].startswith("not explained: nested too deeply") and error["line"] == 6
