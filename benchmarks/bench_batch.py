"""Throughput and peak memory of the batch paths on a synthetic registry.

    python benchmarks/bench_batch.py                      # defaults: a few minutes on 2 cores
    python benchmarks/bench_batch.py --sizes 10000,100000,1000000 --durable-sizes 2000,10000,100000

Each measurement runs in its own subprocess so that its peak RSS
(``resource.getrusage``, self and worker children) is its own. Cases:

* ``durable-core``: durable_rules alone on already prepared facts (no-op action;
  the engine's firings replayed with free actions; the engine's real action
  without explanation), plus parse, prepare and a batch row's ``screen`` as
  phases: the per-core floor that durable_rules sets for this rule set;
* ``durable-1``: ``run_batch`` with one in-process worker (the full engine path:
  schema validation, prepare, durable_rules, explanations, eligible_from), per core;
* ``durable-pool``: the same with a process pool of ``os.cpu_count()`` workers;
* ``fast-batch-1``, ``fast-batch-2``: ``screener batch --engine vectorized`` over the
  columnar registry, full-reason rows (missing facts and near misses computed in SQL), one
  or two worker processes; ``fast-batch-outcomes``: one worker, outcome-only rows
  (``--explain outcomes``), to see what the reasons cost (CPU seconds shown beside);
* ``vectorized``: the DuckDB fast path end to end (JSON -> Patient -> prepare ->
  flatten -> SQL), chunks of 20,000 patients, with the rate of each phase:
  ``parse`` (JSON + schema validation + units), ``prepare_flatten`` (facts at the
  date, derived values, rows), ``tables`` (hand-over to DuckDB), ``query`` (the
  compiled rule query, outcomes fetched as numpy arrays);
* ``vectorized-tables``: the fast path over a columnar registry (``screener convert
  --to tables``), ``VectorizedScreener.iter_tables`` in chunks of 100,000 pids on one
  DuckDB thread: the choice of the value that counts, derived values and the rule
  query all in SQL, outcomes fetched as numpy arrays. The one-time conversion (Python,
  through the patient loader) is timed apart and shown as a note;
* ``python``: plain hand-written Python for four criteria (I1 age, I3 SLEDAI,
  E2 Cockcroft-Gault, E9 serologies) straight from the JSON dicts;
* ``duckdb-raw``: hand-written DuckDB SQL for the same four criteria straight on
  the JSONL file (``read_json``), one thread.
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
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = date(2026, 11, 25)


def _high_water_mb() -> float | None:
    """This process's own peak RSS (VmHWM). Unlike ``ru_maxrss``, which Linux carries over
    ``execve`` from the process that forked it (a driver that generated a registry in memory
    made every measurement look that large), VmHWM starts again with the new program."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb() -> dict[str, float]:
    own = _high_water_mb() or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own, 1), "peak_child_rss_mb": round(children, 1)}


def lines(path: Path) -> Any:
    with path.open("rb") as handle:
        yield from handle


# --------------------------------------------------------------------------- cases


def case_durable(path: Path, workers: int) -> dict[str, Any]:
    from screener.batch.runner import BatchOptions, run_batch

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = run_batch(
            BatchOptions(
                (str(path),), ROOT / "rules" / "nct03562065", AS_OF, Path(tmp) / "out.csv", workers=workers
            )
        )
        elapsed = time.perf_counter() - started
    return {"n": report.records, "seconds": elapsed, "errors": report.errors}


def case_durable_core(path: Path, repeats: int = 3) -> dict[str, Any]:
    """What durable_rules itself costs per patient for this rule set, on one core.

    Patients are parsed and prepared first (timed as the ``parse`` and ``prepare``
    phases, not part of the rest). Then, on the prepared facts as the engine sends
    them (``Engine.engine_facts``), each pass over all patients, best of ``repeats``:

    * ``noop``: ``DurableRuleset.run`` with an action that does nothing: the base
      facts only (no derived value, no quantifier member is asserted, so one round);
    * ``replay``: the engine's own firings, every round, with an action that only
      looks up what the engine's action returned for that firing (recorded first):
      durable_rules' cost for this rule set with Python actions that cost ~nothing;
    * ``fire``: ``Engine.fire``, the engine's real action (records each firing,
      derives values, makes quantifier members), no explanation;
    * ``screen``: ``Engine.screen`` as for a batch row (``explain=False,
      evidence="failing"``): prepare, fire, outcomes, missing facts, margins,
      eligible-from re-screens.
    """
    import durable_rules_engine as dre

    from screener.engine.evaluate import Engine, Fired
    from screener.facts import prepare
    from screener.model.patient import patient_from_data
    from screener.model.rules import load_ruleset
    from screener.yamlio import LineMap

    ruleset = load_ruleset(ROOT / "rules" / "nct03562065")
    engine = Engine(ruleset)
    durable = engine._durable
    clock = time.perf_counter
    lines_map = LineMap(str(path), {})
    raws = [json.loads(raw) for raw in lines(path)]
    n = len(raws)
    phases: dict[str, float] = {}

    def best(label: str, run: Any) -> None:
        times = []
        for _ in range(repeats):
            started = clock()
            run()
            times.append(clock() - started)
        phases[label] = min(times)

    patients: list[Any] = []
    best("parse", lambda: patients.__setitem__(slice(None), [patient_from_data(r, lines_map) for r in raws]))
    prepared: list[Any] = []
    best("prepare", lambda: prepared.__setitem__(slice(None), [prepare(p, ruleset, AS_OF) for p in patients]))
    facts = [engine.engine_facts(p) for p in prepared]

    # record the engine's firings (and count them, and the assert rounds)
    counts = {"firings": 0, "rounds": 0}
    tables: list[dict[tuple[str, tuple[str, ...]], Any]] = []
    real_assert = dre.assert_facts

    def counting_assert(handle: int, text: str) -> Any:
        counts["rounds"] += 1
        return real_assert(handle, text)

    dre.assert_facts = counting_assert
    try:
        for p, f in zip(prepared, facts, strict=True):
            table: dict[tuple[str, tuple[str, ...]], Any] = {}
            action = engine.action(Fired(p.by_id()))

            def recording(rule: str, matched: Any, action: Any = action, table: Any = table) -> Any:
                out = action(rule, matched)
                table[(rule, tuple(m["id"] for m in matched.values()))] = out
                counts["firings"] += 1
                return out

            durable.run(f, recording)
            tables.append(table)
    finally:
        dre.assert_facts = real_assert

    def noop(rule: str, matched: dict[str, Any]) -> None:
        return None

    def counting_noop(rule: str, matched: dict[str, Any]) -> None:
        counts["noop_firings"] += 1

    counts["noop_firings"] = 0
    for f in facts:
        durable.run(f, counting_noop)

    def run_noop() -> None:
        for f in facts:
            durable.run(f, noop)

    def run_replay() -> None:
        for f, table in zip(facts, tables, strict=True):
            get = table.get

            def replay(rule: str, matched: Any, get: Any = get) -> Any:
                return get((rule, tuple(m["id"] for m in matched.values())))

            durable.run(f, replay)

    def run_fire() -> None:
        for p in prepared:
            engine.fire(p)

    def run_screen() -> None:
        for p in patients:
            engine.screen(p, AS_OF, explain=False, evidence="failing")

    best("noop", run_noop)
    best("replay", run_replay)
    best("fire", run_fire)
    best("screen", run_screen)
    engine.close()
    return {
        "n": n,
        "seconds": phases["noop"],
        "phases": phases,
        "firings_per_patient": round(counts["firings"] / n, 1),
        "rounds_per_patient": round(counts["rounds"] / n, 2),
        "noop_firings_per_patient": round(counts["noop_firings"] / n, 1),
    }


def case_vectorized(path: Path, chunk_size: int = 20_000) -> dict[str, Any]:
    import numpy as np

    from screener.model.patient import patient_from_data
    from screener.model.rules import load_ruleset
    from screener.vectorized import VectorizedScreener
    from screener.yamlio import LineMap

    screener = VectorizedScreener(load_ruleset(ROOT / "rules" / "nct03562065"))
    phases = {"parse": 0.0, "prepare_flatten": 0.0, "tables": 0.0, "query": 0.0}
    counts = np.zeros(3, dtype=np.int64)
    n = 0
    clock = time.perf_counter
    started = clock()
    tables = screener.tables()

    def evaluate() -> None:
        t0 = clock()
        screener.register(tables)
        t1 = clock()
        arrays = screener.code_arrays()
        for cid in screener.query.criteria:
            counts[:] += np.bincount(arrays[cid].astype(np.int64), minlength=3)
        phases["tables"] += t1 - t0
        phases["query"] += clock() - t1

    lines_map = LineMap(str(path), {})
    for raw in lines(path):
        t0 = clock()
        patient = patient_from_data(json.loads(raw), lines_map)
        t1 = clock()
        screener.add(tables, patient, AS_OF)
        phases["parse"] += t1 - t0
        phases["prepare_flatten"] += clock() - t1
        n += 1
        if len(tables) == chunk_size:
            evaluate()
            tables = screener.tables()
    if len(tables):
        evaluate()
    return {"n": n, "seconds": clock() - started, "phases": phases, "outcomes": counts.tolist()}


def case_vectorized_tables(path: Path, chunk_size: int = 100_000) -> dict[str, Any]:
    from screener.model.rules import load_ruleset
    from screener.vectorized import VectorizedScreener

    screener = VectorizedScreener(load_ruleset(ROOT / "rules" / "nct03562065"), threads=1)
    started = time.perf_counter()
    n = errors = 0
    for chunk in screener.iter_tables(path, AS_OF, chunk_size=chunk_size):
        n += len(chunk)
        errors += len(chunk.errors)
    elapsed = time.perf_counter() - started
    screener.close()
    return {"n": n, "seconds": elapsed, "errors": errors}


def _cpu_seconds() -> float:
    """User and system CPU time of this process and its finished children (a shared machine's
    wall clock says little; the CPU time is the work)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def case_fast_batch(path: Path, workers: int, explain: str = "none") -> dict[str, Any]:
    """``screener batch --engine vectorized`` as a user runs it: pieces in ``workers`` processes,
    rows written as CSV by the main process (peak RSS: main and, apart, its workers).
    ``explain="none"``: full-reason rows (missing facts and near misses in SQL);
    ``"outcomes"``: outcome-only rows, to measure what the reasons cost."""
    from screener.batch.fast import DEFAULT_CHUNK, run_fast_batch
    from screener.batch.runner import BatchOptions

    with tempfile.TemporaryDirectory() as tmp:
        started, cpu = time.perf_counter(), _cpu_seconds()
        report = run_fast_batch(
            BatchOptions(
                (str(path),),
                ROOT / "rules" / "nct03562065",
                AS_OF,
                Path(tmp) / "out.csv",
                workers=workers,
                # as the CLI does for --engine vectorized: BatchOptions' default (200, the durable
                # runner's task size) made 500 ranges of 100,000 patients, each paying the
                # preparation's planning (~0.3 s): minutes of CPU instead of seconds
                chunk_size=DEFAULT_CHUNK,
            ),
            explain=explain,
        )
        elapsed, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    return {"n": report.records, "seconds": elapsed, "cpu_seconds": cpu, "errors": report.errors}


def case_python(path: Path) -> dict[str, Any]:
    """Four criteria by hand, three-valued (None = unknown), from the raw dicts."""
    from screener.clinical.dates import age_in_years
    from screener.clinical.renal import cockcroft_gault

    as_of_text = AS_OF.isoformat()
    fresh = {
        n: (AS_OF - timedelta(days=d)).isoformat() for n, d in (("lab", 60), ("weight", 90), ("sledai", 30))
    }
    serology_since = (AS_OF - timedelta(days=365)).isoformat()
    outcomes = [0, 0, 0]
    n = 0
    started = time.perf_counter()
    for raw in lines(path):
        p = json.loads(raw)
        n += 1
        latest: dict[str, dict[str, Any]] = {}
        for o in p.get("observations", ()):
            if o["date"] <= as_of_text and (
                o["name"] not in latest or o["date"] >= latest[o["name"]]["date"]
            ):
                latest[o["name"]] = o
        born = p["demographics"].get("birth_date")
        age = age_in_years(date.fromisoformat(born), AS_OF) if born else None
        i1 = None if age is None else 18 <= age < 70
        sledai = [
            a for a in p.get("assessments", ()) if a["name"] == "selena_sledai" and a["date"] <= as_of_text
        ]
        score = max(sledai, key=lambda a: a["date"]) if sledai else None
        i3 = None if score is None or score["date"] < fresh["sledai"] else score["score"] >= 6
        cr, wt, sex = latest.get("creatinine"), latest.get("weight"), p["demographics"].get("sex")
        e2 = None
        if (
            cr
            and wt
            and sex
            and age is not None
            and cr["date"] >= fresh["lab"]
            and wt["date"] >= fresh["weight"]
        ):
            mg_dl = cr["value"] / 88.4 if cr.get("unit") == "umol/L" else cr["value"]
            e2 = cockcroft_gault(age, wt["value"], mg_dl, sex) < 30
        tests = []
        for name in ("hiv", "htlv", "hbsag", "hcv_rna"):
            o = latest.get(name)
            tests.append(None if o is None or o["date"] < serology_since else o["value"] == "positive")
        e9 = True if True in tests else None if None in tests else False
        for inclusion, v in ((True, i1), (True, i3), (False, e2), (False, e9)):
            outcomes[2 if v is None else (0 if v == inclusion else 1)] += 1
    return {"n": n, "seconds": time.perf_counter() - started, "outcomes": outcomes}


RAW_SQL = """
WITH src AS (
  SELECT patient_id, demographics, observations, assessments FROM read_json(?, format='newline_delimited',
    columns={patient_id: 'VARCHAR', demographics: 'STRUCT(birth_date DATE, sex VARCHAR)',
             observations: 'STRUCT(name VARCHAR, value JSON, unit VARCHAR, date DATE)[]',
             assessments: 'STRUCT(name VARCHAR, score DOUBLE, date DATE)[]'})
),
obs AS (
  SELECT patient_id, o.name AS name, arg_max(o.value, o.date) AS value, arg_max(o.unit, o.date) AS unit,
         max(o.date) AS date
  FROM (SELECT patient_id, unnest(observations) AS o FROM src) WHERE o.date <= DATE '{as_of}'
  GROUP BY patient_id, o.name
),
wide AS (
  SELECT patient_id,
    max(CASE WHEN name = 'creatinine' AND date >= DATE '{as_of}' - 60 THEN
        CASE WHEN unit = 'umol/L' THEN CAST(value AS DOUBLE) / 88.4 ELSE CAST(value AS DOUBLE) END END) AS cr,
    max(CASE WHEN name = 'weight' AND date >= DATE '{as_of}' - 90 THEN CAST(value AS DOUBLE) END) AS wt,
    list(CASE WHEN name IN ('hiv', 'htlv', 'hbsag', 'hcv_rna') AND date >= DATE '{as_of}' - 365
         THEN json_extract_string(value, '$') = 'positive' END) AS sero,
    count(CASE WHEN name IN ('hiv', 'htlv', 'hbsag', 'hcv_rna') AND date >= DATE '{as_of}' - 365
          THEN 1 END) AS n_sero
  FROM obs GROUP BY patient_id
),
sled AS (
  SELECT patient_id, arg_max(a.score, a.date) AS score, max(a.date) AS date
  FROM (SELECT patient_id, unnest(assessments) AS a FROM src)
  WHERE a.name = 'selena_sledai' AND a.date <= DATE '{as_of}' GROUP BY patient_id
),
base AS (
  SELECT s.patient_id, s.demographics.sex AS sex,
    CASE WHEN s.demographics.birth_date IS NOT NULL
         THEN datesub('year', s.demographics.birth_date, DATE '{as_of}') END AS age,
    w.cr, w.wt, w.sero, w.n_sero, CASE WHEN l.date >= DATE '{as_of}' - 30 THEN l.score END AS sledai
  FROM src s LEFT JOIN wide w USING (patient_id) LEFT JOIN sled l USING (patient_id)
)
SELECT
  count(*) FILTER (WHERE age >= 18 AND age < 70) + count(*) FILTER (WHERE sledai >= 6)
    + count(*) FILTER (WHERE NOT ((140 - age) * wt / (72 * cr)
                                  * CASE WHEN sex = 'female' THEN 0.85 ELSE 1 END < 30))
    + count(*) FILTER (WHERE n_sero = 4 AND NOT list_bool_or(sero)) AS passes,
  count(*) AS patients
FROM base
"""


def case_duckdb_raw(path: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads TO 1")
    started = time.perf_counter()
    passes, n = con.execute(RAW_SQL.replace("{as_of}", AS_OF.isoformat()), [str(path)]).fetchone()
    return {"n": n, "seconds": time.perf_counter() - started, "passes": passes}


CASES = {
    "durable-core": case_durable_core,
    "durable-1": lambda p: case_durable(p, 1),
    "durable-pool": lambda p: case_durable(p, os.cpu_count() or 1),
    "vectorized": case_vectorized,
    "vectorized-tables": case_vectorized_tables,
    "fast-batch-1": lambda p: case_fast_batch(p, 1),
    "fast-batch-2": lambda p: case_fast_batch(p, 2),
    "fast-batch-outcomes": lambda p: case_fast_batch(p, 1, "outcomes"),
    "python": case_python,
    "duckdb-raw": case_duckdb_raw,
}


# --------------------------------------------------------------------------- driver


def measure(case: str, path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--case", case, "--input", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"case": case, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _generate(*args: str) -> None:
    """Run the generator in its own process: this driver stays small, so the measurements it
    starts do not inherit its memory (see :func:`_high_water_mb`)."""
    command = [sys.executable, str(HERE / "generate_registry.py"), "--as-of", AS_OF.isoformat(), *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def registry(workdir: Path, n: int, seed: int) -> Path:
    path = workdir / f"registry-{n}-{seed}.jsonl"
    if not path.exists():
        _generate("--n", str(n), "--seed", str(seed), "--out", str(path))
    return path


def tables_registry(workdir: Path, n: int, seed: int) -> tuple[Path, float | None]:
    """The registry of :func:`registry` as a columnar registry, and how long converting took
    (None when it was already there)."""
    path = workdir / f"registry-{n}-{seed}.tables"
    if (path / "manifest.json").exists():
        return path, None
    started = time.perf_counter()
    _generate("--n", str(n), "--seed", str(seed), "--tables", str(path))
    return path, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="batch benchmarks")
    parser.add_argument("--sizes", default="10000,50000", help="sizes for the fast paths")
    parser.add_argument("--durable-sizes", default="2000,10000", help="sizes for the durable_rules path")
    parser.add_argument("--million", action="store_true", help="add 1,000,000 to the fast-path sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "screener-bench")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument(
        "--only", type=lambda v: v.split(","), default=None, help="comma-separated cases (default: all)"
    )
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.case:  # one measurement, in this (sub)process
        result = CASES[args.case](args.input)
        result.update(case=args.case, **peak_mb())
        print(json.dumps(result))
        return 0

    args.workdir.mkdir(parents=True, exist_ok=True)
    fast = [int(x) for x in args.sizes.split(",") if x]
    if args.million:
        fast.append(1_000_000)
    plan = [
        (case, n)
        for n in fast
        for case in (
            "vectorized-tables",
            "fast-batch-1",
            "fast-batch-outcomes",
            "fast-batch-2",
            "vectorized",
            "python",
            "duckdb-raw",
        )
        if args.only is None or case in args.only
    ]
    plan += [
        (case, n)
        for n in (int(x) for x in args.durable_sizes.split(",") if x)
        for case in ("durable-core", "durable-1", "durable-pool")
        if args.only is None or case in args.only
    ]
    results = []
    print(f"{'case':<14}{'patients':>10}{'patients/s':>13}{'peak RSS MB':>13}{'children MB':>13}  notes")
    for case, n in plan:
        converted = None
        if case in ("vectorized-tables", "fast-batch-1", "fast-batch-outcomes", "fast-batch-2"):
            source, converted = tables_registry(args.workdir, n, args.seed)
        else:
            source = registry(args.workdir, n, args.seed)
        r = measure(case, source)
        r["size"] = n
        results.append(r)
        if "error" in r:
            print(f"{case:<14}{n:>10}  failed: {r['error']}")
            continue
        rate = r["n"] / r["seconds"]
        notes = ""
        if "phases" in r:
            ph = r["phases"]
            notes = "  ".join(f"{k} {r['n'] / v:,.0f}/s" for k, v in ph.items() if v)
        if "firings_per_patient" in r:
            per = (
                f"{r['firings_per_patient']} firings ({r['noop_firings_per_patient']} with noop), "
                f"{r['rounds_per_patient']} assert rounds"
            )
            notes += f"  ({per} per patient)"
        if "cpu_seconds" in r:
            notes += f"  CPU {r['cpu_seconds']:,.1f} s ({r['n'] / r['cpu_seconds']:,.0f}/CPU s)"
        if converted is not None:
            r["convert_seconds"] = converted
            notes += f"  (converted once to tables at {n / converted:,.0f}/s, not counted)"
        memory = f"{r['peak_rss_mb']:>13,.0f}{r['peak_child_rss_mb']:>13,.0f}"
        print(f"{case:<14}{n:>10}{rate:>13,.0f}{memory}  {notes}")
        sys.stdout.flush()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
