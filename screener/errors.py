"""One exception hierarchy for everything the screener reports to a person.

Every error that comes from a file names the file, the line when it is known,
and the field (a JSON path such as ``criteria[3].test.all[0].lt``), so that a
nurse or an auditor can go straight to the offending place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """Where a problem sits: file, 1-based line (if known) and field path."""

    file: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": {self.field}"
        return where


class ScreenerError(Exception):
    """Root of every error the screener raises on purpose."""


class InputError(ScreenerError):
    """A rule file or a patient file cannot be used as it is."""

    def __init__(self, message: str, location: Location | None = None) -> None:
        self.message = message
        self.location = location
        super().__init__(f"{location}: {message}" if location else message)


class RuleSpecError(InputError):
    """A rule file is malformed, breaks the schema or refers to unknown names."""


class PatientDataError(InputError):
    """A patient record is malformed, has an impossible value or a wrong unit."""


class EngineError(ScreenerError):
    """The rule engine failed; the message says how (never swallowed)."""
