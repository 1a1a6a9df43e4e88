"""Differential run of the full-reason rows at registry scale (issue 17 §2): the vectorized batch's
rows (missing facts, near misses, decision reason computed in SQL) against the rule engine's batch
rows on a generated registry, JSONL and CSV, field by field; 0 disagreements expected.

    python benchmarks/compare_reasons.py --n 10000 --seed 1 --workdir /tmp/screener-reasons

The test suite runs the same comparison on two 700-patient registries
(``tests/batch/test_reasons.py``); this is the 10k run the issue asks for, a few minutes
(the engine screens about 0.5k patients/s).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screener.batch.fast import run_fast_batch  # noqa: E402
from screener.batch.runner import BatchOptions, run_batch  # noqa: E402

FIELDS = ("patient_id", "decision", "decision_reason", "failing", "unknown", "near_misses")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--rules", type=Path, default=ROOT / "rules" / "nct03562065")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/screener-reasons"))
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    jsonl, tables = (
        work / f"registry-{args.n}-{args.seed}.jsonl",
        work / f"registry-{args.n}-{args.seed}.tables",
    )
    if not tables.exists():
        generator = ROOT / "benchmarks" / "generate_registry.py"
        subprocess.run(
            [
                *(sys.executable, str(generator), "--n", str(args.n), "--seed", str(args.seed)),
                *("--as-of", args.as_of.isoformat(), "--out", str(jsonl), "--tables", str(tables)),
            ],
            check=True,
        )
    disagreements = 0
    for fmt in ("jsonl", "csv"):
        rows = {}
        for engine, inputs in (("rules", jsonl), ("vectorized", tables)):
            out = work / f"{engine}.{fmt}"
            options = BatchOptions(
                inputs=(str(inputs),),
                rules=args.rules,
                as_of=args.as_of,
                out=out,
                fmt=fmt,
                overwrite=True,
                chunk_size=200 if engine == "rules" else 100_000,
            )
            start = time.process_time()
            report = run_batch(options) if engine == "rules" else run_fast_batch(options)
            print(
                f"{engine:10} {fmt:5} {report.rows} rows, {report.errors} errors, "
                f"{time.process_time() - start:.1f} s CPU (this process)"
            )
            if fmt == "jsonl":
                rows[engine] = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
            else:
                with out.open(encoding="utf-8", newline="") as handle:
                    rows[engine] = list(csv.DictReader(handle))
        want, got = rows["rules"], rows["vectorized"]
        if len(want) != len(got):
            print(f"{fmt}: {len(want)} engine rows, {len(got)} vectorized rows")
            disagreements += abs(len(want) - len(got))
        for w, g in zip(want, got, strict=False):  # a length difference is counted above
            diff = {k: (w[k], g[k]) for k in FIELDS if w[k] != g[k]}
            if diff:
                disagreements += 1
                if disagreements <= 10:
                    print(f"{fmt}: {w['patient_id']}: {diff}")
        if fmt == "jsonl":
            by_engine = sum(bool(r["explained"]) for r in got)
            print(f"jsonl: {len(got) - by_engine} rows made by the SQL, {by_engine} by the engine")
    print(f"{args.n} patients, seed {args.seed}: {disagreements} disagreements")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
