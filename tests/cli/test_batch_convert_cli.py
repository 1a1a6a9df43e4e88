"""``batch`` and ``convert`` say what they did, and refuse what they cannot do before writing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from screener.cli.main import main
from tests.batch.conftest import variant, write_jsonl
from tests.conftest import ROOT, RULES_DIR

REGISTRY = ROOT / "fixtures" / "registry"


def batch_argv(*inputs: Path | str, out: Path, **options: str) -> list[str]:
    argv = ["batch", *map(str, inputs), "--rules", str(RULES_DIR), "--as-of", "2026-11-25"]
    argv += ["--out", str(out), "--workers", "1", "--no-progress"]
    for flag, value in options.items():
        argv += [f"--{flag}", value]
    return argv


def test_batch_prints_and_embeds_totals_date_rule_set_inputs_and_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "patients"
    folder.mkdir()
    for i in range(5):
        (folder / f"p{i}.json").write_text(json.dumps(variant(i)), encoding="utf-8")
    (folder / "notes.txt").write_text("not a patient", encoding="utf-8")
    out, summary = tmp_path / "rows.jsonl", tmp_path / "funnel.html"
    assert main(batch_argv(folder, out=out, summary=str(summary))) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    counts = {d: sum(r["decision"] == d for r in rows) for d in ("eligible", "incomplete", "ineligible")}
    assert sum(counts.values()) == 5 and all(counts.values())  # the five kinds cover every decision
    first = captured.out.splitlines()[0]
    assert first == (
        f"5 patients screened: {counts['eligible']} eligible, {counts['incomplete']} incomplete, "
        f"{counts['ineligible']} ineligible; 0 records could not be screened (errors)"
    )
    from screener.model.rules import load_ruleset

    ruleset = load_ruleset(RULES_DIR)
    named = f"nct03562065 v{ruleset.version}"
    assert f"screening date 2026-11-25; rule set {named} (sha256 {ruleset.sha256}" in captured.out
    assert f"inputs: {folder}" in captured.out and "command: screener batch " in captured.out
    assert f"skipped 1 file(s) no reader reads: {folder / 'notes.txt'}" in captured.out
    assert str(folder / "notes.txt") in captured.err  # said on stderr as well
    page = summary.read_text(encoding="utf-8")
    for decision, count in counts.items():
        assert f'<td class="total" data-decision="{decision}">{count}</td>' in page
    assert '<td class="total" data-decision="errors">0</td>' in page
    assert "<dd>2026-11-25</dd>" in page and named in page and str(folder) in page
    assert f"--out {out}" in page and "notes.txt" in page


def test_batch_counts_errors_in_the_totals(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [variant(0), variant(1)], extra_lines={1: "nope"})
    assert main(batch_argv(bad, out=tmp_path / "o.csv")) == 1
    assert capsys.readouterr().out.splitlines()[0].endswith("; 1 record could not be screened (errors)")


def test_a_missing_input_is_an_error_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [variant(0)])
    missing = tmp_path / "absent.jsonl"
    out = tmp_path / "out" / "o.csv"
    assert main(batch_argv(good, missing, out=out, summary=str(tmp_path / "f.html"))) == 2
    captured = capsys.readouterr()
    assert captured.err == f"screener: error: {missing}: no such file or directory\n"
    assert captured.out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]  # nothing written


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("out", "o.xlsx", "--out"),
        ("out", "o", "--out"),
        ("summary", "f.pdf", "--summary"),
    ],
)
def test_unknown_output_suffixes_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, words: str
) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [variant(0)])
    options = {"out": str(tmp_path / "o.csv"), option: str(tmp_path / value)}
    out = options.pop("out")
    assert main(batch_argv(good, out=Path(out), **options)) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"screener: error: {words} ") and "unknown suffix" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.jsonl"]


@pytest.mark.parametrize("out", ["o.csv", "o.jsonl", "o.ndjson", "O.CSV"])
def test_known_output_suffixes_are_accepted(tmp_path: Path, out: str) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [variant(0)])
    assert main(batch_argv(good, out=tmp_path / out, summary=str(tmp_path / "f.svg"))) == 0
    assert (tmp_path / out).exists() and (tmp_path / "f.svg").read_text().startswith("<svg")


def test_convert_on_a_missing_path_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["convert", str(missing), "--to", "native", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"screener: error: {missing}: no such file or directory\n"
    assert not (tmp_path / "o").exists()


def test_convert_counts_refused_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for f in REGISTRY.iterdir():
        shutil.copy(f, tmp_path / f.name)
    csv_file = tmp_path / "lupus_registry.csv"
    rows = csv_file.read_text(encoding="utf-8").splitlines()
    short = sum(1 for r in rows[1:] if r.count(",") != rows[0].count(","))
    assert short == 1  # the fixture holds one row with a wrong number of fields
    mapping = tmp_path / "lupus_registry.mapping.yaml"
    argv = ["convert", str(csv_file), "--registry-mapping", str(mapping), "--to", "native"]
    code = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    written = len(list((tmp_path / "out").glob("*.json")))
    assert code == 1
    head = err.splitlines()[0]
    assert head == f"csv-registry: {written} patient(s) converted, 1 failed, {len(rows) - 1} record(s) read"


def test_convert_output_spellings_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patient = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
    bundle_dir = tmp_path / "in"
    bundle_dir.mkdir()
    shutil.copy(patient, bundle_dir / "p.yaml")
    # tables: --to tables --out DIR, and the older --to tables DIR INPUT
    assert main(["convert", str(bundle_dir), "--to", "tables", "--out", str(tmp_path / "t1")]) == 0
    assert main(["convert", "--to", "tables", str(tmp_path / "t2"), str(bundle_dir)]) == 0
    assert sorted(p.name for p in (tmp_path / "t1").iterdir()) == sorted(
        p.name for p in (tmp_path / "t2").iterdir()
    )
    # --to-native DIR and --to-native with --out conflict
    assert main(["convert", str(bundle_dir), "--to-native", "a", "--out", "b"]) == 2
    assert "--to-native DIR is --to native --out DIR" in capsys.readouterr().err


def test_rules_check_and_report_take_rules_as_screen_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", "--rules", str(RULES_DIR)]) == 0
    by_option = capsys.readouterr()
    assert main(["rules", "check", str(RULES_DIR)]) == 0
    assert capsys.readouterr() == by_option
    assert main(["rules", "report", "--rules", str(RULES_DIR)]) == 0
    assert capsys.readouterr().out.startswith("# Treatment of refractory SLE")
