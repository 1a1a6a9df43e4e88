"""The hand-written DuckDB baseline of NCT03562065 (``benchmarks/baseline_nct03562065.sql``, the
yardstick of issue 17 §6) still agrees with ``screener batch --engine vectorized`` criterion by
criterion, so a rule file change that the baseline misses shows up here, not only in a benchmark
run; and the comparison notices one changed outcome."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from screener.cli.main import main

duckdb = pytest.importorskip("duckdb")

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-25"


def _baseline() -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline", REPO / "benchmarks" / "baseline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("baseline")
    jsonl = folder / "registry.jsonl"
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "generate_registry.py"), "--n", "1500", "--seed", "7",
         "--as-of", AS_OF, "--out", str(jsonl)],
        check=True, capture_output=True,
    )  # fmt: skip
    registry = folder / "registry.tables"
    assert main(["convert", str(jsonl), "--to", "tables", "--out", str(registry)]) == 0
    rows = folder / "rows.csv"
    code = main(
        ["batch", str(registry), "--engine", "vectorized", "--as-of", AS_OF, "--out", str(rows),
         "--workers", "1", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    return registry, rows


def test_the_baseline_agrees_with_the_vectorized_engine_on_every_criterion(
    screened: tuple[Path, Path],
) -> None:
    registry, rows = screened
    baseline = _baseline()
    con = duckdb.connect(config={"threads": 1})
    baseline.run(con, registry, AS_OF)
    assert con.execute("SELECT count(*) FROM baseline").fetchone()[0] == 1500
    found = baseline.disagreements(con, rows)
    assert len(found) == 26 and sum(found.values()) == 0, {c: n for c, n in found.items() if n}


def test_one_changed_outcome_is_one_disagreement(screened: tuple[Path, Path], tmp_path: Path) -> None:
    registry, rows = screened
    table = list(csv.reader(rows.open(encoding="utf-8", newline="")))
    column = table[0].index("I1")
    flipped = table[1][column]
    table[1][column] = "fail" if flipped != "fail" else "pass"
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(table)
    baseline = _baseline()
    con = duckdb.connect(config={"threads": 1})
    baseline.run(con, registry, AS_OF)
    found = baseline.disagreements(con, changed)
    assert found["I1"] == 1 and sum(found.values()) == 1
