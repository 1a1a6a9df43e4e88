"""Open a screening record of the records directory, or a patient file by its path."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, Static

from screener.explain.words import safe
from screener.tui.records import RecordListing, list_records

DECISION_STYLE = {"eligible": "green", "ineligible": "red", "incomplete": "yellow"}


@dataclass(frozen=True)
class Opened:
    """What the nurse chose to open: a saved screening ``record`` or a ``patient`` file."""

    kind: str  # record | patient
    path: Path


class RecordsScreen(ModalScreen[Opened | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Close")]

    def __init__(self, directory: Path, *, cursor_blink: bool = True) -> None:
        super().__init__()
        self.directory = directory
        self.listings: list[RecordListing] = []
        self.cursor_blink = cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(id="records-dialog", classes="dialog"):
            with Horizontal(classes="row", id="open-file-row"):
                yield Label("Patient file", classes="field-label")
                field = Input(
                    id="open-file", placeholder="path to a YAML/JSON or FHIR Bundle file", compact=True
                )
                field.cursor_blink = self.cursor_blink
                yield field
            yield Static(id="open-file-error", classes="error")
            yield Static(id="records-info", classes="dialog-text")
            yield DataTable(id="records-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#records-dialog").border_title = f"Open: records in {self.directory}/ or a file"
        self.query_one("#records-dialog").border_subtitle = "⏎ open · tab switch · esc close"
        self.query_one("#open-file-error").display = False
        self.listings = list_records(self.directory)
        table = self.query_one("#records-table", DataTable)
        table.add_columns("Saved (UTC)", "Patient", "As of", "Decision", "Operator", "File")
        for listing in self.listings:
            r = listing.record
            if r is None:
                table.add_row("—", Text("unreadable", "red"), "", "", "", listing.path.name)
            else:
                table.add_row(
                    r.saved_at.strftime("%Y-%m-%d %H:%M"),
                    safe(r.patient_id),
                    r.as_of.isoformat(),
                    Text(r.decision, DECISION_STYLE.get(r.decision, "")),
                    safe(r.operator),
                    safe(listing.path.name),
                )
        info = self.query_one("#records-info", Static)
        bad = [x for x in self.listings if x.error]
        if not self.listings:
            info.update(
                Text(
                    f"No screening records in {self.directory}/ yet: type a patient file's path above.", "dim"
                )
            )
            self.query_one("#open-file", Input).focus()
            return
        elif bad:
            info.update(Text(f"{len(bad)} file(s) cannot be read: {safe(bad[0].error or '')}", "red"))
        else:
            info.update(Text(f"{len(self.listings)} record(s), newest first.", "dim"))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        listing = self.listings[event.cursor_row]
        if listing.record is None:
            self.notify(listing.error or "unreadable record", severity="error", title="Cannot open")
            return
        self.dismiss(Opened("record", listing.path))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#open-file-error").display = False

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#open-file-error", Static)
        path = Path(text).expanduser()
        problem = None
        if not text:
            problem = "type the path of a patient file"
        elif not path.exists():
            problem = f"{text}: no such file"
        elif not path.is_file():
            problem = f"{text}: not a file"
        if problem:
            error.update(Text(f"✘ {safe(problem)}"))
            error.display = True
            return
        self.dismiss(Opened("patient", path))

    def action_cancel(self) -> None:
        self.dismiss(None)
