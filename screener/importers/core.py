"""What every importer shares: issues, the import report, patient records and the native builder.

An importer reads some external format and yields one :class:`PatientRecord` per patient: the
patient in screener's native format (a dict that :func:`screener.model.patient.patient_from_data`
accepts) plus the problems met while reading it. Nothing is dropped silently:

- a code the mapping does not know is counted in the report per (kind, system, code, display);
- a malformed record (bad JSON line, bad CSV row, missing date, non-numeric value, unknown unit,
  impossible value) becomes an :class:`ImportIssue` naming file, line and field, and the rest of
  the input is read.

Before a record is yielded it is checked with ``patient_from_data``; an item the patient loader
refuses is taken out (and reported) so that one bad value never costs the whole patient.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from numbers import Real
from typing import Any

from screener import units
from screener.errors import PatientDataError
from screener.model.patient import Patient, patient_from_data
from screener.yamlio import LineMap


@dataclass(frozen=True)
class ImportIssue:
    """A problem in the input: where it is and what is wrong. ``level`` is error or warning."""

    file: str
    line: int | None
    field: str | None
    message: str
    patient_id: str | None = None
    level: str = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}"
        who = f" [patient {self.patient_id}]" if self.patient_id else ""
        return f"{where}: {self.level}: {self.message}{who}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "field": self.field,
            "message": self.message,
            "patient_id": self.patient_id,
            "level": self.level,
        }


@dataclass(frozen=True)
class UnmappedCode:
    """A code met in the input that the mapping does not turn into a fact."""

    kind: str  # resource type or table, e.g. Observation, measurement
    system: str
    code: str
    display: str
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "system": self.system,
            "code": self.code,
            "display": self.display,
            "count": self.count,
        }


@dataclass(frozen=True)
class AnsweredCode:
    """A code answered by a terminology other than the mapping's own list (range, name, net ...)."""

    kind: str
    via: str
    code: str  # "system|code", or "text '...'" for the text safety net
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "via": self.via, "code": self.code, "count": self.count}


@dataclass(frozen=True)
class ImportReport:
    """Summary of one import run (frozen; see :class:`ImportLog` for the running tally)."""

    format: str
    mapping: str
    patients: int
    patients_failed: int
    records: int
    facts: dict[str, int]
    unmapped: tuple[UnmappedCode, ...]
    skipped: dict[str, int]
    issues: tuple[ImportIssue, ...]
    answered: dict[str, int] = field(default_factory=dict)  # "kind: terminology" -> records
    answered_codes: tuple[AnsweredCode, ...] = ()  # codes not answered by the bundled map

    @property
    def errors(self) -> tuple[ImportIssue, ...]:
        return tuple(i for i in self.issues if i.level == "error")

    def unmapped_count(self, system: str, code: str) -> int:
        return sum(u.count for u in self.unmapped if u.system == system and u.code == code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "format": self.format,
            "mapping": self.mapping,
            "patients": self.patients,
            "patients_failed": self.patients_failed,
            "records": self.records,
            "facts": dict(self.facts),
            "skipped": dict(self.skipped),
            "answered_by": dict(self.answered),
            "answered_codes": [a.to_dict() for a in self.answered_codes],
            "unmapped": [u.to_dict() for u in self.unmapped],
            "issues": [i.to_dict() for i in self.issues],
        }

    def render_text(self, top: int = 20) -> str:
        out = [
            f"{self.format}: {self.patients} patient(s) converted, {self.patients_failed} failed, "
            f"{self.records} record(s) read",
            "facts: " + (", ".join(f"{k} {v}" for k, v in sorted(self.facts.items())) or "none"),
        ]
        if self.answered:
            answered = sorted(self.answered.items())
            out.append("codes answered by: " + ", ".join(f"{k} {v}" for k, v in answered))
        if self.answered_codes:
            out.append("answered outside the bundled map; most frequent:")
            for a in self.answered_codes[:top]:
                out.append(f"  {a.count:6d}  {a.kind}  {a.code}  by {a.via}")
        if self.skipped:
            out.append("not used: " + ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())))
        if self.unmapped:
            total = sum(u.count for u in self.unmapped)
            out.append(f"unmapped codes: {len(self.unmapped)} distinct, {total} record(s); most frequent:")
            for u in self.unmapped[:top]:
                out.append(f"  {u.count:6d}  {u.kind}  {u.system}|{u.code}  {u.display}")
        errors = self.errors
        warnings = len(self.issues) - len(errors)
        out.append(f"issues: {len(errors)} error(s), {warnings} warning(s)")
        for issue in self.issues[:top]:
            out.append(f"  {issue}")
        if len(self.issues) > top:
            out.append(f"  ... {len(self.issues) - top} more")
        return "\n".join(out) + "\n"


class ImportLog:
    """Running tally of an import; :meth:`report` freezes it into an :class:`ImportReport`."""

    def __init__(self, format: str, mapping: str) -> None:
        self.format = format
        self.mapping = mapping
        self.patients = 0
        self.patients_failed = 0
        self.records = 0
        self.facts: Counter[str] = Counter()
        self.skipped: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self._answered_codes: Counter[tuple[str, str, str]] = Counter()
        self._unmapped: Counter[tuple[str, str, str]] = Counter()
        self._display: dict[tuple[str, str, str], str] = {}
        self.issues: list[ImportIssue] = []

    def issue(self, issue: ImportIssue) -> None:
        self.issues.append(issue)

    def unmapped(self, kind: str, system: str | None, code: str | None, display: str | None) -> None:
        key = (kind, system or "", str(code) if code is not None else "")
        self._unmapped[key] += 1
        if display and key not in self._display:
            self._display[key] = display

    def skip(self, kind: str) -> None:
        self.skipped[kind] += 1

    def answer(self, kind: str, via: str, code: str | None = None) -> None:
        """Count which terminology answered a record's code (bundled map, ICD-10 range ...)."""
        self.answered[f"{kind}: {via.split(' (')[0]}"] += 1
        if via != "bundled map" and code:
            self._answered_codes[(kind, via, code)] += 1

    def report(self) -> ImportReport:
        unmapped = tuple(
            UnmappedCode(k[0], k[1], k[2], self._display.get(k, ""), n)
            for k, n in sorted(self._unmapped.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        return ImportReport(
            format=self.format,
            mapping=self.mapping,
            patients=self.patients,
            patients_failed=self.patients_failed,
            records=self.records,
            facts=dict(self.facts),
            unmapped=unmapped,
            skipped=dict(self.skipped),
            issues=tuple(self.issues),
            answered=dict(self.answered),
            answered_codes=tuple(
                AnsweredCode(k[0], k[1], k[2], n)
                for k, n in sorted(self._answered_codes.items(), key=lambda kv: (-kv[1], kv[0]))
            ),
        )


@dataclass(frozen=True)
class PatientRecord:
    """One imported patient: native data, where it came from, and the problems met."""

    patient_id: str
    data: dict[str, Any]
    issues: tuple[ImportIssue, ...]
    file: str

    def patient(self) -> Patient:
        """The validated :class:`Patient` (the importer already checked it loads)."""
        return patient_from_data(self.data, LineMap(self.file, {}))


class ImportRun(Iterator[PatientRecord]):
    """Iterator over an import's patients; ``report`` is complete once iteration ends.

    Patients are produced lazily, so a batch runner can stream them; ``report`` may be read at
    any time and then reflects what has been read so far.
    """

    def __init__(self, records: Iterator[PatientRecord], log: ImportLog) -> None:
        self._records = records
        self.log = log

    def __iter__(self) -> ImportRun:
        return self

    def __next__(self) -> PatientRecord:
        return next(self._records)

    @property
    def report(self) -> ImportReport:
        return self.log.report()


# ------------------------------------------------------------------------------------------ dates

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")


def parse_date(text: Any) -> date:
    """The calendar date of an ISO date or date-time, as written (no time-zone shift).

    Partial dates (``2019`` or ``2019-05``) are refused: a day is needed to compute ages and
    windows, and guessing one could move a patient across a boundary.
    """
    if isinstance(text, date):
        return text
    m = _DATE.match(str(text).strip())
    if not m:
        raise ValueError(f"not a full date (YYYY-MM-DD): {text!r}")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def parse_number(text: Any) -> float:
    if isinstance(text, bool):
        raise ValueError(f"not a number: {text!r}")
    if isinstance(text, Real):
        value = float(text)
    else:
        try:
            value = float(str(text).strip())
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


# ---------------------------------------------------------------------------------------- builder

_SECTION = re.compile(r"^(observations|statuses|assessments|conditions|medications)\[(\d+)\]")


@dataclass
class Origin:
    file: str
    line: int | None
    field: str | None


@dataclass
class NativeBuilder:
    """Collects one patient's facts in native form, each with the place it came from."""

    patient_id: str
    file: str
    demographics: dict[str, Any] = field(default_factory=dict)
    items: dict[str, list[tuple[dict[str, Any], Origin]]] = field(
        default_factory=lambda: {
            k: [] for k in ("observations", "statuses", "assessments", "conditions", "medications")
        }
    )
    issues: list[ImportIssue] = field(default_factory=list)

    def problem(self, origin: Origin, message: str, level: str = "error") -> None:
        self.issues.append(
            ImportIssue(origin.file, origin.line, origin.field, message, self.patient_id, level)
        )

    def add_observation(self, item: dict[str, Any], origin: Origin) -> bool:
        """Add an observation after checking its unit and plausibility; report and drop it if bad."""
        name, value, unit = item["name"], item["value"], item.get("unit")
        if isinstance(value, int | float) and not isinstance(value, bool) and name in units.CANONICAL:
            if not unit:
                self.problem(origin, f"{name} = {value} has no unit; expected e.g. {units.CANONICAL[name]}")
                return False
            try:
                converted = units.normalize(name, float(value), unit)
            except (units.UnitError, ValueError, TypeError) as error:
                self.problem(origin, str(error))
                return False
            problem = units.plausibility_problem(name, converted)
            if problem:
                self.problem(origin, f"impossible {name} value {value} {unit}: {problem}")
                return False
        self.items["observations"].append((item, origin))
        return True

    def add(self, section: str, item: dict[str, Any], origin: Origin) -> None:
        self.items[section].append((item, origin))

    def build(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema_version": "1",
            "patient_id": self.patient_id,
            "demographics": {k: v for k, v in self.demographics.items() if v is not None},
        }
        for section, entries in self.items.items():
            if entries:
                data[section] = [{k: v for k, v in item.items() if v is not None} for item, _ in entries]
        return data

    def finish(self, log: ImportLog) -> PatientRecord | None:
        """Validate with the patient loader, dropping refused items; None if the patient is unusable."""
        birth = self.demographics.get("birth_date")
        if birth:
            for section, date_key in (
                ("observations", "date"),
                ("assessments", "date"),
                ("medications", "start"),
                ("statuses", "date"),
            ):
                kept = []
                for item, origin in self.items[section]:
                    when = item.get(date_key)
                    if when and when < birth:
                        self.problem(origin, f"dated {when}, before birth ({birth}); not imported")
                    else:
                        kept.append((item, origin))
                self.items[section] = kept
        for _attempt in range(1000):
            data = self.build()
            try:
                patient_from_data(data, LineMap(self.file, {}))
            except PatientDataError as error:
                where = error.location.field if error.location else None
                m = _SECTION.match(where or "")
                if m is None:
                    self.problem(Origin(self.file, None, where), f"patient not imported: {error.message}")
                    log.patients_failed += 1
                    log.issues.extend(self.issues)
                    return None
                section, index = m.group(1), int(m.group(2))
                _item, origin = self.items[section].pop(index)
                self.problem(origin, f"{error.message}; not imported")
                continue
            break
        log.patients += 1
        for section, entries in self.items.items():
            if entries:
                log.facts[section] += len(entries)
        log.issues.extend(self.issues)
        return PatientRecord(self.patient_id, data, tuple(self.issues), self.file)


def iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None
