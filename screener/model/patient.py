"""The patient record in screener's native format (``spec/patient.schema.json``).

Loading validates against the schema, parses dates, converts every quantity
of a known kind to its canonical unit and rejects impossible values, each with
the file, line and field at fault. The raw mapping is kept so a view can edit
and save the record without losing anything it does not understand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from screener import units
from screener.errors import Location, PatientDataError
from screener.model.vocabulary import unknown_names
from screener.spec.validate import schema_errors
from screener.yamlio import LineMap, load_file, load_text, yaml_error_location, yaml_error_message

Scalar = float | int | str | bool


@dataclass(frozen=True)
class Observation:
    name: str
    value: Scalar
    unit: str | None
    date: date
    reference_high: float | None = None
    reference_low: float | None = None
    method: str | None = None
    on_oxygen: bool | None = None
    attributed_to_sle: bool | None = None
    source: str | None = None
    original: str | None = None  # value and unit as written, when converted


@dataclass(frozen=True)
class Status:
    name: str
    value: Scalar
    date: date | None = None
    confirmed_by: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Assessment:
    name: str
    score: float
    date: date
    source: str | None = None


@dataclass(frozen=True)
class Condition:
    name: str
    status: str = "active"
    type: str | None = None
    onset: date | None = None
    end: date | None = None
    severity: str | None = None
    classification: str | None = None
    criteria_met: int | None = None
    controlled: bool | None = None
    source: str | None = None
    verification: str = "confirmed"  # or "unconfirmed": see screener.engine.uncertain


@dataclass(frozen=True)
class Medication:
    drug: str
    start: date
    dose_mg: float | None = None
    route: str | None = None
    frequency: str | None = None
    end: date | None = None
    administrations: tuple[date, ...] = ()
    outcome: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Patient:
    patient_id: str
    birth_date: date | None = None
    sex: str | None = None
    observations: tuple[Observation, ...] = ()
    statuses: tuple[Status, ...] = ()
    assessments: tuple[Assessment, ...] = ()
    conditions: tuple[Condition, ...] = ()
    medications: tuple[Medication, ...] = ()
    demographics_source: str | None = None
    deceased: date | bool | None = None  # date of death, or True when the date is unknown
    observed: tuple[tuple[date, date | None], ...] = ()  # periods the source records everything
    file: str = "<memory>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


#: Words YAML 1.1 read as booleans; in a status they mean true/false, so they must be written so.
_YES_NO_WORDS = frozenset(("yes", "no", "y", "n", "on", "off"))


def parse_date(value: Any, here: Location) -> date:
    """An ISO date from the file, or a located error (``0000-01-01`` passes the schema's format)."""
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        message = f"{value!r} is not a calendar date (YYYY-MM-DD, year 1 or later)"
        raise PatientDataError(message, here) from None


def _date(value: str | None, here: Location) -> date | None:
    return parse_date(value, here) if value else None


def _number(what: str, value: Any, here: Location) -> float:
    """``value`` as a finite float (integers of 400 digits overflow to an error, not inf)."""
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        digits = value.bit_length() * 0.30103 if isinstance(value, int) else None
        shown = f"(a number of about {digits:.0f} digits)" if digits else repr(value)[:20]
        raise PatientDataError(f"{what} {shown} is not a usable number", here) from None
    if not math.isfinite(number):
        raise PatientDataError(f"{what} value {value} is not a finite number", here)
    return number


def _canonical(name: str, value: Any, unit: str, here: Location) -> float:
    """``value`` in ``unit`` converted to ``name``'s canonical unit and checked for plausibility."""
    number = _number(name, value, here)
    try:
        converted = units.normalize(name, number, unit)
    except units.UnitError as error:
        raise PatientDataError(str(error), here) from None
    problem = units.plausibility_problem(name, converted)
    if problem:
        shown = f"{value} {unit}" if unit != units.CANONICAL[name] else f"{converted} {unit}"
        raise PatientDataError(f"impossible {name} value {shown}: {problem}", here)
    return converted


def _reference_range(item: dict[str, Any], here: Location) -> tuple[float | None, float | None]:
    """(low, high) of an observation's reference range, in the value's canonical unit.

    A bound must be a finite number and not negative, and low must not exceed high: a
    reference range is what a lab calls normal, and an inverted or negative one is a
    transcription error that would silently change an "x ULN" criterion. (Bounds are
    not held to the value's plausibility guard: ranges are often copied from another
    unit, and only the ULN of AST/ALT is read by a criterion.)
    """
    name = item["name"]
    ref = item.get("reference_range") or {}
    ref_unit = ref.get("unit", item.get("unit"))
    bounds: dict[str, float] = {}
    for key in ("low", "high"):
        if key not in ref:
            continue
        what = f"{name} reference range {key}"
        bound = _number(what, ref[key], here)
        if bound < 0:
            raise PatientDataError(f"{what} {ref[key]} is negative", here)
        if name in units.CANONICAL and ref_unit:
            try:
                bound = units.normalize(name, bound, ref_unit)
            except units.UnitError as error:
                raise PatientDataError(str(error), here) from None
            if not math.isfinite(bound):
                raise PatientDataError(f"{what} {ref[key]} {ref_unit} is not a finite number", here)
        bounds[key] = bound
    if "low" in bounds and "high" in bounds and bounds["low"] > bounds["high"]:
        raise PatientDataError(
            f"{name} reference range is inverted: low {ref['low']} is above high {ref['high']}", here
        )
    return bounds.get("low"), bounds.get("high")


def _observation(item: dict[str, Any], here: Location) -> Observation:
    name, value, unit = item["name"], item["value"], item.get("unit")
    original = None
    if name in units.CANONICAL and not (isinstance(value, int | float) and not isinstance(value, bool)):
        raise PatientDataError(f"{name} must be a number, got {value!r}", here)
    if isinstance(value, int | float) and not isinstance(value, bool):
        _number(name, value, here)  # finite, and not a 400-digit integer
        if name in units.CANONICAL:
            if unit is None:
                raise PatientDataError(
                    f"{name} = {value} has no unit; give one of the units for {name}, "
                    f"e.g. {units.CANONICAL[name]}",
                    here,
                )
            converted = _canonical(name, value, unit, here)
            if unit != units.CANONICAL[name]:
                original = f"{value} {unit}"
            value, unit = converted, units.CANONICAL[name]
    low, high = _reference_range(item, here)
    return Observation(
        name=name,
        value=value,
        unit=unit,
        date=parse_date(item["date"], here),
        reference_high=high,
        reference_low=low,
        method=item.get("method"),
        on_oxygen=item.get("on_oxygen"),
        attributed_to_sle=item.get("attributed_to_sle"),
        source=item.get("source"),
        original=original,
    )


def _medication(item: dict[str, Any], here: Location) -> Medication:
    dose_mg = None
    if "dose" in item:
        unit = item.get("unit")
        if unit is None:
            raise PatientDataError(f"{item['drug']} dose has no unit (mg, g or ug)", here)
        dose_mg = _canonical("dose", item["dose"], unit, here)
    start = parse_date(item["start"], here)
    end = _date(item.get("end"), here)
    if end is not None and end < start:
        raise PatientDataError(f"{item['drug']} ends ({end}) before it starts ({start})", here)
    return Medication(
        drug=item["drug"],
        start=start,
        dose_mg=dose_mg,
        route=item.get("route"),
        frequency=item.get("frequency"),
        end=end,
        administrations=tuple(sorted(parse_date(d, here) for d in item.get("administrations", ()))),
        outcome=item.get("outcome"),
        source=item.get("source"),
    )


#: Classification criteria sets and how many criteria each has. ACR 1982/1997: 11
#: criteria (Tan 1982, Hochberg 1997; shared/protocol/criteria.md I2).
CLASSIFICATION_CRITERIA: dict[str, int] = {"acr_1982": 11, "acr_1997": 11}


def _condition(item: dict[str, Any], here: Location) -> Condition:
    met, classification = item.get("criteria_met"), item.get("classification")
    limit = CLASSIFICATION_CRITERIA.get(classification or "")
    if met is not None and limit is not None and met > limit:
        raise PatientDataError(
            f"{item['name']}: {met} criteria met, but {classification} has only {limit}", here
        )
    onset, end = _date(item.get("onset"), here), _date(item.get("end"), here)
    return Condition(
        name=item["name"],
        status=item.get("status", "active"),
        type=item.get("type"),
        onset=onset,
        end=end,
        severity=item.get("severity"),
        classification=classification,
        criteria_met=met,
        controlled=item.get("controlled"),
        source=item.get("source"),
        verification=item.get("verification", "confirmed"),
    )


def _before_birth(patient: Patient, lines: LineMap) -> PatientDataError | None:
    """A dated record earlier than the birth date: a typo that would silently change a window."""
    birth = patient.birth_date
    if birth is None:
        return None
    dated: list[tuple[str, date | None, tuple[str | int, ...]]] = []
    dated += [(o.name, o.date, ("observations", i, "date")) for i, o in enumerate(patient.observations)]
    dated += [(m.drug, m.start, ("medications", i, "start")) for i, m in enumerate(patient.medications)]
    for i, m in enumerate(patient.medications):
        path = ("medications", i, "administrations")
        dated += [(f"{m.drug} administration", d, path) for d in m.administrations]
    dated += [(a.name, a.date, ("assessments", i, "date")) for i, a in enumerate(patient.assessments)]
    dated += [(s.name, s.date, ("statuses", i, "date")) for i, s in enumerate(patient.statuses)]
    for name, when, path in dated:
        if when is not None and when < birth:
            return PatientDataError(f"{name} is dated {when}, before birth ({birth})", lines.locate(path))
    return None


def _deceased(value: Any, here: Location) -> date | bool | None:
    if value is None or value is False:
        return None
    if value is True:
        return True
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PatientDataError(
            f"deceased must be a date (YYYY-MM-DD, year 1 or later) or true, got {value!r}", here
        ) from None


def _observed(periods: list[dict[str, str]], at: Any) -> tuple[tuple[date, date | None], ...]:
    out = []
    for i, period in enumerate(periods):
        here = at("demographics", "observed", i)
        start, end = parse_date(period["start"], here), _date(period.get("end"), here)
        if end is not None and end < start:
            raise PatientDataError(
                f"observed period ends ({end}) before it starts ({start})",
                at("demographics", "observed", i, "end"),
            )
        out.append((start, end))
    return tuple(out)


def patient_from_data(data: Any, lines: LineMap) -> Patient:
    """Build a :class:`Patient` from already-parsed data; raise on the first problem."""
    errors = schema_errors(data, "patient.schema.json", lines, PatientDataError)
    if errors:
        raise errors[0]
    demo = data["demographics"]

    def at(*path: str | int) -> Location:
        return lines.locate(path)

    birth = _date(demo.get("birth_date"), at("demographics", "birth_date"))
    observations = tuple(
        _observation(item, at("observations", i)) for i, item in enumerate(data.get("observations", []))
    )
    medications = tuple(
        _medication(item, at("medications", i)) for i, item in enumerate(data.get("medications", []))
    )
    assessments = []
    for i, item in enumerate(data.get("assessments", [])):
        score = _number(item["name"], item["score"], at("assessments", i, "score"))
        if item["name"] == "selena_sledai" and not 0 <= score <= 105:
            raise PatientDataError(
                f"impossible SELENA-SLEDAI score {item['score']}: the scale runs 0..105",
                at("assessments", i, "score"),
            )
        when = parse_date(item["date"], at("assessments", i, "date"))
        assessments.append(Assessment(item["name"], score, when, item.get("source")))
    statuses = []
    for i, s in enumerate(data.get("statuses", [])):
        value = s["value"]
        if isinstance(value, int | float) and not isinstance(value, bool):
            _number(s["name"], value, at("statuses", i, "value"))
        if isinstance(value, str) and value.lower() in _YES_NO_WORDS:
            # YAML 1.1 read these as booleans; screener reads YAML 1.2, where they are text
            raise PatientDataError(
                f"{s['name']} is the text {value!r}; write true or false", at("statuses", i, "value")
            )
        statuses.append(
            Status(
                name=s["name"],
                value=value,
                date=_date(s.get("date"), at("statuses", i, "date")),
                confirmed_by=s.get("confirmed_by"),
                source=s.get("source"),
            )
        )
    patient = Patient(
        patient_id=data["patient_id"],
        birth_date=birth,
        sex=demo.get("sex"),
        observations=observations,
        statuses=tuple(statuses),
        assessments=tuple(assessments),
        conditions=tuple(
            _condition(c, at("conditions", i)) for i, c in enumerate(data.get("conditions", []))
        ),
        medications=medications,
        demographics_source=demo.get("source"),
        deceased=_deceased(demo.get("deceased"), at("demographics", "deceased")),
        observed=_observed(demo.get("observed", []), at),
        file=lines.file,
        raw=data,
    )
    problem = _before_birth(patient, lines)
    if problem:
        raise problem
    unknown = unknown_names(patient, lines)
    if unknown:
        raise unknown[0]
    return patient


def parse_patient(text: str, file: str = "<memory>") -> Patient:
    try:
        data, lines = load_text(text, file)
    except yaml.YAMLError as error:
        raise PatientDataError(yaml_error_message(error), yaml_error_location(error, file)) from None
    return patient_from_data(data, lines)


def load_patient(path: str | Path) -> Patient:
    """Read a patient file (YAML or JSON)."""
    p = Path(path)
    try:
        data, lines = load_file(p)
    except OSError as error:
        raise PatientDataError(f"cannot read patient file: {error.strerror}", Location(str(p))) from None
    except yaml.YAMLError as error:
        raise PatientDataError(yaml_error_message(error), yaml_error_location(error, str(p))) from None
    return patient_from_data(data, lines)
