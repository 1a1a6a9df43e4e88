"""FHIR Patient -> native demographics (birth date, sex and which element gave it, death).

Sex, as the protocol uses it (Cockcroft-Gault, pregnancy criteria), is sex at birth. It is
read from the first of (each named in ``demographics.sex_source``):

1. the US Core birth-sex extension (``us-core-birthsex``, valueCode F / M);
2. the US Core sex extensions (``us-core-individual-sex`` of US Core 9.0.0, and the older
   ``us-core-sex``): valueCoding or valueCode, SNOMED CT 248152002 |Female (finding)| and
   248153007 |Male (finding)|, or F / M / female / male;
3. ``Patient.gender`` (female / male; other and unknown leave sex unset).

When two of them disagree the import report says so. A ``gender`` outside FHIR's
administrative-gender codes is reported, never silently dropped. ``deceasedDateTime`` /
``deceasedBoolean: true`` become ``demographics.deceased`` (see screener.engine.uncertain).
"""

from __future__ import annotations

from typing import Any

from screener.importers.core import NativeBuilder, Origin, parse_date
from screener.importers.fhir.common import at

US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
BIRTHSEX_URL = US_CORE + "us-core-birthsex"
SEX_URLS = (US_CORE + "us-core-individual-sex", US_CORE + "us-core-sex")
GENDERS = {"male", "female", "other", "unknown"}  # http://hl7.org/fhir/R4/valueset-administrative-gender.html
_SEX_CODES = {
    "f": "female",
    "m": "male",
    "female": "female",
    "male": "male",
    "248152002": "female",  # SNOMED CT Female (finding)
    "248153007": "male",  # SNOMED CT Male (finding)
}


def _extension_sex(ext: dict[str, Any]) -> str | None:
    code = ext.get("valueCode")
    coding = ext.get("valueCoding")
    if code is None and isinstance(coding, dict):
        code = coding.get("code")
    return _SEX_CODES.get(str(code).strip().lower()) if code is not None else None


def read_sex(b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    found: list[tuple[str, str]] = []  # (element, sex)
    extensions = res.get("extension")
    for ext in extensions if isinstance(extensions, list) else []:
        if not isinstance(ext, dict):
            continue
        url = ext.get("url")
        if url == BIRTHSEX_URL or url in SEX_URLS:
            sex = _extension_sex(ext)
            name = (
                "US Core birth-sex extension"
                if url == BIRTHSEX_URL
                else f"US Core {url.rsplit('/', 1)[-1]} extension"
            )
            if sex is not None:
                found.append((name, sex))
    gender = res.get("gender")
    if gender is not None:
        if gender not in GENDERS:
            b.problem(
                at(origin, "gender"),
                f"gender {gender!r} is not a FHIR administrative gender "
                "(male, female, other, unknown); ignored",
                "warning",
            )
        elif gender in ("female", "male"):
            found.append(("Patient.gender", gender))
    found.sort(
        key=lambda f: 0 if f[0].startswith("US Core birth") else (1 if f[0].startswith("US Core") else 2)
    )
    if not found:
        return
    element, sex = found[0]
    b.demographics["sex"] = sex
    b.demographics["sex_source"] = element
    others = [f"{e} says {s}" for e, s in found[1:] if s != sex]
    if others:
        b.problem(
            origin,
            f"sex read from the {element} ({sex}); " + "; ".join(others) + ": check which is right",
            "warning",
        )


def read_patient(b: NativeBuilder, res: dict[str, Any], origin: Origin) -> None:
    b.demographics["source"] = f"Patient/{res.get('id')}"
    if res.get("birthDate"):
        try:
            b.demographics["birth_date"] = parse_date(res["birthDate"]).isoformat()
        except ValueError as error:
            b.problem(at(origin, "birthDate"), str(error))
    else:
        b.problem(at(origin, "birthDate"), "no birth date", "warning")
    read_sex(b, res, origin)
    if "deceasedDateTime" in res:
        try:
            b.demographics["deceased"] = parse_date(res["deceasedDateTime"]).isoformat()
        except ValueError as error:
            b.demographics["deceased"] = True
            b.problem(
                at(origin, "deceasedDateTime"),
                f"{error}; the patient is read as deceased on an unknown date",
                "warning",
            )
    elif res.get("deceasedBoolean") is True:
        b.demographics["deceased"] = True
