"""Modal form to add, correct or remove a medication period or a condition of the history."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from screener.errors import PatientDataError
from screener.explain.words import safe
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet
from screener.tui.editing import FactInputError
from screener.tui.history import (
    KINDS,
    SECTIONS,
    HistoryField,
    apply_history,
    history_fields,
    parse_history,
    record_title,
    remove_history,
    replace_history,
    typed_from_record,
)
from screener.yamlio import LineMap

NEW = "new"


@dataclass(frozen=True)
class HistoryEditResult:
    """An accepted change: the patient rebuilt from the new raw mapping."""

    patient: Patient
    description: str


def entry_key(kind: str, index: int | None) -> str:
    """``"medication:2"`` for a recorded entry, ``"new:medication"`` for a new one."""
    return f"{NEW}:{kind}" if index is None else f"{kind}:{index}"


class HistoryForm(ModalScreen[HistoryEditResult | None]):
    """Add a medication period or a condition, or correct or remove a recorded one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save record"),
        # priority: inside an input ctrl+d would delete a character (the delete key still does)
        Binding("ctrl+d", "remove", "Remove record", priority=True),
    ]

    def __init__(
        self,
        ruleset: RuleSet,
        raw: dict[str, Any],
        *,
        patient_file: str,
        as_of: date,
        entry: str | None = None,
        focus: tuple[str, ...] = (),
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.base_fields = {kind: history_fields(ruleset, kind) for kind in KINDS}
        self.raw = raw
        self.patient_file = patient_file
        self.as_of = as_of
        self.cursor_blink = cursor_blink
        self.entries = self._entries()
        self.initial = entry if entry in dict(self.entries) else entry_key(KINDS[0], None)
        self._confirm_remove = False
        self.focus_fields = focus  # the fields the to-do asks for, focused first

    def _entries(self) -> list[tuple[str, str]]:
        """(key, label) of the choices: new records first, then every recorded one."""
        entries = [(entry_key(kind, None), f"new {kind}") for kind in KINDS]
        for kind in KINDS:
            for i, record in enumerate(self.raw.get(SECTIONS[kind], [])):
                if isinstance(record, dict):
                    entries.append((entry_key(kind, i), f"correct {safe(record_title(kind, record))}"))
        return entries

    # ------------------------------------------------------------------ the chosen entry

    @property
    def entry(self) -> str:
        value = self.query_one("#history-entry", Select).value
        return value if isinstance(value, str) else self.initial

    @property
    def kind(self) -> str:
        head, tail = self.entry.split(":", 1)
        return tail if head == NEW else head

    @property
    def index(self) -> int | None:
        head, tail = self.entry.split(":", 1)
        return None if head == NEW else int(tail)

    def _recorded(self) -> dict[str, Any] | None:
        index = self.index
        return None if index is None else self.raw[SECTIONS[self.kind]][index]

    def fields(self) -> tuple[HistoryField, ...]:
        """The form's fields; choices also hold the values of the record being corrected."""
        recorded = self._recorded() or {}
        fields = []
        for f in self.base_fields[self.kind]:
            value = recorded.get(f.name)
            if f.type == "choice" and isinstance(value, str) and value not in f.choices:
                f = replace(f, choices=(*f.choices, value))
            fields.append(f)
        return tuple(fields)

    # ------------------------------------------------------------------ layout

    def _widget(self, kind: str, f: HistoryField) -> Input | Select[str]:
        wid = f"{kind}-{f.name}"
        if f.choices:
            return Select([(c, c) for c in f.choices], id=wid, prompt=f.label.lower(), compact=True)
        placeholder = {"date": "YYYY-MM-DD", "dates": "YYYY-MM-DD, YYYY-MM-DD", "number": "a number"}
        field = Input(id=wid, placeholder=f.hint or placeholder.get(f.type, ""), compact=True)
        field.cursor_blink = self.cursor_blink
        return field

    def compose(self) -> ComposeResult:
        with Vertical(id="history-dialog"):
            with Horizontal(classes="row"):
                yield Label("Record", classes="field-label")
                yield Select(
                    [(label, key) for key, label in self.entries],
                    id="history-entry",
                    value=self.initial,
                    allow_blank=False,
                    compact=True,
                )
            with VerticalScroll(id="history-fields"):
                for kind, fields in self.base_fields.items():
                    for f in fields:
                        with Horizontal(classes=f"row tight {kind}-row"):
                            yield Label(f.label + (" *" if f.required else ""), classes="field-label")
                            yield self._widget(kind, f)
            yield Static(id="history-error", classes="error")
            with Horizontal(id="form-buttons"):
                yield Button("Save  ^s", id="save", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)
                yield Button("Remove  ^d", id="remove", variant="error", compact=True)

    def on_mount(self) -> None:
        self.query_one(
            "#history-dialog"
        ).border_subtitle = f"as of {self.as_of.isoformat()} · ⏎ next field · ^s save"
        self._show_entry()
        if self.index is None:
            self.query_one("#history-entry", Select).focus()
        else:
            self._focus_first_empty()

    def _focus_first_empty(self) -> None:
        """On a record to complete, the first field the to-do asks for, else the first field
        without a value, else the first field."""
        names = {f.name for f in self.base_fields[self.kind]}
        for name in self.focus_fields:
            if name in names:
                self.query_one(f"#{self.kind}-{name}").focus()
                return
        first = None
        for f in self.base_fields[self.kind]:
            widget = self.query_one(f"#{self.kind}-{f.name}")
            first = first or widget
            value = widget.value if isinstance(widget, Input | Select) else None
            if not isinstance(value, str) or not value:
                widget.focus()
                return
        if first is not None:
            first.focus()

    def _show_entry(self) -> None:
        kind, recorded = self.kind, self._recorded()
        for k in KINDS:
            for row in self.query(f".{k}-row"):
                row.display = k == kind
        typed = typed_from_record(self.fields(), recorded) if recorded else {}
        for f in self.fields():
            widget = self.query_one(f"#{kind}-{f.name}")
            value = typed.get(f.name, "")
            if isinstance(widget, Select):
                widget.set_options([(c, c) for c in f.choices])
                widget.value = value if value in f.choices else Select.NULL
            elif isinstance(widget, Input):
                widget.value = value
        dialog = self.query_one("#history-dialog")
        if recorded is None:
            dialog.border_title = f"Add a {kind} to the history"
        else:
            dialog.border_title = f"Correct or remove: {safe(record_title(kind, recorded))}"
        self.query_one("#remove", Button).display = recorded is not None
        self._confirm_remove = False
        self._show_error("")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "history-entry":
            event.stop()
            self._show_entry()
        else:
            self._show_error("")  # a corrected field clears the old message

    def on_input_changed(self, event: Input.Changed) -> None:
        self._confirm_remove = False
        self._show_error("")

    def _show_error(self, message: str) -> None:
        error = self.query_one("#history-error", Static)
        error.update(Text(f"✘ {message}") if message else "")
        error.display = bool(message)

    def _typed(self) -> dict[str, str]:
        typed: dict[str, str] = {}
        for f in self.base_fields[self.kind]:
            widget = self.query_one(f"#{self.kind}-{f.name}")
            value = widget.value if isinstance(widget, Input | Select) else None
            typed[f.name] = value if isinstance(value, str) else ""
        return typed

    # ------------------------------------------------------------------ actions

    def _rebuild(self, raw: dict[str, Any], description: str) -> None:
        try:
            patient = patient_from_data(raw, LineMap(self.patient_file, {}))
        except PatientDataError as error:  # the record as a whole: nothing is lost
            self._show_error(error.message)
            return
        self.dismiss(HistoryEditResult(patient, description))

    def action_submit(self) -> None:
        kind, index, fields = self.kind, self.index, self.fields()
        try:
            record = parse_history(fields, self._typed(), self.as_of)
        except FactInputError as problem:
            self._show_error("; ".join(f"{k}: {v}" for k, v in problem.errors.items()))
            return
        if index is None:
            raw, description = apply_history(self.raw, kind, record)
        else:
            raw, description = replace_history(self.raw, kind, index, record, fields)
        self._rebuild(raw, description)

    def action_remove(self) -> None:
        index = self.index
        if index is None:
            return
        if not self._confirm_remove:
            self._confirm_remove = True
            title = record_title(self.kind, self.raw[SECTIONS[self.kind]][index])
            self._show_error(f"remove {safe(title)}? press Remove (ctrl+d) again to confirm")
            return
        raw, description = remove_history(self.raw, self.kind, index)
        self._rebuild(raw, description)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_submit()
        elif event.button.id == "remove":
            self.action_remove()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter goes to the next field: a form of ten fields is saved with ctrl+s only, so
        that a stray Enter never saves a half-typed record."""
        event.stop()
        self.focus_next()

    def action_cancel(self) -> None:
        self.dismiss(None)
