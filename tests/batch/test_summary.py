from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from screener.batch.runner import BatchOptions, run_batch
from screener.batch.summary import Funnel, render_html, render_svg, render_table

from .conftest import AS_OF, RULES


def funnel() -> Funnel:
    f = Funnel(("A", "B", "C"), ("alpha", "beta", "gamma"))
    f.add([], [])  # passes all
    f.add(["A"], ["B"])  # fails first; its unknown B comes after the cut
    f.add(["B", "C"], ["A"])  # unknown before its first failure
    f.add([], ["C"])
    f.add(["C"], [])
    return f


def test_independent_and_sequential_counts() -> None:
    rows = {r["id"]: r for r in funnel().rows()}
    assert [(r["fail"], r["unknown"], r["pass"]) for r in rows.values()] == [(1, 1, 3), (1, 1, 3), (2, 1, 2)]
    # sequential: A removes one; B removes one more; C removes one more
    assert [rows[c]["failed_here"] for c in "ABC"] == [1, 1, 1]
    assert [rows[c]["remaining"] for c in "ABC"] == [4, 3, 2]
    # unknown among those not yet failed: A (patient 3), B none (patient 2 already out), C (patient 4)
    assert [rows[c]["unknown_here"] for c in "ABC"] == [1, 0, 1]
    # clear = passed every criterion so far
    assert [rows[c]["clear"] for c in "ABC"] == [3, 3, 1]


def test_a_batch_row_counts_as_its_failing_and_unknown_ids_or_as_decided() -> None:
    f = Funnel(("A", "B", "C"), ("alpha", "beta", "gamma"))
    f.add_row({"failing": ["B"], "unknown": [{"id": "A", "missing": ["x"]}], "decision_reason": None})
    f.add_row({"failing": [], "unknown": [], "decision_reason": "died 2026-01-02"})
    want = Funnel(("A", "B", "C"), ("alpha", "beta", "gamma"))
    want.add(["B"], ["A"])
    want.add([], [], decided=True)
    assert f.rows() == want.rows() and (f.screened, f.decided) == (2, 1)


def test_state_round_trip() -> None:
    f = funnel()
    again = Funnel.from_state(f.to_state(), f.titles)
    assert again.rows() == f.rows() and again.screened == 5


def test_table_lists_every_criterion_in_order() -> None:
    text = render_table(funnel())
    lines = text.splitlines()
    assert lines[0] == (
        "5 patients screened: 1 eligible, 1 incomplete, 3 ineligible; "
        "0 records could not be screened (errors)"
    )
    assert lines[1].split() == [
        "criterion",
        "fail",
        "unknown",
        "pass",
        "failed",
        "here",
        "unknown",
        "here",
        "remaining",
        "clear",
    ]
    assert [line.split()[0] for line in lines[2:]] == ["A", "B", "C"]
    assert lines[4].split() == ["C", "2", "1", "2", "1", "1", "2", "1"]


def test_svg_is_well_formed_with_one_bar_group_per_criterion() -> None:
    svg = render_svg(funnel())
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    groups = root.findall(f"{ns}g")
    assert len(groups) == 3
    first_rects = groups[0].findall(f"{ns}rect")
    # A: 3 remaining with nothing unknown, 1 unknown, 1 failed -> three segments in proportion
    widths = [float(r.get("width", 0)) for r in first_rects]
    assert len(widths) == 3 and widths[0] == 3 * widths[1] == 3 * widths[2]


def test_html_embeds_the_chart_and_the_table(tmp_path: Path) -> None:
    page = render_html(funnel())
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert page.count("<tr>") == 4 + 4  # header and three criteria; four decision totals
    assert '<td class="total" data-decision="ineligible">3</td>' in page


def test_totals_and_what_was_run_are_printed_and_embedded() -> None:
    from screener.batch.summary import RunInfo, decision_totals

    f = funnel()
    assert decision_totals(f) == {"eligible": 1, "incomplete": 1, "ineligible": 3}
    info = RunInfo(
        as_of="2026-11-25",
        ruleset_id="nct03562065",
        ruleset_version="1.0.0",
        ruleset_sha256="ab" * 32,
        inputs=("patients/", "more.jsonl"),
        command="screener batch patients/ more.jsonl --out o.csv",
        errors=2,
        skipped=("patients/notes.txt",),
    )
    text = render_table(f, info).splitlines()
    assert text[0].endswith("3 ineligible; 2 records could not be screened (errors)")
    assert text[1] == f"screening date 2026-11-25; rule set nct03562065 v1.0.0 (sha256 {'ab' * 32})"
    assert text[2] == "inputs: patients/, more.jsonl"
    assert text[3] == "command: screener batch patients/ more.jsonl --out o.csv"
    assert text[4] == "skipped 1 file(s) no reader reads: patients/notes.txt"
    page = render_html(f, info)
    for needle in (
        '<td class="total" data-decision="errors">2</td>',
        "<dd>2026-11-25</dd>",
        "nct03562065 v1.0.0",
        "ab" * 32,
        "more.jsonl",
        "<code>screener batch patients/ more.jsonl --out o.csv</code>",
        "patients/notes.txt",
    ):
        assert needle in page


def test_svg_tooltips_say_what_the_bar_shows() -> None:
    svg = render_svg(funnel())
    assert "<title>remaining, nothing unknown here: 3</title>" in svg
    assert "<title>remaining: 3</title>" not in svg


def test_batch_writes_the_summary_file(tmp_path: Path, registry: Path) -> None:
    summary = tmp_path / "funnel.html"
    report = run_batch(BatchOptions((str(registry),), RULES, AS_OF, tmp_path / "out.csv", summary=summary))
    page = summary.read_text(encoding="utf-8")
    assert "23 patients screened" in page and "<td>E10</td>" in page
    rows = {r["id"]: r for r in report.funnel.rows()}
    # registry: 5 kinds cycling; kind 1 fails E2, 2 fails I3, 3 unknown I8, 4 fails E10
    assert (
        rows["I3"]["failed_here"] == 5 and rows["E2"]["failed_here"] == 5 and rows["E10"]["failed_here"] == 4
    )
    assert rows["I8"]["unknown"] == 4 and rows["E16"]["remaining"] == 23 - 14
