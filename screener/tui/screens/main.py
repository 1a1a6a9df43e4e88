"""The main screen: decision banner, criteria, explanation of the selected one, to-do list."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Tree

from screener.results import ScreeningResult
from screener.tui.widgets.banner import DecisionBanner
from screener.tui.widgets.criteria import CriteriaTree
from screener.tui.widgets.detail import CriterionDetail
from screener.tui.widgets.todo import TodoList

if TYPE_CHECKING:
    from screener.tui.app import ScreenerApp

#: (key, action, description): shown in the footer, the help screen and the command palette.
MAIN_BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("e", "edit_fact", "Edit fact"),
    ("h", "add_history", "History"),
    ("d", "change_date", "Date"),
    ("s", "save", "Save"),
    ("o", "open_record", "Open"),
    ("question_mark", "help", "Help"),
    ("q", "quit", "Quit"),
)


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(key, f"app.{action}", text, key_display="?" if key == "question_mark" else None)
        for key, action, text in MAIN_BINDINGS
    ]

    @property
    def screener(self) -> ScreenerApp:
        return cast("ScreenerApp", self.app)

    def compose(self) -> ComposeResult:
        yield DecisionBanner(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield CriteriaTree(id="criteria")
                yield TodoList(id="todo")
            yield CriterionDetail(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#criteria", CriteriaTree).border_title = "Criteria"
        self.query_one("#todo", TodoList).border_title = "To do"
        self.query_one("#detail", CriterionDetail).border_title = "Explanation"
        self.refresh_view()
        self.query_one("#criteria", CriteriaTree).focus()

    def refresh_view(self) -> None:
        """Show the app's current state (called after every screening and edit)."""
        app = self.screener
        result = app.result
        self.query_one("#banner", DecisionBanner).show(
            result,
            patient_id=app.patient.patient_id if app.patient else None,
            as_of=app.as_of.isoformat(),
            busy=app.busy,
            dirty=app.dirty,
            origin=app.origin,
        )
        self.query_one("#criteria", CriteriaTree).show(result)
        self.query_one("#todo", TodoList).show(result, set(app.editable_fact_names))
        self._show_selected(result)

    def _show_selected(self, result: ScreeningResult | None) -> None:
        tree = self.query_one("#criteria", CriteriaTree)
        node = tree.cursor_node
        criterion = None
        if result is not None:
            wanted = node.data if node is not None and node.data else None
            if wanted is None and result.criteria:
                wanted = result.criteria[0].id
            if wanted is not None:
                criterion = result.criterion(wanted)
        self.query_one("#detail", CriterionDetail).show(criterion)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        result = self.screener.result
        if result is not None and event.node.data:
            self.query_one("#detail", CriterionDetail).show(result.criterion(event.node.data))

    def on_todo_list_picked(self, event: TodoList.Picked) -> None:
        item = event.item
        if item.criteria:
            self.query_one("#criteria", CriteriaTree).select_criterion(item.criteria[0])
        if item.fact is not None:
            self.screener.action_edit_fact(item.fact)
        else:
            self.query_one("#criteria", CriteriaTree).focus()

    def selected_fact_hint(self) -> str | None:
        """The first missing rule-set fact of the selected criterion, to preselect in the form."""
        result = self.screener.result
        node = self.query_one("#criteria", CriteriaTree).cursor_node
        if result is None or node is None or not node.data:
            return None
        from screener.tui.widgets.todo import missing_fact_name

        names = set(self.screener.editable_fact_names)
        for m in result.criterion(node.data).missing:
            if missing_fact_name(m) in names:
                return missing_fact_name(m)
        return None
