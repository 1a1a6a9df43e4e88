"""The TUI on a folder of rule sets: the portfolio screen, a trial's criteria, facts for every trial.

The screens only show the portfolio core's results: each test compares what the app holds and
shows with :func:`screener.portfolio.screen_portfolio` on the same patient.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from screener.portfolio import load_portfolio, screen_portfolio
from screener.tui.app import ScreenerApp, make_app
from screener.tui.portfolio_app import PortfolioApp
from screener.tui.screens.fact_form import FactForm
from screener.tui.screens.main import MainScreen, TrialScreen
from screener.tui.screens.portfolio import PortfolioScreen
from screener.tui.widgets.portfolio import PortfolioBanner, PortfolioTodo, TrialTable

from .conftest import AS_OF, ROOT, run_async

RULES = ROOT / "rules"
INCOMPLETE = ROOT / "fixtures" / "patients" / "incomplete_missing_data.yaml"
SIZES = [pytest.param((100, 30), id="100x30"), pytest.param((160, 48), id="160x48")]


def portfolio_app(tmp_path: Path, rules: Path = RULES) -> ScreenerApp:
    return make_app(
        INCOMPLETE,
        rules,
        AS_OF,
        records_dir=tmp_path / "screenings",
        operator="nurse.test",
        cursor_blink=False,
        today=AS_OF,
    )


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_a_folder_of_rule_sets_opens_the_portfolio_and_one_rule_set_opens_as_before(tmp_path: Path) -> None:
    assert isinstance(portfolio_app(tmp_path), PortfolioApp)
    single = portfolio_app(tmp_path, RULES / "nct03562065")
    assert type(single) is ScreenerApp


@run_async
async def test_one_row_per_trial_as_the_core_orders_them(tmp_path: Path) -> None:
    app = portfolio_app(tmp_path)
    assert isinstance(app, PortfolioApp)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PortfolioScreen)
        assert app.patient is not None
        core = screen_portfolio(load_portfolio(RULES), app.patient, AS_OF)
        assert app.portfolio_result is not None
        assert [(t.trial, t.decision, t.when) for t in app.portfolio_result.trials] == [
            (t.trial, t.decision, t.when) for t in core.trials
        ]
        table = app.screen.query_one("#trials", TrialTable)
        assert table.trials == [t.trial for t in core.trials] and len(table.trials) == 4
        for row, t in enumerate(core.trials):
            cells = [str(c) for c in table.get_row_at(row)]
            assert cells[0] == t.trial and cells[1].strip() == t.decision
            assert cells[3].startswith(str(len(t.failing))) and cells[4].startswith(str(len(t.unknown)))
        todo = app.screen.query_one("#ptodo", PortfolioTodo)
        assert [i.key for i in todo.items] == [i.key for i in core.todo]
        banner = str(app.screen.query_one("#pbanner", PortfolioBanner).render())
        assert f"could enter {len(core.could_enter)} of 4 trials" in banner
        assert core.next_fact is not None and core.next_fact.text[:30] in banner


@run_async
async def test_enter_shows_the_trials_criteria_and_p_or_escape_returns(tmp_path: Path) -> None:
    app = portfolio_app(tmp_path)
    assert isinstance(app, PortfolioApp)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#trials", TrialTable)
        second = table.trials[1]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, TrialScreen)
        assert app.selected == second and app.ruleset.trial == second
        assert app.portfolio_result is not None
        assert app.result is app.portfolio_result.trial(second).result  # the core's result, shown
        shown = {c.id for c in app.result.criteria}
        assert shown == {c.id for c in app.ruleset.criteria}
        await pilot.press("p")
        await pilot.pause()
        assert isinstance(app.screen, PortfolioScreen) and app.selected is None
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TrialScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, PortfolioScreen)
        assert sum(isinstance(s, MainScreen) for s in app.screen_stack) == 0


@run_async
async def test_a_fact_entered_once_is_screened_in_every_trial(tmp_path: Path) -> None:
    app = portfolio_app(tmp_path)
    assert isinstance(app, PortfolioApp)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        before = app.portfolio_result
        assert before is not None
        waiting = {
            t.trial for t in before.trials for c in t.unknown if "selena_sledai" in " ".join(c.collect)
        }
        assert len(waiting) >= 2  # several trials wait for the same score
        await pilot.press("t")
        todo = app.screen.query_one("#ptodo", PortfolioTodo)
        todo.highlighted = next(i for i, item in enumerate(todo.items) if item.fact == "selena_sledai")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FactForm)
        assert form.query_one("#value", Input).has_focus
        await pilot.press(*"8", "enter")
        await pilot.pause()
        await settle(pilot)
        assert isinstance(app.screen, PortfolioScreen) and app.dirty
        after = app.portfolio_result
        assert after is not None and after is not before
        core = screen_portfolio(load_portfolio(RULES), app.patient, AS_OF)
        assert [t.result.to_dict() for t in after.trials] == [t.result.to_dict() for t in core.trials]
        for trial in waiting:  # the score reached every trial that waited for it
            assert not any("selena_sledai" in " ".join(c.collect) for c in after.trial(trial).unknown), trial
        # and it shows in the trial's criteria too
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TrialScreen)
        assert app.result is not None and app.result is after.trial(app.selected or "").result


@run_async
async def test_a_broken_rule_set_is_shown_not_screened_and_the_others_are(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    for trial in ("nct03562065", "nct04184258"):
        shutil.copytree(RULES / trial, folder / trial)
    broken = folder / "nct00000000"
    broken.mkdir()
    (broken / "rules.yaml").write_text("schema_version: '1'\nruleset: {id: nct00000000}\ncriteria: [\n")
    app = portfolio_app(tmp_path, folder)
    assert isinstance(app, PortfolioApp)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        table = app.screen.query_one("#trials", TrialTable)
        assert len(table.trials) == 2 and table.row_count == 3
        cells = [str(c) for c in table.get_row_at(2)]
        assert cells[0] == "nct00000000" and "not screened" in cells[1] and "rules.yaml" in cells[2]


@pytest.mark.parametrize("size", SIZES)
def test_portfolio_screen_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    assert snap_compare(portfolio_app(tmp_path), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES)
def test_trial_from_the_portfolio_snapshot(snap_compare, tmp_path: Path, size: tuple[int, int]) -> None:
    async def open_first(pilot: Pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(portfolio_app(tmp_path), terminal_size=size, run_before=open_first)


@run_async
async def test_saving_on_the_portfolio_writes_one_record_per_trial(tmp_path: Path) -> None:
    app = portfolio_app(tmp_path)
    assert isinstance(app, PortfolioApp)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one("#operator", Input).value == "nurse.test"
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, PortfolioScreen) and app.result is None
    records = sorted((tmp_path / "screenings").glob("*.json"))
    assert app.portfolio_result is not None
    saved = [json.loads(r.read_text(encoding="utf-8")) for r in records]
    assert sorted(d["ruleset"]["trial"] for d in saved) == sorted(
        t.trial for t in app.portfolio_result.trials
    )
    by_trial = {d["ruleset"]["trial"]: d for d in saved}
    for t in app.portfolio_result.trials:
        assert by_trial[t.trial]["decision"] == t.decision
    audit = (tmp_path / "screenings" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(audit) == 4
