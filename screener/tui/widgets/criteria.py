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

    #: what each line shows (option id, or None for a heading; the texts it was made from)
    _shown: tuple[tuple[str | None, object], ...] = ()

    def show(self, result: ScreeningResult | None) -> None:
        current = self.selected_id
        if result is None:
            self._shown = ()
            self.clear_options()
            return
        lines: list[tuple[str | None, object, Text | Table]] = []  # (id, what it shows, prompt)
        for kind in ("inclusion", "exclusion"):
            items = [c for c in result.criteria if c.type == kind]
            if not items:
                continue
            open_ = sum(1 for c in items if c.outcome != "pass")
            heading = Text(f"{KIND_TITLES[kind]} ({len(items)})", "bold underline")
            if open_:
                heading.append(f"  {open_} open", "dim")
            lines.append((None, heading.plain, heading))
            lines += [(c.id, (c.outcome, c.title, c.person_only), criterion_label(c)) for c in items]
        shown = tuple((id_, what) for id_, what, _ in lines)
        before = self._shown
        if [i for i, _ in before] == [i for i, _ in shown]:
            # the same criteria (a new screening of the same rule set): replace only the lines
            # that changed, so the list and the frame are not rebuilt whole
            for index, ((_, old), (_, what, prompt)) in enumerate(zip(before, lines, strict=True)):
                if old != what:
                    self.replace_option_prompt_at_index(index, prompt)
        else:
            self.clear_options()
            self.add_options(  # one update of the list, not one per option
                [Option(prompt, id=id_, disabled=id_ is None) for id_, _, prompt in lines]
            )
        self._shown = shown
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
