"""Contraceptive methods in place, from the events any importer reads (FHIR, OMOP).

A method is in place when a record puts it in place (a ``start`` code of the mapping's
``contraception:`` section: IUD or implant insertion, tubal ligation, a contraceptive drug taken)
and no later record of the same method takes it out (a ``removal``: IUD or implant removal). Each
method in place becomes one status ``effective_contraception: true`` dated by the record that put it
in place and naming it as source. The rule set decides how old a status may be (``max_age_days``).
A removal never makes ``effective_contraception`` false: she may use another method; it only ends
the method it removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from screener.importers.core import ImportLog, NativeBuilder, Origin
from screener.importers.mapping import ContraceptionTarget

STATUS = "effective_contraception"


@dataclass(frozen=True)
class MethodEvent:
    target: ContraceptionTarget
    day: date
    source: str
    origin: Origin


class ContraceptionContext:
    """One patient's contraceptive events, settled into statuses once all records are read."""

    def __init__(self) -> None:
        self.events: list[MethodEvent] = []

    def note(self, target: ContraceptionTarget, day: date, source: str, origin: Origin) -> None:
        self.events.append(MethodEvent(target, day, source, origin))

    def settle(self, b: NativeBuilder, log: ImportLog) -> None:
        """Add one ``effective_contraception: true`` per method still in place."""
        for method in sorted({e.target.method for e in self.events}):
            events = [e for e in self.events if e.target.method == method]
            starts = [e for e in events if e.target.event == "start"]
            if not starts:
                continue
            latest = max(starts, key=lambda e: e.day)
            if any(e.target.event == "removal" and e.day >= latest.day for e in events):
                log.skip(f"contraceptive {method} removed on or after it was put in place")
                continue
            b.add(
                "statuses",
                {
                    "name": STATUS,
                    "value": True,
                    "date": latest.day.isoformat(),
                    "source": f"{latest.source}: {latest.target.display} ({method})",
                },
                latest.origin,
            )
