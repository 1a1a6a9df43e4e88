"""A treatment's failure by intolerance from AllergyIntolerance and AdverseEvent naming the drug.

The native medication ``outcome`` says why a treatment stopped; ``statusReason`` gives it on the
medication record itself (:mod:`.medications`). Two other records can tell the same thing:

- an AllergyIntolerance whose ``code`` is the drug (RxNorm ingredient or product), confirmed
  (``verificationStatus`` absent or ``confirmed``; unconfirmed, refuted and entered-in-error are
  set aside), with an onset (or recorded) date;
- an AdverseEvent with ``actuality`` ``actual`` (a ``potential`` one is set aside) whose
  ``suspectEntity.instance`` is the drug (a Medication or a CodeableConcept) or one of the
  patient's medication records, with a date.

Such a record sets ``outcome: adverse_effect`` on a treatment period of that drug that had ended
and whose dates hold the reaction: from its start to 30 days after its end (a reaction is often
recorded at the visit after stopping). A period with an outcome already stated keeps it; an
ongoing treatment is not a failure (it goes on); a reaction to a drug with no such period is an
allergy, not a failed treatment, and changes nothing. Each outcome so set is reported as a
warning naming the record, so a person can check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import codings, first_date, ref_id

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter

# A policy of this importer, not a clinical constant from a source: how long after a period ends a
# reaction is still read as that period's adverse effect (each such outcome is a warning to check).
AFTER_END = timedelta(days=30)


@dataclass(frozen=True)
class Reaction:
    drug: str | None  # native drug name, or None when the record names a medication record
    record: str | None  # the id of one of the patient's medication records named as the suspect
    day: date
    source: str
    origin: Origin


def _drug(conv: FhirConverter, concept: Any) -> str | None:
    for c in codings(concept):
        target = conv.mapping.drug(c.get("system"), c["code"], c.get("display"))
        if target is not None:
            return target.drug
    return None


def _day(b: NativeBuilder, res: dict[str, Any], origin: Origin, *keys: str) -> date | None:
    value, key = first_date(res, *keys)
    if value is None:
        b.problem(origin, f"{res.get('resourceType')} has no date ({' / '.join(keys)}); not used", "warning")
        return None
    try:
        return parse_date(value)
    except ValueError as error:
        b.problem(origin, f"{key}: {error}; not used", "warning")
        return None


class OutcomeContext:
    """One patient's drug reactions, applied to the medication periods once all are read."""

    def __init__(self) -> None:
        self.reactions: list[Reaction] = []

    def allergy(self, conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
        conv.log.records += 1
        verification = next(
            (str(c["code"]) for c in codings(res.get("verificationStatus")) if c.get("code")), "confirmed"
        )
        if verification != "confirmed":
            conv.log.skip(f"AllergyIntolerance ({verification})")
            return
        drug = _drug(conv, res.get("code"))
        if drug is None:
            conv.log.skip("AllergyIntolerance (not to a drug of the rule set)")
            return
        day = _day(b, res, origin, "onsetDateTime", "onsetPeriod", "recordedDate")
        if day is not None:
            self.reactions.append(Reaction(drug, None, day, f"AllergyIntolerance/{res.get('id')}", origin))

    def adverse_event(
        self,
        conv: FhirConverter,
        b: NativeBuilder,
        res: dict[str, Any],
        origin: Origin,
        medications: dict[str, dict[str, Any]],
    ) -> None:
        conv.log.records += 1
        if res.get("actuality") != "actual":
            conv.log.skip(f"AdverseEvent ({res.get('actuality')})")
            return
        day = _day(b, res, origin, "date", "detected", "recordedDate")
        if day is None:
            return
        source = f"AdverseEvent/{res.get('id')}"
        for suspect in res.get("suspectEntity") or []:
            instance = suspect.get("instance") if isinstance(suspect, dict) else None
            if not isinstance(instance, dict):
                continue
            rid = ref_id(instance)
            drug = None
            if rid is not None and rid in medications:  # a Medication resource
                drug = _drug(conv, medications[rid].get("code"))
            elif "coding" in instance:  # R5-style CodeableReference read as a concept
                drug = _drug(conv, instance)
            if drug is not None:
                self.reactions.append(Reaction(drug, None, day, source, origin))
            elif rid is not None:  # one of the patient's medication records
                self.reactions.append(Reaction(None, rid, day, source, origin))

    def settle(self, b: NativeBuilder) -> None:
        """Set ``outcome: adverse_effect`` on the ended periods each reaction falls in."""
        for reaction in self.reactions:
            for item, _origin in b.items["medications"]:
                if item.get("outcome") or not item.get("end"):
                    continue
                if reaction.record is not None:
                    sources = str(item.get("source", ""))
                    if not (
                        sources == reaction.record or sources.endswith("/" + reaction.record.split("/")[-1])
                    ):
                        continue
                elif item.get("drug") != reaction.drug:
                    continue
                start, end = date.fromisoformat(item["start"]), date.fromisoformat(item["end"])
                if not (start <= reaction.day <= end + AFTER_END):
                    continue
                item["outcome"] = "adverse_effect"
                b.problem(
                    reaction.origin,
                    f"{item['drug']} ({item.get('source')}): outcome adverse_effect from {reaction.source} "
                    f"dated {reaction.day}; check it",
                    "warning",
                )
