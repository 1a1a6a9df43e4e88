"""Adding a medication period or a condition to a patient record, without textual.

The history form of the TUI lists its fields with :func:`history_fields`
(choices come from the rule set and the patient schema, never from a list
typed here), checks what the nurse typed with :func:`parse_history` (every
problem reported per field) and appends the record to a copy of the raw
mapping with :func:`apply_history`; :func:`patient_from_data` has the last word.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from screener import units
from screener.model.operators import OPERATORS
from screener.model.rules import FieldTest, Quantifier, RuleSet, walk
from screener.spec.validate import schema
from screener.tui.editing import FactInputError, parse_date

KINDS = ("medication", "condition")
SECTIONS = {"medication": "medications", "condition": "conditions"}


@dataclass(frozen=True)
class HistoryField:
    """One input of the history form."""

    name: str  # key in the native patient record
    label: str
    type: str  # choice | number | integer | date | dates | text | boolean
    choices: tuple[str, ...] = ()
    required: bool = False
    hint: str = ""  # placeholder for free text


def _enum(kind: str, name: str) -> tuple[str, ...]:
    return tuple(schema("patient.schema.json")["$defs"][kind]["properties"][name]["enum"])


def _matched(ruleset: RuleSet, record: str, key: str) -> tuple[str, ...]:
    """Values the rule set's quantifiers and derived values match on ``key`` of ``record``s."""
    seen: dict[str, None] = {}
    for c in ruleset.criteria:
        for node in walk(c.test):
            if isinstance(node, Quantifier) and node.record == record:
                for field, values in node.match:
                    if field == key:
                        seen.update(dict.fromkeys(str(v) for v in values))
    if record == "exposure":
        for d in ruleset.derived:
            for field, values in d.match:
                if field == key:
                    seen.update(dict.fromkeys(str(v) for v in values))
    return tuple(seen)


def _field_tests(ruleset: RuleSet, record: str, key: str) -> list[tuple[str, FieldTest]]:
    """(criterion id, test) of every test of ``key`` in the ``where`` of ``record`` quantifiers."""
    found: list[tuple[str, FieldTest]] = []
    for c in ruleset.criteria:
        for node in walk(c.test):
            if isinstance(node, Quantifier) and node.record == record and node.where is not None:
                found.extend(
                    (c.id, t) for t in walk(node.where) if isinstance(t, FieldTest) and t.field == key
                )
    return found


def _field_readings(ruleset: RuleSet, record: str, key: str) -> str:
    """How the criteria read ``key`` of ``record``s: ``I2: one of acr_1997, acr_1982``."""
    found: list[str] = []
    for c in ruleset.criteria:
        for node in walk(c.test):
            if not (isinstance(node, Quantifier) and node.record == record and node.where is not None):
                continue
            for inner in walk(node.where):
                if isinstance(inner, FieldTest) and inner.field == key:
                    operator, value = OPERATORS[inner.comparison.op], inner.comparison.value
                    if operator.value == "list":
                        listed = ", ".join(map(str, value))
                        words = ("one of " if operator.values == "allowed" else "none of ") + listed
                    elif not operator.window:
                        words = f"{operator.symbol} {value}"
                    else:
                        continue
                    text = f"{c.id}: {words}"
                    if text not in found:
                        found.append(text)
    return "; ".join(found)


def _with_readings(
    fields: tuple[HistoryField, ...], ruleset: RuleSet, record: str
) -> tuple[HistoryField, ...]:
    """Free-text and number fields hint at what the rule set reads in them; a text field the
    rule set only ever reads as "one of" a list becomes a choice of that list (a typo such as
    ``acr1997`` would otherwise read as another classification and fail the criterion)."""
    out = []
    for f in fields:
        tests = _field_tests(ruleset, record, f.name)
        if f.type == "text" and tests and all(t.comparison.op == "in" for _, t in tests):
            values = dict.fromkeys(str(v) for _, t in tests for v in t.comparison.value)
            out.append(replace(f, type="choice", choices=tuple(values)))
            continue
        if f.type in ("text", "integer", "number"):
            readings = _field_readings(ruleset, record, f.name)
            if readings:
                f = replace(f, hint=f"rule set reads {readings}")
        out.append(f)
    return tuple(out)


def history_fields(ruleset: RuleSet, kind: str) -> tuple[HistoryField, ...]:
    return _with_readings(
        _history_fields(ruleset, kind), ruleset, "exposure" if kind == "medication" else "condition"
    )


def _history_fields(ruleset: RuleSet, kind: str) -> tuple[HistoryField, ...]:
    if kind == "medication":
        return (
            HistoryField("drug", "Drug", "choice", _matched(ruleset, "exposure", "drug"), True),
            HistoryField("dose", "Dose", "number"),
            HistoryField("unit", "Dose unit", "choice", ("mg", "g", "ug")),
            HistoryField("route", "Route", "choice", _enum("medication", "route")),
            HistoryField("frequency", "Frequency", "choice", _enum("medication", "frequency")),
            HistoryField("start", "Start", "date", required=True),
            HistoryField("end", "End", "date"),
            HistoryField("administrations", "Infusions", "dates"),
            HistoryField("outcome", "Outcome", "choice", _enum("medication", "outcome")),
            HistoryField("source", "Source", "text", hint="e.g. rheumatology letter 2026-03-02"),
        )
    return (
        HistoryField("name", "Condition", "choice", _matched(ruleset, "condition", "name"), True),
        HistoryField("status", "Status", "choice", _enum("condition", "status")),
        HistoryField("type", "Type", "text", hint="e.g. basal_cell_carcinoma"),
        HistoryField("classification", "Classified by", "text", hint="e.g. acr_1997"),
        HistoryField("criteria_met", "Criteria met", "integer"),
        HistoryField("severity", "Severity", "choice", _enum("condition", "severity")),
        HistoryField("controlled", "Controlled", "boolean", ("yes", "no")),
        HistoryField("onset", "Onset", "date"),
        HistoryField("end", "End", "date"),
        HistoryField("source", "Source", "text"),
    )


def parse_history(fields: tuple[HistoryField, ...], typed: dict[str, str], as_of: date) -> dict[str, Any]:
    """The native record for what was typed; :class:`FactInputError` names every bad field."""
    errors: dict[str, str] = {}
    record: dict[str, Any] = {}
    for f in fields:
        text = (typed.get(f.name) or "").strip()
        if not text:
            if f.required:
                errors[f.name] = f"{f.label.lower()} is required"
            continue
        try:
            if f.type == "choice":
                if text not in f.choices:
                    raise ValueError(f"choose one of {', '.join(f.choices)}")
                record[f.name] = text
            elif f.type == "boolean":
                record[f.name] = text == "yes"
            elif f.type == "number":
                value = float(text.replace(",", "."))
                if not value > 0:
                    raise ValueError("must be a number above 0")
                record[f.name] = int(value) if value.is_integer() else value
            elif f.type == "integer":
                if not text.isdigit():
                    raise ValueError("must be a whole number")
                record[f.name] = int(text)
            elif f.type == "date":
                record[f.name] = parse_date(text, as_of, f.label.lower()).isoformat()
            elif f.type == "dates":
                record[f.name] = [
                    parse_date(part, as_of, f.label.lower()).isoformat()
                    for part in text.replace(";", ",").split(",")
                    if part.strip()
                ]
            else:
                record[f.name] = text
        except ValueError as error:
            message = str(error)
            errors[f.name] = message if message and "could not convert" not in message else "not a number"
    if "dose" in record and "unit" not in record:
        errors["unit"] = "a dose needs its unit"
    elif "dose" in record and "dose" not in errors:
        # the plausibility guard of patient files (screener.units), typed values too
        canonical = units.normalize("dose", float(record["dose"]), record["unit"])
        bounds = units.plausible_range("dose")
        if bounds is not None and not bounds[0] <= canonical <= bounds[1]:
            errors["dose"] = f"impossible dose {record['dose']} {record['unit']}: more than {bounds[1]:g} mg"
    if "start" in record and "end" in record and record["end"] < record["start"]:
        errors["end"] = "ends before it starts"
    if errors:
        raise FactInputError(errors)
    return record


def apply_history(raw: dict[str, Any], kind: str, record: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A copy of ``raw`` with ``record`` appended to its section, and a one-line description."""
    data = copy.deepcopy(raw)
    data.setdefault(SECTIONS[kind], []).append(record)
    what = record.get("drug") or record.get("name")
    since = record.get("start") or record.get("onset")
    return data, f"added {kind} {what}" + (f" from {since}" if since else "")


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def typed_from_record(fields: tuple[HistoryField, ...], record: dict[str, Any]) -> dict[str, str]:
    """What the form shows for a recorded entry (to correct it in place)."""
    return {f.name: _shown(record[f.name]) for f in fields if record.get(f.name) is not None}


def record_title(kind: str, record: dict[str, Any]) -> str:
    """``medication prednisone from 2026-03-01`` / ``condition sle from 2020-02-14``."""
    what = record.get("drug") or record.get("name") or "?"
    since = record.get("start") or record.get("onset")
    return f"{kind} {what}" + (f" from {since}" if since else "")


def replace_history(
    raw: dict[str, Any], kind: str, index: int, record: dict[str, Any], fields: tuple[HistoryField, ...]
) -> tuple[dict[str, Any], str]:
    """A copy of ``raw`` with entry ``index`` of the section corrected: the form's fields are
    replaced by what was typed (a field emptied is removed), keys the form does not show
    (``code``, ``dose_unit_source``...) are kept. Returns the description of what changed."""
    data = copy.deepcopy(raw)
    items = data.get(SECTIONS[kind], [])
    if not 0 <= index < len(items):
        raise IndexError(f"{kind} {index} is not in the record")
    old = items[index]
    new = {k: v for k, v in old.items() if k not in {f.name for f in fields}}
    new.update(record)
    changes = []
    for f in fields:
        before, after = old.get(f.name), new.get(f.name)
        if before != after:
            changes.append(
                f"{f.name} {_shown(before) if before is not None else '—'} -> "
                f"{_shown(after) if after is not None else '—'}"
            )
    items[index] = new
    if not changes:
        return data, f"{record_title(kind, new)}: nothing changed"
    return data, f"corrected {record_title(kind, old)}: {'; '.join(changes)}"


def remove_history(raw: dict[str, Any], kind: str, index: int) -> tuple[dict[str, Any], str]:
    """A copy of ``raw`` without entry ``index`` of the section, and the description."""
    data = copy.deepcopy(raw)
    items = data.get(SECTIONS[kind], [])
    if not 0 <= index < len(items):
        raise IndexError(f"{kind} {index} is not in the record")
    old = items.pop(index)
    return data, f"removed {record_title(kind, old)}"
