"""Rule cases on every route: the engine, and the two fast routes of :mod:`screener.vectorized`.

- ``engine``: the durable_rules engine (:func:`screener.cases.run_cases`), the reference; every
  part of a case's ``want`` is checked (outcomes, decision, eligible-from dates, missing facts).
- ``python``: patients prepared in Python and screened in DuckDB
  (:meth:`VectorizedScreener.screen`).
- ``sql``: the case patients written to a columnar registry (:mod:`screener.tables`) and
  prepared in SQL (:meth:`VectorizedScreener.iter_tables`). What the record leaves uncertain
  (:mod:`screener.engine.uncertain`) is applied around it as the Python route applies it: a
  patient with unconfirmed conditions is written twice (read as confirmed, and without them)
  and a criterion on which the two differ is unknown; a patient screened outside its observed
  time is screened by the open-world rule set.

A fast route gives outcomes only, so on it a case's wanted outcomes and decision are checked
(``eligible_from`` and ``missing`` are the engine's alone), and every criterion's outcome must
equal the engine's: the routes must agree on every case, not only on what the case lists.
Differences a known gap covers (:mod:`screener.case_gaps`) are listed with its reason instead
of failing the case.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from screener.case_gaps import KnownGap
from screener.cases import Case, CaseResult, run_cases, skipped
from screener.engine.evaluate import Engine
from screener.engine.uncertain import death_reason, merge_readings, outside_observation, readings
from screener.model.patient import Patient
from screener.results import decide

if TYPE_CHECKING:
    from screener.vectorized import VectorizedScreener

__all__ = [
    "FAST_ROUTES",
    "ROUTES",
    "Difference",
    "fast_routes_missing",
    "route_outcomes",
    "run_route",
]

ROUTES = ("engine", "python", "sql")
FAST_ROUTES = ("python", "sql")

Outcomes = dict[str, str]


@dataclass(frozen=True)
class Difference:
    """One way a fast route's screening of a case differs from what is wanted.
    ``criterion`` is None for the decision or for a route error."""

    criterion: str | None
    text: str


def fast_routes_missing() -> str | None:
    """Why the fast routes cannot run here (None when DuckDB and numpy are installed)."""
    try:
        import duckdb  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as error:
        return (
            f"the python and sql routes need DuckDB and numpy ({error.name} is not installed): "
            "pip install 'screener[batch]', or run --route engine"
        )
    return None


# ----------------------------------------------------------------------------- screening


def _python(fast: VectorizedScreener, jobs: Sequence[tuple[Patient, date]]) -> list[Outcomes | str]:
    """Outcomes per job (patient, date) by the Python-prepared route, or why it could not screen."""
    found: list[Outcomes | str] = ["not screened"] * len(jobs)
    by_date: dict[date, list[int]] = {}
    for i, (_, as_of) in enumerate(jobs):
        by_date.setdefault(as_of, []).append(i)
    for as_of, indices in by_date.items():
        got: list[Outcomes | str]
        try:
            got = [*fast.screen([jobs[i][0] for i in indices], as_of)]
        except Exception:  # one bad patient spoils the group: screen one by one to name it
            got = []
            for i in indices:
                try:
                    got.append(fast.screen([jobs[i][0]], as_of)[0])
                except Exception as error:  # reported on the case, never a traceback
                    got.append(f"python route raised {type(error).__name__}: {error}")
        for i, outcomes in zip(indices, got, strict=True):
            found[i] = outcomes
    return found


def _sql(
    fast: VectorizedScreener, jobs: Sequence[tuple[Patient, date]], workdir: Path
) -> list[Outcomes | str]:
    """Outcomes per job by the SQL-prepared route: every variant of every job's patient in one
    registry, written group by group ((open world?, date)) so that each group is one range of
    pids, screened once."""
    from screener.tables.write import TablesWriter
    from screener.vectorized.sql import OUTCOME_CODES

    found: list[Outcomes | str] = ["not screened"] * len(jobs)
    groups: dict[tuple[bool, date], list[int]] = {}
    for i, (patient, as_of) in enumerate(jobs):
        groups.setdefault((outside_observation(patient, as_of), as_of), []).append(i)
    pids: list[list[int]] = [[] for _ in jobs]
    ranges: dict[tuple[bool, date], tuple[int, int]] = {}
    with TablesWriter(workdir / "registry", chunk_size=1000) as writer:
        for key, indices in groups.items():
            first = writer.patients
            for i in indices:
                try:
                    pids[i] = [writer.add(variant) for variant in readings(jobs[i][0])]
                except Exception as error:  # nothing of a refused patient is kept
                    found[i] = f"sql route: the registry refused the patient: {error}"
            ranges[key] = (first, writer.patients - first)
    for (open_world, as_of), indices in groups.items():
        screener = fast.open_world() if open_world else fast
        first, count = ranges[(open_world, as_of)]
        if not count:
            continue
        codes: dict[int, Outcomes | str] = {}
        try:
            chunk = next(
                iter(screener.iter_tables(workdir / "registry", as_of, chunk_size=count, skip=first))
            )
            for error in chunk.errors:
                codes[error.pid] = f"sql route: {error.field}: {error.message}"
            for n, pid in enumerate(chunk.pids):
                codes[pid] = {c: OUTCOME_CODES[int(chunk.codes[c][n])] for c in screener.query.criteria}
        except Exception as error:  # reported on each case of the group, never a traceback
            for i in indices:
                found[i] = f"sql route raised {type(error).__name__}: {error}"
            continue
        for i in indices:
            if not pids[i]:
                continue
            got = [codes.get(pid, "sql route: patient not screened") for pid in pids[i]]
            bad = next((g for g in got if isinstance(g, str)), None)
            found[i] = bad if bad is not None else merge_readings([g for g in got if isinstance(g, dict)])
    return found


def route_outcomes(
    route: str, fast: VectorizedScreener, jobs: Sequence[tuple[Patient, date]]
) -> list[Outcomes | str]:
    """Per (patient, screening date): criterion id -> outcome on a fast route, or why not."""
    if route == "python":
        return _python(fast, jobs)
    if route == "sql":
        with tempfile.TemporaryDirectory(prefix="screener-cases-") as workdir:
            return _sql(fast, jobs, Path(workdir))
    raise ValueError(f"not a fast route: {route!r}")


# ----------------------------------------------------------------------------- checking


def differences(case: Case, route: str, got: Outcomes | str, engine: Outcomes) -> list[Difference]:
    """What the case wants of the outcomes and decision, and every criterion on which the
    route and the engine disagree."""
    if isinstance(got, str):
        return [Difference(None, got)]
    out: list[Difference] = []
    want = case.want
    if want.decision is not None:
        death = death_reason(case.patient, case.as_of)
        decision = "ineligible" if death else decide(got.values())
        if decision != want.decision:
            why = ", ".join(f"{c} {o}" for c, o in got.items() if o != "pass")
            out.append(
                Difference(None, f"decision: want {want.decision}, got {decision} ({why or 'all pass'})")
            )
    for cid, outcome in want.criteria.items():
        if got.get(cid) != outcome:
            out.append(Difference(cid, f"{cid}: want {outcome}, got {got.get(cid)} on the {route} route"))
    for cid, outcome in engine.items():
        if cid not in want.criteria and got.get(cid) != outcome:
            out.append(Difference(cid, f"{cid}: engine {outcome}, {route} route {got.get(cid)}"))
    return out


def _result(
    case: Case, route: str, found: list[Difference], gaps: Sequence[KnownGap], used: set[str]
) -> CaseResult:
    problems: list[str] = []
    set_aside: list[str] = []
    for d in found:
        gap = next((g for g in gaps if g.covers(route, case.note, d.criterion)), None)
        if gap is None:
            problems.append(d.text)
        else:
            used.add(gap.where)
            set_aside.append(f"{d.text} (known gap, {gap.where}: {gap.reason})")
    return CaseResult(case, passed=not problems, problems=tuple(problems), route=route, gaps=tuple(set_aside))


def run_route(
    route: str,
    engine: Engine,
    cases: Sequence[Case],
    gaps: Sequence[KnownGap] = (),
    fast: VectorizedScreener | None = None,
    used: set[str] | None = None,
) -> list[CaseResult]:
    """Every case on one route. ``used`` collects the known gaps (by ``where``) that set
    something aside, so the caller can report the stale ones."""
    if route == "engine":
        return run_cases(engine, cases)
    if route not in FAST_ROUTES:
        raise ValueError(f"unknown route {route!r}; routes are {', '.join(ROUTES)}")
    used = set() if used is None else used
    runnable = [c for c in cases if not c.todo]
    owned = fast is None
    if fast is None:
        from screener.vectorized import VectorizedScreener

        fast = VectorizedScreener(engine.ruleset)
    try:
        got = route_outcomes(route, fast, [(c.patient, c.as_of) for c in runnable])
    except Exception as error:  # the route could not run at all: every case says why
        got = [f"{route} route raised {type(error).__name__}: {error}"] * len(runnable)
    finally:
        if owned:
            fast.close()
    by_case = {id(c): g for c, g in zip(runnable, got, strict=True)}
    results = []
    for case in cases:
        if case.todo:
            results.append(skipped(case, route))
            continue
        found = differences(case, route, by_case[id(case)], engine.outcomes(case.patient, case.as_of))
        results.append(_result(case, route, found, gaps, used))
    return results
