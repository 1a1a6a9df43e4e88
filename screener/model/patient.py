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
    file: str = "<memory>"
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _observation(item: dict[str, Any], here: Location) -> Observation:
    name, value, unit = item["name"], item["value"], item.get("unit")
    original = None
    if name in units.CANONICAL and not (isinstance(value, int | float) and not isinstance(value, bool)):
        raise PatientDataError(f"{name} must be a number, got {value!r}", here)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise PatientDataError(f"{name} value {value} is not a finite number", here)
        if name in units.CANONICAL:
            if unit is None:
                raise PatientDataError(
                    f"{name} = {value} has no unit; give one of the units for {name}, "
                    f"e.g. {units.CANONICAL[name]}",
                    here,
                )
            try:
                converted = units.normalize(name, float(value), unit)
            except units.UnitError as error:
                raise PatientDataError(str(error), here) from None
            if unit != units.CANONICAL[name]:
                original = f"{value} {unit}"
            value, unit = converted, units.CANONICAL[name]
            bounds = units.plausible_range(name)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise PatientDataError(
                    f"impossible {name} value {original or f'{value} {unit}'}: "
                    f"expected {bounds[0]}..{bounds[1]} {unit}",
                    here,
                )
    high = low = None
    ref = item.get("reference_range") or {}
    for key in ("high", "low"):
        if key in ref:
            bound = ref[key]
            ref_unit = ref.get("unit", item.get("unit"))
            if name in units.CANONICAL and ref_unit:
                try:
                    bound = units.normalize(name, float(bound), ref_unit)
                except units.UnitError as error:
                    raise PatientDataError(str(error), here) from None
            if key == "high":
                high = bound
            else:
                low = bound
    return Observation(
        name=name,
        value=value,
        unit=unit,
        date=date.fromisoformat(item["date"]),
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
        try:
            dose_mg = units.normalize("dose", float(item["dose"]), unit)
        except units.UnitError as error:
            raise PatientDataError(str(error), here) from None
    start = date.fromisoformat(item["start"])
    end = _date(item.get("end"))
    if end is not None and end < start:
        raise PatientDataError(f"{item['drug']} ends ({end}) before it starts ({start})", here)
    return Medication(
        drug=item["drug"],
        start=start,
        dose_mg=dose_mg,
        route=item.get("route"),
        frequency=item.get("frequency"),
        end=end,
        administrations=tuple(sorted(date.fromisoformat(d) for d in item.get("administrations", ()))),
        outcome=item.get("outcome"),
        source=item.get("source"),
    )


def patient_from_data(data: Any, lines: LineMap) -> Patient:
    """Build a :class:`Patient` from already-parsed data; raise on the first problem."""
    errors = schema_errors(data, "patient.schema.json", lines, PatientDataError)
    if errors:
        raise errors[0]
    demo = data["demographics"]

    def at(*path: str | int) -> Location:
        return lines.locate(path)

    birth = _date(demo.get("birth_date"))
    observations = tuple(
        _observation(item, at("observations", i)) for i, item in enumerate(data.get("observations", []))
    )
    medications = tuple(
        _medication(item, at("medications", i)) for i, item in enumerate(data.get("medications", []))
    )
    for i, item in enumerate(data.get("assessments", [])):
        if item["name"] == "selena_sledai" and not 0 <= item["score"] <= 105:
            raise PatientDataError(
                f"impossible SELENA-SLEDAI score {item['score']}: the scale runs 0..105",
                at("assessments", i, "score"),
            )
    for i, item in enumerate(data.get("observations", [])):
        if birth is not None and date.fromisoformat(item["date"]) < birth:
            raise PatientDataError(
                f"{item['name']} is dated {item['date']}, before birth ({birth})",
                at("observations", i, "date"),
            )
    return Patient(
        patient_id=data["patient_id"],
        birth_date=birth,
        sex=demo.get("sex"),
        observations=observations,
        statuses=tuple(
            Status(
                name=s["name"],
                value=s["value"],
                date=_date(s.get("date")),
                confirmed_by=s.get("confirmed_by"),
                source=s.get("source"),
            )
            for s in data.get("statuses", [])
        ),
        assessments=tuple(
            Assessment(a["name"], float(a["score"]), date.fromisoformat(a["date"]), a.get("source"))
            for a in data.get("assessments", [])
        ),
        conditions=tuple(
            Condition(
                name=c["name"],
                status=c.get("status", "active"),
                type=c.get("type"),
                onset=_date(c.get("onset")),
                end=_date(c.get("end")),
                severity=c.get("severity"),
                classification=c.get("classification"),
                criteria_met=c.get("criteria_met"),
                controlled=c.get("controlled"),
                source=c.get("source"),
            )
            for c in data.get("conditions", [])
        ),
        medications=medications,
        demographics_source=demo.get("source"),
        file=lines.file,
        raw=data,
    )


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
