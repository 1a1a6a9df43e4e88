"""Shared fixtures for importer tests: the shared data sets (skipped when absent) and one Engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from screener.engine.evaluate import Engine
from screener.model.rules import load_ruleset

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path | None:
    for candidate in (REPO / ".." / "shared", Path("/work/shared")):
        if (candidate / "data").is_dir():
            return candidate.resolve()
    return None


def shared_path(*parts: str) -> Path:
    base = shared_dir()
    if base is None or not base.joinpath(*parts).exists():
        pytest.skip(f"shared data {'/'.join(parts)} not available (expected ../shared beside the repo)")
    return base.joinpath(*parts)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(load_ruleset(REPO / "rules" / "nct03562065")) as eng:
        yield eng
