"""Interactive re-evaluation in the TUI (issue 17 section 6: under 50 ms), against the screening alone.

    python benchmarks/bench_tui.py                  # 30 rounds of each edit, a table with ratios
    python benchmarks/bench_tui.py --rounds 100 --json tui.json

The app runs headless (``App.run_test()``, 120x40) on a fixture patient and the shipped rule
set, as a research nurse would use it: each round makes one edit the way the app makes it
(a new screening date, as the date form gives it; a changed creatinine value, as the fact
form gives it: a new patient, then ``rescreen``) and times, on the wall clock, from the edit
until the first frame drawn after the view took the new screening (the worker thread has
screened, its message reached the app, the banner, criteria and explanation were refreshed,
and Textual composed and wrote the frame: ``App._display``). Waiting for the test pilot to
be idle would add its own ~20 ms of polling, so the frame's time is read from a hook instead.

The baseline, in the same invocation and process: ``Engine.screen`` of the same patient and
date alone (what the worker thread runs), so the ratio is what the app adds around it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
RULES = ROOT / "rules" / "nct03562065"
AS_OF = date(2026, 11, 25)
TARGET_MS = 50.0


async def _settled(app: Any, pilot: Any, as_of: date, patient: Any) -> None:
    """Wait until the app shows the screening of ``patient`` at ``as_of``."""
    while app.busy or app.result is None or app.as_of != as_of or app.patient is not patient:
        await pilot.pause(0.001)
    await pilot.pause()  # the refresh and the layout it asked for


class _Frames:
    """When the app last took a screening, and when it drew each frame."""

    def __init__(self, app: Any) -> None:
        self.taken = 0.0
        self.drawn: list[float] = []
        screened, display = app._screened, app._display

        def took(*args: Any) -> None:
            screened(*args)
            self.taken = time.perf_counter()

        def drew(*args: Any) -> None:
            display(*args)
            self.drawn.append(time.perf_counter())

        app._screened, app._display = took, drew

    def shown(self, started: float) -> float:
        """Milliseconds from ``started`` to the first frame drawn after the last screening."""
        return (min(t for t in self.drawn if t >= self.taken) - started) * 1000


async def measure_app(rounds: int) -> dict[str, list[float]]:
    from screener.tui.app import make_app

    app = make_app(PATIENT, RULES, AS_OF, records_dir=Path("/tmp/screener-bench-tui"), cursor_blink=False)
    times: dict[str, list[float]] = {"new screening date": [], "changed lab value": []}
    async with app.run_test(size=(120, 40)) as pilot:
        frames = _Frames(app)
        await _settled(app, pilot, AS_OF, app.patient)
        original = app.patient
        creatinine = next(i for i, o in enumerate(original.observations) if o.name == "creatinine")
        for i in range(rounds):
            when = AS_OF + timedelta(days=1 + i % 2)
            started = time.perf_counter()
            app._date_changed(when)  # what the date form's answer does
            await _settled(app, pilot, when, app.patient)
            times["new screening date"].append(frames.shown(started))

            observations = list(app.patient.observations)
            old = observations[creatinine]
            observations[creatinine] = replace(old, value=float(old.value) + (0.1 if i % 2 else -0.1))
            edited = replace(app.patient, observations=tuple(observations))
            started = time.perf_counter()
            app.patient = edited  # what the fact form's answer does (app._fact_edited)
            app.rescreen()
            await _settled(app, pilot, app.as_of, edited)
            times["changed lab value"].append(frames.shown(started))
    return times


def measure_engine(rounds: int) -> list[float]:
    from screener.engine.evaluate import Engine
    from screener.model.patient import load_patient
    from screener.model.rules import load_ruleset

    patient = load_patient(PATIENT)
    out = []
    with Engine(load_ruleset(RULES)) as engine:
        engine.screen(patient, AS_OF)  # warm, as the app's first screening is
        for i in range(rounds):
            started = time.perf_counter()
            engine.screen(patient, AS_OF + timedelta(days=1 + i % 2))
            out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    baseline = measure_engine(args.rounds)
    cases = {"Engine.screen alone (baseline)": baseline, **asyncio.run(measure_app(args.rounds))}
    base_median = statistics.median(baseline)
    print(f"{'case':<32}{'best ms':>9}{'median ms':>11}{'p90 ms':>9}{'median / baseline':>19}  target")
    for name, values in cases.items():
        ordered = sorted(values)
        p90 = ordered[int(0.9 * (len(ordered) - 1))]
        median = statistics.median(values)
        verdict = (
            ""
            if values is baseline
            else ("met" if p90 < TARGET_MS else "NOT met") + f" (p90 < {TARGET_MS:g})"
        )
        print(
            f"{name:<32}{ordered[0]:>9.1f}{median:>11.1f}{p90:>9.1f}{median / base_median:>18.2f}x  {verdict}"
        )
    if args.json:
        args.json.write_text(json.dumps(cases, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
