"""Cold-start time of screener commands against a Python that only imports yaml and jsonschema.

    python benchmarks/bench_startup.py                 # 15 rounds, a table with ratios
    python benchmarks/bench_startup.py --rounds 30 --json startup.json

Each round starts every case once as a fresh process, in turn (baseline, then each
command), so a busy moment of a shared machine touches all cases alike; the table
shows the best (minimum) and the median wall time of each case and their ratios to
the baseline's. ``PYTHONDONTWRITEBYTECODE`` is removed from the children's environment
and one warm-up round runs first, so modules start from their bytecode cache as they
do in an installed screener (a process that compiles every module from source
measures the compiler, not the start-up).

The target of issue 17 section 4: ``screener screen`` within 2x of the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"

BASELINE = "python -c 'import yaml, jsonschema'"


def cases(python: str) -> dict[str, list[str]]:
    script = Path(python).parent / "screener"  # the console script a user runs
    screener = [str(script)] if script.exists() else [python, "-m", "screener.cli.main"]
    return {
        BASELINE: [python, "-c", "import yaml, jsonschema"],
        "screener --version": [*screener, "--version"],
        "screener screen (text)": [*screener, "screen", str(PATIENT), "--as-of", "2026-11-25"],
        "screener screen --format json": [
            *screener,
            "screen",
            str(PATIENT),
            "--as-of",
            "2026-11-25",
            "--format",
            "json",
        ],
        "screener rules check": [*screener, "rules", "check", str(ROOT / "rules" / "nct03562065")],
    }


def run_once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--json", type=Path, default=None, help="also write the timings here")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    table = cases(args.python)
    for command in table.values():  # warm-up: bytecode caches written, files in the page cache
        run_once(command, env)
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(args.rounds):
        for name, command in table.items():
            times[name].append(run_once(command, env))

    base_min = min(times[BASELINE])
    base_median = statistics.median(times[BASELINE])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{args.rounds} rounds, load average {load:.2f}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    print()
    print("| case | best ms | median ms | best / baseline | median / baseline |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        best, median = min(values), statistics.median(values)
        print(
            f"| {name} | {best * 1000:.0f} | {median * 1000:.0f} | "
            f"{best / base_min:.2f}x | {median / base_median:.2f}x |"
        )
    if args.json:
        args.json.write_text(json.dumps({"rounds": args.rounds, "load": load, "seconds": times}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
