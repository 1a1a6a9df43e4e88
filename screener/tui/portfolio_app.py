"""The TUI on a portfolio: one patient against every trial of a folder of rule sets.

:class:`PortfolioApp` is the single-trial app whose screening is the portfolio core's
(:class:`~screener.portfolio.PortfolioScreener`: the patient read once, each trial's engine
compiled once). It opens on :class:`~screener.tui.screens.portfolio.PortfolioScreen`; choosing a
trial shows that trial's result on the main screen as for one rule set. A fact entered or
corrected anywhere changes the one patient record, and the whole portfolio is screened again in
a worker. The app never decides: every decision, order and count comes from the core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from textual.app import SystemCommand
from textual.screen import Screen

from screener.errors import Location, RuleSpecError
from screener.model.patient import Patient
from screener.portfolio import PortfolioResult, PortfolioScreener, load_portfolio
from screener.results import ScreeningResult
from screener.tui.app import ScreenerApp
from screener.tui.commands import PORTFOLIO_COMMANDS, TRIAL_COMMANDS
from screener.tui.editing import FormSpec, editable_facts, fact_thresholds, form_spec
from screener.tui.messages import OpenTrial
from screener.tui.screens.main import TrialScreen
from screener.tui.screens.portfolio import PortfolioScreen


class PortfolioApp(ScreenerApp):
    """One patient's screening against every trial of a portfolio."""

    def __init__(
        self, screener: PortfolioScreener, patient: Patient | None, as_of: date, **options: Any
    ) -> None:
        if not screener.engines:
            problems = "; ".join(b.error for b in screener.broken) or "no rule set"
            raise RuleSpecError(
                f"no trial of this folder can be screened: {problems}",
                Location(screener.portfolio.folder),
            )
        self.screener = screener
        self.portfolio_result: PortfolioResult | None = None
        self.broken = screener.broken
        self.engines = {e.ruleset.trial: e for e in screener.engines}
        self.titles = {trial: e.ruleset.title for trial, e in self.engines.items()}
        #: the trial shown on the main screen (None: the portfolio screen only)
        self.selected: str | None = None
        first = screener.engines[0]
        super().__init__(first.ruleset, patient, as_of, engine=first, **options)
        self.specs = portfolio_specs(self.screener)

    # ------------------------------------------------------------------ lifecycle

    def _first_screen(self) -> Screen[None]:
        return PortfolioScreen()

    def close_engine(self) -> None:
        with self._engine_lock:  # waits for a screening still running in its thread
            if not self._closed:
                self._closed = True
                self.screener.close()

    def _portfolio_screen(self) -> PortfolioScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, PortfolioScreen)), None)

    def refresh_main(self) -> None:
        super().refresh_main()
        screen = self._portfolio_screen()
        if screen is not None and screen.is_mounted:
            screen.refresh_view()

    def refresh_busy(self) -> None:  # the portfolio's view shows the screening in progress whole
        self.refresh_main()

    # ------------------------------------------------------------------ screening

    def _run_screening(self, patient: Patient, as_of: date) -> PortfolioResult:
        return self.screener.screen(patient, as_of)

    def _screened(self, patient: Patient, as_of: date, result: Any) -> None:
        if patient is not self.patient or as_of != self.as_of:
            return  # a later edit or date change superseded this screening
        self.portfolio_result = result
        self.result = self._selected_result()
        self.busy = False
        self.refresh_main()

    def _selected_result(self) -> ScreeningResult | None:
        if self.portfolio_result is None or self.selected is None:
            return None
        try:
            return self.portfolio_result.trial(self.selected).result
        except KeyError:
            return None

    # ------------------------------------------------------------------ trials

    def on_open_trial(self, message: OpenTrial) -> None:
        self.open_trial(message.trial)

    def open_trial(self, trial: str) -> None:
        """Show ``trial``'s criteria on the main screen (its rule set for the history form)."""
        engine = self.engines.get(trial)
        if engine is None:
            return
        self.selected = trial
        self.ruleset = engine.ruleset
        self.engine = engine
        self.result = self._selected_result()
        if self._main() is None:
            self.push_screen(TrialScreen())
        else:
            self.refresh_main()

    def action_show_portfolio(self) -> None:
        """Back to the portfolio screen (closing the trial's main screen)."""
        while len(self.screen_stack) > 1 and not isinstance(self.screen, PortfolioScreen):
            self.pop_screen()
        self.selected = None
        self.result = None
        self.refresh_main()

    def action_focus_todo(self) -> None:
        if isinstance(self.screen, PortfolioScreen):
            self.screen.focus_todo()
        else:
            super().action_focus_todo()

    def action_edit_fact(self, fact: str | None = None) -> None:
        if fact is None and isinstance(self.screen, PortfolioScreen):
            fact = self.screen.selected_fact_hint()
        super().action_edit_fact(fact)

    # ------------------------------------------------------------------ records

    def action_save(self, then: Callable[[], Any] | None = None) -> None:
        """On a trial: its record. On the portfolio: one record per trial (same questions)."""
        if self.selected is not None:
            super().action_save(then)
            return
        if self.portfolio_result is None or self.busy or not self.portfolio_result.trials:
            self.notify("Nothing to save yet: wait for the screening to finish.", severity="warning")
            return
        self.result = self.portfolio_result.trials[0].result  # what the what-if question quotes
        try:
            super().action_save(then)
        finally:
            self.result = None

    def save(self, operator: str) -> Path | None:
        if self.selected is not None or self.portfolio_result is None:
            return super().save(operator)
        saved: Path | None = None
        try:
            for trial in self.portfolio_result.trials:
                self.result = trial.result
                saved = super().save(operator)
                if saved is None:
                    return None
        finally:
            self.result = None
        return saved

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        table = PORTFOLIO_COMMANDS if isinstance(screen, PortfolioScreen) else ()
        if isinstance(screen, TrialScreen):
            table = TRIAL_COMMANDS
        for command in table:
            if isinstance(screen, PortfolioScreen) and command.action in ("help", "quit"):
                continue  # offered by Textual's own palette entries
            yield SystemCommand(
                f"{command.label} ({command.key_display})",
                command.help,
                getattr(self, f"action_{command.action}"),
            )

    def action_open_trial(self) -> None:  # the palette's "Open trial": the highlighted row
        screen = self.screen
        if isinstance(screen, PortfolioScreen):
            table = screen.query_one("#trials")
            trials = getattr(table, "trials", [])
            row = getattr(table, "cursor_row", 0)
            if 0 <= row < len(trials):
                self.open_trial(trials[row])


def portfolio_specs(screener: PortfolioScreener) -> list[FormSpec]:
    """The facts a person can enter for any trial, each once (the first trial defining it), with
    how every trial reads it (``NCT04184258 I3: selena_sledai >= 6 points``)."""
    seen: dict[str, FormSpec] = {}
    thresholds: dict[str, list[str]] = {}
    for engine in screener.engines:
        ruleset = engine.ruleset
        for fact in editable_facts(ruleset):
            if fact.name not in seen:
                seen[fact.name] = form_spec(fact, ruleset)
            thresholds.setdefault(fact.name, []).extend(
                f"{ruleset.trial} {t}" for t in fact_thresholds(ruleset, fact.name)
            )
    return [replace(spec, thresholds=tuple(thresholds[name])) for name, spec in seen.items()]


def make_portfolio_app(
    rules_dir: str | Path, patient: Patient | None, as_of: date, **options: Any
) -> PortfolioApp:
    """Load every rule set of ``rules_dir`` (broken ones are shown, not screened) and build the app."""
    screener = PortfolioScreener(load_portfolio(rules_dir))
    try:
        return PortfolioApp(screener, patient, as_of, **options)
    except Exception:
        screener.close()
        raise
