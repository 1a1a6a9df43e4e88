"""SVG snapshots of the main screen, the fact form and the to-do at 100x30 and 160x48.

Fixed screening date and "today", no cursor blink, no clock in the UI. Update after a deliberate
change of the screens with ``pytest tests/tui --snapshot-update`` and look at the new SVG files
(tests/tui/__snapshots__) before committing them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot

from screener.tui.app import ScreenerApp, make_app

from .conftest import AS_OF, ROOT, RULES_DIR

SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((160, 48), id="160x48")]
INCOMPLETE = ROOT / "fixtures" / "patients" / "incomplete_missing_data.yaml"


@pytest.fixture
def incomplete(tmp_path: Path) -> ScreenerApp:
    """The bundled incomplete patient, as a nurse opens it (README)."""
    return make_app(
        INCOMPLETE,
        RULES_DIR,
        AS_OF,
        records_dir=tmp_path / "screenings",
        operator="nurse.test",
        cursor_blink=False,
        today=AS_OF,
    )


async def screened(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_main_screen(snap_compare, incomplete: ScreenerApp, size: tuple[int, int]) -> None:
    assert snap_compare(incomplete, terminal_size=size, run_before=screened)


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_on_an_exclusion(snap_compare, app: ScreenerApp, size: tuple[int, int]) -> None:
    async def on_e2(pilot: Pilot) -> None:
        await screened(pilot)
        pilot.app.screen.query_one("#criteria").select_criterion("E2")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=on_e2)


@pytest.mark.parametrize("size", SIZES)
def test_todo(snap_compare, incomplete: ScreenerApp, size: tuple[int, int]) -> None:
    async def to_do(pilot: Pilot) -> None:
        await screened(pilot)
        await pilot.press("t", "down")
        await pilot.pause()

    assert snap_compare(incomplete, terminal_size=size, run_before=to_do)


@pytest.mark.parametrize("size", SIZES)
def test_fact_form(snap_compare, app: ScreenerApp, size: tuple[int, int]) -> None:
    async def open_form(pilot: Pilot) -> None:
        await screened(pilot)
        app.action_edit_fact("creatinine")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", SIZES)
def test_fact_form_errors(snap_compare, app: ScreenerApp, size: tuple[int, int]) -> None:
    async def open_form(pilot: Pilot) -> None:
        await screened(pilot)
        app.action_edit_fact("lvef")
        await pilot.pause()
        await pilot.press(*"0.62", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=open_form)


@pytest.mark.parametrize("size", SIZES)
def test_history_form_on_a_record_to_complete(
    snap_compare, incomplete: ScreenerApp, size: tuple[int, int]
) -> None:
    async def open_form(pilot: Pilot) -> None:
        await screened(pilot)
        await pilot.press("t", "enter")
        await pilot.pause()

    assert snap_compare(incomplete, terminal_size=size, run_before=open_form)
