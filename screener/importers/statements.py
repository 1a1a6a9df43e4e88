"""Statements about E14 (in another study), E16 (legal protection) and I2 (classification criteria
met), settled once a patient's records are all read (FHIR and OMOP importers alike).

- A current participation or guardian (no end: left undated, so it counts on any screening
  date) and a "none" statement made after it began contradict each other: both are left out with
  a warning naming both, so the criterion is ``unknown`` with its to-do. A "none" made before it
  began is superseded and left out (an undated record would otherwise lose to any dated one).
- A record a person must check (a power of attorney for E16) blocks every "none" statement.
- A "yes" and a "none" of the same day are both left out, with a warning naming both.
- The latest classification of a condition counts; two on the same day that disagree are both
  left out; one naming a condition the record does not hold is reported and not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from screener.importers.core import ImportLog, NativeBuilder, Origin, parse_date
from screener.importers.mapping import ClassificationTarget

WORDS = {"in_other_study": "included in another study", "legal_protection": "under legal protection"}


@dataclass
class _Classification:
    target: ClassificationTarget
    count: int
    day: date
    source: str
    focus: str | None  # the source of the condition it classifies (Condition/sle), None: any
    origin: Origin


@dataclass
class StatementContext:
    """One patient's statements about E14 / E16 and classifications (reset per patient)."""

    # status -> (start, source) of each current (undated) true: a participation, a guardian
    current: dict[str, list[tuple[date | None, str]]] = field(default_factory=dict)
    # status -> sources a person must check (a power of attorney...)
    to_check: dict[str, list[str]] = field(default_factory=dict)
    classifications: list[_Classification] = field(default_factory=list)

    def current_true(self, name: str, start: Any, source: str) -> None:
        try:
            began = parse_date(start) if start else None
        except ValueError:
            began = None
        self.current.setdefault(name, []).append((began, source))

    def classification(
        self,
        b: NativeBuilder,
        raw: Any,
        target: ClassificationTarget,
        day: date,
        source: str,
        focus: str | None,
        where: Origin,
    ) -> None:
        """A count of classification criteria met (0 to the classification's number), checked."""
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
            b.problem(
                where, f"{target.classification} criteria met: {raw!r} is not a whole number; not imported"
            )
            return
        if not 0 <= raw <= target.criteria:
            b.problem(
                where,
                f"{target.classification} criteria met: {raw} is outside 0-{target.criteria}; not imported",
            )
            return
        self.classifications.append(_Classification(target, int(raw), day, source, focus, where))

    # ------------------------------------------------------------------ settle

    def settle(self, b: NativeBuilder, log: ImportLog) -> None:
        for name in WORDS:
            self._settle_status(b, log, name)
        self._settle_classifications(b)

    def _settle_status(self, b: NativeBuilder, log: ImportLog, name: str) -> None:
        statuses = b.items["statuses"]
        falses = [
            (item, origin) for item, origin in statuses if item["name"] == name and item["value"] is False
        ]
        drop: list[int] = []
        for item, origin in falses:
            said = date.fromisoformat(item["date"]) if item.get("date") else None
            checks = self.to_check.get(name, [])
            if checks:
                drop.append(id(item))
                b.problem(
                    origin,
                    f"{item['source']} says she is not {WORDS[name]}, but {', '.join(checks)} is for a "
                    "person to check: the statement is left out",
                    "warning",
                )
                continue
            for start, source in self.current.get(name, []):
                if start is not None and said is not None and said < start:
                    drop.append(id(item))
                    log.skip(f"{item['source'].split('/')[0]} ({name} false, before a later record)")
                    continue
                drop.append(id(item))
                drop.extend(
                    id(t) for t, _ in statuses if t["name"] == name and _same(str(t["source"]), source)
                )
                b.problem(
                    origin,
                    f"{item['source']} says she is not {WORDS[name]}, but {source} says she is: they "
                    "contradict each other; both are left out and a person must resolve them",
                    "warning",
                )
            same_day = [
                t
                for t, _ in statuses
                if t["name"] == name and t["value"] is True and t.get("date") == item.get("date")
            ]
            if item.get("date") and same_day:  # a yes and a no of one day: which is right cannot be told
                drop.extend([id(item), *(id(t) for t in same_day)])
                b.problem(
                    origin,
                    f"{item['source']} says she is not {WORDS[name]}, but {same_day[0]['source']} of the "
                    "same day says she is: both are left out and a person must resolve them",
                    "warning",
                )
        if drop:
            b.items["statuses"] = [(t, o) for t, o in statuses if id(t) not in set(drop)]

    def _settle_classifications(self, b: NativeBuilder) -> None:
        latest: dict[str, list[_Classification]] = {}
        for c in self.classifications:
            held = latest.get(c.target.condition)
            if held is None or c.day > held[0].day:
                latest[c.target.condition] = [c]
            elif c.day == held[0].day:
                held.append(c)
        for condition, found in latest.items():
            c = found[0]
            if any((o.count, o.target.classification) != (c.count, c.target.classification) for o in found):
                b.problem(
                    c.origin,
                    f"{condition} classification: {', '.join(o.source for o in found)} of {c.day} "
                    "disagree; none is used (a person must resolve them)",
                    "warning",
                )
                continue
            items = [
                item
                for item, _ in b.items["conditions"]
                if item["name"] == condition and (c.focus is None or item["source"] == c.focus)
            ]
            if not items:
                what = c.focus or f"a {condition} diagnosis"
                b.problem(
                    c.origin,
                    f"{c.source} classifies {what}, which the record does not hold; not used",
                    "warning",
                )
                continue
            for item in items:
                item["classification"] = c.target.classification
                item["criteria_met"] = c.count
                item["source"] = f"{item['source']} ({c.target.classification} criteria: {c.source})"


def _same(source: str, record: str) -> bool:
    """``source`` names ``record`` (``RelatedPerson/g1 (guardian)`` names ``RelatedPerson/g1``)."""
    return source == record or source.startswith(record + " ")
