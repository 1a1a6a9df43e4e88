"""The decision banner: eligible / ineligible / incomplete, for whom, on which date."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

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
    ) -> None:
        for decision in DECISION_STYLE:
            self.set_class(result is not None and result.decision == decision, f"-{decision}")
        line = Text()
        if result is None:
            line.append(" NO DECISION ", "bold reverse")
        else:
            line.append(f" {result.decision.upper()} ", DECISION_STYLE[result.decision])
        line.append(f"  {patient_id or 'no patient'}", "bold")
        line.append(f"  as of {as_of}")
        if result is not None and result.eligible_from is not None:
            line.append(f"  eligible from {result.eligible_from.isoformat()}", "bold")
        if busy:
            line.append("  screening…", "italic")
        if dirty:
            line.append("  ● unsaved edits", "bold magenta")
        second = Text()
        if result is not None:
            counts = {
                o: sum(1 for c in result.criteria if c.outcome == o) for o in ("pass", "fail", "unknown")
            }
            second.append(f"✔ {counts['pass']} pass", "green")
            second.append("  ")
            second.append(f"✘ {counts['fail']} fail", "red")
            second.append("  ")
            second.append(f"? {counts['unknown']} unknown", "yellow")
            second.append(f"  ·  {result.trial} v{result.ruleset_version}", "dim")
        elif patient_id is None:
            second.append("Press o to open a screening record.", "dim")
        if origin:
            second.append(f"  ·  {origin}", "dim")
        self.update(Text("\n").join([line, second]))
