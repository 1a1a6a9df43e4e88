"""The main screen: decision banner, criteria, explanation of the selected one, to-do list.

It reads the app's state through :class:`ScreeningState` and asks for forms with the
messages of :mod:`screener.tui.messages`: it does not import the app module.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Protocol, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from screener.model.patient import Patient
from screener.model.rules import RuleSet
from screener.results import ScreeningResult
from screener.tui.commands import TRIAL_COMMANDS, bindings
from screener.tui.messages import AddRecord, EditRecord, EnterFact
from screener.tui.widgets.banner import DecisionBanner
from screener.tui.widgets.criteria import CriteriaList
from screener.tui.widgets.detail import CriterionDetail
from screener.tui.widgets.todo import TodoList, missing_fact_name


class ScreeningState(Protocol):
    """What the main screen shows; the app holds it."""

    ruleset: RuleSet
    patient: Patient | None
    as_of: date
    today: date
    result: ScreeningResult | None
    busy: bool
    dirty: bool
    origin: str

    @property
    def editable_fact_names(self) -> list[str]: ...


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings()  # type: ignore[assignment]

    @property
    def state(self) -> ScreeningState:
        return cast(ScreeningState, self.app)

    def compose(self) -> ComposeResult:
        yield DecisionBanner(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield CriteriaList(id="criteria")
                yield TodoList(id="todo")
            yield CriterionDetail(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#criteria", CriteriaList).border_title = "Criteria"
        self.query_one("#todo", TodoList).border_title = "To do before a decision"
        self.query_one("#detail", CriterionDetail).border_title = "Explanation"
        self.refresh_view()
        self.query_one("#criteria", CriteriaList).focus()

    def refresh_view(self) -> None:
        """Show the app's current state (called after every screening and edit)."""
        state = self.state
        result = state.result
        self.refresh_banner()
        self.query_one("#criteria", CriteriaList).show(result)
        self.query_one("#todo", TodoList).show(result, state.ruleset, set(state.editable_fact_names))
        self._show_selected(result)

    def refresh_banner(self) -> None:
        """Show the decision banner only (a screening started: the rest still shows the last one,
        and rebuilding it would delay the new one's frame)."""
        state = self.state
        self.query_one("#banner", DecisionBanner).show(
            state.result,
            patient_id=state.patient.patient_id if state.patient else None,
            as_of=state.as_of.isoformat(),
            busy=state.busy,
            dirty=state.dirty,
            origin=state.origin,
            today=state.today.isoformat(),
        )

    def _show_selected(self, result: ScreeningResult | None) -> None:
        wanted = self.query_one("#criteria", CriteriaList).selected_id
        criterion = None
        if result is not None:
            if wanted is None and result.criteria:
                wanted = result.criteria[0].id
            if wanted is not None:
                criterion = result.criterion(wanted)
        self.query_one("#detail", CriterionDetail).show(criterion)

    def on_criteria_list_selected(self, event: CriteriaList.Selected) -> None:
        result = self.state.result
        if result is not None:
            self.query_one("#detail", CriterionDetail).show(result.criterion(event.criterion_id))

    def on_criteria_list_chosen(self, event: CriteriaList.Chosen) -> None:
        """Enter on an open criterion does the first to-do item it waits for."""
        todo = self.query_one("#todo", TodoList)
        item = next((i for i in todo.items if event.criterion_id in i.criteria), None)
        if item is not None:
            self.on_todo_list_picked(TodoList.Picked(item))
        else:
            self.query_one("#detail", CriterionDetail).focus()

    def focus_todo(self) -> None:
        todo = self.query_one("#todo", TodoList)
        todo.focus()
        if todo.items and todo.highlighted is None:
            todo.highlighted = 0

    def on_todo_list_picked(self, event: TodoList.Picked) -> None:
        item = event.item
        if item.criteria:
            self.query_one("#criteria", CriteriaList).select_criterion(item.criteria[0])
        if item.action == "fact" and item.fact is not None:
            self.post_message(EnterFact(item.fact))
        elif item.action == "record" and item.record is not None:
            self.post_message(EditRecord(*item.record, fields=item.fields))
        elif item.action == "history":
            self.post_message(AddRecord(item.history))
        else:
            self.query_one("#detail", CriterionDetail).focus()
            self.notify(
                "Nothing to enter for this item: read the criterion's explanation on the right.",
                title=item.text,
            )

    def selected_fact_hint(self) -> str | None:
        """The first missing rule-set fact of the selected criterion, to preselect in the form."""
        result = self.state.result
        selected = self.query_one("#criteria", CriteriaList).selected_id
        if result is None or selected is None:
            return None
        names = set(self.state.editable_fact_names)
        for m in result.criterion(selected).missing:
            if missing_fact_name(m) in names:
                return missing_fact_name(m)
        return None


class TrialScreen(MainScreen):
    """The main screen showing one trial of a portfolio; ``p`` or esc returns to the portfolio."""

    BINDINGS: ClassVar[list[BindingType]] = [  # type: ignore[assignment]
        *bindings(TRIAL_COMMANDS),
        *bindings(),
        Binding("escape", "app.show_portfolio", "Portfolio", show=False),
    ]
