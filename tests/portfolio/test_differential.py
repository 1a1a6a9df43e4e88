"""Portfolio screening equals separate single-trial screens, on every trial's fixture cases.

Each case's patient (from any trial's tests/) is screened against the whole portfolio and,
separately, against each rule set with its own engine: every trial's result document must
be the same, and the case's own expectations hold on the portfolio's result for its trial.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.cases import Case, check, collect_cases
from screener.engine.evaluate import Engine
from screener.portfolio import PortfolioScreener, load_portfolio

ROOT = Path(__file__).resolve().parents[2]
PORTFOLIO = load_portfolio(ROOT / "rules")
CASES: list[tuple[str, Case]] = []
for _ruleset in PORTFOLIO.rulesets:
    _found, _ = collect_cases(Path(_ruleset.file).parent, _ruleset)
    CASES.extend((_ruleset.trial, c) for c in _found if not c.todo)


def test_the_shipped_portfolio_is_four_trials_none_broken() -> None:
    assert PORTFOLIO.broken == ()
    assert set(PORTFOLIO.trials) >= {"NCT03562065", "NCT03917797", "NCT00732940", "NCT04184258"}


@pytest.fixture(scope="module")
def screener() -> Iterator[PortfolioScreener]:
    with PortfolioScreener(PORTFOLIO) as s:
        yield s


@pytest.fixture(scope="module")
def singles() -> Iterator[dict[str, Engine]]:
    engines = {r.trial: Engine(r) for r in PORTFOLIO.rulesets}
    try:
        yield engines
    finally:
        for engine in engines.values():
            engine.close()


def _id(item: tuple[str, Case]) -> str:
    trial, case = item
    return f"{trial} {Path(case.file).name}:{case.line}"


@pytest.mark.parametrize("item", CASES, ids=_id)
def test_portfolio_equals_each_single_trial_screen(
    item: tuple[str, Case], screener: PortfolioScreener, singles: dict[str, Engine]
) -> None:
    own_trial, case = item
    result = screener.screen(case.patient, case.as_of)
    assert sorted(t.trial for t in result.trials) == sorted(singles)
    for trial in result.trials:
        alone = singles[trial.trial].screen(case.patient, case.as_of)
        assert trial.result.to_dict() == alone.to_dict(), trial.trial
        assert trial.decision == alone.decision
        assert [c.id for c in trial.failing] == [c.id for c in alone.failing]
        assert [c.id for c in trial.unknown] == [c.id for c in alone.unknown]
        assert trial.eligible_from == alone.eligible_from
    # the case's own expectations, read on the portfolio's result for its trial
    assert check(case, result.trial(own_trial).result) == ()


def test_there_are_cases_from_every_trial() -> None:
    assert {trial for trial, _ in CASES} == set(PORTFOLIO.trials)
    assert len(CASES) >= 100
