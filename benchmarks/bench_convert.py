"""Time ``screener convert --to tables`` on a native JSONL registry: Python reader against the
SQL reader (DuckDB, one thread and two), and check that they wrote the same registry.

    python benchmarks/generate_registry.py --n 100000 --seed 1 --out /tmp/registry.jsonl
    python benchmarks/bench_convert.py /tmp/registry.jsonl

Each conversion runs as its own process; the table gives its wall time, its CPU time (user +
system, of the child process: DuckDB's threads included) and its peak memory (ru_maxrss of
the child, from wait4), and patients per second of wall and of CPU. Timing stays here, never in a test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "python": ["--reader", "python"],
    "sql-1-thread": ["--reader", "sql", "--threads", "1"],
    "sql-2-threads": ["--reader", "sql", "--threads", "2"],
}


def run(source: Path, out: Path, options: list[str]) -> dict[str, float]:
    command = [sys.executable, "-m", "screener.cli.main", "convert", str(source), "--to", "tables"]
    command += ["--out", str(out), *options]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    errors = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own CPU time and peak memory
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if child.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
    cpu = usage.ru_utime + usage.ru_stime
    patients = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["patients"]
    return {"wall": wall, "cpu": cpu, "rss_mb": usage.ru_maxrss / 1024, "patients": patients}


def same(a: Path, b: Path) -> bool:
    import duckdb

    from screener.tables.layout import TABLES

    for table in TABLES:
        for x, y in ((a, b), (b, a)):
            extra = duckdb.sql(
                f"SELECT count(*) FROM (SELECT * FROM read_parquet('{x}/{table}/*.parquet') EXCEPT ALL "
                f"SELECT * FROM read_parquet('{y}/{table}/*.parquet'))"
            ).fetchall()[0][0]
            if extra:
                return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a native JSONL registry (generate_registry.py --out)")
    parser.add_argument("--only", default=",".join(CASES), help="cases, comma-separated: " + ", ".join(CASES))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-convert-"))
    print(
        f"{args.source} ({args.source.stat().st_size / 1e6:.0f} MB), {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()}"
    )
    print(f"{'case':<14} {'wall s':>8} {'cpu s':>8} {'pat/s wall':>11} {'pat/s cpu':>10} {'peak MB':>8}")
    outs = {}
    try:
        for name in args.only.split(","):
            out = work / name
            r = run(args.source, out, CASES[name])
            outs[name] = out
            print(
                f"{name:<14} {r['wall']:8.1f} {r['cpu']:8.1f} {r['patients'] / r['wall']:11.0f} "
                f"{r['patients'] / r['cpu']:10.0f} {r['rss_mb']:8.0f}",
                flush=True,
            )
        names = list(outs)
        for other in names[1:]:
            print(f"{names[0]} and {other} wrote the same registry: {same(outs[names[0]], outs[other])}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
