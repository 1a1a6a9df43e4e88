"""From a patient record to the flat facts the engine matches.

This module decides, in Python, *which* value of a patient counts at a screening
date, by the rules that :mod:`screener.which_value` specifies (and whose
primitives it uses, as the SQL preparation :mod:`screener.vectorized.prepare`
uses their SQL twins): the latest observation not after that date and not older
than the rule set allows (or the latest with a preferred value, such as an ANA
ever positive), the latest status, the latest assessment; a person-only fact
counts only when someone confirmed it. Values are checked against the rule set's
types and converted to its units. Medication periods get their calendar
attributes (daily dose, duration, cumulative days at dose, last dose, failure)
from the named functions of :mod:`screener.clinical`.

Every fact is a JSON-ready dict with a unique ``id`` (durable_rules identifies
facts by content otherwise), a day number ``x_day`` for each date field ``x``,
and, for each date window the rules test, ``x_vs_<window>``: days from the
window's first day to the date, so the engine compares with 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from screener import units
from screener.clinical.dates import add_months, days_between
from screener.clinical.dosing import daily_dose_mg, monthly_dose_mg, weekly_dose_mg
from screener.errors import Location, PatientDataError
from screener.model.patient import Patient
from screener.model.records import RECORDS, rule_fields, stored
from screener.model.rules import WINDOW_OPS, FactTest, FieldTest, RuleSet, Window, walk
from screener.which_value import (
    SEQ_SPAN,
    day_of,
    disagree,
    is_confirmed,
    is_fresh,
    is_preferred,
    order_key,
)

EPOCH = date(1970, 1, 1)
# Record fields taken as they are, from the one declaration (screener.model.records): an
# observation's testable fields besides its date; a medication's stored fields other than dates.
_OBSERVATION_FIELDS = tuple(n for n in rule_fields("observation") if n != "date")
_MEDICATION_AS_IS = tuple(f.name for f in stored("medication") if f.type != "date")
FAILED_OUTCOMES = ("inefficacy", "adverse_effect")
RESOLVE = "a person must check the source records and correct or remove the wrong one"


def _shown(value: Any, unit: str | None, original: str | None, source: str | None) -> str:
    text = original or (f"{value} {unit}" if unit else f"{value}")
    if isinstance(value, bool) and not original:
        text = "yes" if value else "no"
    return text + (f" ({source})" if source else "")


def day_number(d: date) -> int:
    return (d - EPOCH).days


def from_day_number(n: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + n)


def window_start(as_of: date, window: Window) -> date:
    """The earliest date still inside ``window`` before ``as_of`` (calendar arithmetic)."""
    if window.years:
        return add_months(as_of, -12 * window.years)
    if window.months:
        return add_months(as_of, -window.months)
    return date.fromordinal(as_of.toordinal() - window.days)


def window_end(d: date, window: Window) -> date:
    """``d`` moved forward by ``window`` (calendar months and years, or days)."""
    if window.years:
        return add_months(d, 12 * window.years)
    if window.months:
        return add_months(d, window.months)
    return date.fromordinal(d.toordinal() + window.days)


@dataclass(frozen=True)
class SetAside:
    """A value the patient has that does not count at the screening date, and why.

    Too old for the rule set, dated after the screening date, or a person-only
    fact nobody has confirmed.
    """

    name: str
    date: date
    reason: str


@dataclass(frozen=True)
class PreparedFacts:
    facts: tuple[dict[str, Any], ...]
    set_aside: dict[str, SetAside]
    # contradictions in the record: fact name or condition record id -> what disagrees, and to do
    conflicts: dict[str, str] = field(default_factory=dict)

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {f["id"]: f for f in self.facts}


def _with_days(fact: dict[str, Any]) -> dict[str, Any]:
    for key, value in list(fact.items()):
        if isinstance(value, date):
            fact[key] = value.isoformat()
            fact[f"{key}_day"] = day_number(value)
    return {k: v for k, v in fact.items() if v is not None}


def _condition_fields() -> tuple[str, ...]:
    """A condition fact's record fields: those rules test, and its source (read at each call)."""
    return tuple(f.name for f in RECORDS["condition"] if f.rules or f.name == "source")


def _exposure(med: Any, index: int, as_of: date) -> dict[str, Any] | None:
    if med.start > as_of:
        return None
    administrations = tuple(d for d in med.administrations if d <= as_of)
    end = med.end if med.end is not None and med.end <= as_of else None
    if med.frequency == "once":  # a single dose
        ongoing = False
        last = administrations[-1] if administrations else med.start
    elif med.frequency is None and med.administrations:
        # a course recorded as its listed infusions, with no repeating schedule,
        # ends with its last infusion
        ongoing = False
        last = administrations[-1] if administrations else med.start
    else:
        ongoing = med.end is None or med.end > as_of
        last = as_of if ongoing else (administrations[-1] if administrations else end)
    period_end = as_of if ongoing else (end or last or med.start)
    fact: dict[str, Any] = {
        "kind": "exposure",
        "id": f"m{index}",
        **{name: getattr(med, name) for name in _MEDICATION_AS_IS},
        "start": med.start,
        "end": end,
        "last_dose": last,
        "ongoing": ongoing,
        "duration_days": days_between(med.start, period_end) + 1,
    }
    if med.outcome is not None:
        fact["failed"] = med.outcome in FAILED_OUTCOMES
    if administrations:
        fact["administrations"] = len(administrations)
        fact["administration_span_days"] = days_between(administrations[0], administrations[-1])
    elif med.frequency == "once":
        fact["administrations"] = 1
        fact["administration_span_days"] = 0
    if med.dose_mg is not None and med.frequency is not None and med.frequency != "once":
        fact["daily_dose_mg"] = round(daily_dose_mg(med.dose_mg, med.frequency), 6)
        fact["weekly_dose_mg"] = round(weekly_dose_mg(med.dose_mg, med.frequency), 6)
        fact["monthly_dose_mg"] = round(monthly_dose_mg(med.dose_mg, med.frequency), 6)
    return _with_days(fact)


def window_field(field: str, window: Window) -> str:
    """Name of the prepared field holding ``field``'s offset into ``window``."""
    return f"{field}_vs_{window.key}"


_WINDOWS: dict[str, frozenset[tuple[str, Window]]] = {}


def windows_of(ruleset: RuleSet) -> frozenset[tuple[str, Window]]:
    """(date field, window) pairs that the rule set's date-window tests use."""
    if ruleset.sha256 not in _WINDOWS:
        _WINDOWS[ruleset.sha256] = frozenset(_windows(ruleset))
    return _WINDOWS[ruleset.sha256]


def _windows(ruleset: RuleSet) -> set[tuple[str, Window]]:
    out: set[tuple[str, Window]] = set()
    for c in ruleset.criteria:
        for node in walk(c.test):
            if isinstance(node, FactTest | FieldTest) and node.comparison.op in WINDOW_OPS:
                name = node.field if isinstance(node, FieldTest) else (node.field or "value")
                out.add((name or "value", node.comparison.value))
    return out


def _add_window_offsets(
    fact: dict[str, Any], windows: frozenset[tuple[str, Window]], as_of: date
) -> dict[str, Any]:
    """For each window test, days from the window's first day to the fact's date.

    ``max_ago`` (within the window) holds when the offset is >= 0, ``min_ago``
    (at least that long ago) when it is <= 0; the engine compares with 0.
    """
    for name, window in windows:
        day = fact.get(f"{name}_day")
        if day is not None:
            fact[window_field(name, window)] = day - day_number(window_start(as_of, window))
    return fact


def _convert(
    name: str, quantity: str | None, target: str, obs: Any, file: str
) -> tuple[float, str, str | None]:
    """Convert an observation to the rule set's unit through its declared quantity."""
    where = Location(file, None, f"observations[name={name}, date={obs.date}].unit")
    if quantity is None or units.CANONICAL.get(quantity) != target or not isinstance(obs.value, int | float):
        raise PatientDataError(
            f"{name} is in {obs.unit}; the rule set needs {target} and no conversion is known", where
        )
    try:
        value = units.normalize(quantity, float(obs.value), obs.unit)
    except units.UnitError as error:
        raise PatientDataError(str(error), where) from None
    return value, target, f"{obs.value} {obs.unit}"


def declared_bounds(definition: Any) -> tuple[str, float, float] | None:
    """(quantity, low, high) when a fact's name is not itself a quantity but the rule set
    declares one (``quantity:``, e.g. creatinine_clearance_measured -> creatinine_clearance;
    selena_sledai -> sledai) in that quantity's canonical unit: the loader checks the
    plausibility of named quantities only, so these are checked when prepared, on every route
    (screener.vectorized.prepare mirrors this)."""
    quantity = definition.quantity
    if quantity is None or quantity == definition.name or definition.type != "number":
        return None
    if units.CANONICAL.get(quantity) != definition.unit:
        return None
    bounds = units.plausible_range(quantity)
    return None if bounds is None else (quantity, bounds[0], bounds[1])


def implausible(name: str, definition: Any, value: Any) -> str | None:
    """Why ``value`` of fact ``name`` cannot be real (:func:`declared_bounds`), or None."""
    found = declared_bounds(definition)
    if found is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    quantity, low, high = found
    if low <= value <= high:
        return None
    return (
        f"{name} = {float(value)!r} {definition.unit} is impossible: expected {low:g}..{high:g} ({quantity})"
    )


def _type_problem(expected: str, allowed: tuple[str, ...], value: Any) -> str | None:
    """Why ``value`` cannot stand for a fact of type ``expected`` (None if it can)."""
    if expected == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"expected a number, got {value!r}"
    if expected == "boolean" and not isinstance(value, bool):
        return f"expected true or false, got {value!r}"
    if expected == "string":
        if not isinstance(value, str):
            wanted = f"one of {list(allowed)}" if allowed else "text"
            return f"expected {wanted}, got {value!r}"
        if allowed and value not in allowed:
            return f"{value!r} is not one of {list(allowed)}"
    if expected == "date" and not isinstance(value, date):
        return f"expected a date, got {value!r}"
    return None


def cumulative_days_at_dose(periods: list[tuple[date, date, float | None]], index: int) -> int | None:
    """Days in the unbroken run of periods around ``periods[index]`` at or above its daily dose.

    ``periods`` are (start, last day, daily dose) of one drug, sorted by start. A
    run continues while the next period starts at most one day after the previous
    one ends and its daily dose is at least that of ``periods[index]``: a
    prednisone course tapered from 10 to 8 mg/day counts as one course at >= 8 mg/day.
    None when the period's dose is unknown.
    """
    dose = periods[index][2]
    if dose is None:
        return None
    first, last = index, index
    run_end = periods[index][1]
    while first > 0:
        _, prev_end, prev_dose = periods[first - 1]
        if prev_dose is None or prev_dose < dose or (periods[first][0] - prev_end).days > 1:
            break
        first -= 1
    while last + 1 < len(periods):
        next_start, next_end, next_dose = periods[last + 1]
        if next_dose is None or next_dose < dose or (next_start - run_end).days > 1:
            break
        last += 1
        run_end = max(run_end, next_end)
    # Count calendar days once: two records of the same prescription may overlap.
    days: set[int] = set()
    for p_start, p_end, _ in periods[first : last + 1]:
        days.update(range(p_start.toordinal(), p_end.toordinal() + 1))
    return len(days)


def _check_positions(patient: Patient) -> None:
    """Refuse a patient with more records of one kind than the order key can tell apart."""
    for kind in ("observations", "statuses", "assessments"):
        count = len(getattr(patient, kind))
        if count > SEQ_SPAN:
            raise PatientDataError(
                f"{count} {kind}: at most {SEQ_SPAN} can be screened per patient",
                Location(patient.file, None, kind),
            )


def context_fact(as_of: date) -> dict[str, Any]:
    return {
        "kind": "context",
        "id": "context",
        "as_of": as_of.isoformat(),
    }


def prepare(patient: Patient, ruleset: RuleSet, as_of: date) -> PreparedFacts:
    """The facts about ``patient`` that ``ruleset`` reads, as they stand on ``as_of``."""
    facts: list[dict[str, Any]] = [context_fact(as_of)]
    set_aside: dict[str, SetAside] = {}
    vocabulary = ruleset.facts

    def scalar(name: str, value: Any, **fields: Any) -> None:
        definition = vocabulary[name]
        problem = _type_problem(definition.type, definition.values, value)
        if problem:
            where = f"{name}" + (f" dated {fields['date']}" if fields.get("date") else "")
            raise PatientDataError(f"{where}: {problem}", Location(patient.file, None, name))
        if definition.type == "date" and isinstance(value, date):
            fields["value_day"] = day_number(value)
            value = value.isoformat()
        fact = {"kind": "fact", "id": f"f:{name}", "name": name, "value": value, **fields}
        if definition.unit and "unit" not in fact:
            fact["unit"] = definition.unit
        facts.append(_with_days(fact))

    def fresh(name: str, when: date | None) -> bool:  # rule 4 of screener.which_value
        if when is None:
            return True
        if when > as_of:
            set_aside.setdefault(name, SetAside(name, when, f"dated {when}, after the screening date"))
            return False
        limit = vocabulary[name].max_age_days
        if not is_fresh(when, as_of, limit):
            set_aside[name] = SetAside(name, when, f"latest value dated {when} is older than {limit} days")
            return False
        return True

    _check_positions(patient)

    if "birth_date" in vocabulary and patient.birth_date is not None:
        scalar("birth_date", patient.birth_date, source=patient.demographics_source)
    if "sex" in vocabulary and patient.sex is not None:
        scalar("sex", patient.sex, source=patient.demographics_source)

    # rules 1-3 of screener.which_value: the candidate with the largest order key counts
    keys: dict[str, int] = {}
    latest: dict[str, Any] = {}
    for seq, obs in enumerate(patient.observations):
        if obs.name in vocabulary and obs.date <= as_of:
            preferred = is_preferred(obs.value, vocabulary[obs.name].prefer_value)
            key = order_key(day_of(obs.date), seq, preferred)
            if obs.name not in latest or key > keys[obs.name]:
                keys[obs.name], latest[obs.name] = key, obs
        elif obs.name in vocabulary and obs.date > as_of and obs.name not in latest:
            set_aside.setdefault(
                obs.name,
                SetAside(obs.name, obs.date, f"dated {obs.date}, after the screening date"),
            )
    conflicts: dict[str, str] = {}
    for name, obs in latest.items():
        set_aside.pop(name, None)
        if not fresh(name, obs.date):
            continue
        definition = vocabulary[name]
        if definition.prefer_value is None:
            others = [
                o
                for o in patient.observations
                if o.name == name and o.date == obs.date and o is not obs and disagree(o.value, obs.value)
            ]
            if others:
                shown = " and ".join(_shown(o.value, o.unit, o.original, o.source) for o in (*others, obs))
                conflicts[name] = f"{name} records of {obs.date} disagree: {shown}; {RESOLVE}"
                set_aside[name] = SetAside(name, obs.date, conflicts[name])
                continue
        value, unit, original = obs.value, obs.unit, obs.original
        if definition.unit and unit and unit != definition.unit:
            # the rule set names the unit family (quantity) when it differs from the fact name
            value, unit, original = _convert(name, definition.quantity, definition.unit, obs, patient.file)
        problem = implausible(name, definition, value)
        if problem:
            raise PatientDataError(problem, Location(patient.file, None, f"observations[name={name}].value"))
        scalar(
            name,
            value,
            unit=unit,
            date=obs.date,
            **{name: getattr(obs, name) for name in _OBSERVATION_FIELDS},
            source=obs.source,
            original=original,
        )

    for group in (patient.statuses, patient.assessments):
        chosen: dict[str, tuple[int, Any]] = {}
        for seq, item in enumerate(group):
            if item.name not in vocabulary:
                continue
            if item.date is not None and item.date > as_of:
                continue
            key = order_key(day_of(item.date), seq)  # undated: older than any date
            if item.name not in chosen or key > chosen[item.name][0]:
                chosen[item.name] = (key, item)
        for name, (_, item) in chosen.items():
            if not fresh(name, item.date):
                continue
            # rule 5 of screener.which_value
            if vocabulary[name].person_only and not is_confirmed(getattr(item, "confirmed_by", None)):
                # e.g. a Consent resource imported from an EHR: only a person can confirm it
                set_aside[name] = SetAside(
                    name, item.date or as_of, "recorded but not confirmed by a person (confirmed_by)"
                )
                continue
            value = item.score if hasattr(item, "score") else item.value
            problem = implausible(name, vocabulary[name], value)
            if problem:
                raise PatientDataError(
                    problem, Location(patient.file, None, f"assessments[name={name}].score")
                )
            extra = {"confirmed_by": getattr(item, "confirmed_by", None)}
            scalar(name, value, date=item.date, source=item.source, **extra)

    _declared_conflicts(ruleset, facts, set_aside, conflicts)

    counted = [
        (i, cond) for i, cond in enumerate(patient.conditions) if cond.onset is None or cond.onset <= as_of
    ]
    contradicted = condition_conflicts([cond for _, cond in counted], as_of)
    for position, (i, cond) in enumerate(counted):
        ended = cond.end is not None and cond.end <= as_of
        other = contradicted.get(position)
        if other is not None:
            pair = sorted((counted[position], counted[other]), key=lambda item: item[0])
            words = " and ".join(_condition_words(c, f"c{k}", as_of) for k, c in pair)
            conflicts[f"c{i}"] = f"{words} contradict each other (active and resolved); {RESOLVE}"
        computed = {
            "status": "resolved" if ended else cond.status,
            # a condition recorded both active and resolved: whether it is active is unknown
            "active": None if other is not None else cond.status == "active" and not ended,
            "conflict": conflicts.get(f"c{i}"),
        }
        fact = {"kind": "condition", "id": f"c{i}"}
        for name in _condition_fields():
            fact[name] = computed[name] if name in computed else getattr(cond, name)
            if name == "active":
                fact["conflict"] = computed["conflict"]
        facts.append(_with_days(fact))

    exposures = [e for e in (_exposure(med, i, as_of) for i, med in enumerate(patient.medications)) if e]
    by_drug: dict[str, list[dict[str, Any]]] = {}
    for exposure in exposures:
        by_drug.setdefault(exposure["drug"], []).append(exposure)
    for same_drug in by_drug.values():
        same_drug.sort(key=lambda e: e["start_day"])
        periods = [
            (
                from_day_number(e["start_day"]),
                from_day_number(e["start_day"] + e["duration_days"] - 1),
                e.get("daily_dose_mg"),
            )
            for e in same_drug
        ]
        for i, exposure in enumerate(same_drug):
            days = cumulative_days_at_dose(periods, i)
            if days is not None:
                exposure["cumulative_days_at_dose"] = days
    facts.extend(exposures)
    windows = windows_of(ruleset)
    if windows:
        facts = [_add_window_offsets(f, windows, as_of) for f in facts]
    return PreparedFacts(tuple(facts), set_aside, conflicts)


def _active(cond: Any, as_of: date) -> bool:
    return cond.status == "active" and not (cond.end is not None and cond.end <= as_of)


def condition_conflicts(conditions: list[Any], as_of: date) -> dict[int, int]:
    """Conditions recorded both active and resolved: position -> the first position contradicting it.

    Two records of the same name and type contradict each other when one is active
    and the other resolved, unless the active one began after the resolved one ended
    (a recurrence); a missing onset or end date cannot show a recurrence.
    """
    out: dict[int, int] = {}
    for a, x in enumerate(conditions):
        for b, y in enumerate(conditions):
            if a == b or x.name != y.name or x.type != y.type or _active(x, as_of) == _active(y, as_of):
                continue
            active, resolved = (x, y) if _active(x, as_of) else (y, x)
            recurrence = active.onset is not None and resolved.end is not None and active.onset > resolved.end
            if not recurrence:
                out.setdefault(a, b)
    return out


def _condition_words(cond: Any, record: str, as_of: date) -> str:
    if _active(cond, as_of):
        state = "active" + (f" since {cond.onset}" if cond.onset else "")
    else:
        state = "resolved" + (f" on {cond.end}" if cond.end else "")
    kind = f" {cond.type}" if cond.type else ""
    source = f", {cond.source}" if cond.source else ""
    return f"{cond.name}{kind} {state} ({record}{source})"


def _declared_conflicts(
    ruleset: RuleSet, facts: list[dict[str, Any]], set_aside: dict[str, SetAside], conflicts: dict[str, str]
) -> None:
    """Set aside both facts of each contradiction the rule set declares (``conflicts:``)."""
    by_name = {f["name"]: f for f in facts if f.get("kind") == "fact"}
    for x in ruleset.conflicts:
        (a, va), (b, vb) = x.when
        fa, fb = by_name.get(a), by_name.get(b)
        if fa is None or fb is None:
            continue
        if disagree(fa["value"], va) or disagree(fb["value"], vb):
            continue
        da, db = fa.get("date_day"), fb.get("date_day")
        if da is not None and db is not None and abs(da - db) > x.within_days:
            continue
        shown = " and ".join(
            f"{f['name']} = {_shown(f['value'], f.get('unit'), f.get('original'), None)}"
            + (f" on {f['date']}" if f.get("date") else " (undated)")
            + (f" ({f['source']})" if f.get("source") else "")
            for f in (fa, fb)
        )
        message = f"{shown} contradict each other: {x.reading}; {RESOLVE}"
        for f in (fa, fb):
            if not any(g is f for g in facts):
                continue  # already set aside by another declared contradiction
            conflicts[f["name"]] = message
            day = f.get("date_day")
            when = from_day_number(day) if day is not None else date.min
            set_aside[f["name"]] = SetAside(f["name"], when, message)
            facts.remove(f)
