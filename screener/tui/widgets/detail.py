"""The selected criterion explained: protocol text, reading, evidence, missing facts."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from screener.explain.words import (
    criterion_outcome,
    evidence_words,
    human_unit,
    record_words,
    safe,
    value_words,
)
from screener.results import CriterionResult, FactUse

OUTCOME_STYLE = {"pass": "bold green", "fail": "bold red", "unknown": "bold yellow"}


def _value(value: Any) -> str:
    return value_words(value)


def _fact(
    text: Text, use: FactUse, indent: int, arrow: bool = False, test: str = "", shown: set[Any] | None = None
) -> None:
    pad = " " * indent
    if arrow:
        text.append(f"{pad[:-2]}← ", "dim")
    else:
        text.append(pad)
    text.append(f"{safe(use.name)} = ")
    text.append(_value(use.value), "bold")
    if human_unit(use.unit):
        text.append(f" {human_unit(use.unit)}")
    record = record_words(use.record) if use.record else None
    if record and test.startswith(record):
        record = None  # the test line names the record already
    where = [safe(x) for x in (use.date, use.source, record) if x]
    if where:
        text.append(f"  [{'; '.join(where)}]", "dim")
    text.append("\n")
    key = (use.name, repr(use.value), use.date, use.record)
    if shown is not None:
        if key in shown:
            return  # derived from the same values as above
        shown.add(key)
    if use.note:
        text.append(f"{pad}  {safe(use.note)}\n", "italic")
    for inner in use.inputs:
        _fact(text, inner, indent + 4, arrow=True, shown=shown)


def render_criterion(c: CriterionResult) -> Text:
    """A criterion's explanation as rich text (no markup: quotes may hold brackets)."""
    text = Text()
    text.append(f"{c.id}  {safe(c.title)}\n", "bold")
    text.append(f"{criterion_outcome(c).upper()}", OUTCOME_STYLE[c.outcome])
    text.append(f"  {c.type}")
    if c.person_only:
        text.append("  · to be confirmed by a person", "bold magenta")
    text.append("\n")
    if c.eligible_from is not None:
        text.append("Qualifies from ", "bold")
        text.append(f"{c.eligible_from.isoformat()}\n", "bold cyan")
    if c.missing:
        text.append("\nMissing\n", "bold underline")
        for m in c.missing:
            text.append("  ? ", "bold yellow")
            text.append(f"{safe(record_words(m))}\n")
    text.append("\nProtocol ", "bold underline")
    text.append(f"({safe(c.section)})\n", "dim")
    text.append(f"“{safe(c.quote.strip(), newlines=True)}”\n", "italic")
    text.append("\nReading\n", "bold underline")
    text.append(f"{safe(c.reading.strip(), newlines=True)}\n")
    text.append("\nEvidence\n", "bold underline")
    if not c.evidence:
        text.append("  (none)\n", "dim")
    seen: set[tuple[str, bool]] = set()
    shown: set[Any] = set()
    for e in c.evidence:
        if (e.test, e.outcome) in seen:
            continue  # the same test in two branches of the criterion
        seen.add((e.test, e.outcome))
        test = evidence_words(e.test, e.unit)
        text.append("  yes " if e.outcome else "  no  ", "bold green" if e.outcome else "bold red")
        text.append(f"{test}\n")
        for use in e.facts:
            _fact(text, use, 6, test=test, shown=shown)
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
