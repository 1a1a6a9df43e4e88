"""A portfolio screening as plain text: one line per trial, then the next trial and the to-do.

Reads :class:`~screener.portfolio.results.PortfolioResult` only; decides nothing. Every line
is escaped (:func:`screener.explain.words.safe`).
"""

from __future__ import annotations

from screener.explain.todo import missing_fact_name
from screener.explain.words import safe
from screener.portfolio.results import PortfolioResult, TrialResult, UnknownCriterion

WHEN_WORDS = {
    "now": "eligible now",
    "from_date": "eligible from {date}",
    "incomplete": "possible once facts are collected",
    "ineligible": "not eligible",
}


def when_words(t: TrialResult) -> str:
    if t.when == "from_date" and t.eligible_from is not None:
        return f"eligible from {t.eligible_from.isoformat()}"
    if t.when == "incomplete" and t.possible_from is not None:
        return f"possible from {t.possible_from.isoformat()} once facts are collected"
    return WHEN_WORDS[t.when]


def _unknown_words(c: UnknownCriterion) -> str:
    if not c.collect:
        return f"{c.id} (confirm in person)"
    names = list(dict.fromkeys(missing_fact_name(m) for m in c.collect))
    return f"{c.id} ({', '.join(names)})"


def trial_line(t: TrialResult) -> str:
    """``NCT03917797  incomplete  possible once ... | fails: ... | unknown: I2 (ana_titer, ...)``"""
    parts = [f"{t.trial:<12} {t.decision:<11} {when_words(t)}"]
    if t.failing:
        fails = ", ".join(
            f"{c.id} (until {c.eligible_from.isoformat()})" if c.eligible_from else c.id for c in t.failing
        )
        parts.append(f"fails: {fails}")
    if t.unknown:
        parts.append(f"unknown: {'; '.join(_unknown_words(c) for c in t.unknown)}")
    return safe(" | ".join(parts))


def render_portfolio(result: PortfolioResult, folder: str) -> str:
    lines = [
        safe(
            f"Patient {result.patient_id} screened on {result.as_of.isoformat()} against "
            f"{len(result.trials)} trial(s) of {folder}"
        ),
        "",
    ]
    lines.extend(trial_line(t) for t in result.trials)
    for b in result.broken:
        lines.append(safe(f"{b.folder:<12} NOT SCREENED  {b.error}"))
    lines.append("")
    could = result.could_enter
    if could:
        first = could[0]
        lines.append(safe(f"Next trial: {first.trial}, {when_words(first)}."))
        if len(could) > 1:
            rest = ", ".join(f"{t.trial} ({when_words(t)})" for t in could[1:])
            lines.append(safe(f"Then: {rest}."))
    else:
        lines.append("Next trial: none of these trials is open to this patient as the record stands.")
    if result.next_fact is not None:
        item = result.next_fact
        if item.settles:
            why = f"decides {', '.join(item.settles)} on its own"
        else:
            why = f"needed by {len(item.trials)} open trial(s): {', '.join(item.trials)}"
        lines.append(safe(f"Collect next: {item.text} ({why})."))
    if result.todo:
        lines.append("")
        lines.append(
            "To do across trials (first: what decides most trials on its own, then what most trials need):"
        )
        for n, item in enumerate(result.todo, 1):
            settles = f"settles {', '.join(item.settles)}; " if item.settles else ""
            lines.append(safe(f"  {n}. {item.text}  [{settles}needed by {', '.join(item.criteria)}]"))
    lines.append("")
    lines.append(
        safe(f"One trial's criteria in detail: screener screen PATIENT --rules {folder.rstrip('/')}/<trial>")
    )
    if result.broken:
        lines.append("")
        lines.append(
            safe(f"{len(result.broken)} rule set(s) could not be screened: fix them and screen again.")
        )
    return "\n".join(lines) + "\n"
