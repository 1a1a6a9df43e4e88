"""Small modal dialogs: screening date, operator for saving, unsaved changes."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static


class _OneFieldDialog(ModalScreen[Any]):
    """A dialog with one input: enter or OK submits, escape or Cancel dismisses with None."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def _submit(self) -> None:
        raise NotImplementedError

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class AsOfForm(_OneFieldDialog):
    """What-if: screen the same facts on another date; returns the date or None."""

    def __init__(self, current: date, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.current = current
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id="date-dialog", classes="dialog"):
            yield Static("Screen the same facts on another date (what-if).", classes="dialog-text")
            with Horizontal(classes="row"):
                yield Label("As of", classes="field-label")
                field = Input(
                    value=self.current.isoformat(), id="as-of", placeholder="YYYY-MM-DD", compact=True
                )
                field.cursor_blink = self.cursor_blink
                yield field
            yield Static(id="as-of-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Screen  ⏎", id="ok", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#date-dialog").border_title = "Screening date"
        self.query_one("#as-of-error").display = False
        self.query_one("#as-of", Input).focus()

    def _submit(self) -> None:
        text = self.query_one("#as-of", Input).value.strip()
        try:
            when = date.fromisoformat(text)
        except ValueError:
            error = self.query_one("#as-of-error", Static)
            error.update(Text(f"✘ not a date (YYYY-MM-DD): {text!r}"))
            error.display = True
            return
        self.dismiss(when)


class SaveForm(_OneFieldDialog):
    """Who saves the record (the operator); returns the operator's name or None."""

    def __init__(self, operator: str, directory: str, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.operator = operator
        self.directory = directory
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog", classes="dialog"):
            yield Static(f"Save a screening record in {self.directory}/", classes="dialog-text")
            with Horizontal(classes="row"):
                yield Label("Operator", classes="field-label")
                field = Input(value=self.operator, id="operator", placeholder="your name", compact=True)
                field.cursor_blink = self.cursor_blink
                yield field
            yield Static(id="operator-error", classes="error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save  ⏎", id="ok", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#save-dialog").border_title = "Save screening record"
        self.query_one("#operator-error").display = False
        self.query_one("#operator", Input).focus()

    def _submit(self) -> None:
        name = self.query_one("#operator", Input).value.strip()
        if not name:
            error = self.query_one("#operator-error", Static)
            error.update(Text("✘ the record needs the operator's name"))
            error.display = True
            return
        self.dismiss(name)


class UnsavedChanges(ModalScreen[str]):
    """Edits are not saved: returns "save", "discard" or "cancel"."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('save')", "Save"),
        Binding("d", "choose('discard')", "Discard"),
        Binding("escape,c", "choose('cancel')", "Cancel"),
    ]

    def __init__(self, what: str = "continue") -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical(id="unsaved-dialog", classes="dialog"):
            yield Static(
                "The facts were edited and the screening is not saved.\n"
                f"Save a record before you {self.what}?",
                classes="dialog-text",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (s)", id="save", variant="primary", compact=True)
                yield Button("Discard (d)", id="discard", variant="error", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#unsaved-dialog").border_title = "Unsaved changes"
        self.query_one("#save", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id or "cancel")

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)


class Confirm(ModalScreen[bool]):
    """A yes/no question: returns True for "yes", False for "no" or escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "choose(True)", "Yes"),
        Binding("n,escape", "choose(False)", "No"),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(Text(self.question), classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.yes} (y)", id="yes", variant="primary", compact=True)
                yield Button(f"{self.no} (n)", id="no", compact=True)

    def on_mount(self) -> None:
        self.query_one("#confirm-dialog").border_title = self.title_text
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_choose(self, choice: bool) -> None:
        self.dismiss(choice)
