"""A patient whose decision the criteria do not give (death): its row says why, and the
funnel counts it as ineligible instead of letting its passing criteria count it eligible."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from screener.batch.summary import Funnel, decision_totals
from screener.cli.main import main

from .conftest import AS_OF, RULES, base_patient, write_jsonl


def _batch(tmp_path: Path, out: str) -> list[str]:
    alive = base_patient()
    dead = base_patient()
    dead["patient_id"] = "dead"
    dead["demographics"]["deceased"] = (AS_OF.replace(month=1)).isoformat()  # before the screening date
    later = base_patient()
    later["patient_id"] = "dies-later"
    later["demographics"]["deceased"] = AS_OF.replace(day=AS_OF.day + 1).isoformat()  # the day after
    source = write_jsonl(tmp_path / "in.jsonl", [alive, dead, later])
    return [
        "batch",
        str(source),
        "--rules",
        str(RULES),
        "--as-of",
        AS_OF.isoformat(),
        "--out",
        str(tmp_path / out),
        "--workers",
        "1",
        "--no-progress",
        "--summary",
        str(tmp_path / "funnel.html"),
    ]


def test_a_death_before_the_screening_date_is_ineligible_with_its_reason(tmp_path: Path, capsys) -> None:
    assert main(_batch(tmp_path, "rows.csv")) == 0
    with (tmp_path / "rows.csv").open(encoding="utf-8", newline="") as handle:
        rows = {r["patient_id"]: r for r in csv.DictReader(handle)}
    assert rows["dead"]["decision"] == "ineligible" and "died" in rows["dead"]["decision_reason"]
    assert rows["dies-later"]["decision"] == "eligible" and rows["dies-later"]["decision_reason"] == ""
    out = capsys.readouterr().out
    assert "3 patients screened: 2 eligible, 0 incomplete, 1 ineligible" in out
    assert "1 decided before the criteria" in out
    assert "decided before the criteria" in (tmp_path / "funnel.html").read_text(encoding="utf-8")


def test_jsonl_rows_carry_the_reason_too(tmp_path: Path) -> None:
    assert main(_batch(tmp_path, "rows.jsonl")) == 0
    lines = (tmp_path / "rows.jsonl").read_text(encoding="utf-8").splitlines()
    rows = {r["patient_id"]: r for r in map(json.loads, lines)}
    assert rows["dead"]["decision_reason"] and rows[base_patient()["patient_id"]]["decision_reason"] is None


def test_decided_patients_are_left_out_of_the_criteria_columns_and_survive_a_checkpoint() -> None:
    funnel = Funnel(("I1", "E1"))
    funnel.add([], [])
    funnel.add(["E1"], [])
    funnel.add([], [], decided=True)
    assert decision_totals(funnel) == {"eligible": 1, "incomplete": 0, "ineligible": 2}
    first = funnel.rows()[0]
    assert (first["pass"], first["remaining"], first["clear"]) == (2, 2, 2)
    again = Funnel.from_state(funnel.to_state())
    assert (again.decided, decision_totals(again)) == (1, decision_totals(funnel))
    old_state = {k: v for k, v in funnel.to_state().items() if k != "decided"}  # a checkpoint of before
    assert Funnel.from_state(old_state).decided == 0
