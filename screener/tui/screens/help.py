"""Key bindings and what the screens show."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from screener.tui.screens.main import MAIN_BINDINGS

OTHER_KEYS = (
    ("tab / shift+tab", "next / previous pane"),
    ("↑ ↓  enter", "choose; on a to-do item: enter that fact"),
    ("ctrl+p", "command palette (actions by name)"),
    ("ctrl+s", "in the fact form: save the fact"),
    ("esc", "close a dialog without changing anything"),
)


def help_text() -> Text:
    """Every key of the main screen, then the keys of lists and dialogs."""
    text = Text()
    text.append(f"{'Key':<16}Action\n", "bold underline")
    rows = [("?" if key == "question_mark" else key, label) for key, _action, label in MAIN_BINDINGS]
    for key, label in [*rows, *OTHER_KEYS]:
        text.append(f"{key:<16}", "bold")
        text.append(f"{label}\n")
    return text


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-dialog", classes="dialog"):
            yield Static(help_text(), id="help-keys")
            yield Static(
                Text(
                    "\nIcons: ✔ criterion met, ✘ not met, ? unknown (facts missing).\n"
                    "Edits change the facts of this screening only; save a record (s) to keep them. "
                    "The decision is always the engine's: this screen only shows it.",
                    "dim",
                )
            )

    def on_mount(self) -> None:
        self.query_one("#help-dialog").border_title = "Help"
        self.query_one("#help-dialog").border_subtitle = "esc close"

    def action_close(self) -> None:
        self.dismiss(None)
