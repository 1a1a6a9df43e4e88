"""One input record into a patient, or the located issue that says why not.

Shared by the Python conversion (``screener convert --to tables``) and the writer of SQL
conversions (:mod:`screener.tables.write_staged`, for the records the SQL leaves to Python),
so a record gives the same message, file, line and field on both.
"""

from __future__ import annotations

from collections.abc import Callable

from screener.batch.inputs import Record, failure_message
from screener.errors import InputError, Location, ScreenerError
from screener.importers.core import ImportIssue
from screener.model.patient import Patient, patient_from_data
from screener.yamlio import LineMap


def record_issue(record: Record, message: str, location: Location | None = None) -> ImportIssue:
    """An unreadable record as the import report shows it: file, line, field, message."""
    line = record.line
    if location is not None and record.lines is not None:
        line = location.line  # a YAML/JSON file: the line inside it
    patient_id = record.data.get("patient_id") if isinstance(record.data, dict) else None
    return ImportIssue(
        file=record.source,
        line=line,
        field=location.field if location is not None else None,
        message=message,
        patient_id=patient_id if isinstance(patient_id, str) else None,
    )


def load_record(record: Record, use: Callable[[Patient], object]) -> ImportIssue | None:
    """Load ``record`` as a patient and hand it to ``use`` (which may refuse it by raising);
    return the issue when the record cannot be read, loaded or used, None when it was."""
    if record.error is not None:
        where = Location(record.source, record.error.line, record.error.field)
        return record_issue(record, record.error.message, where)
    assert record.data is not None
    try:
        use(patient_from_data(record.data, record.lines or LineMap(record.source, {})))
    except InputError as error:
        return record_issue(record, error.message, error.location)
    except ScreenerError as error:
        return record_issue(record, f"{type(error).__name__}: {error}")
    except Exception as error:  # one record (a bug, a RecursionError) never stops the rest
        return record_issue(record, failure_message(error))
    return None
