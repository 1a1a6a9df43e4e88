"""FHIR Bulk Data NDJSON into the columnar tables: the Python importer against the DuckDB SQL
(issue 17 §1 and §6 "from FHIR NDJSON").

    python benchmarks/bench_fhir_convert.py --sizes 10000,100000            # generates, then times
    python benchmarks/bench_fhir_convert.py --bulk /tmp/fhir-bulk --only sql  # an existing folder

Each case runs in its own child process and is timed from outside: wall time, CPU time of the
child (user + system, all its threads: on a machine shared with other work CPU time is the fairer
measure) and its peak RSS.

- ``python``: what ``screener convert --to tables`` does today for FHIR: ``iter_records`` (the
  Python FHIR importer), ``patient_from_data``, ``TablesWriter``.
- ``sql``: :func:`screener.tables.from_fhir.stage_fhir` (DuckDB reads the NDJSON, groups and
  converts in SQL, the code mapping joined), then each staged table written to Parquet with
  ``pid`` numbered from ``ord`` in one ``COPY`` (what the registry writer does with staged
  relations); patients left to Python, if any, go through ``TablesWriter``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_python(bulk: Path, out: Path) -> dict[str, int]:
    from screener.batch.inputs import iter_records
    from screener.importers.mapping import load_mapping
    from screener.model.patient import patient_from_data
    from screener.tables.write import TablesWriter
    from screener.yamlio import LineMap

    mapping = load_mapping()
    errors = 0
    with TablesWriter(out, overwrite=True, sources=[str(bulk)]) as writer:
        for record in iter_records([bulk], mapping=mapping):
            if record.data is None:
                errors += 1
                continue
            writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
        patients = writer.patients
    return {"patients": patients, "errors": errors, "fallback": patients}


def run_sql(bulk: Path, out: Path, threads: int, memory_limit: str | None = None) -> dict[str, int]:
    import duckdb

    from screener.importers.mapping import load_mapping
    from screener.model.patient import patient_from_data
    from screener.tables.from_fhir import stage_fhir
    from screener.tables.layout import TABLES
    from screener.tables.write import TablesWriter
    from screener.yamlio import LineMap

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    if memory_limit:  # DuckDB spills what does not fit to a temporary directory
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{out.parent / 'spill'}'")
    staged = stage_fhir(con, [bulk], load_mapping())
    fallback = sorted(staged.fallback, key=lambda f: f[0])
    out.mkdir(parents=True, exist_ok=True)
    for table, relation in staged.tables.items():
        (out / table).mkdir(exist_ok=True)
        columns = ", ".join(f'"{c}"' for c, _ in TABLES[table] if c != "pid")
        con.execute(
            f"""COPY (SELECT CAST(dense_rank() OVER (ORDER BY ord) - 1 AS BIGINT) AS pid, {columns}
            FROM {relation}) TO '{out / table / "part-00000.parquet"}' (FORMAT parquet, COMPRESSION zstd)"""
        )
    if fallback:
        with TablesWriter(out / "fallback", overwrite=True) as writer:
            for _, record in fallback:
                writer.add(patient_from_data(record.data, LineMap(record.source, {})), record.line)
    sql = con.execute(f"SELECT count(*) FROM {staged.tables['patients']}").fetchone()[0]
    return {"patients": sql + len(fallback), "errors": len(staged.issues), "fallback": len(fallback)}


def child(case: str, bulk: Path, out: Path, threads: int, memory_limit: str | None) -> None:
    sys.path.insert(0, str(HERE.parent))
    result = run_python(bulk, out) if case == "python" else run_sql(bulk, out, threads, memory_limit)
    print(json.dumps(result))


def measure(case: str, bulk: Path, threads: int, memory_limit: str | None = None) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-fhir-") as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                case,
                "--bulk",
                str(bulk),
                "--out",
                str(Path(tmp) / "reg"),
                "--threads",
                str(threads),
                *(["--memory-limit", memory_limit] if memory_limit else []),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {**result, "wall_s": wall, "cpu_s": cpu, "peak_rss_mb": after.ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000", help="patients to generate, comma-separated")
    parser.add_argument("--bulk", type=Path, default=None, help="time this Bulk Data folder instead")
    parser.add_argument("--only", choices=("python", "sql"), default=None)
    parser.add_argument("--threads", type=int, default=1, help="DuckDB threads of the sql case")
    parser.add_argument(
        "--memory-limit", default=None, help="DuckDB memory_limit of the sql case, e.g. 500MB"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.bulk, args.out, args.threads, args.memory_limit)
        return 0
    cases = [args.only] if args.only else ["python", "sql"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-fhir-data-") as tmp:
        inputs: list[tuple[int | None, Path]] = []
        if args.bulk is not None:
            inputs.append((None, args.bulk))
        else:
            sys.path.insert(0, str(HERE))
            from generate_fhir import write_fhir

            for n in (int(s) for s in args.sizes.split(",") if s):
                folder = Path(tmp) / f"bulk-{n}"
                write_fhir(folder, n)
                inputs.append((n, folder))
        for n, folder in inputs:
            for case in cases:
                row = {"case": case, "size": n, **measure(case, folder, args.threads, args.memory_limit)}
                rows.append(row)
                print(
                    f"{case:7s} {row['patients']:>8,} patients  wall {row['wall_s']:7.1f} s  "
                    f"cpu {row['cpu_s']:7.1f} s  {row['patients'] / row['cpu_s']:8,.0f} patients/cpu-s  "
                    f"peak {row['peak_rss_mb']:6.0f} MB  fallback {row['fallback']:,}  "
                    f"load {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
