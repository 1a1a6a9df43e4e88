"""The selected criterion explained: protocol text, reading, evidence, missing facts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from screener.results import CriterionResult, FactUse

OUTCOME_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return str(round(value, 4)) if abs(value) >= 0.001 else str(value)
    return str(value)


def _fact(text: Text, use: FactUse, indent: int, arrow: bool = False) -> None:
    pad = " " * indent
    if arrow:
        text.append(f"{pad[:-2]}← ", "dim")
    else:
        text.append(pad)
    text.append(f"{use.name} = ")
    text.append(_value(use.value), "bold")
    if use.unit:
        text.append(f" {use.unit}")
    where = [x for x in (use.date, use.source, use.record) if x]
    if where:
        text.append(f"  [{'; '.join(where)}]", "dim")
    text.append("\n")
    if use.note:
        text.append(f"{pad}  {use.note}\n", "italic")
    for inner in use.inputs:
        _fact(text, inner, indent + 4, arrow=True)


def render_criterion(c: CriterionResult) -> Text:
    """A criterion's explanation as rich text (no markup: quotes may hold brackets)."""
    text = Text()
    text.append(f"{c.id}  {c.title}\n", "bold")
    text.append(f"{c.outcome.upper()}", OUTCOME_STYLE[c.outcome])
    text.append(f"  {c.type}")
    if c.person_only:
        text.append("  · to be confirmed by a person", "bold magenta")
    text.append("\n")
    if c.eligible_from is not None:
        text.append("Eligible from ", "bold")
        text.append(f"{c.eligible_from.isoformat()}\n", "bold cyan")
    if c.missing:
        text.append("\nMissing\n", "bold underline")
        for m in c.missing:
            text.append("  ? ", "bold yellow")
            text.append(f"{m}\n")
    text.append("\nProtocol ", "bold underline")
    text.append(f"({c.section})\n", "dim")
    text.append(f"“{c.quote.strip()}”\n", "italic")
    text.append("\nReading\n", "bold underline")
    text.append(f"{c.reading.strip()}\n")
    text.append("\nEvidence\n", "bold underline")
    if not c.evidence:
        text.append("  (none)\n", "dim")
    for e in c.evidence:
        text.append("  yes " if e.outcome else "  no  ", "bold green" if e.outcome else "bold red")
        text.append(f"{e.test}\n")
        for use in e.facts:
            _fact(text, use, 6)
    return text


class CriterionDetail(VerticalScroll):
    """Scrollable explanation of one criterion."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static(id="detail-body")

    def show(self, criterion: CriterionResult | None) -> None:
        body = self.query_one("#detail-body", Static)
        if criterion is None:
            body.update(Text("Select a criterion to see its explanation.", "dim"))
        else:
            body.update(render_criterion(criterion))
        self.scroll_home(animate=False)
