"""Contraception (I7, E1) from FHIR: contraceptive procedures and current contraceptive drugs.

A method is in place when a record puts it in place and no later record takes it out:

- a ``completed`` Procedure whose code the mapping's ``contraception:`` lists as a start (IUD
  insertion or replacement, contraceptive implant insertion, tubal ligation), unless a later
  completed removal of the same method (IUD removal, implant removal) follows it;
- an ``active`` MedicationStatement or MedicationRequest of a contraceptive drug the mapping
  lists (combined or progestogen-only pills, patch, ring, medroxyprogesterone injection,
  levonorgestrel intrauterine system, etonogestrel implant). A stopped, completed, intended or
  not-taken one is not a method in place (counted in the import report).

Each method in place becomes the status ``effective_contraception: true`` dated by the record
(a MedicationStatement's ``dateAsserted`` when given: the day someone stated it was taken) and
naming it as source. The rule set decides how old a status may be (``max_age_days``): an IUD
inserted years ago is evidence, but a criterion needing a recent statement stays ``unknown``
with its to-do. A removal never makes ``effective_contraception`` false: she may use another
method; it only ends the method it removes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import codings
from screener.importers.mapping import ContraceptionTarget

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def contraceptive_of(conv: FhirConverter, concepts: list[Any]) -> ContraceptionTarget | None:
    """The contraceptive method named by the first listed code among ``concepts``."""
    for concept in concepts:
        for c in codings(concept):
            target = conv.mapping.contraceptive(c.get("system"), c["code"])
            if target is not None:
                return target
    return None


def read_contraceptive_medication(
    conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin, target: ContraceptionTarget
) -> None:
    """A MedicationStatement/Request of a contraceptive (already past the status set-asides)."""
    kind = str(res.get("resourceType"))
    status = res.get("status")
    if status != "active":
        conv.log.skip(f"{kind} of a contraceptive ({status}: not current)")
        return
    if kind == "MedicationStatement":
        period = res.get("effectivePeriod") or {}
        value = res.get("dateAsserted") or period.get("start") or res.get("effectiveDateTime")
    else:
        value = res.get("authoredOn")
    if not value:
        b.problem(origin, f"{kind} of a contraceptive ({target.display}) has no date; not imported")
        return
    try:
        day = parse_date(value)
    except ValueError as error:
        b.problem(origin, f"{kind} of a contraceptive: {error}; not imported")
        return
    conv.log.answer(kind, "bundled map")
    conv.contraception.note(target, day, f"{kind}/{res.get('id')}", origin)
