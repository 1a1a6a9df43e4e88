"""What a FHIR record says about E14 (in another study), E16 (legal protection) and I2 (SLE
classification), and when its silence may be read as "none".

- ``in_other_study`` true: an on-study ResearchSubject of another trial (:mod:`.administrative`).
- ``legal_protection`` true: a current guardian (HL7 v3-RoleCode ``GUARD``) in
  ``Patient.contact.relationship`` or ``RelatedPerson.relationship``. A power of attorney
  (``POWATT``, ``DPOWATT``, ``HPOWATT``, ``SPOWATT``), a guardian ad litem (``GUADLTM``) or a bare
  "responsible party" may or may not be a legal protection measure: a person must check, so such
  a record keeps E16 unknown (it blocks any "none" statement) and the report says why.
- ``false`` ("none") only from what says the source is complete for it: an Observation of
  screener's own code (``in-other-study`` / ``legal-protection``, valueBoolean false), or a
  current List of screener's own code (``research-participations`` /
  ``legal-protection-measures``) that is empty with ``emptyReason`` ``nilknown`` (FHIR R4: "no
  known items for this list after reasonable investigation"). The absence of a ResearchSubject
  or guardian record is never read as "none".
- A current participation or guardian (no end: left undated, see
  :func:`.administrative.read_research_subject`) and a "none" statement made after it began
  contradict each other: both are left out with a warning naming both, so the criterion is
  ``unknown`` with its to-do. A "none" made before it began is superseded and left out.
- I2: an Observation of screener's own code ``sle-acr-1997-criteria-met`` (or ``-1982-``), value
  an integer 0-11, gives the SLE diagnosis its ``classification`` and ``criteria_met``; its
  ``focus`` may name the Condition. The latest one counts; two on the same day that disagree
  are both left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import ImportLog, NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings, ref_id
from screener.importers.mapping import ClassificationTarget

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter

LIST_EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
WORDS = {"in_other_study": "included in another study", "legal_protection": "under legal protection"}


@dataclass
class _Classification:
    target: ClassificationTarget
    count: int
    day: date
    source: str
    focus: str | None
    origin: Origin


@dataclass
class StatementContext:
    """One patient's statements about E14 / E16 and the SLE classification (reset per patient)."""

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

    # ------------------------------------------------------------------ legal representatives

    def related_person(
        self, conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin
    ) -> None:
        """RelatedPerson.relationship: a guardian (legal protection) or a role a person must check."""
        conv.log.records += 1
        if res.get("active") is False:
            conv.log.skip("RelatedPerson (inactive)")
            return
        self._representative(
            conv, b, res.get("relationship"), res.get("period"), f"RelatedPerson/{res.get('id')}", origin
        )

    def patient_contacts(
        self, conv: FhirConverter, b: NativeBuilder, patient: dict[str, Any], origin: Origin
    ) -> None:
        contacts = patient.get("contact")
        if not isinstance(contacts, list):
            return
        for i, contact in enumerate(contacts):
            if isinstance(contact, dict):
                self._representative(
                    conv,
                    b,
                    contact.get("relationship"),
                    contact.get("period"),
                    f"Patient/{patient.get('id')}#contact[{i}]",
                    at(origin, f"contact[{i}]"),
                )

    def _representative(
        self,
        conv: FhirConverter,
        b: NativeBuilder,
        relationships: Any,
        period: Any,
        source: str,
        origin: Origin,
    ) -> None:
        concepts = relationships if isinstance(relationships, list) else []
        found: list[tuple[bool | None, str]] = []
        for concept in concepts:
            for c in codings(concept):
                role = conv.mapping.legal_representative(c.get("system"), c["code"])
                if role is not None:
                    found.append(role)
        if not found:
            conv.log.skip(f"{source.split('/')[0]} relationship (not a legal representative)")
            return
        period = period if isinstance(period, dict) else {}
        end = period.get("end")
        if end:
            try:
                ended = parse_date(end) < date.today()
            except ValueError:
                ended = False  # an unreadable end: still read as current (never "none")
                b.problem(at(origin, "period.end"), f"{end!r} is not a date; read as current", "warning")
            if ended:
                conv.log.skip(f"{source.split('/')[0]} (legal representative, ended)")
                return
        if any(value is True for value, _ in found):
            role = next(label for value, label in found if value is True)
            b.add(
                "statuses",
                {"name": "legal_protection", "value": True, "source": f"{source} ({role})"},
                origin,
            )
            self.current_true("legal_protection", period.get("start"), source)
            return
        role = found[0][1]
        self.to_check.setdefault("legal_protection", []).append(f"{source} ({role})")
        b.problem(
            origin,
            f"{source} is her {role}: whether that is a legal protection measure (E16) is for a "
            "person to check; no 'none' statement counts while it stands",
            "warning",
        )

    # ------------------------------------------------------------------ completeness lists

    def list_(self, conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        """A current List of screener's own code, empty with emptyReason nilknown -> the status is false."""
        conv.log.records += 1
        name = None
        for c in codings(res.get("code")):
            name = conv.mapping.completeness_list(c.get("system"), c["code"])
            if name:
                break
        if name is None:
            conv.log.skip("List (no criterion reads its code)")
            return
        if res.get("status") != "current" or res.get("mode") == "changes":
            conv.log.skip(f"List ({res.get('status')}, {res.get('mode')})")
            return
        if res.get("entry"):
            # its entries (ResearchSubject...) are read as themselves; a list with items says no "none"
            conv.log.skip("List (not empty)")
            return
        reasons = [
            c["code"] for c in codings(res.get("emptyReason")) if c.get("system") in (None, LIST_EMPTY_REASON)
        ]
        if reasons != ["nilknown"]:
            conv.log.skip(f"List (empty: {', '.join(map(str, reasons)) or 'no emptyReason'})")
            return
        if not res.get("date"):
            b.problem(at(origin, "date"), f"List of {name}: no date; not imported (a 'none' needs its date)")
            return
        try:
            day = parse_date(res["date"])
        except ValueError as error:
            b.problem(at(origin, "date"), f"{error}; not imported")
            return
        item = {"name": name, "value": False, "date": day.isoformat(), "source": f"List/{res.get('id')}"}
        b.add("statuses", item, origin)

    # ------------------------------------------------------------------ SLE classification

    def classification(
        self,
        b: NativeBuilder,
        res: dict[str, Any],
        target: ClassificationTarget,
        day: date,
        origin: Origin,
    ) -> None:
        raw = res.get("valueInteger")
        if raw is None and isinstance(res.get("valueQuantity"), dict):
            raw = res["valueQuantity"].get("value")
        where = at(origin, "value")
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
        focus = res.get("focus")
        focus_id = ref_id(focus[0]) if isinstance(focus, list) and focus else None
        self.classifications.append(
            _Classification(target, int(raw), day, f"Observation/{res.get('id')}", focus_id, origin)
        )

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
                if item["name"] == condition and (c.focus is None or item["source"] == f"Condition/{c.focus}")
            ]
            if not items:
                what = f"Condition/{c.focus}" if c.focus else f"a {condition} diagnosis"
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
