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


# The portfolio screen (screener tui PATIENT --rules rules/): one row per trial. Enter on a trial
# shows its criteria (the main screen, whose ``p`` / esc comes back); facts entered here apply to
# every trial.
PORTFOLIO_COMMANDS: tuple[Command, ...] = (
    Command(
        "screener.portfolio.open-trial",
        "enter",
        "open_trial",
        "Open trial",
        "Show the chosen trial's criteria, explanations and to-do (p or esc comes back)",
    ),
    Command(
        "screener.edit-fact",
        "e",
        "edit_fact",
        "Edit fact",
        "Add or correct a fact of this patient: every trial is screened again with it",
    ),
    Command(
        "screener.todo",
        "t",
        "focus_todo",
        "To do",
        "Go to the to-do across trials, the item settling most trials first: enter collects it",
    ),
    Command("screener.date", "d", "change_date", "Date", "What-if: screen every trial on another date"),
    Command(
        "screener.save",
        "s",
        "save",
        "Save",
        "Save a screening record for every trial (facts, rule set, date, decision, operator, time)",
    ),
    Command(
        "screener.open",
        "o",
        "open_record",
        "Open",
        "Open a patient file (native YAML/JSON or FHIR Bundle) or an earlier screening record",
    ),
    Command("screener.help", "question_mark", "help", "Help", "List the keys and what the screen shows"),
    Command("screener.quit", "q", "quit", "Quit", "Quit (asks before losing unsaved edits)"),
)

# Added to the main screen when it shows one trial of a portfolio.
TRIAL_COMMANDS: tuple[Command, ...] = (
    Command(
        "screener.portfolio.back",
        "p",
        "show_portfolio",
        "Portfolio",
        "Back to the portfolio: every trial's decision and the to-do across trials (esc too)",
    ),
)


def bindings(commands: tuple[Command, ...] | None = None) -> list[Binding]:
    """Key bindings of a screen (default: the main screen's), each running the app's action."""
    return [
        Binding(
            c.key,
            f"app.{c.action}",
            c.label,
            key_display=c.key_display if c.key_display != c.key else None,
            tooltip=c.help,
            id=c.id,
        )
        for c in (COMMANDS if commands is None else commands)
        if c.key != "enter"  # enter belongs to the focused list (it chooses the row)
    ]
