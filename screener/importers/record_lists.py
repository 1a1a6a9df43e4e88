"""Whether a record has a diagnosis list and a medication history, from the records no criterion reads.

The importers keep only the conditions and medications a rule set names. A real record whose
diagnoses are all beside the point (hypertension, asthma) would then look like a record with no
diagnosis list at all, and the readings that count "none recorded" as none only when the record
has a list (NCT03562065 E6, E7, E11: "at least one diagnosis, active or past"; E10: "no medication
history at all") would stay unknown. So each importer keeps one marker per patient:

- ``other_diagnosis``: a condition standing for every Condition / CONDITION_OCCURRENCE record no
  criterion reads (unmapped, or classified as naming no criterion), ``active`` when one of them is;
- ``other_medication``: an exposure standing for every medication record of a drug no criterion
  reads, from the earliest start, ongoing when one of them is.

No criterion matches these names, so they never pass or fail a criterion by themselves; they only
show the lists exist. Records set aside (refuted, entered in error, a proposal...) are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from screener.importers.core import NativeBuilder, Origin

OTHER_DIAGNOSIS = "other_diagnosis"
OTHER_MEDICATION = "other_medication"


@dataclass
class RecordLists:
    """One patient's records no criterion reads (reset per patient)."""

    conditions: list[tuple[bool, date | None, str, Origin]] = field(default_factory=list)
    medications: list[tuple[date, date | None, str, Origin]] = field(default_factory=list)

    def condition(self, active: bool, onset: date | None, source: str, origin: Origin) -> None:
        self.conditions.append((active, onset, source, origin))

    def medication(self, start: date | None, end: date | None, source: str, origin: Origin) -> None:
        if start is not None:  # an undated medication record shows no period of history
            self.medications.append((start, end, source, origin))

    def settle(self, b: NativeBuilder) -> None:
        if self.conditions:
            onsets = [onset for _, onset, _, _ in self.conditions]
            item: dict[str, Any] = {
                "name": OTHER_DIAGNOSIS,
                "status": "active" if any(active for active, *_ in self.conditions) else "resolved",
                "source": _sources([s for *_, s, _ in self.conditions], "diagnoses no criterion reads"),
            }
            if all(onsets):
                item["onset"] = min(d for d in onsets if d is not None).isoformat()
            b.add("conditions", item, self.conditions[0][3])
        if self.medications:
            starts = [start for start, *_ in self.medications]
            ends = [end for _, end, _, _ in self.medications]
            b.add(
                "medications",
                {
                    "drug": OTHER_MEDICATION,
                    "start": min(starts).isoformat(),
                    "end": None if None in ends else max(e for e in ends if e is not None).isoformat(),
                    "source": _sources(
                        [s for *_, s, _ in self.medications], "medications no criterion reads"
                    ),
                },
                self.medications[0][3],
            )


def _sources(sources: list[str], what: str) -> str:
    shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
    return f"{shown}: {what} (the record has this list)"
