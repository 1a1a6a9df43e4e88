"""Read back a finished batch output (CSV or JSONL rows, row format 2) for the exports.

Cohorts and FHIR resources are made from the rows as written, so they say exactly what the
rows say, whichever runner (engine or vectorized) wrote them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from screener.batch.safe_io import csv_text
from screener.errors import InputError, Location

csv.field_size_limit(1 << 24)


@dataclass(frozen=True)
class Row:
    patient_id: str
    decision: str
    eligible_from: date | None
    has_unknown: bool
    line: int  # line of the batch output file


def _date(text: str | None, file: str, line: int) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"not a date: {text!r}", Location(file, line, "eligible_from")) from None


def read_rows(path: Path, fmt: str) -> Iterator[Row]:
    """The rows of a batch output file, in order."""
    file = str(path)
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "jsonl":
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                data = json.loads(text)
                yield Row(
                    str(data["patient_id"]),
                    str(data["decision"]),
                    _date(data.get("eligible_from"), file, number),
                    bool(data.get("unknown")),
                    number,
                )
        else:
            for number, data in enumerate(csv.DictReader(handle), start=2):
                yield Row(
                    csv_text(data["patient_id"]),  # a formula-like id was written with a leading '
                    data["decision"],
                    _date(data.get("eligible_from"), file, number),
                    bool(data.get("unknown")),
                    number,
                )
