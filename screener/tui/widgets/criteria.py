"""Criteria grouped Inclusion / Exclusion, each with its outcome in words; long titles wrap."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from screener.explain.words import KIND_TITLES, criterion_outcome, safe
from screener.results import CriterionResult, ScreeningResult

#: Icon and colour of an outcome *for eligibility*: a met inclusion and an exclusion that
#: does not apply are both good news (green), whatever the words say.
ICONS = {"pass": ("✔", "green"), "fail": ("✘", "red"), "unknown": ("?", "yellow")}


def criterion_text(c: CriterionResult) -> Text:
    """One line of text: icon, id, outcome in words, title."""
    icon, style = ICONS[c.outcome]
    label = Text()
    label.append(f"{icon} ", f"bold {style}")
    label.append(f"{c.id:<4} ", "bold")
    label.append(f"{criterion_outcome(c):<13}", style)
    label.append(safe(c.title))
    if c.person_only:
        label.append(" · person", "dim")
    return label


PREFIX_WIDTH = len("✔ E10  not excluded ")


def criterion_label(c: CriterionResult) -> Table:
    """The same as :func:`criterion_text`, with the title wrapping under itself."""
    text = criterion_text(c)
    grid = Table.grid(expand=True)
    grid.add_column(width=PREFIX_WIDTH, no_wrap=True)
    grid.add_column(ratio=1)
    grid.add_row(text[:PREFIX_WIDTH], text[PREFIX_WIDTH:])
    return grid


class CriteriaList(OptionList):
    """Criterion ids are the option ids; the group headings are disabled options."""

    class Selected(Message):
        """The highlighted criterion changed."""

        def __init__(self, criterion_id: str) -> None:
            super().__init__()
            self.criterion_id = criterion_id

    def show(self, result: ScreeningResult | None) -> None:
        current = self.selected_id
        self.clear_options()
        if result is None:
            return
        for kind in ("inclusion", "exclusion"):
            items = [c for c in result.criteria if c.type == kind]
            if not items:
                continue
            open_ = sum(1 for c in items if c.outcome != "pass")
            heading = Text(f"{KIND_TITLES[kind]} ({len(items)})", "bold underline")
            if open_:
                heading.append(f"  {open_} open", "dim")
            self.add_option(Option(heading, disabled=True))
            for c in items:
                self.add_option(Option(criterion_label(c), id=c.id))
        if not (current and self.select_criterion(current)) and result.criteria:
            self.select_criterion(result.criteria[0].id)

    @property
    def selected_id(self) -> str | None:
        option = self.highlighted_option
        return option.id if option is not None else None

    def select_criterion(self, criterion_id: str) -> bool:
        try:
            self.highlighted = self.get_option_index(criterion_id)
        except OptionDoesNotExist:
            return False
        return True

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Selected(event.option.id))

    class Chosen(Message):
        """Enter on a criterion: collect what it waits for."""

        def __init__(self, criterion_id: str) -> None:
            super().__init__()
            self.criterion_id = criterion_id

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(event.option.id))
