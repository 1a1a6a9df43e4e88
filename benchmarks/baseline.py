"""Run the hand-written DuckDB baseline of a rule set over a columnar registry, and count where
it disagrees with ``screener batch --engine vectorized`` (issue 17 §6).

    python benchmarks/baseline.py REGISTRY_DIR --as-of 2026-11-25
    python benchmarks/baseline.py REGISTRY_DIR --as-of 2026-11-25 --compare rows.csv   # + disagreements

The SQL is ``benchmarks/baseline_<rule set>.sql`` (written by hand from the rule file, not
generated from screener); this runner only fills in the registry's tables and the date, runs it
on one DuckDB thread and compares its ``baseline`` table with the per-criterion outcome columns
of a batch CSV, patient by patient. It prints one JSON line: seconds (wall and CPU), patients,
and the disagreements per criterion (a patient missing on either side counts as one on every
criterion).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TABLES = (
    "patients",
    "observations",
    "statuses",
    "assessments",
    "conditions",
    "medications",
    "administrations",
)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def statements(registry: Path, as_of: str, rules: str = "nct03562065") -> list[str]:
    """The baseline's statements for ``registry`` (a ``screener convert --to tables`` folder)."""
    sql = (HERE / f"baseline_{rules}.sql").read_text(encoding="utf-8")
    sql = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    values = {t: f"read_parquet({_quoted(str(registry / t / '*.parquet'))})" for t in TABLES}
    values["as_of"] = as_of
    for key, value in values.items():
        sql = sql.replace("{" + key + "}", value)
    return [s.strip() for s in sql.split(";") if s.strip()]


def run(con: Any, registry: Path, as_of: str) -> dict[str, float]:
    """Create the table ``baseline`` (pid, patient_id, one outcome word per criterion) in ``con``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for statement in statements(registry, as_of):
        con.execute(statement)
    return {"seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}


def disagreements(con: Any, rows_csv: Path) -> dict[str, int]:
    """Per criterion, the patients whose outcome in ``rows_csv`` (a batch CSV) differs from the
    baseline's, or who are on one side only."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE batch_rows AS SELECT * FROM read_csv({_quoted(str(rows_csv))}, "
        "header = true, all_varchar = true)"
    )
    # the criteria: the baseline's columns after pid and patient_id, in the rule file's order
    criteria = [row[0] for row in con.execute("DESCRIBE baseline").fetchall()][2:]
    checks = ", ".join(f'count(*) FILTER (WHERE b."{c}" IS DISTINCT FROM r."{c}") AS "{c}"' for c in criteria)
    found = con.execute(
        f"SELECT {checks} FROM baseline b FULL OUTER JOIN batch_rows r ON r.patient_id = b.patient_id"
    ).fetchone()
    return dict(zip(criteria, (int(n) for n in found), strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--compare", type=Path, help="a screener batch CSV of the same registry and date")
    parser.add_argument("--show", type=int, default=0, help="print up to N disagreeing rows per criterion")
    args = parser.parse_args(argv)

    import duckdb

    con = duckdb.connect(config={"threads": 1})
    result: dict[str, Any] = run(con, args.registry, args.as_of)
    result["patients"] = int(con.execute("SELECT count(*) FROM baseline").fetchone()[0])
    if args.compare:
        found = disagreements(con, args.compare)
        result["disagreements"] = sum(found.values())
        result["by_criterion"] = {c: n for c, n in found.items() if n}
        for c in result["by_criterion"] if args.show else ():
            shown = con.execute(
                f'SELECT b.patient_id, b.pid, b."{c}", r."{c}" FROM baseline b FULL OUTER JOIN batch_rows r '
                f'ON r.patient_id = b.patient_id WHERE b."{c}" IS DISTINCT FROM r."{c}" LIMIT {args.show}'
            ).fetchall()
            print(c, shown, file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
