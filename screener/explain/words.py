"""The words every view uses for outcomes, units, numbers and eligible-from dates.

One place, so that the terminal text, the TUI and the reports read the same:

* an outcome is said for what it means to the patient's eligibility: an inclusion
  criterion is *met* / *not met*, an exclusion criterion *excluded* / *not excluded*
  (a "pass" beside "Active neoplasia" read as "has neoplasia"; issue 14, point 4);
* units are shown as a clinician writes them (``x10^9/L``, ``mmHg``), not as UCUM codes
  (``10*9/L``, ``mm[Hg]``); the codes stay in JSON and in the rule files;
* numbers are rounded as a clinician writes them (3 significant digits below 100,
  whole numbers above);
* text read from input files (ids, sources, names) has its control characters escaped
  before it reaches a terminal (issue 13, section 5).

Plain Python: no textual, no rich.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from screener.results import CriterionResult, ScreeningResult

# --------------------------------------------------------------------------- outcomes

#: (criterion type, outcome) -> words. Unknown reads the same for both kinds.
OUTCOME_WORDS: dict[tuple[str, str], str] = {
    ("inclusion", "pass"): "met",
    ("inclusion", "fail"): "not met",
    ("exclusion", "pass"): "not excluded",
    ("exclusion", "fail"): "excluded",
}
UNKNOWN_WORD = "unknown"

#: Headings of the two kinds of criteria.
KIND_TITLES = {"inclusion": "Inclusion criteria", "exclusion": "Exclusion criteria"}


def outcome_word(kind: str, outcome: str) -> str:
    """``met`` / ``not met`` for inclusion, ``not excluded`` / ``excluded`` for exclusion."""
    if outcome == "unknown":
        return UNKNOWN_WORD
    return OUTCOME_WORDS.get((kind, outcome), outcome)


def criterion_outcome(c: CriterionResult) -> str:
    return outcome_word(c.type, c.outcome)


def outcome_tag(c: CriterionResult) -> str:
    """``[MET]``, ``[NOT MET]``, ``[NOT EXCLUDED]``, ``[EXCLUDED]``, ``[UNKNOWN]``, padded."""
    return f"[{criterion_outcome(c).upper()}]".ljust(len("[NOT EXCLUDED]"))


def outcome_counts(result: ScreeningResult) -> str:
    """``Inclusion: 6 met, 0 not met, 3 unknown · Exclusion: 11 not excluded, ...``"""
    parts = []
    for kind in ("inclusion", "exclusion"):
        items = [c for c in result.criteria if c.type == kind]
        if not items:
            continue
        counts = ", ".join(
            f"{sum(1 for c in items if c.outcome == o)} {outcome_word(kind, o)}"
            for o in ("pass", "fail", "unknown")
        )
        parts.append(f"{kind.capitalize()}: {counts}")
    return " · ".join(parts)


# --------------------------------------------------------------------------- eligible from


def waiting_until(result: ScreeningResult) -> tuple[date, bool] | None:
    """The end of the waiting periods and whether the patient is then eligible as the record
    stands (True), or only at the earliest, once facts are collected or renewed (False).
    The one place views read those dates."""
    if result.decision_reason is not None:
        return None  # decided whatever the criteria say (a death): nothing to wait for
    if result.eligible_from is not None:
        return result.eligible_from, True
    if result.earliest_possible is not None:
        return result.earliest_possible.date, False
    return None


def eligible_from_words(result: ScreeningResult) -> str | None:
    """The sentence views print about waiting periods, or None when there is none."""
    found = waiting_until(result)
    if found is None:
        return None
    when, settled = found
    if settled:
        return f"Only waiting periods stand in the way: eligible from {when.isoformat()}"
    collect = result.earliest_possible.collect if result.earliest_possible else ()
    renew = sum(1 for c in collect if c.renew)
    text = f"Earliest possible date {when.isoformat()}, once {len(collect)} fact(s) are collected"
    if renew:
        text += f" ({renew} recorded today but too old by then: to measure again)"
    return text + " (see the to-do)"


def criterion_eligible_from(c: CriterionResult) -> str | None:
    """``qualifies from 2026-12-21`` for one criterion with a waiting period."""
    return f"qualifies from {c.eligible_from.isoformat()}" if c.eligible_from else None


# --------------------------------------------------------------------------- units and numbers

#: UCUM codes -> how a clinician writes them. Codes not listed are shown as they are.
UNIT_WORDS: dict[str, str] = {
    "10*9/L": "x10^9/L",
    "10*6/L": "x10^6/L",
    "10*3/uL": "x10^3/µL",
    "mm[Hg]": "mmHg",
    "[IU]/L": "IU/L",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
    "{score}": "points",
    "a": "years",
    "mo": "months",
    "wk": "weeks",
    "d": "days",
    "mg/d": "mg/day",
    "mg/kg/d": "mg/kg/day",
    "mg/wk": "mg/week",
    "ug": "µg",
    "umol/L": "µmol/L",
    "1": "",
}


def human_unit(unit: str | None) -> str:
    """``10*9/L`` -> ``x10^9/L``, ``mm[Hg]`` -> ``mmHg``, ``{score}`` -> ``points``."""
    if not unit:
        return ""
    if unit in UNIT_WORDS:
        return UNIT_WORDS[unit]
    return re.sub(r"\{([^}]*)\}", r"\1", unit)  # other UCUM annotations lose their braces


def clinical_number(value: float | int) -> str:
    """As a clinician writes it: 106.035 -> 106, 0.995475 -> 0.995, 2.5862 -> 2.59, 45.67 -> 45.7."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    magnitude = abs(value)
    if magnitude >= 100:
        return str(round(value))
    if magnitude >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def value_words(value: Any, unit: str | None = None) -> str:
    """A value with its unit in human form: ``3.4 x10^9/L``, ``yes``, ``2026-03-01``."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | float):
        text = clinical_number(value)
    else:
        text = safe(str(value))
    shown = human_unit(unit)
    return f"{text} {shown}" if shown else text


_UNIT_IN_TEST = re.compile(r"(?<=\s)(\S+)$")


_RECORD_ID = re.compile(r" \((?:[cm]\d+)\)(?=:|$|\s)")


def record_words(text: str) -> str:
    """Record labels without the engine's internal ids: ``sle (c0): criteria_met`` ->
    ``sle: criteria_met``, ``rituximab 2026-08-10..2026-08-24 (m2)`` -> ``rituximab 2026-...``."""
    return _RECORD_ID.sub("", text)


def evidence_words(test: str, unit: str | None) -> str:
    """An evidence line's test with its trailing UCUM unit in human form, without record ids."""
    text = record_words(safe(test))
    if unit and text.endswith(f" {unit}"):
        shown = human_unit(unit)
        text = text[: -len(unit)].rstrip() + (f" {shown}" if shown else "")
    return text


# --------------------------------------------------------------------------- control characters

# C0 controls, DEL, C1 controls, and the bidirectional overrides that reorder what a
# terminal shows (Trojan Source, CVE-2021-42574).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe(text: str, newlines: bool = False) -> str:
    """``text`` with control characters written as escapes (``\\x1b``, ``\\n``), so that an id
    holding an ANSI sequence or a newline cannot recolour a terminal or forge a line.
    ``newlines``: keep line breaks (multi-line text of a rule file: quote, reading)."""
    if newlines:
        return "\n".join(_CONTROL.sub(_escape, line) for line in text.split("\n"))
    return _CONTROL.sub(_escape, text)
