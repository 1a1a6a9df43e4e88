"""End to end (issue 17 §6): convert, screen, and the hand-written DuckDB baseline, in one table.

    python benchmarks/bench_end_to_end.py                          # 10k and 100k (cached registries)
    python benchmarks/bench_end_to_end.py --sizes 10000,100000,1000000 --json out.json

For each size, a longitudinal registry is generated once per seed and size (``generate_registry.py``,
kept in ``--workdir``) and, when ``benchmarks/generate_fhir.py`` exists, the same patients as FHIR
Bulk Data NDJSON. Each stage then runs in its own child process, one after the other, through the
command line a user types (so it measures whatever converter and engine the checkout has):

* ``read``: DuckDB merely reading the same input into a table (``read_json`` of the JSONL file, or
  of each NDJSON file), one thread: the floor any conversion pays;
* ``convert``: ``screener convert INPUT --to tables --out DIR``;
* ``screen-1`` / ``screen-2``: ``screener batch DIR --engine vectorized --workers 1|2`` (CSV rows);
* ``baseline``: the hand-written SQL of the same rule set (``baseline_nct03562065.sql``) over the
  same tables, one DuckDB thread, and its disagreements with ``screen-1``'s rows per criterion.

Rates are patients per second per core: patients / CPU seconds of the child and its worker
processes (user + system), so they hold on a shared machine; wall seconds are shown beside them.
Peak memory is each child's own VmHWM (and the largest of its worker processes). The load average
is printed with every stage: read the rates of a loaded machine as ratios.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_batch import _high_water_mb  # noqa: E402  (VmHWM: the peak of this process alone)

ROOT = HERE.parent
AS_OF = date(2026, 11, 25)
RULES = ROOT / "rules" / "nct03562065"
TARGET_READ_RATIO = 2.5  # end to end within 2.5x of DuckDB reading the input
TARGET_BASELINE_RATIO = 1.2  # the vectorized screen at least 1.2x faster than the baseline


# --------------------------------------------------------------------------- child stages


def _stage_cli(args: list[str]) -> dict[str, Any]:
    from screener.cli.main import main

    code = main(args)
    return {"exit": code}


def _stage_read(args: list[str]) -> dict[str, Any]:
    """DuckDB reading JSONL / NDJSON files into tables, one thread."""
    import duckdb

    con = duckdb.connect(config={"threads": 1})
    rows = 0
    for i, path in enumerate(args):
        con.execute(
            f"CREATE TABLE t{i} AS SELECT * FROM read_json(?, format = 'newline_delimited', "
            "maximum_object_size = 104857600)",
            [path],
        )
        rows += int(con.execute(f"SELECT count(*) FROM t{i}").fetchone()[0])
    return {"rows": rows}


def _stage_baseline(args: list[str]) -> dict[str, Any]:
    import baseline
    import duckdb

    registry, as_of, rows_csv = Path(args[0]), args[1], Path(args[2])
    con = duckdb.connect(config={"threads": 1})
    timing = baseline.run(con, registry, as_of)
    patients = int(con.execute("SELECT count(*) FROM baseline").fetchone()[0])
    found = baseline.disagreements(con, rows_csv) if rows_csv.exists() else None
    return {
        "patients": patients,
        "sql_seconds": timing["seconds"],
        "disagreements": None if found is None else sum(found.values()),
        "by_criterion": None if found is None else {c: n for c, n in found.items() if n},
    }


STAGES = {"cli": _stage_cli, "read": _stage_read, "baseline": _stage_baseline}


def child(report: Path, stage: str, args: list[str]) -> int:
    # measured at exit: a worker pool shut down without waiting (screener.batch.tasks) has its
    # processes joined by the interpreter's exit hooks, which run before atexit's; only then
    # do their CPU time and peak memory count as this process's children
    atexit.register(_report, report, STAGES[stage](args))
    return 0


def _report(report: Path, result: dict[str, Any]) -> None:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    result.update(
        cpu_seconds=own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        peak_mb=_high_water_mb() or own.ru_maxrss / 1024,
        workers_peak_mb=kids.ru_maxrss / 1024,
    )
    report.write_text(json.dumps(result), encoding="utf-8")


# --------------------------------------------------------------------------- driver


def _load() -> float:
    return os.getloadavg()[0]


def run_stage(name: str, stage: str, args: list[str], workdir: Path) -> dict[str, Any]:
    """Run one stage in a fresh child process; its measurements, wall time and load average."""
    report = workdir / "stage.json"
    report.unlink(missing_ok=True)
    load = _load()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(report), stage, "--", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    result: dict[str, Any] = {"stage": name, "wall_seconds": wall, "load": round(max(load, _load()), 1)}
    if done.returncode != 0 or not report.exists():
        result["error"] = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return result
    result.update(json.loads(report.read_text(encoding="utf-8")))
    if result.get("exit") not in (None, 0):
        result["error"] = f"exit {result['exit']}: {(done.stderr.strip().splitlines() or [''])[-1]}"
    return result


def _generate(script: str, n: int, seed: int, out: Path) -> None:
    command = [sys.executable, str(HERE / script), "--n", str(n), "--seed", str(seed)]
    command += ["--as-of", AS_OF.isoformat(), "--out", str(out)]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def registry(workdir: Path, n: int, seed: int) -> Path:
    path = workdir / f"registry-{n}-{seed}.jsonl"
    if not path.exists():
        partial = path.with_suffix(".partial")
        _generate("generate_registry.py", n, seed, partial)
        partial.rename(path)
    return path


def fhir_registry(workdir: Path, n: int, seed: int) -> Path | None:
    """The same patients as FHIR Bulk Data NDJSON (``generate_fhir.py``), or None without it."""
    if not (HERE / "generate_fhir.py").exists():
        return None
    path = workdir / f"fhir-{n}-{seed}"
    if not (path / "manifest.json").exists():
        _generate("generate_fhir.py", n, seed, path)
    return path


def route(label: str, source: Path, inputs: list[Path], n: int, workdir: Path) -> list[dict[str, Any]]:
    """The stages of one input route (JSONL or FHIR NDJSON) at one size."""
    tables = workdir / f"tables-{label}-{n}"
    rows = workdir / f"rows-{label}-{n}.csv"
    as_of = AS_OF.isoformat()
    batch = ["batch", str(tables), "--engine", "vectorized", "--rules", str(RULES), "--as-of", as_of]
    batch += ["--no-progress", "--overwrite", "--format", "csv"]
    stages = [
        ("read", "read", [str(p) for p in inputs]),
        ("convert", "cli", ["convert", str(source), "--to", "tables", "--out", str(tables), "--overwrite"]),
        ("screen-1", "cli", [*batch, "--out", str(rows), "--workers", "1"]),
        ("screen-2", "cli", [*batch, "--out", str(workdir / f"rows-{label}-{n}-2.csv"), "--workers", "2"]),
        ("baseline", "baseline", [str(tables), as_of, str(rows)]),
    ]
    out = []
    for name, stage, args in stages:
        r = run_stage(name, stage, args, workdir)
        r.update(route=label, size=n)
        out.append(r)
        _print_row(r, n)
    two = workdir / f"rows-{label}-{n}-2.csv"
    same = rows.exists() and two.exists() and rows.read_bytes() == two.read_bytes()
    out.append({"stage": "rows 1 vs 2 workers", "route": label, "size": n, "identical": same})
    return out


def _rate(n: int, seconds: float | None) -> str:
    return f"{n / seconds:,.0f}" if seconds else "-"


def _print_row(r: dict[str, Any], n: int) -> None:
    name = f"{r['route']} {r['stage']}"
    if "error" in r:
        print(f"{name:<22}{n:>10}  failed: {r['error']}  (load {r['load']})")
        return
    extra = ""
    if r.get("disagreements") is not None:
        extra = f"  disagreements {r['disagreements']}"
        if r["by_criterion"]:
            extra += f" {r['by_criterion']}"
    print(
        f"{name:<22}{n:>10}{r['wall_seconds']:>9.1f}{r['cpu_seconds']:>9.1f}{_rate(n, r['cpu_seconds']):>12}"
        f"{r['peak_mb']:>9,.0f}{r['workers_peak_mb']:>9,.0f}{r['load']:>7}{extra}"
    )
    sys.stdout.flush()


def summary(results: list[dict[str, Any]], n: int, label: str) -> dict[str, Any]:
    """End to end and the ratios of the issue's targets for one route and size (CPU seconds)."""
    by = {r["stage"]: r for r in results if r.get("route") == label and r.get("size") == n}

    def cpu(stage: str) -> float | None:
        r = by.get(stage)
        return None if r is None or "error" in r else r["cpu_seconds"]

    read, convert, screen, base = cpu("read"), cpu("convert"), cpu("screen-1"), cpu("baseline")
    out: dict[str, Any] = {"route": label, "size": n}
    if convert is not None and screen is not None:
        out["end_to_end_cpu"] = convert + screen
        out["end_to_end_rate"] = n / (convert + screen)
        if read:
            out["ratio_to_read"] = (convert + screen) / read
    if screen and base:
        out["baseline_over_screen"] = base / screen
    if "baseline" in by:
        out["disagreements"] = by["baseline"].get("disagreements")
    out["rows_identical_1_2_workers"] = by.get("rows 1 vs 2 workers", {}).get("identical")
    return out


def _print_summary(s: dict[str, Any]) -> None:
    def fmt(key: str, spec: str) -> str:
        return "-" if s.get(key) is None else format(s[key], spec)

    read_ok = s.get("ratio_to_read") is not None and s["ratio_to_read"] <= TARGET_READ_RATIO
    base_ok = s.get("baseline_over_screen") is not None and s["baseline_over_screen"] >= TARGET_BASELINE_RATIO
    print(
        f"{s['route'] + ' end to end':<22}{s['size']:>10}{'':>9}{fmt('end_to_end_cpu', '>9.1f')}"
        f"{fmt('end_to_end_rate', '>12,.0f')}   x read {fmt('ratio_to_read', '.2f')} "
        f"({'met' if read_ok else 'not met'}, <= {TARGET_READ_RATIO})  baseline / screen "
        f"{fmt('baseline_over_screen', '.2f')} ({'met' if base_ok else 'not met'}, "
        f">= {TARGET_BASELINE_RATIO})  disagreements {s.get('disagreements')}"
        f"  rows 1 = 2 workers {s.get('rows_identical_1_2_workers')}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # one stage, in this child process
        report, stage, _, *args = argv[1:]
        return child(Path(report), stage, args)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated registry sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "screener-e2e")
    parser.add_argument("--json", type=Path, default=None, help="also write every measurement as JSON")
    parser.add_argument("--no-fhir", action="store_true", help="skip the FHIR NDJSON route")
    args = parser.parse_args(argv)

    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"{'route stage':<22}{'patients':>10}{'wall s':>9}{'CPU s':>9}{'/s/core':>12}{'peak MB':>9}"
        f"{'workers':>9}{'load':>7}"
    )
    results: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for n in (int(x) for x in args.sizes.split(",") if x):
        source = registry(args.workdir, n, args.seed)
        results += route("jsonl", source, [source], n, args.workdir)
        summaries.append(summary(results, n, "jsonl"))
        fhir = None if args.no_fhir else fhir_registry(args.workdir, n, args.seed)
        if fhir is None:
            print(f"{'fhir':<22}{n:>10}  not available" + ("" if args.no_fhir else " (no generate_fhir.py)"))
        else:
            files = sorted(str(p) for p in fhir.iterdir() if p.name.endswith((".ndjson", ".ndjson.gz")))
            results += route("fhir", fhir, [Path(f) for f in files], n, args.workdir)
            summaries.append(summary(results, n, "fhir"))
    print()
    for s in summaries:
        _print_summary(s)
    if args.json:
        args.json.write_text(
            json.dumps({"stages": results, "summary": summaries}, indent=2), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
