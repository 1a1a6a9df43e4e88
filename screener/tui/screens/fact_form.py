"""Modal form to add or correct one fact, with inline validation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from screener.errors import PatientDataError
from screener.explain.words import human_unit, safe
from screener.model.patient import Patient, patient_from_data
from screener.tui.editing import FactEntry, FactInputError, FormSpec, apply_fact, current_value, parse_fact
from screener.yamlio import LineMap

ERROR_FIELDS = ("fact", "value", "unit", "date", "form")
SOURCE_HINTS = {
    "observation": "e.g. lab report 26-88412",
    "assessment": "e.g. consultation 2026-11-20",
    "status": "e.g. consent form, clinic note 2026-11-20",
    "demographic": "e.g. hospital admission record",
}
#: which error line an input's correction clears
INPUT_ERRORS = {"value": "value", "value-choice": "value", "unit": "unit", "date": "date"}


def unit_options(codes: tuple[str, ...]) -> list[tuple[Text, str]]:
    """The unit choices as a clinician writes them (``mmHg``, ``x10^9/L``), one per spelling
    shown; the value kept is the accepted code. Text, so ``mm[Hg]`` is not read as markup."""
    seen: set[str] = set()
    options = []
    for code in codes:
        label = human_unit(code) or code
        if label.lower() in seen:
            continue
        seen.add(label.lower())
        options.append((Text(label), code))
    return options


def unit_option(codes: tuple[str, ...], recorded: object) -> str | None:
    """The option of :func:`unit_options` that shows ``recorded`` (``mmHg`` -> ``mm[Hg]``)."""
    if not isinstance(recorded, str) or recorded not in codes:
        return None
    label = (human_unit(recorded) or recorded).lower()
    return next(code for _, code in unit_options(codes) if (human_unit(code) or code).lower() == label)


@dataclass(frozen=True)
class FactEditResult:
    """An accepted edit: the fact, the new raw record and the patient rebuilt from it."""

    entry: FactEntry
    raw: dict[str, Any]
    patient: Patient
    description: str


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


class FactForm(ModalScreen[FactEditResult | None]):
    """Choose a fact of the rule set's vocabulary and type its value, unit and date."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Save fact"),
        Binding("ctrl+r", "use_recorded", "Correct the recorded value"),
    ]

    def __init__(
        self,
        specs: list[FormSpec],
        raw: dict[str, Any],
        *,
        patient_file: str,
        as_of: date,
        initial: str | None = None,
        cursor_blink: bool = True,
    ) -> None:
        super().__init__()
        self.specs = {s.name: s for s in specs}
        self.raw = raw
        self.patient_file = patient_file
        self.as_of = as_of
        self.initial = initial if initial in self.specs else None
        self.cursor_blink = cursor_blink

    @property
    def spec(self) -> FormSpec | None:
        value = self.query_one("#fact-name", Select).value
        return self.specs.get(value) if isinstance(value, str) else None

    def _input(self, id: str, **kwargs: Any) -> Input:
        field = Input(id=id, compact=True, **kwargs)
        field.cursor_blink = self.cursor_blink
        return field

    def compose(self) -> ComposeResult:
        options = [(f"{s.name} — {s.label}", s.name) for s in self.specs.values()]
        with Vertical(id="fact-dialog"):
            with Horizontal(classes="row"):
                yield Label("Fact", classes="field-label")
                yield Select(
                    options,
                    id="fact-name",
                    prompt="choose a fact",
                    compact=True,
                    value=self.initial if self.initial else Select.NULL,
                )
            yield Static(id="fact-error", classes="error")
            yield Static(id="fact-help")
            with Horizontal(classes="row"):
                yield Label("Value", classes="field-label")
                yield self._input("value", placeholder="value")
                yield Select([], id="value-choice", prompt="choose", compact=True)
            yield Static(id="value-error", classes="error")
            with Horizontal(classes="row", id="unit-row"):
                yield Label("Unit", classes="field-label")
                yield Select([], id="unit", prompt="unit", compact=True)
                yield Static(id="unit-fixed")
            yield Static(id="unit-error", classes="error")
            with Horizontal(classes="row", id="date-row"):
                yield Label("Date", classes="field-label")
                yield self._input("date", value=self.as_of.isoformat(), placeholder="YYYY-MM-DD")
            yield Static(id="date-error", classes="error")
            with Horizontal(classes="row"):
                yield Label("Source", classes="field-label")
                yield self._input("source", placeholder="e.g. lab report 26-88412")
            with Horizontal(classes="row", id="confirmed-row"):
                yield Label("Confirmed by", classes="field-label")
                yield self._input("confirmed-by", placeholder="who confirmed it")
            yield Static(id="form-error", classes="error")
            with Horizontal(id="form-buttons"):
                yield Button("Save  ^s", id="save", variant="primary", compact=True)
                yield Button("Cancel  esc", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#fact-dialog").border_title = "Add or correct a fact"
        self.query_one("#fact-dialog").border_subtitle = f"as of {self.as_of.isoformat()}"
        self._configure()
        if self.initial:
            self._focus_value()
        else:
            self.query_one("#fact-name", Select).focus()

    def _focus_value(self) -> None:
        spec = self.spec
        if spec is not None and spec.choices:
            self.query_one("#value-choice", Select).focus()
        else:
            self.query_one("#value", Input).focus()

    # ------------------------------------------------------------------ fields

    def _configure(self) -> None:
        spec = self.spec
        self._show_errors({})
        help_text = Text()
        value_input = self.query_one("#value", Input)
        choice = self.query_one("#value-choice", Select)
        unit = self.query_one("#unit", Select)
        unit_fixed = self.query_one("#unit-fixed", Static)
        if spec is None:
            help_text.append("Choose the fact to add or correct (type to search the list).", "dim")
            self.query_one("#fact-help", Static).update(help_text)
            choice.display = False
            self.query_one("#unit-row").display = False
            self.query_one("#confirmed-row").display = False
            return
        help_text.append(f"{spec.label}\n", "bold")
        help_text.append(f"{spec.kind} · {spec.type}", "dim")
        if spec.range_words():
            help_text.append(f" · {spec.range_words()}", "dim")
        elif human_unit(spec.unit):
            help_text.append(f" · in {human_unit(spec.unit)}", "dim")
        if spec.person_only:
            help_text.append(" · to be confirmed by a person", "magenta")
        if spec.thresholds:
            help_text.append(f"\nthe rule set reads it as: {'; '.join(spec.thresholds)}", "dim")
        latest = current_value(self.raw, spec)
        if latest is not None:
            shown = safe(_show_value(latest.get("value")))
            if latest.get("unit"):
                shown += f" {human_unit(str(latest['unit'])) or safe(str(latest['unit']))}"
            if latest.get("date"):
                shown += f" on {latest['date']}"
            help_text.append(f"\nrecorded: {shown}", "cyan")
            help_text.append("  (ctrl+r to correct it)", "dim")
        self.query_one("#fact-help", Static).update(help_text)

        if spec.choices:
            value_input.display = False
            choice.display = True
            choice.set_options([(c, c) for c in spec.choices])
        else:
            value_input.display = True
            choice.display = False
            value_input.placeholder = spec.hint

        unit_row = self.query_one("#unit-row")
        if spec.units:
            unit_row.display = True
            unit.display = True
            unit_fixed.display = False
            unit.set_options(unit_options(spec.units))
            recorded = latest.get("unit") if latest else None
            unit.value = unit_option(spec.units, recorded) or spec.units[0]
        elif spec.unit:
            unit_row.display = True
            unit.display = False
            unit_fixed.display = True
            unit_fixed.update(Text(human_unit(spec.unit) or spec.unit))
        else:
            unit_row.display = False
        self.query_one("#source", Input).placeholder = SOURCE_HINTS.get(spec.kind, "where it comes from")
        self.query_one("#date-row").display = spec.has_date
        self.query_one("#confirmed-row").display = spec.kind == "status"

    def action_use_recorded(self) -> None:
        """Fill the form with the latest recorded entry, so saving corrects it in place."""
        spec = self.spec
        latest = current_value(self.raw, spec) if spec is not None else None
        if spec is None or latest is None:
            self._show_errors({"form": "nothing recorded for this fact yet"})
            return
        value = latest.get("value")
        if spec.choices:
            shown = _show_value(value)
            if shown in spec.choices:
                self.query_one("#value-choice", Select).value = shown
        else:
            self.query_one("#value", Input).value = _show_value(value)
        chosen = unit_option(spec.units, latest.get("unit")) if spec.units else None
        if chosen is not None:
            self.query_one("#unit", Select).value = chosen
        if spec.has_date:
            self.query_one("#date", Input).value = latest.get("date") or ""
        self.query_one("#source", Input).value = latest.get("source") or ""
        self.query_one("#confirmed-by", Input).value = latest.get("confirmed_by") or ""
        self._focus_value()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.select.id == "fact-name":
            self._configure()
        else:
            self._clear_error(INPUT_ERRORS.get(event.select.id or "", "form"))

    def on_input_changed(self, event: Input.Changed) -> None:
        """A field being corrected loses its old error message (and the form-wide one)."""
        self._clear_error(INPUT_ERRORS.get(event.input.id or "", "form"))

    def _clear_error(self, name: str) -> None:
        for field in {name, "form"}:
            widget = self.query_one(f"#{field}-error", Static)
            if widget.display:
                widget.update("")
                widget.display = False

    def _show_errors(self, errors: dict[str, str]) -> None:
        for name in ERROR_FIELDS:
            widget = self.query_one(f"#{name}-error", Static)
            message = errors.get(name, "")
            widget.update(Text(f"✘ {message}") if message else "")
            widget.display = bool(message)

    # ------------------------------------------------------------------ actions

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self.action_submit()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        spec = self.spec
        if spec is None:
            self._show_errors({"fact": "choose a fact"})
            return
        if spec.choices:
            chosen = self.query_one("#value-choice", Select).value
            value = chosen if isinstance(chosen, str) else ""
        else:
            value = self.query_one("#value", Input).value
        unit_value = self.query_one("#unit", Select).value if spec.units else None
        try:
            entry = parse_fact(
                spec,
                value=value,
                unit=unit_value if isinstance(unit_value, str) else None,
                when=self.query_one("#date", Input).value if spec.has_date else "",
                as_of=self.as_of,
                source=self.query_one("#source", Input).value,
                confirmed_by=self.query_one("#confirmed-by", Input).value,
            )
        except FactInputError as problem:
            self._show_errors(problem.errors)
            return
        raw, description = apply_fact(self.raw, entry)
        try:
            patient = patient_from_data(raw, LineMap(self.patient_file, {}))
        except PatientDataError as error:
            # The record would be invalid: say why and keep the form (and the old record) as it is.
            self._show_errors({"form": str(error)})
            return
        self.dismiss(FactEditResult(entry, raw, patient, description))
