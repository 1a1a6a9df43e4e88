"""The screener TUI application and its factory :func:`make_app`."""

from __future__ import annotations

import getpass
import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.worker import get_current_worker

from screener.audit.trail import append_entry, canonical_json
from screener.engine.evaluate import Engine
from screener.errors import ScreenerError
from screener.explain.words import safe
from screener.importers import load_patient_file
from screener.importers.mapping import Mapping
from screener.importers.mapping_union import mapping_for_rules
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet, load_ruleset
from screener.results import ScreeningResult
from screener.tui.commands import COMMANDS
from screener.tui.editing import FormSpec, editable_facts, form_spec
from screener.tui.messages import AddRecord, EditRecord, EnterFact
from screener.tui.records import DEFAULT_RECORDS_DIR, load_record, save_record
from screener.tui.screens.dialogs import AsOfForm, Confirm, SaveForm, UnsavedChanges
from screener.tui.screens.fact_form import FactEditResult, FactForm
from screener.tui.screens.help import HelpScreen
from screener.tui.screens.history_form import HistoryEditResult, HistoryForm, entry_key
from screener.tui.screens.main import MainScreen
from screener.tui.screens.records import Opened, RecordsScreen
from screener.yamlio import LineMap


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in this environment
        return ""


class ScreenerApp(App[None]):
    """One patient's screening: show it, edit facts, re-screen, save and reopen records."""

    CSS_PATH = "app.tcss"
    TITLE = "screener"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+q", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        ruleset: RuleSet,
        patient: Patient | None,
        as_of: date,
        *,
        records_dir: Path = DEFAULT_RECORDS_DIR,
        operator: str | None = None,
        cursor_blink: bool = True,
        today: date | None = None,
        engine: Engine | None = None,
        mapping: Mapping | Callable[[], Mapping] | None = None,
    ) -> None:
        super().__init__()
        #: the real date; a screening date other than this one is a what-if
        self.today = today or date.today()
        self.ruleset = ruleset
        # compiled once, reused for every screening, closed on exit
        self.engine = engine if engine is not None else Engine(ruleset)
        #: the code mapping of FHIR files opened from inside (None: the default mapping), or
        #: the function that builds it when first needed
        self.mapping = mapping
        self.patient = patient
        self.as_of = as_of
        self.records_dir = Path(records_dir)
        #: every saved record is also appended to this hash-chained audit trail
        self.audit_log = Path(os.environ.get("SCREENER_AUDIT_LOG") or self.records_dir / "audit.jsonl")
        self.operator = _default_operator() if operator is None else operator
        self.cursor_blink = cursor_blink
        self.result: ScreeningResult | None = None
        self.busy = False
        self.dirty = False
        self.origin = f"file {Path(patient.file).name}" if patient is not None else ""
        self.last_record: Path | None = None
        self.specs: list[FormSpec] = [form_spec(f, ruleset) for f in editable_facts(ruleset)]
        self._closed = False
        self._engine_lock = threading.Lock()  # a screening and closing the engine never overlap

    @property
    def editable_fact_names(self) -> list[str]:
        return [s.name for s in self.specs]

    # ------------------------------------------------------------------ lifecycle

    def on_mount(self) -> None:
        self.push_screen(self._first_screen())
        if self.patient is not None:
            self.rescreen()

    def _first_screen(self) -> Screen[None]:
        """The screen the app opens on (the portfolio app opens on the portfolio)."""
        return MainScreen()

    def on_unmount(self) -> None:
        self.close_engine()

    def close_engine(self) -> None:
        with self._engine_lock:  # waits for a screening still running in its thread
            if not self._closed:
                self._closed = True
                self.engine.close()

    def _main(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    def refresh_main(self) -> None:
        main = self._main()
        if main is not None and main.is_mounted:
            main.refresh_view()

    # ------------------------------------------------------------------ screening

    def rescreen(self) -> None:
        """Screen the current patient at the current date in a worker thread."""
        if self.patient is None:
            return
        self.busy = True
        self.refresh_busy()
        self._screen(self.patient, self.as_of)

    def refresh_busy(self) -> None:
        """Mark the screening in progress: the banner only (the view is rebuilt when it ends)."""
        main = self._main()
        if main is not None and main.is_mounted:
            main.refresh_banner()

    @work(thread=True, exclusive=True, group="screening")
    def _screen(self, patient: Patient, as_of: date) -> None:
        worker = get_current_worker()
        result: Any = None
        error: str | None = None
        with self._engine_lock:
            if self._closed or worker.is_cancelled:
                return
            try:
                result = self._run_screening(patient, as_of)
            except ScreenerError as problem:
                error = str(problem)
        if not worker.is_cancelled:
            # post_message is thread-safe and never waits for the event loop.
            self.post_message(self.Screened(patient, as_of, result, error))

    def _run_screening(self, patient: Patient, as_of: date) -> Any:
        """The screening the worker runs (the portfolio app screens every trial)."""
        return self.engine.screen(patient, as_of)

    class Screened(Message):
        """A screening finished in its worker thread (result or error message)."""

        def __init__(self, patient: Patient, as_of: date, result: Any, error: str | None) -> None:
            super().__init__()
            self.patient = patient
            self.as_of = as_of
            self.result = result
            self.error = error

    def on_screener_app_screened(self, message: Screened) -> None:
        if message.error is not None:
            self._screen_failed(message.error)
        elif message.result is not None:
            self._screened(message.patient, message.as_of, message.result)

    def _screened(self, patient: Patient, as_of: date, result: Any) -> None:
        if patient is not self.patient or as_of != self.as_of:
            return  # a later edit or date change superseded this screening
        self.result = result
        self.busy = False
        self.refresh_main()

    def _screen_failed(self, message: str) -> None:
        self.busy = False
        self.refresh_main()
        self.notify(message, title="Screening failed", severity="error", timeout=10)

    # ------------------------------------------------------------------ editing

    def action_edit_fact(self, fact: str | None = None) -> None:
        if self.patient is None:
            self.notify("Open a patient file or a screening record first (o).", severity="warning")
            return
        if fact is None:
            main = self._main()
            fact = main.selected_fact_hint() if main is not None else None
        self.push_screen(
            FactForm(
                self.specs,
                self.patient.raw,
                patient_file=self.patient.file,
                as_of=self.as_of,
                initial=fact,
                cursor_blink=self.cursor_blink,
            ),
            self._fact_edited,
        )

    def action_edit_history(self, entry: str | None = None, focus: tuple[str, ...] = ()) -> None:
        """The history form: a new record, or ``entry`` (``"condition:0"``) to correct or remove."""
        if self.patient is None:
            self.notify("Open a patient file or a screening record first (o).", severity="warning")
            return
        self.push_screen(
            HistoryForm(
                self.ruleset,
                self.patient.raw,
                patient_file=self.patient.file,
                as_of=self.as_of,
                entry=entry,
                focus=focus,
                cursor_blink=self.cursor_blink,
            ),
            self._fact_edited,
        )

    def action_add_history(self) -> None:  # the name of earlier versions (keymaps, palette)
        self.action_edit_history()

    def on_enter_fact(self, message: EnterFact) -> None:
        self.action_edit_fact(message.fact)

    def on_edit_record(self, message: EditRecord) -> None:
        self.action_edit_history(entry_key(message.kind, message.index), message.fields)

    def on_add_record(self, message: AddRecord) -> None:
        self.action_edit_history(entry_key(message.kind, None) if message.kind else None)

    def action_focus_todo(self) -> None:
        main = self._main()
        if main is not None:
            main.focus_todo()

    def _fact_edited(self, edit: FactEditResult | HistoryEditResult | None) -> None:
        if edit is None:
            return
        self.patient = edit.patient
        self.dirty = True
        self.notify(safe(edit.description), title="Changed in this screening (s saves a record)")
        self.rescreen()

    def action_change_date(self) -> None:
        self.push_screen(AsOfForm(self.as_of, cursor_blink=self.cursor_blink), self._date_changed)

    def _date_changed(self, when: date | None) -> None:
        if when is None or when == self.as_of:
            return
        self.as_of = when
        self.rescreen()

    # ------------------------------------------------------------------ records

    def action_save(self, then: Callable[[], Any] | None = None) -> None:
        if self.patient is None or self.result is None or self.busy:
            self.notify("Nothing to save yet: wait for the screening to finish.", severity="warning")
            return

        def saved(operator: str | None) -> None:
            if operator is None:
                return
            if self.save(operator) is not None and then is not None:
                then()

        def ask_operator() -> None:
            self.push_screen(
                SaveForm(self.operator, str(self.records_dir), cursor_blink=self.cursor_blink), saved
            )

        if self.as_of == self.today:
            ask_operator()
            return

        def confirmed(yes: bool | None) -> None:
            if yes:
                ask_operator()

        self.push_screen(
            Confirm(
                "Save a what-if screening?",
                f"This screening is for {self.as_of.isoformat()}, not today ({self.today.isoformat()}).\n"
                f"The record will say {self.result.decision} as of {self.as_of.isoformat()}. Save it anyway?",
                yes="Save",
                no="Do not save",
            ),
            confirmed,
        )

    def save(self, operator: str) -> Path | None:
        """Write the current screening as a record; the path, or None if it failed."""
        assert self.patient is not None and self.result is not None
        try:
            path = save_record(
                self.records_dir,
                self.patient.raw,
                self.result,
                operator,
                patient_file=self.patient.file,
            )
        except ScreenerError as error:
            self.notify(str(error), title="Not saved", severity="error", timeout=10)
            return None
        try:
            append_entry(
                self.audit_log,
                operator=operator,
                action="tui-save",
                ruleset_sha256=self.result.ruleset_sha256,
                input_sha256=hashlib.sha256(canonical_json(self.patient.raw).encode("utf-8")).hexdigest(),
                patient_id=self.result.patient_id,
                decision=self.result.decision,
                as_of=self.result.as_of.isoformat(),
                record=path.name,
            )
        except (ScreenerError, OSError) as error:  # the record itself is saved
            self.notify(str(error), title="Audit trail not updated", severity="error", timeout=10)
        self.operator = operator
        self.dirty = False
        self.last_record = path
        self.refresh_main()
        self.notify(str(path), title="Screening record saved")
        return path

    def _guard_unsaved(self, what: str, proceed: Callable[[], Any]) -> None:
        """Run ``proceed`` now, or after the nurse chose to save or discard unsaved edits."""
        if not self.dirty:
            proceed()
            return

        def chosen(choice: str | None) -> None:
            if choice == "save":
                self.action_save(then=proceed)
            elif choice == "discard":
                proceed()

        self.push_screen(UnsavedChanges(what), chosen)

    def action_open_record(self) -> None:
        def pick() -> None:
            self.push_screen(
                RecordsScreen(self.records_dir, cursor_blink=self.cursor_blink), self._record_chosen
            )

        self._guard_unsaved("open another record", pick)

    def _record_chosen(self, chosen: Opened | None) -> None:
        if chosen is None:
            return
        if chosen.kind == "record":
            self.open_record(chosen.path)
        else:
            self.open_patient_file(chosen.path)

    def open_patient_file(self, path: Path) -> bool:
        """Open a patient file (native YAML/JSON or a one-patient FHIR Bundle) and screen it."""
        issues: list[str] = []
        try:
            patient = load_patient_file(
                path, on_issue=lambda issue: issues.append(str(issue)), mapping=self.mapping
            )
        except ScreenerError as error:
            self.notify(safe(str(error)), title="Cannot open file", severity="error", timeout=10)
            return False
        except OSError as error:
            self.notify(safe(f"{path}: {error.strerror}"), title="Cannot open file", severity="error")
            return False
        if issues:
            self.notify(
                safe("\n".join(issues[:5]) + (f"\n... {len(issues) - 5} more" if len(issues) > 5 else "")),
                title="Read with warnings",
                severity="warning",
                timeout=10,
            )
        self.patient = patient
        self.dirty = False
        self.result = None
        self.last_record = None
        self.origin = f"file {path.name}"
        self.rescreen()
        return True

    def open_record(self, path: Path) -> bool:
        try:
            record = load_record(path)
            patient = patient_from_data(record.patient, LineMap(str(path), {}))
        except ScreenerError as error:
            self.notify(str(error), title="Cannot open record", severity="error", timeout=10)
            return False
        if record.ruleset_sha256 != self.ruleset.sha256:
            self.notify(
                f"Saved with rule set {record.ruleset_id} v{record.ruleset_version} "
                f"({record.ruleset_sha256[:12]}); screened again with v{self.ruleset.version} "
                f"({self.ruleset.sha256[:12]}).",
                title="Different rule set",
                severity="warning",
                timeout=10,
            )
        self.patient = patient
        self.as_of = record.as_of
        self.dirty = False
        self.result = None
        self.last_record = path
        when = record.saved_at.strftime("%Y-%m-%d %H:%M")
        self.origin = f"record {path.name} ({record.decision}, {record.operator}, {when} UTC)"
        self.rescreen()
        return True

    # ------------------------------------------------------------------ quitting, help

    async def action_quit(self) -> None:
        self._guard_unsaved("quit", self.exit)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every notification as plain text: messages carry ids and file names from the input,
        so control characters are escaped and ``[...]`` is never read as markup."""
        super().notify(safe(message), title=safe(title), severity=severity, timeout=timeout, markup=False)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if not isinstance(screen, MainScreen):
            return
        for command in COMMANDS:
            yield SystemCommand(
                f"{command.label} ({command.key_display})",
                command.help,
                getattr(self, f"action_{command.action}"),
            )


def make_app(
    patient_path: str | Path | None,
    rules_dir: str | Path,
    as_of: date | None = None,
    *,
    records_dir: str | Path = DEFAULT_RECORDS_DIR,
    operator: str | None = None,
    cursor_blink: bool = True,
    today: date | None = None,
) -> ScreenerApp:
    """Load the rule set (or the folder of rule sets) and the patient, and build the app.

    A folder of rule sets opens on the portfolio (:class:`~screener.tui.portfolio_app.PortfolioApp`);
    one rule set opens on its criteria. FHIR files are read with the rule set's code mapping (a
    portfolio's: the union of its trials'). Errors raise :class:`ScreenerError`.
    """
    from screener.portfolio import is_portfolio

    def mapping() -> Mapping:  # built when a FHIR file is read (a native file needs none)
        return mapping_for_rules(rules_dir)

    patient = load_patient_file(patient_path, mapping=mapping) if patient_path is not None else None
    options: dict[str, Any] = {
        "records_dir": Path(records_dir),
        "operator": operator,
        "cursor_blink": cursor_blink,
        "today": today,
        "mapping": mapping,
    }
    if is_portfolio(rules_dir):
        from screener.tui.portfolio_app import make_portfolio_app

        return make_portfolio_app(rules_dir, patient, as_of or date.today(), **options)
    return ScreenerApp(load_ruleset(rules_dir), patient, as_of or date.today(), **options)
