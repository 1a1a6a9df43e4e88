"""Earlier screening records of a directory; choosing one opens it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from screener.tui.records import RecordListing, list_records

DECISION_STYLE = {"eligible": "green", "ineligible": "red", "incomplete": "yellow"}


class RecordsScreen(ModalScreen[Path | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Close")]

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.listings: list[RecordListing] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="records-dialog", classes="dialog"):
            yield Static(id="records-info", classes="dialog-text")
            yield DataTable(id="records-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#records-dialog").border_title = f"Screening records in {self.directory}/"
        self.query_one("#records-dialog").border_subtitle = "⏎ open · esc close"
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
                    r.patient_id,
                    r.as_of.isoformat(),
                    Text(r.decision, DECISION_STYLE.get(r.decision, "")),
                    r.operator,
                    listing.path.name,
                )
        info = self.query_one("#records-info", Static)
        bad = [x for x in self.listings if x.error]
        if not self.listings:
            info.update(Text(f"No screening records in {self.directory}/ yet (press s to save one).", "dim"))
        elif bad:
            info.update(Text(f"{len(bad)} file(s) cannot be read: {bad[0].error}", "red"))
        else:
            info.update(Text(f"{len(self.listings)} record(s), newest first.", "dim"))
        table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        listing = self.listings[event.cursor_row]
        if listing.record is None:
            self.notify(listing.error or "unreadable record", severity="error", title="Cannot open")
            return
        self.dismiss(listing.path)

    def action_cancel(self) -> None:
        self.dismiss(None)
