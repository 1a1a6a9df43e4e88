"""A screening result as plain text for a terminal or a printout."""

from __future__ import annotations

from screener.results import CriterionResult, FactUse, ScreeningResult

ICONS = {"pass": "PASS", "fail": "FAIL", "unknown": " ?? "}


def _fact_line(use: FactUse, indent: str) -> list[str]:
    value = use.value
    if isinstance(value, float):
        value = f"{value:g}"
    text = f"{use.name} = {value}"
    if use.unit:
        text += f" {use.unit}"
    details = [d for d in (use.date, use.source, use.record) if d]
    if details:
        text += f"  [{'; '.join(str(d) for d in details)}]"
    lines = [f"{indent}{text}"]
    if use.note:
        lines.append(f"{indent}  {use.note}")
    for child in use.inputs:
        lines.extend(_fact_line(child, indent + "  <- "))
    return lines


def render_criterion(c: CriterionResult, verbose: bool = True) -> list[str]:
    head = f"[{ICONS[c.outcome]}] {c.id:<4} {c.title}"
    if c.person_only:
        head += "  (to be confirmed by a person)"
    lines = [head]
    if c.eligible_from:
        lines.append(f"         qualifies from {c.eligible_from.isoformat()}")
    for missing in c.missing:
        lines.append(f"         missing: {missing}")
    if verbose:
        for e in c.evidence:
            mark = "yes" if e.outcome else "no "
            lines.append(f"         {mark}  {e.test}")
            for use in e.facts:
                lines.extend(_fact_line(use, "               "))
    return lines


def render_text(result: ScreeningResult, verbose: bool = True) -> str:
    lines = [
        f"Patient {result.patient_id}: {result.decision.upper()}",
        f"Trial {result.trial}, rule set {result.ruleset_id} v{result.ruleset_version} "
        f"(sha256 {result.ruleset_sha256[:12]}), screening date {result.as_of.isoformat()}",
    ]
    if result.decision_reason:
        lines.append(f"{result.decision.capitalize()} whatever the criteria say: {result.decision_reason}")
    if result.eligible_from:
        lines.append(f"Only waiting periods stand in the way: eligible from {result.eligible_from}")
    counts = {
        k: sum(1 for c in result.criteria if c.outcome == k) for k in ("pass", "fail", "unknown")
    }
    lines.append(f"{counts['pass']} pass, {counts['fail']} fail, {counts['unknown']} unknown")
    for kind, title in (("inclusion", "Inclusion criteria"), ("exclusion", "Exclusion criteria")):
        lines.extend(["", title])
        for c in result.criteria:
            if c.type == kind:
                lines.extend(render_criterion(c, verbose))
    todo = [c for c in result.criteria if c.outcome == "unknown"]
    if todo:
        lines.extend(["", "To do before a decision:"])
        for c in todo:
            what = "confirm in person" if c.person_only else "; ".join(c.missing) or "review"
            lines.append(f"  {c.id}: {what}")
    return "\n".join(lines) + "\n"
