from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.tui.app import ScreenerApp, make_app

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RULES_DIR = ROOT / "rules" / "nct03562065"
MISSING_CREATININE = HERE / "data" / "missing_creatinine.yaml"
AS_OF = date(2026, 11, 25)


@pytest.fixture
def app(tmp_path: Path) -> ScreenerApp:
    """The incomplete patient (no creatinine), records in a temporary directory, screened
    on the day the test pretends is today (so the screening date is not a what-if)."""
    return make_app(
        MISSING_CREATININE,
        RULES_DIR,
        AS_OF,
        records_dir=tmp_path / "screenings",
        operator="nurse.test",
        cursor_blink=False,
        today=AS_OF,
    )


def run_async(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test in its own event loop (no pytest async plugin is installed)."""

    @functools.wraps(test)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return wrapper
