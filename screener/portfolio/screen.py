"""Screen one patient against every trial of a portfolio.

The patient is read, checked and converted once (:class:`~screener.model.patient.Patient`:
units, conflicts, codes); each rule set is compiled once into its engine. Per trial, only
what belongs to that rule set runs: selecting the facts its vocabulary reads with its
freshness limits and date windows (``screener.facts.prepare``, well under a millisecond)
and its engine session. Each trial's result is exactly what ``screener screen --rules
rules/<trial>`` gives (tests/portfolio: the differential test).
"""

from __future__ import annotations

from datetime import date

from screener.engine.evaluate import Engine
from screener.errors import EngineError
from screener.model.patient import Patient
from screener.portfolio.load import BrokenRuleSet, Portfolio
from screener.portfolio.next import order, portfolio_todo, trial_result
from screener.portfolio.results import PortfolioResult


class PortfolioScreener:
    """A portfolio's rule sets compiled once, ready to screen any number of patients."""

    def __init__(self, portfolio: Portfolio) -> None:
        self.portfolio = portfolio
        self.engines: list[Engine] = []
        broken = list(portfolio.broken)
        for ruleset in portfolio.rulesets:
            try:
                self.engines.append(Engine(ruleset))
            except EngineError as error:  # reported with the trial, the others still screened
                broken.append(BrokenRuleSet(ruleset.id, ruleset.file, f"{ruleset.file}: {error}"))
        self.broken = tuple(sorted(broken, key=lambda b: b.folder))
        self.rulesets = {e.ruleset.trial: e.ruleset for e in self.engines}

    def close(self) -> None:
        for engine in self.engines:
            engine.close()

    def __enter__(self) -> PortfolioScreener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def screen(self, patient: Patient, as_of: date) -> PortfolioResult:
        """Every trial's result for ``patient`` on ``as_of``, sorted by how soon, with the to-do."""
        trials = [trial_result(engine.screen(patient, as_of)) for engine in self.engines]
        todo, counts = portfolio_todo(trials, self.rulesets)
        return PortfolioResult(
            patient_id=patient.patient_id,
            as_of=as_of,
            trials=order(trials, counts),
            broken=self.broken,
            todo=todo,
        )


def screen_portfolio(portfolio: Portfolio, patient: Patient, as_of: date) -> PortfolioResult:
    """One patient against ``portfolio`` (compiles the engines, screens, closes them)."""
    with PortfolioScreener(portfolio) as screener:
        return screener.screen(patient, as_of)
