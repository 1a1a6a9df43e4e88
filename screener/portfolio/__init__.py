"""Portfolio screening: one patient (or a registry) against every trial of a folder of rule sets.

Plain Python: no textual, no CLI. Load with :func:`load_portfolio`, screen with
:class:`PortfolioScreener`; results are the frozen dataclasses of :mod:`.results`.
"""

from screener.portfolio.load import BrokenRuleSet, Portfolio, is_portfolio, load_portfolio
from screener.portfolio.results import (
    WHEN_ORDER,
    CollectItem,
    FailingCriterion,
    PortfolioResult,
    TrialResult,
    UnknownCriterion,
)
from screener.portfolio.screen import PortfolioScreener, screen_portfolio

__all__ = [
    "WHEN_ORDER",
    "BrokenRuleSet",
    "CollectItem",
    "FailingCriterion",
    "Portfolio",
    "PortfolioResult",
    "PortfolioScreener",
    "TrialResult",
    "UnknownCriterion",
    "is_portfolio",
    "load_portfolio",
    "screen_portfolio",
]
