"""FHIR DeviceUseStatement of a contraceptive device -> contraception (I7, E1).

An IUD recorded only as a device: an ``active`` DeviceUseStatement whose ``device`` is a Device
(in the same input, looked up by reference) whose ``type`` the mapping's ``contraception:`` lists
(SNOMED CT 268460000 Intrauterine contraceptive device) puts that method in place, dated by the
statement's ``recordedOn`` (the day it was stated), else its timing. The rule set's
``max_age_days`` decides how long it counts, as for any contraceptive record
(:mod:`screener.importers.contraception`). A completed, stopped, intended or on-hold statement is
not a device in use, and a Device alone (no statement of its use) says nothing of when it was
used: both are counted as not used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at, first_date, ref_id
from screener.importers.fhir.contraception import contraceptive_of

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def read_device_use(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    conv.log.records += 1
    device = conv.organizations.get(ref_id(res.get("device")) or "")
    if not isinstance(device, dict) or device.get("resourceType") != "Device":
        b.problem(
            at(origin, "device"),
            f"DeviceUseStatement/{res.get('id')}: its Device is not in the input; not imported",
            "warning",
        )
        return
    target = contraceptive_of(conv, [device.get("type")])
    if target is None:
        conv.log.skip("DeviceUseStatement (device read by no criterion)")
        return
    status = res.get("status")
    if status != "active" or device.get("status") in ("inactive", "entered-in-error"):
        conv.log.skip(f"DeviceUseStatement of a contraceptive ({status}: not in use)")
        return
    value, key = first_date(res, "recordedOn", "timingPeriod", "timingDateTime")
    if value is None:
        b.problem(
            origin, f"DeviceUseStatement of a contraceptive ({target.display}) has no date; not imported"
        )
        return
    try:
        day = parse_date(value)
    except ValueError as error:
        b.problem(at(origin, key or "recordedOn"), f"{error}; not imported")
        return
    conv.log.answer("DeviceUseStatement", "bundled map")
    conv.contraception.note(target, day, f"DeviceUseStatement/{res.get('id')}", origin)
