"""Differential check of eligible-from dates: the vectorized batch rows against the rule engine's.

    python benchmarks/eligible_from_diff.py --n 10000 --seed 1 --as-of 2026-11-25

Generates a registry (:mod:`generate_registry`), screens it as ``screener batch --engine
vectorized`` screens one piece (:func:`screener.batch.fast_piece.screen_piece`: the query,
the engine for the patients it cannot read at face value, eligible-from dates in SQL) and
compares every row's ``eligible_from`` with the engine batch row's
(:func:`screener.batch.runner.screen_row`), and every failing criterion's own date
(``CriterionResult.eligible_from``) on the patients the query reads at face value.
Prints the counts and every disagreement; exit status 1 if
there is one. ``tests/batch/test_eligible_from.py`` runs :func:`compare` on smaller
registries (and on the fixtures and the rule cases) in the test suite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@dataclass
class Comparison:
    rows: int = 0  # rows compared
    dated: int = 0  # rows with an eligible-from date (engine)
    criteria: int = 0  # failing criteria whose own date was compared
    criteria_dated: int = 0
    skipped: int = 0  # patients not screened (error records on the fast path)
    disagreements: list[str] = field(default_factory=list)


def compare(rule_file: Path, patients: Sequence[object], as_of: date, workdir: Path) -> Comparison:
    """Screen ``patients`` (:class:`screener.model.patient.Patient`) both ways at ``as_of``."""
    from screener.batch.fast_piece import RULESETS, FastJob, Piece, _state, release, screen_piece
    from screener.batch.runner import make_row
    from screener.engine.evaluate import Engine
    from screener.engine.uncertain import death_reason, outside_observation, unconfirmed
    from screener.model.patient import Patient
    from screener.model.rules import find_rule_file, parse_ruleset, read_rule_text
    from screener.tables.write import TablesWriter

    rule_file = find_rule_file(rule_file)
    text = read_rule_text(rule_file)
    ruleset = parse_ruleset(text, str(rule_file))
    registry = workdir / "registry"
    with TablesWriter(registry, 10_000, overwrite=True) as writer:
        for patient in patients:
            assert isinstance(patient, Patient)
            writer.add(patient)
    RULESETS[ruleset.sha256] = ruleset
    job = FastJob(str(registry), text, str(rule_file), ruleset.sha256, as_of)
    try:
        result = screen_piece(job, Piece(0, len(patients) - 1))
        # each failing criterion's own date, for every patient failing one it may pass later
        screener = _state(job).screener
        screener.screen_range(registry, as_of, 0, len(patients) - 1)
        engine_rows = ", ".join(str(row[0]) for row in result.explained)
        skip = f"outcomes.pid IN ({engine_rows})" if engine_rows else "FALSE"
        screener.eligible_from(as_of, 0, len(patients) - 1, skip, every=True)
        criteria: dict[int, dict[str, date]] = {}
        for pid, criterion, when in screener.con.execute("SELECT * FROM eligible_criteria").fetchall():
            criteria.setdefault(pid, {})[criterion] = when
    finally:
        release(job)
    fast = dict(result.eligible)
    explained_pids = {row[0] for row in result.explained}
    fast.update({row[0]: row[3] for row in result.explained})
    not_screened = {e["index"] for e in result.errors}
    out = Comparison()
    engine = Engine(ruleset)
    try:
        for pid, patient in enumerate(patients):
            assert isinstance(patient, Patient)
            if pid in not_screened:
                out.skipped += 1
                continue
            name = f"{patient.patient_id} (pid {pid})"
            try:
                # what screen_row does: the engine batch's row, from this one result
                screened = engine.screen(patient, as_of, explain=False, evidence="failing")
                want = make_row(screened, "", None)["eligible_from"]
            except Exception as error:  # the engine batch would report it; the query gave a row
                out.disagreements.append(f"{name}: engine failed ({error}), query {fast.get(pid)}")
                continue
            out.rows += 1
            out.dated += want is not None
            if fast.get(pid) != want:
                out.disagreements.append(f"{name}: eligible_from engine {want}, query {fast.get(pid)}")
            uncertain = (
                pid in explained_pids
                or bool(unconfirmed(patient))
                or outside_observation(patient, as_of)
                or death_reason(patient, as_of) is not None
            )
            if uncertain:
                continue
            for c in screened.failing:
                out.criteria += 1
                out.criteria_dated += c.eligible_from is not None
                got = criteria.get(pid, {}).get(c.id)
                if got != c.eligible_from:
                    out.disagreements.append(
                        f"{name}: {c.id} eligible from: engine {c.eligible_from}, query {got}"
                    )
    finally:
        engine.close()
    return out


def generated(n: int, seed: int, as_of: date) -> list[object]:
    """``n`` patients of :mod:`generate_registry` (a lupus registry), loaded as batch loads them."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import random

    from generate_registry import patient

    from screener.errors import ScreenerError
    from screener.model.patient import patient_from_data
    from screener.yamlio import LineMap

    rng = random.Random(seed)
    out: list[object] = []
    for i in range(n):
        data = patient(rng, i, as_of)
        try:
            out.append(patient_from_data(data, LineMap("generated", {})))
        except ScreenerError:
            continue  # the loader refuses it: neither route screens it
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 25))
    parser.add_argument("--rules", type=Path, default=ROOT / "rules" / "nct03562065")
    args = parser.parse_args(argv)
    patients = generated(args.n, args.seed, args.as_of)
    with tempfile.TemporaryDirectory(prefix="eligible-from-diff-") as scratch:
        result = compare(args.rules, patients, args.as_of, Path(scratch))
    print(
        f"{result.rows} rows compared ({result.dated} with an eligible-from date), "
        f"{result.criteria} failing criteria ({result.criteria_dated} with a date), "
        f"{result.skipped} not screened, {len(result.disagreements)} disagreement(s)"
    )
    for line in result.disagreements:
        print("  " + line)
    return 1 if result.disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
