"""The decision banner: eligible / ineligible / incomplete, for whom, on which date."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from screener.explain.words import outcome_counts, safe, waiting_until
from screener.results import ScreeningResult

DECISION_STYLE = {
    "eligible": "bold black on green",
    "ineligible": "bold white on red",
    "incomplete": "bold black on yellow",
}


class DecisionBanner(Static):
    """Two lines: the decision with patient and dates, then counts and provenance."""

    def show(
        self,
        result: ScreeningResult | None,
        *,
        patient_id: str | None,
        as_of: str,
        busy: bool = False,
        dirty: bool = False,
        origin: str = "",
        today: str | None = None,
    ) -> None:
        for decision in DECISION_STYLE:
            self.set_class(result is not None and result.decision == decision, f"-{decision}")
        line = Text()
        if result is None:
            line.append(" NO DECISION ", "bold reverse")
        else:
            line.append(f" {result.decision.upper()} ", DECISION_STYLE[result.decision])
        line.append(f"  {safe(patient_id) if patient_id else 'no patient'}", "bold")
        line.append(f"  as of {as_of}")
        if today is not None and as_of != today:
            line.append(" (what-if date)", "bold magenta")
        found = waiting_until(result) if result is not None else None
        if found is not None:
            when, settled = found
            words = "eligible from" if settled else "earliest possible date"
            line.append(f"  {words} {when.isoformat()}", "bold")
        if result is not None and result.unknown and not busy:
            line.append("  → t: to-do list", "bold cyan")
        if busy:
            line.append("  screening…", "italic")
        if dirty:
            line.append("  ● unsaved edits", "bold magenta")
        second = Text()
        if result is not None:
            second.append(outcome_counts(result))
            second.append(f"  ·  {result.trial} v{result.ruleset_version}", "dim")
        elif patient_id is None:
            second.append("Press o to open a patient file or a screening record.", "dim")
        if origin:
            second.append(f"  ·  {safe(origin)}", "dim")
        self.update(Text("\n").join([line, second]))
