"""What is left to do before a decision: one item per thing to collect, in the nurse's words.

The items come from :func:`screener.explain.todo.todo_items` (the CLI prints the same
list); each says which key does its job, and choosing it opens the form that collects it.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from screener.explain.todo import TodoItem, missing_fact_name, todo_items
from screener.model.rules import RuleSet
from screener.results import ScreeningResult

__all__ = ["TodoItem", "TodoList", "missing_fact_name", "todo_items"]

KEY_WORDS = {"fact": "e", "record": "h", "history": "h", "review": "see explanation"}


class TodoList(OptionList):
    """Selecting an item asks the app to open the form that collects it."""

    class Picked(Message):
        def __init__(self, item: TodoItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._items: list[TodoItem] = []

    @property
    def items(self) -> list[TodoItem]:
        return list(self._items)

    def show(self, result: ScreeningResult | None, ruleset: RuleSet, enterable: set[str]) -> None:
        self._items = todo_items(result, ruleset, enterable)
        self.clear_options()
        if result is not None and not self._items:
            self.add_option(Option(Text("Nothing left to collect.", "dim"), disabled=True))
        for item in self._items:
            label = Text()
            label.append(item.text)
            label.append(f"  {', '.join(item.criteria)}", "dim")
            label.append(f"  [{KEY_WORDS[item.action]}]", "bold cyan")
            grid = Table.grid(expand=True)
            grid.add_column(width=2, no_wrap=True)
            grid.add_column(ratio=1)
            grid.add_row(Text("☐", "bold yellow" if not item.person_only else "bold magenta"), label)
            self.add_option(Option(grid))
        self.border_subtitle = f"{len(self._items)} open · ⏎ collect" if self._items else ""
        if self._items:
            self.highlighted = 0  # enter on the list always does something

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._items):
            self.post_message(self.Picked(self._items[event.option_index]))
