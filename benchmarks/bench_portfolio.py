"""Portfolio screening speed (issue 18, Speed): four trials against one, in the same run.

    python benchmarks/bench_portfolio.py                  # ~1-2 minutes on 2 cores
    python benchmarks/bench_portfolio.py --repeat 20 --durable-n 1000 --tables-n 20000 --json out.json

Two questions, each answered as a ratio to a baseline measured in the same run, on the
same machine, one after the other (medians of ``--repeat`` runs):

1. **One patient, four trials vs one trial** (a nurse's ``screener screen``). Three
   measurements: ``cli`` is the wall clock of the command itself in a new process
   (``screener screen PATIENT --rules rules/`` vs ``--rules rules/nct03562065``),
   interpreter start and imports included; ``cold`` is the same work in this process
   (read the patient, load and compile the rule sets, screen); ``warm`` screens an
   already read patient with already compiled engines. Target: well under 4x. The
   baseline is NCT03562065, the largest rule set (26 criteria); the sum of the four
   single-trial screens is shown too.
2. **Portfolio batch per trial-row vs single-trial rate** (an analyst's ``screener
   batch``). Trial-rows per second of ``--rules rules/`` (patients x 4 / time) against
   patients per second of ``--rules rules/nct03562065`` and against the mean of the four
   single-trial runs, on the engine route (JSONL, one in-process worker) and on the
   vectorized route (a columnar registry, one DuckDB thread). Target: at least half.

Synthetic patients from ``generate_registry.py`` (seeded). Nothing here is a test: no
timing is ever asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RULES = ROOT / "rules"
BASELINE = RULES / "nct03562065"
PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
AS_OF = date(2026, 11, 25)
sys.path.insert(0, str(ROOT))


def median_seconds(work: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def one_patient(repeat: int) -> list[dict[str, Any]]:
    from screener.engine.evaluate import Engine
    from screener.importers import load_patient_file
    from screener.model.rules import load_ruleset
    from screener.portfolio import PortfolioScreener, load_portfolio

    singles = sorted(p.parent for p in RULES.glob("*/rules.yaml"))
    exe = Path(sys.executable).parent / "screener"
    command = [str(exe), "screen", str(PATIENT), "--as-of", AS_OF.isoformat()]

    def cli(rules: Path) -> Callable[[], Any]:
        return lambda: subprocess.run([*command, "--rules", str(rules)], check=True, capture_output=True)

    def cold_single(rules: Path) -> Callable[[], Any]:
        def work() -> None:
            patient = load_patient_file(PATIENT)
            with Engine(load_ruleset(rules)) as engine:
                engine.screen(patient, AS_OF)

        return work

    def cold_portfolio() -> None:
        patient = load_patient_file(PATIENT)
        with PortfolioScreener(load_portfolio(RULES)) as screener:
            screener.screen(patient, AS_OF)

    patient = load_patient_file(PATIENT)
    engines = {d: Engine(load_ruleset(d)) for d in singles}
    portfolio = PortfolioScreener(load_portfolio(RULES))
    rows = []
    try:
        for kind, single, together, n in (
            ("cli", cli, lambda: cli(RULES)(), max(3, repeat // 4)),
            ("cold", cold_single, cold_portfolio, repeat),
            (
                "warm",
                lambda d: lambda: engines[d].screen(patient, AS_OF),
                lambda: portfolio.screen(patient, AS_OF),
                repeat * 5,
            ),
        ):
            each = {d.name: median_seconds(single(d), n) for d in singles}
            four = median_seconds(together, n)
            rows.append(
                {
                    "measure": kind,
                    "one_trial_s": each[BASELINE.name],
                    "sum_of_singles_s": sum(each.values()),
                    "four_trials_s": four,
                    "ratio_to_one_trial": four / each[BASELINE.name],
                    "ratio_to_sum": four / sum(each.values()),
                }
            )
    finally:
        for engine in engines.values():
            engine.close()
        portfolio.close()
    return rows


def _generate(n: int, out: Path, tables: Path | None = None) -> None:
    args = [
        sys.executable,
        str(HERE / "generate_registry.py"),
        "--n",
        str(n),
        "--seed",
        "7",
        "--out",
        str(out),
    ]
    if tables is not None:
        args += ["--tables", str(tables)]
    subprocess.run(args, check=True, capture_output=True)


def batch(durable_n: int, tables_n: int) -> list[dict[str, Any]]:
    from screener.batch.fast import run_fast_batch
    from screener.batch.portfolio import run_portfolio_batch
    from screener.batch.portfolio_fast import run_portfolio_fast
    from screener.batch.runner import BatchOptions, run_batch
    from screener.portfolio import load_portfolio

    portfolio = load_portfolio(RULES)
    trials = len(portfolio.rulesets)
    singles = sorted(p.parent for p in RULES.glob("*/rules.yaml"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-portfolio-") as scratch:
        folder = Path(scratch)
        for route, n in (("durable", durable_n), ("vectorized", tables_n)):
            if n <= 0:
                continue
            source = folder / f"{route}.jsonl"
            tables = folder / f"{route}-tables" if route == "vectorized" else None
            _generate(n, source, tables)
            inputs = (str(tables if tables is not None else source),)

            def options(
                name: str, rules: Path, route: str = route, inputs: tuple[str] = inputs
            ) -> BatchOptions:
                return BatchOptions(
                    inputs=inputs,
                    rules=rules,
                    as_of=AS_OF,
                    out=folder / f"{route}-{name}.csv",
                    workers=1,
                    chunk_size=200 if route == "durable" else 100_000,
                    overwrite=True,
                )

            def single(rules: Path, route: str = route, n: int = n) -> float:
                start = time.perf_counter()
                if route == "durable":
                    run_batch(options(rules.name, rules))
                else:
                    run_fast_batch(options(rules.name, rules))
                return n / (time.perf_counter() - start)

            rates = {d.name: single(d) for d in singles}
            start = time.perf_counter()
            if route == "durable":
                run_portfolio_batch(options("portfolio", RULES), portfolio)
            else:
                run_portfolio_fast(options("portfolio", RULES), portfolio)
            per_trial_row = n * trials / (time.perf_counter() - start)
            mean = statistics.mean(rates.values())
            rows.append(
                {
                    "route": route,
                    "patients": n,
                    "single_rate_baseline": rates[BASELINE.name],
                    "single_rate_mean": mean,
                    "portfolio_trial_rows_per_s": per_trial_row,
                    "ratio_to_baseline": per_trial_row / rates[BASELINE.name],
                    "ratio_to_mean": per_trial_row / mean,
                    **{f"single_{k}": v for k, v in rates.items()},
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="runs per one-patient measurement")
    parser.add_argument("--durable-n", type=int, default=500, help="patients, engine route (0: skip)")
    parser.add_argument("--tables-n", type=int, default=10_000, help="patients, vectorized route (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    one = one_patient(args.repeat)
    print("One patient (median seconds; baseline = NCT03562065 alone)\n")
    print("| measure | one trial | sum of 4 singles | 4 trials | ratio to one trial | ratio to sum |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in one:
        print(
            f"| {r['measure']} | {r['one_trial_s']:.4f} | {r['sum_of_singles_s']:.4f} "
            f"| {r['four_trials_s']:.4f} | {r['ratio_to_one_trial']:.2f}x | {r['ratio_to_sum']:.2f}x |"
        )
    many = batch(args.durable_n, args.tables_n)
    print("\nBatch (single-trial: patients/s; portfolio: trial-rows/s = patients x 4 / s)\n")
    print("| route | patients | single NCT03562065 | single, mean of 4 | portfolio per trial-row | ratios |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in many:
        rates = (r["single_rate_baseline"], r["single_rate_mean"], r["portfolio_trial_rows_per_s"])
        print(
            f"| {r['route']} | {r['patients']:,} | "
            + " | ".join(f"{x:,.0f}" for x in rates)
            + f" | {r['ratio_to_baseline']:.2f} / {r['ratio_to_mean']:.2f} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps({"one_patient": one, "batch": many}, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
