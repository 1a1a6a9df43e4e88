"""Adding or correcting one fact of a patient record, without textual.

The fact form of the TUI describes its fields with :func:`form_spec`, checks
what the nurse typed with :func:`parse_fact` (every problem is reported per
field, so the form can show it next to the input) and writes the accepted
fact into a copy of the patient's raw mapping with :func:`apply_fact`. The
raw mapping is then rebuilt into a :class:`~screener.model.patient.Patient`
by :func:`screener.model.patient.patient_from_data`, which has the last word
on what a valid record is.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from screener import units
from screener.explain.words import clinical_number, human_unit
from screener.model.operators import OPERATORS
from screener.model.rules import FactDef, FactTest, RuleSet, walk

#: Kinds of base facts a person can type in (conditions and medications are records, not facts).
EDITABLE_KINDS = ("observation", "status", "assessment", "demographic")

BOOLEAN_CHOICES = ("yes", "no")

Scalar = float | int | str | bool


@dataclass(frozen=True)
class FormSpec:
    """What the form shows for one fact of the rule set's vocabulary."""

    name: str
    label: str
    kind: str
    type: str  # number | boolean | string | date
    unit: str | None  # the rule set's canonical unit
    units: tuple[str, ...] = ()  # units the nurse may choose; empty: no unit
    choices: tuple[str, ...] = ()  # coded values (or yes/no); empty: free input
    quantity: str | None = None  # screener.units quantity, when known
    has_date: bool = True  # the fact carries a date of its own
    date_required: bool = True
    person_only: bool = False
    plausible: tuple[float, float] | None = None  # bounds in the canonical unit (screener.units)
    thresholds: tuple[str, ...] = ()  # how the rule set reads it: "E3: lvef < 40 %"

    @property
    def hint(self) -> str:
        """The placeholder of the value input: the unit, the possible range, an example read
        from the rule set (never a number unrelated to this fact)."""
        if self.choices:
            return "choose: " + " / ".join(self.choices)
        if self.type == "date":
            return "YYYY-MM-DD"
        if self.type != "number":
            return "text"
        shown = human_unit(self.unit)
        parts = [f"a number in {shown}" if shown else "a number"]
        if self.plausible is not None:
            low, high = (clinical_number(b) for b in self.plausible)
            parts.append(f"{low} to {high}")
        return ", ".join(parts)

    def range_words(self) -> str | None:
        """``possible values 0 to 100 %`` (a plausibility guard, not a reference range)."""
        if self.plausible is None:
            return None
        low, high = (clinical_number(b) for b in self.plausible)
        unit = human_unit(self.unit)
        return f"possible values {low} to {high}" + (f" {unit}" if unit else "")


def fact_thresholds(ruleset: RuleSet, name: str) -> tuple[str, ...]:
    """How the rule set's criteria compare ``name``: ``("E3: lvef < 40 %",)``."""
    found: list[str] = []
    for c in ruleset.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest) and node.fact == name and node.field is None:
                value = node.comparison.value
                if isinstance(value, int | float) and not isinstance(value, bool):
                    unit = human_unit(node.unit)
                    symbol = OPERATORS[node.comparison.op].symbol
                    text = f"{c.id}: {name} {symbol} {clinical_number(value)}"
                    text += f" {unit}" if unit else ""
                    if text not in found:
                        found.append(text)
    return tuple(found)


def editable_facts(ruleset: RuleSet) -> list[FactDef]:
    """The base facts of the rule set a person can enter, in the rule file's order."""
    return [f for f in ruleset.facts.values() if f.kind in EDITABLE_KINDS]


def _quantity(fact: FactDef) -> str | None:
    if fact.name in units.CANONICAL:
        return fact.name
    if fact.quantity in units.CANONICAL:
        return fact.quantity
    return None


def form_spec(fact: FactDef, ruleset: RuleSet | None = None) -> FormSpec:
    quantity = _quantity(fact)
    fact_units: tuple[str, ...] = ()
    if fact.kind == "observation" and fact.type == "number":
        if fact.name in units.CANONICAL:
            # The patient loader converts observations named after a known quantity.
            fact_units = units.accepted_units(fact.name)
        elif fact.unit:
            # Anything else must already be in the rule set's unit (no conversion on load).
            fact_units = (fact.unit,)
    choices = BOOLEAN_CHOICES if fact.type == "boolean" else tuple(fact.values)
    return FormSpec(
        name=fact.name,
        label=fact.label,
        kind=fact.kind,
        type=fact.type,
        unit=fact.unit,
        units=fact_units,
        choices=choices,
        quantity=quantity,
        has_date=fact.kind != "demographic",
        date_required=fact.kind in ("observation", "assessment"),
        person_only=fact.person_only,
        plausible=units.plausible_range(quantity) if quantity and fact.type == "number" else None,
        thresholds=fact_thresholds(ruleset, fact.name) if ruleset is not None else (),
    )


@dataclass(frozen=True)
class FactEntry:
    """One accepted fact, ready to be written into the patient record."""

    name: str
    kind: str
    value: Scalar
    unit: str | None = None
    date: date | None = None
    source: str | None = None
    confirmed_by: str | None = None


@dataclass
class FactInputError(Exception):
    """What is wrong with the typed fact, by form field (value, unit, date, ...)."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.errors.items())


def parse_date(text: str, as_of: date, what: str = "date") -> date:
    """An ISO date not after the screening date; ValueError with a readable message."""
    text = text.strip()
    try:
        when = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} must be a date YYYY-MM-DD, not {text!r}") from None
    if when > as_of:
        raise ValueError(f"{what} {when} is after the screening date {as_of}")
    return when


def _number(text: str) -> float | int:
    value = float(text.strip().replace(",", "."))
    if not math.isfinite(value):
        raise ValueError
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_fact(
    spec: FormSpec,
    *,
    value: str,
    unit: str | None,
    when: str,
    as_of: date,
    source: str = "",
    confirmed_by: str = "",
) -> FactEntry:
    """Check the typed fact; raise :class:`FactInputError` naming every bad field."""
    errors: dict[str, str] = {}
    parsed: Scalar | None = None
    text = (value or "").strip()
    if not text:
        errors["value"] = "a value is required"
    elif spec.choices:
        if text not in spec.choices:
            errors["value"] = f"choose one of: {', '.join(spec.choices)}"
        elif spec.type == "boolean":
            parsed = text == "yes"
        else:
            parsed = text
    elif spec.type == "number":
        try:
            parsed = _number(text)
        except ValueError:
            errors["value"] = f"not a number: {text!r}"
    elif spec.type == "date":
        try:
            parsed = parse_date(text, as_of, "value").isoformat()
        except ValueError as error:
            errors["value"] = str(error)
    else:
        parsed = text

    chosen_unit: str | None = None
    if spec.units:
        if not unit:
            errors["unit"] = f"choose a unit: {', '.join(spec.units)}"
        elif unit not in spec.units:
            errors["unit"] = f"unit {unit!r} is not accepted; use one of: {', '.join(spec.units)}"
        else:
            chosen_unit = unit

    if isinstance(parsed, int | float) and not isinstance(parsed, bool) and spec.quantity:
        check_unit = chosen_unit or units.CANONICAL[spec.quantity]
        if "unit" not in errors:
            try:
                canonical = units.normalize(spec.quantity, float(parsed), check_unit)
            except units.UnitError as error:
                errors["unit"] = str(error)
            else:
                bounds = units.plausible_range(spec.quantity)
                if bounds is not None and not bounds[0] <= canonical <= bounds[1]:
                    low, high = (clinical_number(b) for b in bounds)
                    errors["value"] = (
                        f"impossible {spec.name}: {parsed} {human_unit(check_unit) or check_unit} is "
                        f"outside {low} to {high} {human_unit(units.CANONICAL[spec.quantity])}"
                    ).rstrip()
                elif check_unit == "%" and 0 < canonical < 1:
                    # LVEF 0.62 % is a fraction typed where a percentage is meant (issue 14, 3)
                    errors["value"] = (
                        f"{spec.name} is a percentage: {parsed} looks like a fraction; "
                        f"type {clinical_number(canonical * 100)} for {clinical_number(canonical * 100)} %"
                    )

    on: date | None = None
    if spec.has_date:
        if when.strip():
            try:
                on = parse_date(when, as_of)
            except ValueError as error:
                errors["date"] = str(error)
        elif spec.date_required:
            errors["date"] = "a date is required (YYYY-MM-DD)"

    if spec.person_only and not confirmed_by.strip():
        # the rule set counts a person-only fact only once someone confirms it
        errors["form"] = f"{spec.name} is confirmed by a person: fill in 'confirmed by'"
    if errors:
        raise FactInputError(errors)
    assert parsed is not None
    return FactEntry(
        name=spec.name,
        kind=spec.kind,
        value=parsed,
        unit=chosen_unit,
        date=on,
        source=source.strip() or None,
        confirmed_by=confirmed_by.strip() or None,
    )


def _describe(entry: FactEntry) -> str:
    value = entry.value
    if isinstance(value, bool):
        value = "yes" if value else "no"
    unit = f" {entry.unit}" if entry.unit else ""
    when = f" on {entry.date.isoformat()}" if entry.date else ""
    return f"{entry.name} = {value}{unit}{when}"


def apply_fact(raw: dict[str, Any], entry: FactEntry) -> tuple[dict[str, Any], str]:
    """A copy of ``raw`` with ``entry`` added, or replacing the entry of the same name and date.

    Returns the new mapping and a one-line description ("added ..." / "corrected ...").
    The input mapping is never modified, so a rejected edit loses nothing.
    """
    data = copy.deepcopy(raw)
    when = entry.date.isoformat() if entry.date else None
    if entry.kind == "demographic":
        demographics = data.setdefault("demographics", {})
        verb = "corrected" if entry.name in demographics else "added"
        demographics[entry.name] = entry.value
        return data, f"{verb} {_describe(entry)}"

    section, value_key = {
        "observation": ("observations", "value"),
        "status": ("statuses", "value"),
        "assessment": ("assessments", "score"),
    }[entry.kind]
    items: list[dict[str, Any]] = data.setdefault(section, [])
    for item in items:
        if item.get("name") == entry.name and item.get("date") == when:
            old_unit = item.get("unit")
            item[value_key] = entry.value
            if entry.kind == "observation":
                if entry.unit:
                    item["unit"] = entry.unit
                else:
                    item.pop("unit", None)
                ref = item.get("reference_range")
                if isinstance(ref, dict) and old_unit and old_unit != entry.unit and "unit" not in ref:
                    item["reference_range"] = {**ref, "unit": old_unit}
            if entry.source:
                item["source"] = entry.source
            if entry.confirmed_by:
                item["confirmed_by"] = entry.confirmed_by
            return data, f"corrected {_describe(entry)}"

    new: dict[str, Any] = {"name": entry.name, value_key: entry.value}
    if entry.unit:
        new["unit"] = entry.unit
    if when:
        new["date"] = when
    if entry.source:
        new["source"] = entry.source
    if entry.confirmed_by and entry.kind == "status":
        new["confirmed_by"] = entry.confirmed_by
    items.append(new)
    return data, f"added {_describe(entry)}"


def current_value(raw: dict[str, Any], spec: FormSpec) -> dict[str, Any] | None:
    """The latest recorded entry of a fact in ``raw`` (to prefill a correction), if any."""
    if spec.kind == "demographic":
        value = raw.get("demographics", {}).get(spec.name)
        return None if value is None else {"value": value}
    section, value_key = {
        "observation": ("observations", "value"),
        "status": ("statuses", "value"),
        "assessment": ("assessments", "score"),
    }[spec.kind]
    found = [i for i in raw.get(section, []) if i.get("name") == spec.name]
    if not found:
        return None
    latest = max(found, key=lambda i: i.get("date") or "")
    return {**latest, "value": latest.get(value_key)}
