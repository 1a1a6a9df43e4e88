"""Screening records: what was decided, for whom, on which facts, by whom and when.

A record is one JSON file (``screenings/<patient>_<as-of>_<time>.json`` by
default) holding the patient's raw facts as screened, the rule set (id,
version, sha256), the screening date, the decision, every criterion's outcome,
the operator and the UTC time of saving, plus the full result document of
``screener screen --format json``. Reopening a record rebuilds the patient from
its raw facts, so it can be screened again with the same rule set.

No textual here: the TUI and tests both use this module.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from screener.errors import InputError, Location
from screener.outputs.files import OutputExists, write_new
from screener.outputs.provenance import result_columns
from screener.results import ScreeningResult

RECORD_FORMAT = "screener.screening-record"
# 2: adds the provenance block (screener_version, result_schema) and facts_sha256.
RECORD_VERSION = "2"
READABLE_VERSIONS = ("1", "2")
DEFAULT_RECORDS_DIR = Path("screenings")


@dataclass(frozen=True)
class Outcome:
    id: str
    type: str
    outcome: str
    missing: tuple[str, ...] = ()
    eligible_from: date | None = None


@dataclass(frozen=True)
class ScreeningRecord:
    path: Path | None
    patient: dict[str, Any]
    patient_id: str
    patient_file: str | None
    ruleset_id: str
    ruleset_version: str
    ruleset_sha256: str
    as_of: date
    decision: str
    eligible_from: date | None
    outcomes: tuple[Outcome, ...]
    operator: str
    saved_at: datetime


@dataclass(frozen=True)
class RecordListing:
    """One file of a records directory: its record, or why it cannot be read."""

    path: Path
    record: ScreeningRecord | None = None
    error: str | None = None


def record_document(
    patient_raw: dict[str, Any],
    result: ScreeningResult,
    operator: str,
    *,
    patient_file: str | None = None,
    saved_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON document of one screening record."""
    when = (saved_at or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    provenance = result_columns(result)
    return {
        "format": RECORD_FORMAT,
        "record_version": RECORD_VERSION,
        "saved_at": when.isoformat().replace("+00:00", "Z"),
        "operator": operator,
        "patient_id": result.patient_id,
        "patient_file": patient_file,
        "ruleset": {
            "id": result.ruleset_id,
            "trial": result.trial,
            "version": result.ruleset_version,
            "sha256": result.ruleset_sha256,
        },
        "as_of": result.as_of.isoformat(),
        "result_schema": provenance["result_schema"],
        "screener_version": provenance["screener_version"],
        "facts_sha256": facts_sha256(patient_raw),
        "decision": result.decision,
        "eligible_from": result.eligible_from.isoformat() if result.eligible_from else None,
        "outcomes": [
            {
                "id": c.id,
                "type": c.type,
                "outcome": c.outcome,
                "missing": list(c.missing),
                "eligible_from": c.eligible_from.isoformat() if c.eligible_from else None,
            }
            for c in result.criteria
        ],
        "patient": patient_raw,
        "screening": result.to_dict(),
    }


def facts_sha256(patient_raw: dict[str, Any]) -> str:
    """sha256 of the patient's raw facts as canonical JSON: the audit trail's ``input_sha256``
    of a TUI save, so ``screener audit verify --records`` can tell edited facts."""
    from screener.audit.trail import canonical_json

    return hashlib.sha256(canonical_json(patient_raw).encode("utf-8")).hexdigest()


def _file_stem(patient_id: str, as_of: date, saved_at: datetime) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", patient_id).strip("-.") or "patient"
    return f"{safe}_{as_of.isoformat()}_{saved_at.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def save_record(
    directory: str | Path,
    patient_raw: dict[str, Any],
    result: ScreeningResult,
    operator: str,
    *,
    patient_file: str | None = None,
    now: datetime | None = None,
) -> Path:
    """Write a new record file in ``directory`` (created if needed); never overwrites one."""
    saved_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    document = record_document(patient_raw, result, operator, patient_file=patient_file, saved_at=saved_at)
    folder = Path(directory)
    stem = _file_stem(result.patient_id, result.as_of, saved_at)
    data = (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    # written whole (fsynced temporary file) and linked into place, which fails if a record of
    # that name appeared meanwhile (another nurse's save): then the next free name is tried
    for n in range(1, 10_000):
        target = folder / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        try:
            write_new(target, data)
        except OutputExists:
            continue
        except InputError as error:
            raise InputError(
                f"cannot save the screening record: {error.message}", Location(str(folder))
            ) from None
        return target
    raise InputError("cannot save the screening record: no free file name", Location(str(folder)))


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], file: str) -> Any:
    if key not in data:
        raise InputError("missing field", Location(file, None, key))
    value = data[key]
    if not isinstance(value, kind):
        raise InputError(f"unexpected value {value!r}", Location(file, None, key))
    return value


def _date(value: Any, file: str, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError(f"not a date (YYYY-MM-DD): {value!r}", Location(file, None, where)) from None


def load_record(path: str | Path) -> ScreeningRecord:
    """Read a record file; :class:`InputError` naming file, line and field if it is not one."""
    p = Path(path)
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"cannot read record: {error.strerror or error}", Location(file)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"not valid JSON: {error.msg}", Location(file, error.lineno)) from None
    if not isinstance(data, dict) or data.get("format") != RECORD_FORMAT:
        raise InputError(f"not a screening record (format is not {RECORD_FORMAT})", Location(file))
    if data.get("record_version") not in READABLE_VERSIONS:
        raise InputError(
            f"record version {data.get('record_version')!r} is not supported "
            f"(expected one of {', '.join(READABLE_VERSIONS)})",
            Location(file, None, "record_version"),
        )
    ruleset = _field(data, "ruleset", dict, file)
    patient = _field(data, "patient", dict, file)
    outcomes = []
    for i, item in enumerate(_field(data, "outcomes", list, file)):
        if not isinstance(item, dict) or not {"id", "type", "outcome"} <= set(item):
            raise InputError("needs id, type and outcome", Location(file, None, f"outcomes[{i}]"))
        outcomes.append(
            Outcome(
                id=str(item["id"]),
                type=str(item["type"]),
                outcome=str(item["outcome"]),
                missing=tuple(item.get("missing") or ()),
                eligible_from=_date(item["eligible_from"], file, f"outcomes[{i}].eligible_from")
                if item.get("eligible_from")
                else None,
            )
        )
    saved_text = _field(data, "saved_at", str, file)
    try:
        saved_at = datetime.fromisoformat(saved_text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not a time: {saved_text!r}", Location(file, None, "saved_at")) from None
    for key in ("id", "version", "sha256"):
        if not isinstance(ruleset.get(key), str):
            raise InputError("missing or not text", Location(file, None, f"ruleset.{key}"))
    eligible_from = data.get("eligible_from")
    return ScreeningRecord(
        path=p,
        patient=patient,
        patient_id=str(_field(data, "patient_id", str, file)),
        patient_file=data.get("patient_file"),
        ruleset_id=ruleset["id"],
        ruleset_version=ruleset["version"],
        ruleset_sha256=ruleset["sha256"],
        as_of=_date(_field(data, "as_of", str, file), file, "as_of"),
        decision=str(_field(data, "decision", str, file)),
        eligible_from=_date(eligible_from, file, "eligible_from") if eligible_from else None,
        outcomes=tuple(outcomes),
        operator=str(_field(data, "operator", str, file)),
        saved_at=saved_at,
    )


def list_records(directory: str | Path) -> list[RecordListing]:
    """Every ``*.json`` file of ``directory``, newest first; unreadable ones carry their error."""
    folder = Path(directory)
    if not folder.is_dir():
        return []
    listings: list[RecordListing] = []
    for path in sorted(folder.glob("*.json")):
        try:
            listings.append(RecordListing(path, record=load_record(path)))
        except InputError as error:
            listings.append(RecordListing(path, error=str(error)))
    listings.sort(
        key=lambda r: (r.record.saved_at.timestamp() if r.record else 0.0, r.path.name), reverse=True
    )
    return listings
