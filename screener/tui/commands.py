"""The commands of the main screen: one table for keys, footer, help and command palette.

As in braindrop (``app/commands``), each command is declared once, with its key, its
footer label and its help text; :func:`bindings` makes the screen's key bindings from it,
the help screen lists it, and the app offers it in the command palette. Users may remap a
key through the binding's stable ``id`` (Textual keymaps).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Command:
    """One action of the main screen."""

    id: str  # stable, for keymaps
    key: str  # Textual key name
    action: str  # app action, without the ``action_`` prefix
    label: str  # footer and palette title
    help: str  # help screen, palette and tooltip

    @property
    def key_display(self) -> str:
        return {"question_mark": "?"}.get(self.key, self.key)


COMMANDS: tuple[Command, ...] = (
    Command(
        "screener.edit-fact",
        "e",
        "edit_fact",
        "Edit fact",
        "Add or correct a fact (lab, vital, score, yes/no status) of this patient, then screen again",
    ),
    Command(
        "screener.history",
        "h",
        "edit_history",
        "History",
        "Add, correct or remove a medication period or a condition, then screen again",
    ),
    Command(
        "screener.todo",
        "t",
        "focus_todo",
        "To do",
        "Go to the to-do list: enter on an item opens the form that collects it",
    ),
    Command("screener.date", "d", "change_date", "Date", "What-if: screen the same facts on another date"),
    Command(
        "screener.save",
        "s",
        "save",
        "Save",
        "Save a screening record (facts, rule set, date, decision, operator, time)",
    ),
    Command(
        "screener.open",
        "o",
        "open_record",
        "Open",
        "Open an earlier screening record or a patient file (native YAML/JSON or FHIR Bundle)",
    ),
    Command("screener.help", "question_mark", "help", "Help", "List the keys and what the screen shows"),
    Command("screener.quit", "q", "quit", "Quit", "Quit (asks before losing unsaved edits)"),
)


def bindings() -> list[Binding]:
    """The main screen's key bindings, each running the app's action of the same name."""
    return [
        Binding(
            c.key,
            f"app.{c.action}",
            c.label,
            key_display=c.key_display if c.key_display != c.key else None,
            tooltip=c.help,
            id=c.id,
        )
        for c in COMMANDS
    ]
