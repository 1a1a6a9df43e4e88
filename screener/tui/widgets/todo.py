"""What is left to do before a decision: facts to collect, checks only a person can make."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from screener.results import ScreeningResult


@dataclass(frozen=True)
class TodoItem:
    text: str
    criteria: tuple[str, ...]
    fact: str | None  # the rule-set fact to enter, when the item names one
    person_only: bool = False


def missing_fact_name(missing: str) -> str:
    """``"creatinine (Serum creatinine ...)"`` -> ``"creatinine"``."""
    return missing.split(" (", 1)[0].split(":", 1)[0].strip()


def todo_items(result: ScreeningResult | None, facts: set[str]) -> list[TodoItem]:
    """Missing facts of unknown criteria (merged across criteria), then person-only checks."""
    if result is None:
        return []
    merged: dict[str, list[str]] = {}
    person: list[TodoItem] = []
    for c in result.unknown:
        for m in c.missing:
            merged.setdefault(m, []).append(c.id)
        if c.person_only:
            person.append(TodoItem(f"confirm in person: {c.title}", (c.id,), None, True))
        elif not c.missing:
            person.append(TodoItem(f"review: {c.title}", (c.id,), None))
    items = []
    for text, ids in merged.items():
        name = missing_fact_name(text)
        items.append(TodoItem(text, tuple(ids), name if name in facts else None))
    return items + person


class TodoList(OptionList):
    """Selecting an item asks the app to enter that fact (or shows the criterion)."""

    class Picked(Message):
        def __init__(self, item: TodoItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._items: list[TodoItem] = []

    def show(self, result: ScreeningResult | None, facts: set[str]) -> None:
        self._items = todo_items(result, facts)
        self.clear_options()
        if result is not None and not self._items:
            self.add_option(Option(Text("Nothing left to collect.", "dim"), disabled=True))
        for item in self._items:
            label = Text()
            label.append("☐ ", "bold yellow" if not item.person_only else "bold magenta")
            label.append(item.text)
            label.append(f"  {', '.join(item.criteria)}", "dim")
            self.add_option(Option(label))
        self.border_subtitle = f"{len(self._items)} open" if self._items else ""

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._items):
            self.post_message(self.Picked(self._items[event.option_index]))
