"""FHIR Condition -> native conditions (status from clinicalStatus, see :mod:`.status`)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings, text
from screener.importers.fhir.status import condition_set_aside, condition_status, condition_verification
from screener.importers.mapping import NotCriterion, also_item

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def read_condition(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    conv.log.records += 1
    reason = condition_set_aside(res)
    if reason is not None:
        conv.log.skip(reason)
        return
    found = codings(res.get("code"))
    words = text(res.get("code"))
    classified = conv.mapping.classify_condition(
        ((c.get("system"), c["code"], c.get("display")) for c in found), words
    )
    if isinstance(classified, NotCriterion):
        conv.log.skip(f"Condition ({classified.reason})")
        _other(conv, res, origin)
        return
    target = classified
    if target is None:
        _other(conv, res, origin)
        if not found:
            b.problem(
                at(origin, "code"),
                "Condition has no coded code"
                + (f" (text {words!r})" if words else "")
                + "; not imported: a person must read it",
                "warning",
            )
        for c in found[:1]:
            conv.log.unmapped("Condition", c.get("system"), c.get("code"), c.get("display"))
        return
    conv.log.answer("Condition", target.via, target.matched)
    item: dict[str, Any] = {
        "name": target.name,
        "type": target.type,
        "status": target.status or condition_status(res),
        "source": f"Condition/{res.get('id')}",
    }
    if target.verification == "unconfirmed":
        # no code classifies it, but its words name a criterion's condition (the text safety net)
        note = f"{target.name} to confirm: {target.source} (no code classifies it)"
        b.problem(at(origin, "code"), note, "warning")
    if condition_verification(res) == "unconfirmed" or target.verification == "unconfirmed":
        # screener.engine.uncertain: every criterion that depends on it becomes unknown
        item["verification"] = "unconfirmed"
    for key, out in (
        ("onsetDateTime", "onset"),
        ("onsetPeriod", "onset"),
        ("abatementDateTime", "end"),
        ("abatementPeriod", "end"),
    ):
        value = res.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        if value is not None and not value:
            b.problem(at(origin, key), f"{key} is empty; date left out", "warning")
            continue
        if value and out not in item:
            try:
                item[out] = parse_date(value).isoformat()
            except ValueError as error:
                b.problem(at(origin, key), f"{error}; date left out", "warning")
    if "onset" not in item and res.get("recordedDate"):
        with contextlib.suppress(ValueError):
            item["onset"] = parse_date(res["recordedDate"]).isoformat()
    today = date.today().isoformat()
    if item.get("onset") and item["onset"] > today:
        b.problem(
            at(origin, "onsetDateTime"),
            f"{target.name}: onset {item['onset']} is in the future (today is {today}); kept, it counts "
            "only from that date: check the record",
            "warning",
        )
    if item.get("onset") and item.get("end") and item["end"] < item["onset"]:
        b.problem(
            origin,
            f"{target.name} ends ({item['end']}) before onset ({item['onset']}); end left out",
            "warning",
        )
        del item["end"]
    b.add("conditions", item, origin)
    for extra in target.also:  # the same record is further conditions (mapping ``also``)
        b.add("conditions", also_item(item, extra), origin)


def _other(conv: FhirConverter, res: dict[str, Any], origin: Origin) -> None:
    """A diagnosis no criterion reads: it shows the record has a diagnosis list (record_lists)."""
    onset = None
    for key in ("onsetDateTime", "onsetPeriod", "recordedDate"):
        value = res.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        if value:
            with contextlib.suppress(ValueError):
                onset = parse_date(value)
            break
    conv.lists.condition(condition_status(res) == "active", onset, f"Condition/{res.get('id')}", origin)
