"""SVG snapshots at 80x24 (fixed screening date, no cursor blink, no clock in the UI).

Update after a deliberate change of the screens with ``pytest tests/tui --snapshot-update``
and look at the new SVG files before committing them.
"""

from __future__ import annotations

from textual.pilot import Pilot

from screener.tui.app import ScreenerApp


async def screened(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_main_screen(snap_compare, app: ScreenerApp) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=screened)


def test_main_screen_on_missing_criterion(snap_compare, app: ScreenerApp) -> None:
    # Move from I1 down to E2, the criterion waiting for the creatinine.
    presses = ["down"] * 12
    assert snap_compare(app, terminal_size=(80, 24), run_before=screened, press=presses)


def test_fact_form(snap_compare, app: ScreenerApp) -> None:
    async def open_form(pilot: Pilot) -> None:
        await screened(pilot)
        app.action_edit_fact("creatinine")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_form)


def test_fact_form_errors(snap_compare, app: ScreenerApp) -> None:
    async def open_form(pilot: Pilot) -> None:
        await screened(pilot)
        app.action_edit_fact("creatinine")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=open_form, press=[*"1..2", "enter"])
