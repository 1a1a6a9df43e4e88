"""The portfolio's widgets: its banner, one row per trial, and the to-do across trials.

They only show a :class:`~screener.portfolio.results.PortfolioResult` (the portfolio core
decides, sorts and counts); the rows and the to-do keep the core's order.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable, OptionList, Static
from textual.widgets.option_list import Option

from screener.explain.words import safe
from screener.portfolio.load import BrokenRuleSet
from screener.portfolio.results import CollectItem, PortfolioResult, TrialResult
from screener.tui.widgets.banner import DECISION_STYLE

WHEN_WORDS = {
    "now": "eligible now",
    "from_date": "eligible from",
    "incomplete": "facts to collect",
    "ineligible": "not eligible",
}
KEY_WORDS = {"fact": "e", "record": "open trial", "history": "open trial", "review": "open trial"}


def when_text(t: TrialResult) -> str:
    """How soon, in words: ``eligible from 2027-01-10``, ``facts to collect (from 2027-02-01)``."""
    if t.when == "from_date" and t.eligible_from is not None:
        return f"eligible from {t.eligible_from.isoformat()}"
    if t.when == "incomplete" and t.possible_from is not None:
        return f"facts to collect (then from {t.possible_from.isoformat()})"
    return WHEN_WORDS[t.when]


def ids(found: Iterable[str], most: int = 4) -> str:
    """Criterion ids for a table cell: the first ``most``, then how many more."""
    items = list(found)
    shown = ", ".join(items[:most])
    return shown + (f" +{len(items) - most}" if len(items) > most else "")


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class PortfolioBanner(Static):
    """Two lines: patient, date and how many trials the patient could enter; the next fact."""

    def show(
        self,
        result: PortfolioResult | None,
        *,
        patient_id: str | None,
        trials: int,
        as_of: str,
        today: str,
        busy: bool = False,
        dirty: bool = False,
        origin: str = "",
    ) -> None:
        line = Text()
        line.append(" PORTFOLIO ", "bold reverse")
        line.append(f"  {safe(patient_id) if patient_id else 'no patient'}", "bold")
        line.append(f"  as of {as_of}")
        if as_of != today:
            line.append(" (what-if date)", "bold magenta")
        if result is not None:
            could = len(result.could_enter)
            line.append(f"  could enter {could} of {trials} trials", "bold")
        if busy:
            line.append("  screening…", "italic")
        if dirty:
            line.append("  ● unsaved edits", "bold magenta")
        second = Text()
        if result is not None and result.next_fact is not None:
            item = result.next_fact
            second.append("Next: ", "bold")
            second.append(safe(item.text))
            settles = f"settles {len(item.settles)}" if item.settles else "settles none alone"
            second.append(f"  ({settles}, needed by {len(item.trials)} of the open trials)", "dim")
        elif result is not None:
            second.append("Nothing to collect: no open trial waits for a fact.", "dim")
        elif patient_id is None:
            second.append("Press o to open a patient file or a screening record.", "dim")
        if origin:
            second.append(f"  ·  {safe(origin)}", "dim")
        self.update(Text("\n").join([line, second]))


class TrialTable(DataTable[Text]):
    """One row per trial, soonest first; broken rule sets last, with why they were not screened."""

    COLUMNS = ("Trial", "Decision", "When", "Failing", "Unknown", "Title")

    class Chosen(Message):
        """Enter on a trial's row: show its criteria."""

        def __init__(self, trial: str) -> None:
            super().__init__()
            self.trial = trial

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.trials: list[str] = []

    def show(
        self, result: PortfolioResult | None, titles: dict[str, str], broken: tuple[BrokenRuleSet, ...]
    ) -> None:
        selected = (
            self.trials[self.cursor_row] if self.trials and 0 <= self.cursor_row < len(self.trials) else None
        )
        rows: list[tuple[str, tuple[Text, ...]]] = []
        for t in result.trials if result is not None else ():
            failing = ids(c.id for c in t.failing)
            unknown = ids(c.id for c in t.unknown)
            cells = (
                Text(safe(t.trial), "bold"),
                Text(f" {t.decision} ", DECISION_STYLE[t.decision]),
                Text(when_text(t)),
                Text(f"{len(t.failing)}" + (f" {failing}" if failing else ""), "red" if t.failing else "dim"),
                Text(
                    f"{len(t.unknown)}" + (f" {unknown}" if unknown else ""), "yellow" if t.unknown else "dim"
                ),
                Text(shorten(safe(titles.get(t.trial, "")), 48), "dim"),
            )
            rows.append((t.trial, cells))
        for b in broken:
            cells = (
                Text(safe(b.folder), "bold"),
                Text(" not screened ", "bold white on red"),
                Text(shorten(safe(b.error), 120)),
                Text(""),
                Text(""),
                Text(""),
            )
            rows.append((f"broken:{b.folder}", cells))
        # explicit widths: auto-sized columns are drawn once at their label's width
        widths = [len(c) for c in self.COLUMNS]
        for _key, cells in rows:
            widths = [max(w, c.cell_len) for w, c in zip(widths, cells, strict=True)]
        self.clear(columns=True)
        for column, width in zip(self.COLUMNS, widths, strict=True):
            self.add_column(column, key=column.lower(), width=width)
        self.trials = []
        for key, cells in rows:
            self.add_row(*cells, key=key)
            if not key.startswith("broken:"):
                self.trials.append(key)
        if selected in self.trials:
            self.move_cursor(row=self.trials.index(selected))
        self.border_subtitle = "⏎ criteria of the trial" if self.trials else ""

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if 0 <= event.cursor_row < len(self.trials):
            self.post_message(self.Chosen(self.trials[event.cursor_row]))


class PortfolioTodo(OptionList):
    """The to-do across trials, the item settling most trials first; enter collects it."""

    class Picked(Message):
        def __init__(self, item: CollectItem) -> None:
            super().__init__()
            self.item = item

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._items: list[CollectItem] = []

    @property
    def items(self) -> list[CollectItem]:
        return list(self._items)

    def show(self, result: PortfolioResult | None) -> None:
        self._items = list(result.todo) if result is not None else []
        self.clear_options()
        if result is not None and not self._items:
            self.add_option(Option(Text("Nothing left to collect for any open trial.", "dim"), disabled=True))
        for item in self._items:
            label = Text()
            label.append(safe(item.text))
            settles = f"settles {', '.join(item.settles)}" if item.settles else ""
            waiting = f"for {', '.join(item.trials)}"
            label.append(f"  {settles + ' · ' if settles else ''}{waiting}", "dim")
            label.append(f"  [{KEY_WORDS[item.action]}]", "bold cyan")
            grid = Table.grid(expand=True)
            grid.add_column(width=2, no_wrap=True)
            grid.add_column(ratio=1)
            grid.add_row(Text("☐", "bold yellow" if not item.person_only else "bold magenta"), label)
            self.add_option(Option(grid))
        self.border_subtitle = f"{len(self._items)} open · ⏎ collect" if self._items else ""
        if self._items and self.highlighted is None:
            self.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._items):
            self.post_message(self.Picked(self._items[event.option_index]))
