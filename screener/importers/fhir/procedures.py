"""FHIR Procedure -> the facts a criterion needs from it.

Only a ``completed`` Procedure happened; ``preparation``, ``in-progress``, ``not-done``,
``on-hold``, ``stopped``, ``entered-in-error`` and ``unknown`` are set aside (counted by
status). Today the criteria of NCT03562065 need procedures for contraception only (IUD and
implant insertion, replacement and removal, tubal ligation: :mod:`.contraception`).
Echocardiography or blood gas sampling gives nothing by itself (the LVEF, PAP and PaO2 are
Observations); such codes are counted as unmapped in the import report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from screener.importers.core import NativeBuilder, Origin
from screener.importers.fhir.common import codings, when
from screener.importers.fhir.contraception import contraceptive_of

if TYPE_CHECKING:
    from screener.importers.fhir.converter import FhirConverter


def read_procedure(conv: FhirConverter, b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    conv.log.records += 1
    target = contraceptive_of(conv, [res.get("code")])
    if target is None:
        for c in codings(res.get("code"))[:1]:
            conv.log.unmapped("Procedure", c.get("system"), c.get("code"), c.get("display"))
        return
    status = res.get("status")
    if status != "completed":
        conv.log.skip(f"Procedure ({status})")
        return
    day = when(b, res, origin, "performedDateTime", "performedPeriod")
    if day is None:
        return
    conv.log.answer("Procedure", "bundled map")
    conv.contraception.note(target, day, f"Procedure/{res.get('id')}", origin)
