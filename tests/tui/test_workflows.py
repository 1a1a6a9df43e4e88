"""Pilot workflows of issue 14: the to-do opens the right form, history corrected and removed in
place, fact hints and ranges, what-if saves, opening a patient file, one command table."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import yaml
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Static

from screener.tui.app import ScreenerApp, make_app
from screener.tui.commands import COMMANDS
from screener.tui.screens.dialogs import Confirm, SaveForm
from screener.tui.screens.fact_form import FactForm
from screener.tui.screens.help import HelpScreen
from screener.tui.screens.history_form import HistoryForm
from screener.tui.screens.main import MainScreen
from screener.tui.screens.records import RecordsScreen
from screener.tui.widgets.banner import DecisionBanner
from screener.tui.widgets.criteria import CriteriaList
from screener.tui.widgets.todo import TodoList

from .conftest import AS_OF, MISSING_CREATININE, ROOT, RULES_DIR, run_async

SIZE = (100, 30)
INCOMPLETE = ROOT / "fixtures" / "patients" / "incomplete_missing_data.yaml"


async def settle(pilot: Pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def incomplete_app(tmp_path: Path, **kwargs: object) -> ScreenerApp:
    options: dict[str, object] = {"today": AS_OF}
    options.update(kwargs)
    return make_app(
        INCOMPLETE,
        RULES_DIR,
        AS_OF,
        records_dir=tmp_path / "screenings",
        operator="nurse.test",
        cursor_blink=False,
        **options,  # type: ignore[arg-type]
    )


async def pick_todo(pilot: Pilot, text: str) -> None:
    todo = pilot.app.screen.query_one("#todo", TodoList)
    todo.focus()
    todo.highlighted = next(i for i, item in enumerate(todo.items) if text in item.text)
    await pilot.press("enter")
    await pilot.pause()


@run_async
async def test_todo_record_item_opens_that_record_and_completing_it_settles_i2(tmp_path: Path) -> None:
    app = incomplete_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.result is not None and app.result.criterion("I2").outcome == "unknown"
        conditions = len(app.patient.raw["conditions"])
        await pick_todo(pilot, "Complete the condition sle")
        form = app.screen
        assert isinstance(form, HistoryForm)
        assert (form.kind, form.index) == ("condition", 0)
        assert "Correct or remove: condition sle" in str(form.query_one("#history-dialog").border_title)
        # the recorded values are in the form; the first empty field has the focus
        assert form.query_one("#condition-name", Select).value == "sle"
        classification = form.query_one("#condition-classification", Select)
        assert classification.has_focus  # the field the to-do asks for
        # a choice of the classifications the rule set reads: a typo cannot fail I2
        assert [v for _, v in classification._options if v is not Select.NULL] == ["acr_1997", "acr_1982"]
        classification.value = "acr_1997"
        form.query_one("#condition-criteria_met", Input).value = "5"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        # corrected in place: no second SLE beside the first
        assert len(app.patient.raw["conditions"]) == conditions
        sle = app.patient.raw["conditions"][0]
        assert (sle["name"], sle["classification"], sle["criteria_met"]) == ("sle", "acr_1997", 5)
        assert app.result.criterion("I2").outcome == "pass" and app.dirty


@run_async
async def test_correct_then_remove_a_medication_in_place(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        meds = app.patient.raw["medications"]
        assert meds[2]["drug"] == "prednisone" and meds[2]["dose"] == 10
        app.action_edit_history("medication:2")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, HistoryForm)
        assert form.query_one("#medication-start", Input).value == "2026-06-01"
        form.query_one("#medication-dose", Input).value = "abc"
        await pilot.press("ctrl+s")
        await pilot.pause()
        error = form.query_one("#history-error", Static)
        assert app.screen is form and error.display and "dose" in str(error.render())
        form.query_one("#medication-dose", Input).value = "15"  # correcting clears the message
        await pilot.pause()
        assert not error.display
        await pilot.press("ctrl+s")
        await settle(pilot)
        after = app.patient.raw["medications"]
        assert len(after) == len(meds) and after[2]["dose"] == 15
        assert after[2]["source"] == "current prescription"  # fields the form did not touch stay
        assert app.patient.medications[2].dose_mg == 15

        app.action_edit_history("medication:3")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, HistoryForm) and form.query_one("#remove", Button).display
        await pilot.press("ctrl+d")  # first press asks
        await pilot.pause()
        assert app.screen is form and "again to confirm" in str(form.query_one("#history-error").render())
        await pilot.press("ctrl+d")
        await settle(pilot)
        drugs = [m["drug"] for m in app.patient.raw["medications"]]
        assert drugs == ["prednisone", "mycophenolate_mofetil", "prednisone"]
        assert app.dirty


@run_async
async def test_new_history_entry_has_no_remove_button(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, HistoryForm) and form.index is None
        assert not form.query_one("#remove", Button).display
        await pilot.press("ctrl+d")  # nothing to remove
        await pilot.pause()
        assert app.screen is form


@run_async
async def test_fact_form_hint_range_and_fraction_for_lvef(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_edit_fact("lvef")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FactForm)
        value = form.query_one("#value", Input)
        assert value.placeholder == "a number in %, 0 to 100"
        help_text = str(form.query_one("#fact-help", Static).render())
        assert "possible values 0 to 100 %" in help_text and "E3: lvef < 40 %" in help_text
        value.value = "0.62"
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is form
        error = form.query_one("#value-error", Static)
        assert "looks like a fraction" in str(error.render()) and "type 62" in str(error.render())
        value.value = "62"  # the correction clears the message at once
        await pilot.pause()
        assert not error.display
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)


@run_async
async def test_pressure_units_read_as_mmhg(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.action_edit_fact("pap_mean")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FactForm)
        unit = form.query_one("#unit", Select)
        labels = [str(prompt) for prompt, _ in unit._options if _ is not Select.NULL]
        assert labels == ["mmHg", "kPa"]
        assert form.query_one("#value", Input).placeholder == "a number in mmHg, 1 to 150"


@run_async
async def test_person_only_todo_opens_the_fact_form_on_that_fact(tmp_path: Path) -> None:
    app = incomplete_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pick_todo(pilot, "Signed informed consent")
        form = app.screen
        assert isinstance(form, FactForm) and form.query_one("#fact-name", Select).value == "informed_consent"


@run_async
async def test_saving_a_what_if_date_asks_first(tmp_path: Path) -> None:
    app = make_app(
        MISSING_CREATININE,
        RULES_DIR,
        date(2026, 6, 15),
        records_dir=tmp_path / "screenings",
        operator="nurse.test",
        cursor_blink=False,
        today=AS_OF,
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "(what-if date)" in str(app.screen.query_one("#banner", DecisionBanner).render())
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, Confirm)
        assert "2026-06-15, not today (2026-11-25)" in str(app.screen.query_one(".dialog-text").render())
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and not (tmp_path / "screenings").exists()
        await pilot.press("s")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
        assert isinstance(app.screen, SaveForm)
        await pilot.press("enter")
        await pilot.pause()
        assert len(list((tmp_path / "screenings").glob("*.json"))) == 1


@run_async
async def test_saving_on_today_does_not_ask(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")
        await pilot.pause()
        assert isinstance(app.screen, SaveForm)


@run_async
async def test_open_a_patient_file_by_path(tmp_path: Path) -> None:
    app = make_app(
        None, RULES_DIR, AS_OF, records_dir=tmp_path / "screenings", cursor_blink=False, today=AS_OF
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("o")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RecordsScreen)
        field = screen.query_one("#open-file", Input)
        assert field.has_focus  # no records yet: the path is the way in
        field.value = str(tmp_path / "nope.yaml")
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and "no such file" in str(screen.query_one("#open-file-error").render())
        field.value = str(INCOMPLETE)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)
        assert app.patient is not None and app.patient.patient_id == "story-incomplete-003"
        assert app.result is not None and app.result.decision == "incomplete"
        assert app.origin == "file incomplete_missing_data.yaml"


@run_async
async def test_hostile_id_is_escaped_in_the_banner_and_lists(tmp_path: Path) -> None:
    data = yaml.safe_load(MISSING_CREATININE.read_text(encoding="utf-8"))
    data["patient_id"] = "x\x1b[31m\nforged"
    data["conditions"][0]["source"] = "letter\x1b]0;title\x07"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    app = make_app(path, RULES_DIR, AS_OF, records_dir=tmp_path / "s", cursor_blink=False, today=AS_OF)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = str(app.screen.query_one("#banner", DecisionBanner).render())
        assert "x\\x1b[31m\\nforged" in banner and "\x1b" not in banner
        app.screen.query_one("#criteria", CriteriaList).select_criterion("I2")
        await pilot.pause()
        detail = str(app.screen.query_one("#detail-body", Static).render())
        assert "letter\\x1b]0;title\\x07" in detail and "\x1b" not in detail


@run_async
async def test_keys_help_and_palette_come_from_one_table(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        bindings = {b.key: b for b in app.screen.BINDINGS}  # type: ignore[union-attr]
        titles = [c.title for c in app.get_system_commands(app.screen)]
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_text = str(app.screen.query_one("#help-keys", Static).render())
        for command in COMMANDS:
            assert bindings[command.key].action == f"app.{command.action}"
            assert callable(getattr(app, f"action_{command.action}"))
            assert f"{command.label} ({command.key_display})" in titles
            assert f"{command.label}: {command.help}" in help_text
        legend = str(app.screen.query_one("#help-legend", Static).render())
        assert "not excluded" in legend and "criterion met" not in legend


def test_screens_do_not_import_the_app_module() -> None:
    code = (
        "import sys; import screener.tui.screens.main, screener.tui.screens.help; "
        "print('screener.tui.app' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@run_async
async def test_todo_key_focuses_the_list_and_items_name_their_key(tmp_path: Path) -> None:
    app = incomplete_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        todo = app.screen.query_one("#todo", TodoList)
        assert todo.has_focus and todo.highlighted == 0
        assert [i.key for i in todo.items][:3] == ["h", "e", "e"]
        assert len(todo.items) == 9


@run_async
async def test_notifications_are_plain_escaped_text(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        # a screen's notify goes through the app's
        app.screen.notify("id [bold]x[/bold]\x1b[2J\n", title="t\x07")
        await pilot.pause()
        (note,) = [n for n in app._notifications if n.title.startswith("t")]
        assert note.message == "id [bold]x[/bold]\\x1b[2J\\n" and note.title == "t\\x07"
        assert note.markup is False


@run_async
async def test_enter_on_an_open_criterion_collects_what_it_waits_for(app: ScreenerApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        criteria = app.screen.query_one("#criteria", CriteriaList)
        criteria.focus()
        criteria.select_criterion("E2")
        await pilot.press("enter")
        await pilot.pause()
        form = app.screen
        assert isinstance(form, FactForm)
        assert form.query_one("#fact-name", Select).value == "creatinine_clearance_measured"
        await pilot.press("escape")
        await pilot.pause()
        criteria.select_criterion("I1")  # settled: enter shows its explanation, opens nothing
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
