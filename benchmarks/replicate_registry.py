"""A columnar registry K times larger, made from a converted one (issue 17 §5: memory at 10M).

    python benchmarks/replicate_registry.py REGISTRY --times 100 --out /tmp/registry-10m.tables

Generating and converting 10 million patients costs hours on a 2-core machine (the JSONL alone
is ~40 GB); screening them only needs a registry of that size. Copy ``k`` (0..K-1) of every
part keeps each patient's records and shifts ``pid`` by ``k * N`` and suffixes ``patient_id``
with ``~k``, so every patient is a distinct patient with the same history as its original.
Each copy is written as its own parts (one per original part), in pid order, the way
``screener convert --to tables`` writes chunks; the manifest lists every file. Only
unpartitioned registries are replicated. The outcomes of copy ``k`` equal those of the
original (same records, same screening date), which makes the run checkable: every decision
count is K times the original's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screener.tables.layout import TABLES  # noqa: E402
from screener.tables.place import MANIFEST, part_name  # noqa: E402


def replicate(source: Path, times: int, out: Path) -> dict[str, object]:
    manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("partitions", 1) != 1:
        raise SystemExit("replicate an unpartitioned registry (convert without --partitions)")
    n, parts = int(manifest["patients"]), int(manifest["parts"])
    if out.exists():
        raise SystemExit(f"{out} exists; remove it first")
    tmp = out.with_name(out.name + ".tmp")
    con = duckdb.connect()
    con.execute("SET threads = 2")
    files: list[str] = []
    for table, columns in TABLES.items():
        (tmp / table).mkdir(parents=True)
        names = [c for c, _ in columns]
        for k in range(times):
            select = ", ".join(
                f"pid + {k * n} AS pid"
                if c == "pid"
                else f"patient_id || '~{k}' AS patient_id"
                if c == "patient_id"
                else f'"{c}"'
                for c in names
            )
            for i in range(parts):
                name = part_name(k * parts + i)
                src = source / table / part_name(i)
                con.execute(
                    f"COPY (SELECT {select} FROM read_parquet('{src}')) "
                    f"TO '{tmp / table / name}' (FORMAT parquet, COMPRESSION zstd)"
                )
                files.append(f"{table}/{name}")
    manifest.update(
        patients=n * times,
        rows={t: c * times for t, c in manifest["rows"].items()},
        parts=parts * times,
        sources=[*manifest.get("sources", []), f"replicate_registry(times={times})"],
        files=files,
    )
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    tmp.rename(out)
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("registry", type=Path)
    parser.add_argument("--times", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    manifest = replicate(args.registry, args.times, args.out)
    print(f"{manifest['patients']:,} patients in {args.out} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
