"""The portfolio screen: every trial's decision for one patient, and the to-do across trials.

Shown first when the TUI is given a folder of rule sets (``screener tui PATIENT --rules
rules/``). Enter on a trial shows its criteria on the main screen (``p`` or esc returns);
facts entered from either screen apply to every trial (the app screens the whole portfolio
again in a worker). It reads the app's state through :class:`PortfolioState` and posts the
messages of :mod:`screener.tui.messages`: it does not import the app module.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Protocol, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer

from screener.model.patient import Patient
from screener.portfolio.load import BrokenRuleSet
from screener.portfolio.results import PortfolioResult
from screener.tui.commands import PORTFOLIO_COMMANDS, bindings
from screener.tui.messages import EnterFact, OpenTrial
from screener.tui.widgets.portfolio import PortfolioBanner, PortfolioTodo, TrialTable


class PortfolioState(Protocol):
    """What the portfolio screen shows; the app holds it."""

    portfolio_result: PortfolioResult | None
    broken: tuple[BrokenRuleSet, ...]
    titles: dict[str, str]
    patient: Patient | None
    as_of: date
    today: date
    busy: bool
    dirty: bool
    origin: str


class PortfolioScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = bindings(PORTFOLIO_COMMANDS)  # type: ignore[assignment]

    @property
    def state(self) -> PortfolioState:
        return cast(PortfolioState, self.app)

    def compose(self) -> ComposeResult:
        yield PortfolioBanner(id="pbanner")
        with Vertical(id="pbody"):
            yield TrialTable(id="trials")
            yield PortfolioTodo(id="ptodo")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#trials", TrialTable).border_title = "Trials, soonest first"
        self.query_one(
            "#ptodo", PortfolioTodo
        ).border_title = "To do across trials (settles most trials first)"
        self.refresh_view()
        self.query_one("#trials", TrialTable).focus()

    def refresh_view(self) -> None:
        state = self.state
        result = state.portfolio_result
        self.query_one("#pbanner", PortfolioBanner).show(
            result,
            patient_id=state.patient.patient_id if state.patient else None,
            trials=len(state.titles),
            as_of=state.as_of.isoformat(),
            today=state.today.isoformat(),
            busy=state.busy,
            dirty=state.dirty,
            origin=state.origin,
        )
        self.query_one("#trials", TrialTable).show(result, state.titles, state.broken)
        self.query_one("#ptodo", PortfolioTodo).show(result)

    def focus_todo(self) -> None:
        todo = self.query_one("#ptodo", PortfolioTodo)
        todo.focus()
        if todo.items and todo.highlighted is None:
            todo.highlighted = 0

    def on_trial_table_chosen(self, event: TrialTable.Chosen) -> None:
        self.post_message(OpenTrial(event.trial))

    def on_portfolio_todo_picked(self, event: PortfolioTodo.Picked) -> None:
        """A fact: the fact form (every trial gets it); anything else: the first trial waiting for it."""
        item = event.item
        if item.action == "fact" and item.fact is not None:
            self.post_message(EnterFact(item.fact))
        elif item.trials:
            self.post_message(OpenTrial(item.trials[0]))

    def selected_fact_hint(self) -> str | None:
        """The fact of the highlighted to-do item, to preselect in the form."""
        todo = self.query_one("#ptodo", PortfolioTodo)
        items = todo.items
        if todo.has_focus and todo.highlighted is not None and 0 <= todo.highlighted < len(items):
            return items[todo.highlighted].fact
        return None
