"""The fast path over a columnar registry screens what a record leaves uncertain as the engine
does (screener.engine.uncertain): a death before the screening date, a screening date outside the
observed time, an unconfirmed diagnosis. The tables carry them (format 3); the query reads records
at face value, so these patients are screened by the engine and their rows are the engine's."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")

from screener.cli.main import main
from screener.model.patient import patient_from_data
from screener.tables.read import read_patients
from screener.yamlio import LineMap

from .conftest import AS_OF, RULES, base_patient, variant, write_jsonl


def _cases() -> list[dict[str, Any]]:
    day_after = AS_OF.replace(day=AS_OF.day + 1).isoformat()
    cases: list[tuple[str, dict[str, Any]]] = [
        ("died-before", {"deceased": "2026-01-02"}),
        ("died-on", {"deceased": AS_OF.isoformat()}),
        ("dies-after", {"deceased": day_after}),
        ("dead-undated", {"deceased": True}),
        ("observed-around", {"observed": [{"start": "2015-01-01", "end": day_after}]}),
        ("observed-before", {"observed": [{"start": "2015-01-01", "end": "2022-12-31"}]}),
        ("observed-open", {"observed": [{"start": "2015-01-01"}]}),
    ]
    out = [variant(i) for i in range(5)]  # plain patients: the query's own rows
    for name, demographics in cases:
        p = base_patient()
        p["patient_id"] = name
        p["demographics"].update(demographics)
        out.append(p)
    for name, condition in (
        ("hiv-unconfirmed", {"name": "hiv_infection", "status": "active", "verification": "unconfirmed"}),
        ("hiv-confirmed", {"name": "hiv_infection", "status": "active"}),
    ):
        p = base_patient()
        p["patient_id"] = name
        p.setdefault("conditions", []).append(condition)
        out.append(p)
    return out


def _ids(cell: str) -> list[str]:
    """The criterion ids of a row's unknown cell (``E2: creatinine | weight; E3: lvef``)."""
    return [part.split(":")[0].strip() for part in cell.split("; ") if part]


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return {r["patient_id"]: r for r in csv.DictReader(handle)}


def test_uncertain_patients_screen_on_the_fast_path_as_on_the_engine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _cases())
    tables = tmp_path / "reg.tables"
    assert main(["convert", "--to", "tables", "--out", str(tables), str(source)]) == 0
    common = ["--rules", str(RULES), "--as-of", AS_OF.isoformat(), "--no-progress"]
    assert main(["batch", str(source), "--out", str(tmp_path / "engine.csv"), "--workers", "1", *common]) == 0
    engine_totals = capsys.readouterr().out.splitlines()[0]
    fast_cli = ["batch", str(tables), "--engine", "vectorized", "--out", str(tmp_path / "fast.csv")]
    assert main([*fast_cli, *common]) == 0
    fast_totals = capsys.readouterr().out.splitlines()[0]
    # the funnel counts the deaths apart, as ineligible, on both paths
    assert fast_totals == engine_totals and "3 decided before the criteria" in fast_totals
    engine, fast = _rows(tmp_path / "engine.csv"), _rows(tmp_path / "fast.csv")
    assert engine.keys() == fast.keys()
    uncertain = {p["patient_id"] for p in _cases()[5:]}
    for pid, row in engine.items():
        # without --explain the query's own rows name unknown criteria only; the engine's rows
        # (every uncertain patient) name what is missing too
        columns = ["decision", "decision_reason", "failing", "eligible_from"]
        columns += ["unknown"] if pid in uncertain else []
        for column in columns:
            assert fast[pid][column] == row[column], (pid, column)
        assert _ids(fast[pid]["unknown"]) == _ids(row["unknown"]), pid
    # the cases do what they say, on both paths
    assert engine["died-before"]["decision"] == engine["died-on"]["decision"] == "ineligible"
    assert engine["dead-undated"]["decision"] == "ineligible" and engine["dead-undated"]["decision_reason"]
    assert engine["dies-after"]["decision"] == "eligible" and not engine["dies-after"]["decision_reason"]
    assert engine["observed-around"]["decision"] == engine["observed-open"]["decision"] == "eligible"
    assert engine["observed-before"]["decision"] == "incomplete"  # absences no longer count as none
    assert (
        engine["hiv-unconfirmed"]["decision"] == "incomplete" and "E9" in engine["hiv-unconfirmed"]["unknown"]
    )
    assert engine["hiv-confirmed"]["decision"] == "ineligible"


def test_uncertain_fields_round_trip_through_the_tables(tmp_path: Path) -> None:
    import duckdb

    from screener.tables.layout import TABLES
    from screener.tables.write import TablesWriter, table_glob

    patients = [patient_from_data(d, LineMap(f"{d['patient_id']}.json", {})) for d in _cases()]
    with TablesWriter(tmp_path / "t", chunk_size=100) as writer:
        for patient in patients:
            writer.add(patient)
    con = duckdb.connect()
    relations = {t: f"read_parquet('{table_glob(tmp_path / 't', t)}')" for t in TABLES}
    back = read_patients(con, relations, list(range(len(patients))))
    for before, after in zip(patients, back, strict=True):
        assert (after.deceased, after.observed) == (before.deceased, before.observed), before.patient_id
        assert [c.verification for c in after.conditions] == [c.verification for c in before.conditions]
