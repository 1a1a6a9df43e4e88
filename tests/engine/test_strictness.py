"""Strict and non-strict comparisons at their boundary, on every route (issue 16 section 7).

Each operator (lt, lte, gt, gte, eq, ne, min_ago, max_ago) is tested just below, on and just
above its threshold, at every site a rule can compare (a fact's value, a fact's date, an exposure
field, a per-exposure derived value, a condition field), as an inclusion and as an exclusion.
The expected outcomes are written by hand (tests/engine/mutant_rules.py ``TRUTH``), and each
route must give them: the engine's full screening, its outcome-only evaluation, and the DuckDB
fast path through both of its routes (patients prepared in Python, a columnar registry prepared
in SQL). A swapped ``<``/``<=`` in engine/compile.py or vectorized/sql.py, or a wrong negation
of a test (the rule that fires when it does not hold), changes one of these outcomes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.model.rules import RuleSet

from .mutant_rules import (
    AS_OF,
    EXCLUSIONS,
    POSITIONS,
    SITES,
    TRUTH,
    WINDOW_TRUTH,
    boundary_patient,
    ruleset,
)


def _truth(test: str, position: str) -> bool:
    op = re.search(r"(\w+): \{days", test) or re.search(r", (lt|lte|gt|gte|eq|ne): ", test)
    assert op is not None, test
    table = WINDOW_TRUTH if op.group(1) in WINDOW_TRUTH else TRUTH
    return table[op.group(1)][POSITIONS.index(position)]


def expected(position: str) -> dict[str, str]:
    out = {}
    for cid, test in SITES.items():
        out[cid] = "pass" if _truth(test, position) else "fail"
    for cid, test in EXCLUSIONS.items():
        out[cid] = "fail" if _truth(test, position) else "pass"
    return out


def test_the_hand_written_table_covers_each_operator_at_each_site() -> None:
    ops = [re.findall(r"\b(lt|lte|gt|gte|eq|ne|min_ago|max_ago)\b", t) for t in SITES.values()]
    assert sorted({o for found in ops for o in found}) == sorted([*TRUTH, *WINDOW_TRUTH])
    assert len(SITES) == 6 + 3 * 4 + 2 * 2
    # every operator is strict or not somewhere on each side: below, at and above all differ
    for position in POSITIONS:
        assert set(expected(position).values()) == {"pass", "fail"}
    assert len({tuple(expected(p).values()) for p in POSITIONS}) == 3


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return ruleset()


@pytest.fixture(scope="module")
def engine(rules: RuleSet) -> Iterator[Engine]:
    with Engine(rules) as e:
        yield e


@pytest.mark.parametrize("position", POSITIONS)
def test_the_engine_screens_each_boundary_as_written(engine: Engine, position: str) -> None:
    patient = boundary_patient(position)
    want = expected(position)
    result = engine.screen(patient, AS_OF)
    got = {c.id: c.outcome for c in result.criteria if c.id in want}
    assert got == want, {k: (want[k], got[k]) for k in want if got[k] != want[k]}
    outcomes = engine.outcomes(patient, AS_OF)
    assert {k: outcomes[k] for k in want} == want
    lean = engine.screen(patient, AS_OF, explain=False, evidence="failing")
    assert {c.id: c.outcome for c in lean.criteria if c.id in want} == want
    for criterion in engine.ruleset.criteria:  # one-criterion sessions (eligible-from re-screening)
        if criterion.id in want:
            assert engine.outcome(criterion, patient, AS_OF) == want[criterion.id], criterion.id


def test_a_date_window_that_fails_today_gives_the_day_it_opens(engine: Engine) -> None:
    """ "At least 30 days ago" on a date 29 days ago passes tomorrow, for a fact's date and for
    an exposure's start; "at most 30 days ago" on a date 31 days ago never will."""
    from datetime import timedelta

    from .mutant_rules import SITES

    windows = {cid: t for cid, t in SITES.items() if "_ago" in t}
    result = engine.screen(boundary_patient("above"), AS_OF)  # dates 29 days before AS_OF
    by_id = {c.id: c for c in result.criteria}
    for cid, test in windows.items():
        if "min_ago" in test:
            assert (by_id[cid].outcome, by_id[cid].eligible_from) == ("fail", AS_OF + timedelta(days=1)), cid
    old = {c.id: c for c in engine.screen(boundary_patient("below"), AS_OF).criteria}  # 31 days
    for cid, test in windows.items():
        if "max_ago" in test:
            assert (old[cid].outcome, old[cid].eligible_from) == ("fail", None), cid
    assert result.decision == "ineligible"


def test_every_result_carries_its_criterion_and_rule_set(engine: Engine) -> None:
    """Pass, fail and unknown results, full and batch, name the criterion as the rule file does."""
    from .mutant_rules import patient

    # a record without uncertain parts: screening it as recorded, with the defaults, is the same
    assert engine.screen_as_recorded(patient("any"), AS_OF) == engine.screen(patient("any"), AS_OF)
    for explain, evidence in ((True, "all"), (False, "failing")):
        result = engine.screen(patient("any"), AS_OF, explain=explain, evidence=evidence)
        assert (result.ruleset_id, result.trial, result.ruleset_version) == (
            "mutants",
            "NCT00000000",
            "1.0.0",
        )
        assert result.ruleset_sha256 == engine.ruleset.sha256 and result.as_of == AS_OF
        assert {c.outcome for c in result.criteria} == {"pass", "fail", "unknown"}
        for c, criterion in zip(result.criteria, engine.ruleset.criteria, strict=True):
            assert (c.id, c.type, c.title, c.section, c.quote, c.reading) == (
                criterion.id,
                criterion.type,
                f"{criterion.id} synthetic",
                "synthetic",
                "synthetic",
                "synthetic",
            )


@pytest.mark.parametrize("position", POSITIONS)
def test_each_boundary_comparison_shows_its_value_threshold_and_operator(
    engine: Engine, position: str
) -> None:
    """The evidence of a numeric comparison carries the compared value, the threshold and the
    operator (the margin a batch row shows), whatever the outcome."""
    result = engine.screen(boundary_patient(position), AS_OF)
    by_id = {c.id: c for c in result.criteria}
    value = {"below": 99.5, "at": 100.0, "above": 100.5}[position]
    for cid, op in zip(("I1", "I2", "I3", "I4"), ("lt", "lte", "gt", "gte"), strict=True):
        (evidence,) = by_id[cid].evidence
        assert (evidence.value, evidence.threshold, evidence.op, evidence.unit) == (value, 100, op, "10*9/L")
        assert evidence.outcome is (by_id[cid].outcome == "pass")
        assert [(f.name, f.value, f.unit) for f in evidence.facts] == [("platelets", value, "10*9/L")]


duckdb = pytest.importorskip("duckdb")


@pytest.fixture(scope="module")
def fast(rules: RuleSet) -> Iterator[object]:
    from screener.vectorized import VectorizedScreener

    screener = VectorizedScreener(rules)
    try:
        yield screener
    finally:
        screener.close()


def test_the_fast_path_screens_each_boundary_as_written(fast: object) -> None:
    got = fast.screen([boundary_patient(p) for p in POSITIONS], AS_OF)  # type: ignore[attr-defined]
    for position, outcomes in zip(POSITIONS, got, strict=True):
        want = expected(position)
        assert {k: outcomes[k] for k in want} == want, position


def test_the_table_route_screens_each_boundary_as_written(fast: object, tmp_path: Path) -> None:
    from screener.tables.write import TablesWriter
    from screener.vectorized.sql import OUTCOME_CODES

    directory = tmp_path / "registry"
    with TablesWriter(directory, 100) as writer:
        for position in POSITIONS:
            writer.add(boundary_patient(position))
    seen = 0
    for chunk in fast.iter_tables(directory, AS_OF):  # type: ignore[attr-defined]
        assert not chunk.errors
        for i, pid in enumerate(chunk.pids):
            want = expected(POSITIONS[pid])
            got = {c: OUTCOME_CODES[int(chunk.codes[c][i])] for c in want}
            assert got == want, POSITIONS[pid]
            seen += 1
    assert seen == len(POSITIONS)


def test_the_compiled_index_is_frozen(engine: Engine) -> None:
    """The compiled tests and quantifiers are shared by every session of an engine (threads
    too): they cannot be changed after compiling."""
    import dataclasses

    compiled = engine.compiled
    test = next(iter(compiled.tests.values()))
    quantifier = next(iter(compiled.quantifiers.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        test.criterion = "I99"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        quantifier.criterion = "I99"  # type: ignore[misc]
