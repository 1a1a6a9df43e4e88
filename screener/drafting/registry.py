"""Read a ClinicalTrials.gov record: the API v2 study JSON or the registry page text.

Both give a :class:`RegistryRecord`: the NCT id, titles, the structured eligibility
fields (minimum and maximum age, sex, healthy volunteers) and the free-text
eligibility criteria as one string. Field paths of the v2 JSON follow
``shared/protocol/ctgov-api-v2.md`` (``protocolSection.identificationModule.nctId``,
``protocolSection.eligibilityModule.{eligibilityCriteria, minimumAge, maximumAge,
sex, healthyVolunteers}``). The page text is the classic registry page as a
browser saves it ("Ages Eligible for Study:", "Sexes Eligible for Study:",
"Accepts Healthy Volunteers:", then "Criteria") or a listing that copies it
("Ages eligible:", "Sexes eligible:", "Accepts healthy volunteers:").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screener.errors import InputError, Location

_NCT = re.compile(r"\bNCT[0-9]{8}\b")
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(years?|months?|weeks?|days?)\b", re.IGNORECASE)
# Lines after the criteria on a saved registry page: the criteria text ends at the first.
_PAGE_SECTIONS = (
    "information from the national library of medicine",
    "contacts",
    "locations",
    "sponsors and collaborators",
    "more information",
    "layout table",
)


@dataclass(frozen=True)
class Age:
    """An age limit as the registry states it: a number and a unit (``18 Years``)."""

    value: float
    unit: str  # years | months | weeks | days

    @property
    def years(self) -> float:
        per_year = {"years": 1.0, "months": 12.0, "weeks": 52.1775, "days": 365.2425}[self.unit]
        return self.value / per_year

    def __str__(self) -> str:
        number = int(self.value) if self.value == int(self.value) else self.value
        return f"{number} {self.unit.capitalize()}"


@dataclass(frozen=True)
class RegistryRecord:
    """What a registry record says about eligibility, as read from its file."""

    nct_id: str
    brief_title: str
    source: str  # the file it was read from
    source_kind: str  # "ctgov-api-v2-json" | "registry-page-text"
    criteria_text: str
    minimum_age: Age | None = None
    maximum_age: Age | None = None
    sex: str | None = None  # ALL | FEMALE | MALE, as v2 spells it
    healthy_volunteers: bool | None = None
    ages_line: str | None = None  # the structured field as written, for the quote
    sex_line: str | None = None


def read_record(path: Path) -> RegistryRecord:
    """Read a registry record file; JSON when it parses as a v2 study, page text otherwise."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file or directory", Location(str(path))) from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read registry record: {error}", Location(str(path))) from None
    if text.lstrip().startswith(("{", "[")):
        try:
            doc = json.loads(text)
        except ValueError as error:
            raise InputError(f"not valid JSON: {error}", Location(str(path))) from None
        return _from_json(doc, str(path))
    return _from_text(text, str(path))


# --------------------------------------------------------------------------- API v2 JSON


def _from_json(doc: Any, source: str) -> RegistryRecord:
    if isinstance(doc, dict) and isinstance(doc.get("studies"), list):
        studies = doc["studies"]
        if len(studies) != 1:
            raise InputError(
                f"the file holds {len(studies)} studies; draft one study at a time",
                Location(source, field="studies"),
            )
        doc = studies[0]
    protocol = doc.get("protocolSection") if isinstance(doc, dict) else None
    if not isinstance(protocol, dict):
        raise InputError(
            "not a ClinicalTrials.gov API v2 study: no protocolSection",
            Location(source, field="protocolSection"),
        )
    ident = _module(protocol, "identificationModule", source)
    elig = _module(protocol, "eligibilityModule", source)
    nct_id = ident.get("nctId")
    if not isinstance(nct_id, str) or not _NCT.fullmatch(nct_id):
        raise InputError(
            f"nctId must look like NCT01234567, got {nct_id!r}",
            Location(source, field="protocolSection.identificationModule.nctId"),
        )
    criteria = elig.get("eligibilityCriteria")
    if not isinstance(criteria, str) or not criteria.strip():
        raise InputError(
            "the study has no eligibility criteria text",
            Location(source, field="protocolSection.eligibilityModule.eligibilityCriteria"),
        )
    field = "protocolSection.eligibilityModule"
    minimum = _age(elig.get("minimumAge"), Location(source, field=f"{field}.minimumAge"))
    maximum = _age(elig.get("maximumAge"), Location(source, field=f"{field}.maximumAge"))
    sex = elig.get("sex")
    if sex is not None and sex not in ("ALL", "FEMALE", "MALE"):
        raise InputError(
            f"sex must be ALL, FEMALE or MALE, got {sex!r}", Location(source, field=f"{field}.sex")
        )
    healthy = elig.get("healthyVolunteers")
    if healthy is not None and not isinstance(healthy, bool):
        raise InputError(
            f"healthyVolunteers must be true or false, got {healthy!r}",
            Location(source, field=f"{field}.healthyVolunteers"),
        )
    ages = [f"minimumAge {elig['minimumAge']}"] if minimum else []
    ages += [f"maximumAge {elig['maximumAge']}"] if maximum else []
    return RegistryRecord(
        nct_id=nct_id,
        brief_title=str(ident.get("briefTitle") or ident.get("officialTitle") or nct_id),
        source=source,
        source_kind="ctgov-api-v2-json",
        criteria_text=unescape_v2(criteria),
        minimum_age=minimum,
        maximum_age=maximum,
        sex=sex,
        healthy_volunteers=healthy,
        ages_line=", ".join(ages) or None,
        sex_line=f"sex {sex}" if sex else None,
    )


def _module(protocol: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    module = protocol.get(name)
    if not isinstance(module, dict):
        raise InputError(f"the study has no {name}", Location(source, field=f"protocolSection.{name}"))
    return module


def unescape_v2(text: str) -> str:
    r"""Undo the backslash escapes API v2 puts before Markdown characters (``\>``, ``\<``, ``\[``, ``\^``)."""
    return re.sub(r"\\([\\`*_{}\[\]()#+\-.!<>^=|~])", r"\1", text)


def _age(value: Any, location: Location) -> Age | None:
    if value is None or value == "" or (isinstance(value, str) and value.strip().upper() == "N/A"):
        return None
    if isinstance(value, str):
        found = _AGE.fullmatch(value.strip())
        if found:
            unit = found.group(2).lower()
            return Age(float(found.group(1)), unit if unit.endswith("s") else unit + "s")
    raise InputError(f"an age must read like '18 Years', got {value!r}", location)


# --------------------------------------------------------------------------- page text


def _from_text(text: str, source: str) -> RegistryRecord:
    lines = text.splitlines()
    nct_id = _labelled(lines, ("clinicaltrials.gov identifier",))
    found = _NCT.search(nct_id or "") or _NCT.search(text)
    if not found:
        raise InputError("no NCT identifier (NCT followed by 8 digits) in the text", Location(source))
    title = _labelled(lines, ("brief title",)) or _labelled(lines, ("official title",)) or found.group(0)
    ages_line = _labelled(lines, ("ages eligible for study", "ages eligible"))
    sex_line = _labelled(lines, ("sexes eligible for study", "sexes eligible", "sex"))
    healthy_line = _labelled(lines, ("accepts healthy volunteers",))
    minimum, maximum = _ages_from_line(ages_line)
    return RegistryRecord(
        nct_id=found.group(0),
        brief_title=title,
        source=source,
        source_kind="registry-page-text",
        criteria_text=_criteria_block(lines, source),
        minimum_age=minimum,
        maximum_age=maximum,
        sex=_sex_from_line(sex_line),
        healthy_volunteers=_yes_no(healthy_line),
        ages_line=f"Ages eligible: {ages_line}" if minimum or maximum else None,
        sex_line=f"Sexes eligible: {sex_line}" if sex_line else None,
    )


def _labelled(lines: list[str], labels: tuple[str, ...]) -> str | None:
    """The value after ``Label:`` on the first line that starts with one of the labels."""
    for line in lines:
        head, sep, value = line.strip().partition(":")
        if sep and head.strip().lower() in labels and value.strip():
            return " ".join(value.split())
    return None


def _ages_from_line(line: str | None) -> tuple[Age | None, Age | None]:
    if not line or "not stated" in line.lower():
        return None, None
    ages = [Age(float(m.group(1)), _plural(m.group(2))) for m in _AGE.finditer(line)]
    low = line.lower()
    if " to " in low and len(ages) >= 2:
        return ages[0], ages[1]
    if ("up to" in low or "and younger" in low) and ages:
        return None, ages[0]
    if ages:  # "18 Years and older", "18 Years"
        return ages[0], None
    return None, None


def _plural(unit: str) -> str:
    unit = unit.lower()
    return unit if unit.endswith("s") else unit + "s"


def _sex_from_line(line: str | None) -> str | None:
    if not line:
        return None
    word = line.split()[0].strip(".,;").lower()
    return {"all": "ALL", "both": "ALL", "female": "FEMALE", "male": "MALE"}.get(word)


def _yes_no(line: str | None) -> bool | None:
    if not line:
        return None
    word = line.split()[0].strip(".,;").lower()
    return {"yes": True, "no": False}.get(word)


def _criteria_block(lines: list[str], source: str) -> str:
    """The text from the ``Inclusion Criteria`` heading to the end of the criteria."""
    start = next(
        (
            i
            for i, line in enumerate(lines)
            if re.match(r"^\s*(key\s+)?inclusion criteria\b", line, re.IGNORECASE)
        ),
        None,
    )
    if start is None:
        raise InputError("no 'Inclusion Criteria' heading in the text", Location(source))
    block: list[str] = []
    for line in lines[start:]:
        if line.strip().lower().startswith(_PAGE_SECTIONS):
            break
        block.append(line)
    return "\n".join(block).strip()
