"""FHIR Condition -> native conditions (status from clinicalStatus, see :mod:`.status`)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, codings
from screener.importers.fhir.status import condition_set_aside, condition_status

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def read_condition(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    conv.log.records += 1
    reason = condition_set_aside(res)
    if reason is not None:
        conv.log.skip(reason)
        return
    found = codings(res.get("code"))
    target = None
    for c in found:
        target = conv.mapping.condition(c.get("system"), c["code"])
        if target:
            break
    if target is None:
        for c in found[:1]:
            conv.log.unmapped("Condition", c.get("system"), c.get("code"), c.get("display"))
        return
    item: dict[str, Any] = {
        "name": target.name,
        "type": target.type,
        "status": condition_status(res),
        "source": f"Condition/{res.get('id')}",
    }
    for key, out in (
        ("onsetDateTime", "onset"),
        ("onsetPeriod", "onset"),
        ("abatementDateTime", "end"),
        ("abatementPeriod", "end"),
    ):
        value = res.get(key)
        if isinstance(value, dict):
            value = value.get("start")
        if value and out not in item:
            try:
                item[out] = parse_date(value).isoformat()
            except ValueError as error:
                b.problem(at(origin, key), f"{error}; date left out", "warning")
    if "onset" not in item and res.get("recordedDate"):
        with contextlib.suppress(ValueError):
            item["onset"] = parse_date(res["recordedDate"]).isoformat()
    if item.get("onset") and item.get("end") and item["end"] < item["onset"]:
        b.problem(
            origin,
            f"{target.name} ends ({item['end']}) before onset ({item['onset']}); end left out",
            "warning",
        )
        del item["end"]
    b.add("conditions", item, origin)
