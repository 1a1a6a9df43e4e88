"""Modal form to add a medication period or a condition to the patient's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from screener.errors import PatientDataError
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet
from screener.tui.editing import FactInputError
from screener.tui.history import KINDS, HistoryField, apply_history, history_fields, parse_history
from screener.yamlio import LineMap


@dataclass(frozen=True)
class HistoryEditResult:
    """An accepted record: the patient rebuilt from the new raw mapping."""

    patient: Patient
    description: str


class HistoryForm(ModalScreen[HistoryEditResult | None]):
    """Add a medication period (drug, dose, dates, outcome) or a condition."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save record"),
    ]

    def __init__(
        self,
        ruleset: RuleSet,
        raw: dict[str, Any],
        *,
        patient_file: str,
        as_of: date,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.fields = {kind: history_fields(ruleset, kind) for kind in KINDS}
        self.raw = raw
        self.patient_file = patient_file
        self.as_of = as_of
        self.cursor_blink = cursor_blink

    @property
    def kind(self) -> str:
        value = self.query_one("#history-kind", Select).value
        return value if isinstance(value, str) else KINDS[0]

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
                yield Select([(k, k) for k in KINDS], id="history-kind", value=KINDS[0], compact=True)
            with VerticalScroll(id="history-fields"):
                for kind, fields in self.fields.items():
                    for f in fields:
                        with Horizontal(classes=f"row tight {kind}-row"):
                            yield Label(f.label + (" *" if f.required else ""), classes="field-label")
                            yield self._widget(kind, f)
            yield Static(id="history-error", classes="error")
            with Horizontal(id="form-buttons"):
                yield Button("Save  ^s", id="save", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#history-dialog").border_title = "Add to the history"
        self.query_one("#history-dialog").border_subtitle = f"as of {self.as_of.isoformat()}"
        self._show_kind()
        self.query_one("#history-kind", Select).focus()

    def _show_kind(self) -> None:
        for kind in KINDS:
            for row in self.query(f".{kind}-row"):
                row.display = kind == self.kind
        self._show_error("")

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "history-kind":
            event.stop()
            self._show_kind()

    def _show_error(self, message: str) -> None:
        error = self.query_one("#history-error", Static)
        error.update(Text(f"✘ {message}") if message else "")
        error.display = bool(message)

    def _typed(self) -> dict[str, str]:
        typed: dict[str, str] = {}
        for f in self.fields[self.kind]:
            widget = self.query_one(f"#{self.kind}-{f.name}")
            value = widget.value if isinstance(widget, Input | Select) else None
            typed[f.name] = value if isinstance(value, str) else ""
        return typed

    def action_submit(self) -> None:
        kind = self.kind
        try:
            record = parse_history(self.fields[kind], self._typed(), self.as_of)
            raw, description = apply_history(self.raw, kind, record)
            patient = patient_from_data(raw, LineMap(self.patient_file, {}))
        except FactInputError as problem:
            self._show_error("; ".join(f"{k}: {v}" for k, v in problem.errors.items()))
            return
        except PatientDataError as error:  # the record as a whole: nothing is lost
            self._show_error(error.message)
            return
        self.dismiss(HistoryEditResult(patient, description))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_submit()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def action_cancel(self) -> None:
        self.dismiss(None)
