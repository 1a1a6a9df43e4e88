"""A screening result as plain text for a terminal or a printout.

It opens with a summary (decision, the criteria standing in the way with their one-line
reason, the to-do), then the detail of every criterion. Outcomes, units and numbers are in
the words of :mod:`screener.explain.words`; every line is escaped so that text read from
the input (ids, sources) cannot steer the terminal.
"""

from __future__ import annotations

from screener.explain.todo import todo_items
from screener.explain.words import (
    KIND_TITLES,
    criterion_eligible_from,
    criterion_outcome,
    eligible_from_words,
    evidence_words,
    outcome_counts,
    outcome_tag,
    record_words,
    safe,
    value_words,
)
from screener.model.rules import RuleSet
from screener.results import CriterionResult, Evidence, FactUse, ScreeningResult

INDENT = " " * 9


def _fact_line(use: FactUse, indent: str, test: str = "", shown: set[object] | None = None) -> list[str]:
    """A fact with its date, source and record; the values it was derived from below it,
    once per criterion (``shown`` collects those already printed)."""
    text = f"{use.name} = {value_words(use.value, use.unit)}"
    record = record_words(use.record) if use.record else None
    if record and test.startswith(record):
        record = None  # the test line already names the record
    details = [d for d in (use.date, use.source, record) if d]
    if details:
        text += f"  [{'; '.join(str(d) for d in details)}]"
    lines = [f"{indent}{text}"]
    key = (use.name, repr(use.value), use.date, use.record)
    if shown is not None:
        if key in shown:
            return lines  # its derivation is printed above
        shown.add(key)
    if use.note:
        lines.append(f"{indent}  {use.note}")
    for child in use.inputs:
        lines.extend(_fact_line(child, indent + "  <- ", shown=shown))
    return lines


def _evidence_lines(evidence: tuple[Evidence, ...]) -> list[str]:
    """Each test once (an ``any`` of two branches may hold the same test twice), each
    derivation once."""
    lines: list[str] = []
    seen: set[tuple[str, bool]] = set()
    shown: set[object] = set()
    for e in evidence:
        if (e.test, e.outcome) in seen:
            continue
        seen.add((e.test, e.outcome))
        mark = "yes" if e.outcome else "no "
        test = evidence_words(e.test, e.unit)
        lines.append(f"{INDENT}{mark}  {test}")
        for use in e.facts:
            lines.extend(_fact_line(use, INDENT + "      ", test, shown))
    return lines


def reason(c: CriterionResult) -> str:
    """One line: why this criterion came out as it did (the decisive test or what is missing)."""
    if c.outcome == "unknown":
        return (
            "missing: " + "; ".join(record_words(m) for m in c.missing)
            if c.missing
            else "to be confirmed by a person"
        )
    # The tests that decided it: an excluded criterion's true tests, a not-met one's false tests.
    decisive = [e for e in c.evidence if e.outcome == (c.type == "exclusion")] or list(c.evidence)
    parts: list[str] = []
    for e in decisive:
        text = evidence_words(e.test, e.unit)
        if e.value is not None and e.facts:
            text += f" (found {value_words(e.value, e.unit)})"
        if text not in parts:
            parts.append(text)
    words = "; ".join(parts[:2]) + (f"; +{len(parts) - 2} more" if len(parts) > 2 else "")
    if c.eligible_from:
        words += f"; {criterion_eligible_from(c)}"
    return words


def render_criterion(c: CriterionResult, verbose: bool = True) -> list[str]:
    head = f"{outcome_tag(c)} {c.id:<4} {c.title}"
    if c.person_only:
        head += "  (to be confirmed by a person)"
    lines = [head]
    if c.eligible_from:
        lines.append(f"{INDENT}{criterion_eligible_from(c)}")
    for missing in c.missing:
        lines.append(f"{INDENT}missing: {record_words(missing)}")
    if verbose:
        lines.extend(_evidence_lines(c.evidence))
    return lines


def summary_lines(result: ScreeningResult, ruleset: RuleSet | None = None) -> list[str]:
    """Decision, provenance, the criteria standing in the way with their reason, the to-do."""
    lines = [
        f"Patient {result.patient_id}: {result.decision.upper()}",
        f"Trial {result.trial}, rule set {result.ruleset_id} v{result.ruleset_version} "
        f"(sha256 {result.ruleset_sha256[:12]}), screening date {result.as_of.isoformat()}",
    ]
    if result.decision_reason:
        lines.append(f"{result.decision.capitalize()} whatever the criteria say: {result.decision_reason}")
    waiting = eligible_from_words(result)
    if waiting:
        lines.append(waiting)
    lines.append(outcome_counts(result))
    if result.failing:
        lines.extend(["", "Why not eligible:"])
        for c in result.failing:
            lines.append(f"  {c.id:<4} {criterion_outcome(c)}: {c.title}")
            lines.append(f"       {reason(c)}")
    if result.unknown:
        lines.extend(["", "To do before a decision:"])
        if ruleset is not None:
            for item in todo_items(result, ruleset):
                lines.append(f"  - {item.text}  [{', '.join(item.criteria)}]")
        else:
            for c in result.unknown:
                what = "confirm in person" if c.person_only else "; ".join(c.missing) or "review"
                lines.append(f"  - {c.id}: {what}")
    return lines


def render_text(
    result: ScreeningResult, verbose: bool = True, ruleset: RuleSet | None = None, detail: bool = True
) -> str:
    """The summary, then (``detail``) every criterion with its evidence (``verbose``)."""
    lines = summary_lines(result, ruleset)
    if detail:
        lines.extend(["", "Detail"])
        for kind in ("inclusion", "exclusion"):
            lines.extend(["", KIND_TITLES[kind]])
            for c in result.criteria:
                if c.type == kind:
                    lines.extend(render_criterion(c, verbose))
    return "\n".join(safe(line) for line in lines) + "\n"
