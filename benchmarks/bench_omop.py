"""OMOP CDM into the columnar tables: the Python importer against the conversion inside DuckDB
(issue 17 §1, :mod:`screener.tables.from_omop`).

The extract is the shared Eunomia Synthea27Nj CSV extract (28 persons, ~21k clinical rows),
replicated ``--copies`` times with person and row ids offset by 10,000,000 per copy (the
vocabulary tables are copied once). Each route runs in its own subprocess and writes a
registry:

- ``python``: what ``screener convert --to tables`` does today: ``iter_records`` (the OMOP
  importer), the patient loader, :class:`~screener.tables.write.TablesWriter`;
- ``sql``: :func:`~screener.tables.from_omop.stage_omop`, the fallback persons through the
  loader and ``TablesWriter``, and the staged tables copied to Parquet (what the registry
  writer does with them).

Printed per size: persons, wall and CPU seconds (process and children), persons/s of CPU, the
share of persons the SQL assembles, and the speed-up. The machine is shared: CPU time is the
fairer figure.

    python benchmarks/bench_omop.py --copies 1,20,100
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "synthea27nj-omop"
OFFSET = 10_000_000
_CLINICAL = {
    "PERSON": None,
    "CONDITION_OCCURRENCE": "condition_occurrence_id",
    "DRUG_EXPOSURE": "drug_exposure_id",
    "MEASUREMENT": "measurement_id",
    "OBSERVATION": "observation_id",
    "PROCEDURE_OCCURRENCE": "procedure_occurrence_id",
    "DEATH": None,
    "OBSERVATION_PERIOD": "observation_period_id",
}
_VOCABULARY = ("CONCEPT", "CONCEPT_ANCESTOR", "DRUG_STRENGTH", "CDM_SOURCE")


def replicate(source: Path, target: Path, copies: int) -> Path:
    """The extract ``copies`` times over, ids offset per copy (CSV, as DuckDB writes it)."""
    import duckdb

    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    for name in _VOCABULARY:
        (target / f"{name}.csv").write_bytes((source / f"{name}.csv").read_bytes())
    for name, own_id in _CLINICAL.items():
        path = source / f"{name}.csv"
        described = con.execute(f"DESCRIBE SELECT * FROM read_csv('{path}', all_varchar = true)")
        columns = [c[0] for c in described.fetchall()]
        shifted = {"person_id", *([own_id] if own_id else [])}
        select = ", ".join(
            f"CAST(CAST({c} AS BIGINT) + k.range * {OFFSET} AS VARCHAR) AS {c}" if c in shifted else c
            for c in columns
        )
        con.execute(f"CREATE OR REPLACE TABLE src AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        con.execute(
            f"COPY (SELECT {select} FROM src t, range({copies}) k ORDER BY k.range, t.rowid) "
            f"TO '{target / (name + '.csv')}' (HEADER, FORMAT csv)"
        )
    return target


def run_python(extract: Path, out: Path) -> dict[str, float]:
    from screener.batch.inputs import iter_records
    from screener.importers.mapping import load_mapping
    from screener.model.patient import patient_from_data
    from screener.tables.write import TablesWriter
    from screener.yamlio import LineMap

    mapping = load_mapping()
    persons = 0
    with TablesWriter(out) as writer:
        for record in iter_records([extract], mapping=mapping):
            if record.data is not None:
                writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
                persons += 1
    return {"persons": persons, "sql_persons": 0}


def run_sql(extract: Path, out: Path) -> dict[str, float]:
    import duckdb

    from screener.importers.mapping import load_mapping
    from screener.model.patient import patient_from_data
    from screener.tables.from_omop import stage_omop
    from screener.tables.write import TablesWriter
    from screener.yamlio import LineMap

    mapping = load_mapping()
    con = duckdb.connect()
    staged = stage_omop(con, [extract], mapping)
    fallback = 0
    with TablesWriter(out / "fallback") as writer:
        for _ord, record in sorted(staged.fallback, key=lambda x: x[0]):
            if record.data is not None:
                writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
                fallback += 1
    (out / "sql").mkdir(parents=True)
    for table, relation in staged.tables.items():
        con.execute(
            f"COPY {relation} TO '{out / 'sql' / (table + '.parquet')}' (FORMAT parquet, COMPRESSION zstd)"
        )
    sql = con.execute(f"SELECT count(*) FROM {staged.tables['patients']}").fetchone()[0]
    return {"persons": sql + fallback, "sql_persons": sql}


def child(route: str, extract: Path, out: Path) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    result = (run_python if route == "python" else run_sql)(extract, out)
    result.update(wall=time.perf_counter() - wall, cpu=time.process_time() - cpu)
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(route: str, extract: Path, work: Path) -> dict[str, float]:
    out = work / f"out-{route}"
    done = subprocess.run(
        [sys.executable, __file__, "--child", route, str(extract), str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,20,100", help="sizes, as copies of the shared extract")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        route, extract, out = args.child
        child(route, Path(extract), Path(out))
        return
    columns = "persons | clinical rows | route | wall s | CPU s | persons/s (CPU) | via SQL | peak MB"
    print(f"| {columns} | CPU speed-up |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for copies in [int(c) for c in args.copies.split(",") if c]:
        with tempfile.TemporaryDirectory(prefix="bench-omop-") as tmp:
            work = Path(tmp)
            extract = replicate(SHARED, work / "extract", copies)
            rows = copies * 21_123  # clinical rows of one copy
            results = {route: measure(route, extract, work) for route in ("python", "sql")}
            for route, r in results.items():
                speed = results["python"]["cpu"] / r["cpu"]
                rate = r["persons"] / r["cpu"]
                print(
                    f"| {int(r['persons']):,} | {rows:,} | {route} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                    f"{rate:,.0f} | {int(r['sql_persons']):,} | {r['peak_mb']:.0f} | {speed:.1f}x |"
                )


if __name__ == "__main__":
    main()
