"""Key bindings and what the screens show (from the command table)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from screener.tui.commands import COMMANDS, PORTFOLIO_COMMANDS, TRIAL_COMMANDS

OTHER_KEYS = (
    ("tab / shift+tab", "next / previous pane"),
    ("↑ ↓  enter", "choose; on a to-do item or an open criterion: open the form that collects it"),
    ("ctrl+p", "command palette (actions by name)"),
    ("ctrl+s", "in a form: save"),
    ("esc", "close a dialog without changing anything"),
)

LEGEND = (
    "\nOutcomes are said for eligibility:\n"
    "  ✔ met            an inclusion criterion is satisfied\n"
    "  ✘ not met        an inclusion criterion is not satisfied: not eligible\n"
    "  ✔ not excluded   an exclusion criterion does not apply\n"
    "  ✘ excluded       an exclusion criterion applies: not eligible\n"
    "  ? unknown        facts are missing (see the to-do) or a person must confirm\n\n"
    "Edits change the facts of this screening only; save a record (s) to keep them. "
    "The decision is always the engine's: this screen only shows it."
)


def help_text() -> Text:
    """Every key of the main screen, then the keys of lists and dialogs."""
    text = Text()
    text.append(f"{'Key':<16}Action\n", "bold underline")
    for command in COMMANDS:
        text.append(f"{command.key_display:<16}", "bold")
        text.append(f"{command.label}: {command.help}\n")
    text.append("\nOn the portfolio (a folder of rule sets)\n", "bold underline")
    for command in (*PORTFOLIO_COMMANDS, *TRIAL_COMMANDS):
        if command.action in ("help", "quit"):
            continue
        text.append(f"{command.key_display:<16}", "bold")
        text.append(f"{command.label}: {command.help}\n")
    text.append("\n")
    for key, label in OTHER_KEYS:
        text.append(f"{key:<16}", "bold")
        text.append(f"{label}\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(help_text(), id="help-keys")
            yield Static(Text(LEGEND, "dim"), id="help-legend")

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Help"
        self.query_one("#help-dialog").border_subtitle = "esc close"

    def action_close(self) -> None:
        self.dismiss(None)
