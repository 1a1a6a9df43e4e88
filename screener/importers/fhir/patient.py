"""FHIR Patient -> native demographics (birth date, sex, death)."""

from __future__ import annotations

from typing import Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at

BIRTHSEX_URL = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"


def read_patient(b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    b.demographics["source"] = f"Patient/{res.get('id')}"
    if res.get("birthDate"):
        try:
            b.demographics["birth_date"] = parse_date(res["birthDate"]).isoformat()
        except ValueError as error:
            b.problem(at(origin, "birthDate"), str(error))
    else:
        b.problem(at(origin, "birthDate"), "no birth date", "warning")
    sex = None
    for ext in res.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == BIRTHSEX_URL:
            sex = {"F": "female", "M": "male"}.get(str(ext.get("valueCode")))
    if sex is None:
        sex = {"female": "female", "male": "male"}.get(str(res.get("gender")))
    b.demographics["sex"] = sex
    if res.get("deceasedDateTime") or res.get("deceasedBoolean"):
        b.problem(origin, f"patient is deceased ({res.get('deceasedDateTime') or 'date unknown'})", "warning")
