from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.model.rules import RuleSet, load_ruleset

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "rules" / "nct03562065"
EXAMPLE_PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_ruleset(RULES_DIR)


@pytest.fixture(scope="session")
def engine(ruleset: RuleSet) -> Iterator[Engine]:
    with Engine(ruleset) as e:
        yield e


@pytest.fixture(autouse=True)
def _no_user_audit_log(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own SCREENER_AUDIT_LOG must not receive test screenings, nor their
    signing keys sign them."""
    monkeypatch.delenv("SCREENER_AUDIT_LOG", raising=False)
    monkeypatch.delenv("SCREENER_AUDIT_KEY", raising=False)
    monkeypatch.delenv("SCREENER_AUDIT_PUBLIC_KEY", raising=False)
