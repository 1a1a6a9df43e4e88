"""Code-to-fact mappings, declared in YAML (``mappings/nct03562065.yaml`` by default).

A mapping says which coded item becomes which native fact:

- ``observations``: (system, code) -> observation name; ``value: coded`` when the result is an
  answer (positive/negative) rather than a quantity;
- ``statuses``: (system, code) -> status name, with the coded answers meaning true/false;
- ``conditions``: (system, code) -> condition name and optional ``type`` (``match: prefix``
  lets an ICD-10 category cover its subcodes);
- ``drugs``: ingredient codes (RxNorm IN, ATC) -> drug name; ``products``: product codes ->
  drug name with optional strength per unit and route;
- ``answers`` / ``answer_text``: coded and written answers -> ``positive`` / ``negative``;
- ``assessments`` (optional): local codes for scored instruments such as SELENA-SLEDAI.

Every entry keeps its ``source`` so an auditor can trace a fact back to the terminology
reference. Codes are matched on system plus code, never on display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from screener.errors import InputError, Location
from screener.yamlio import LineMap, load_file, yaml_error_location, yaml_error_message

DEFAULT_MAPPING = Path(__file__).with_name("mappings") / "nct03562065.yaml"

# Spellings of a system URI that mean the same system.
_ALIASES = {"http://loinc.org/": "http://loinc.org", "http://snomed.info/sct/": "http://snomed.info/sct"}


class MappingError(InputError):
    """A mapping file is malformed."""


def norm_system(system: str | None) -> str:
    """Canonical spelling of a code system URI (trimmed, no trailing slash)."""
    if not system:
        return ""
    text = system.strip()
    text = _ALIASES.get(text, text)
    return text.rstrip("/")


_ICD = {"http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm"}


def norm_code(code: Any, system: str | None = None) -> str:
    """Canonical spelling of a code: trimmed, upper case; ICD-10 without its dot (M32.14 = M3214)."""
    text = str(code).strip().upper()
    return text.replace(".", "") if system in _ICD else text


@dataclass(frozen=True)
class ObservationTarget:
    name: str
    coded: bool
    method: str | None
    source: str


@dataclass(frozen=True)
class StatusTarget:
    name: str
    answers: dict[tuple[str, str], bool | None]
    source: str


@dataclass(frozen=True)
class ConditionTarget:
    name: str
    type: str | None
    source: str


@dataclass(frozen=True)
class DrugTarget:
    drug: str
    source: str
    strength_mg: float | None = None
    route: str | None = None


@dataclass(frozen=True)
class AssessmentTarget:
    name: str
    source: str


@dataclass(frozen=True)
class Mapping:
    """A loaded mapping; look-ups take a FHIR system URI (or alias) and a code."""

    id: str
    file: str
    systems: dict[str, str]
    observations: dict[tuple[str, str], ObservationTarget]
    statuses: dict[tuple[str, str], StatusTarget]
    conditions: dict[tuple[str, str], ConditionTarget]
    condition_prefixes: tuple[tuple[str, str, ConditionTarget], ...]
    drugs: dict[tuple[str, str], DrugTarget]
    assessments: dict[tuple[str, str], AssessmentTarget]
    answers: dict[tuple[str, str], str]
    answer_text: dict[str, str]
    consent_scopes: tuple[str, ...] = ("research",)
    own_studies: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def system(self, name: str | None) -> str:
        """Resolve an alias (``loinc``) or URI to the canonical URI."""
        if not name:
            return ""
        return self.systems.get(name.strip(), norm_system(name))

    def _key(self, system: str | None, code: Any) -> tuple[str, str]:
        uri = self.system(system)
        return (uri, norm_code(code, uri))

    def observation(self, system: str | None, code: Any) -> ObservationTarget | None:
        return self.observations.get(self._key(system, code))

    def status(self, system: str | None, code: Any) -> StatusTarget | None:
        return self.statuses.get(self._key(system, code))

    def assessment(self, system: str | None, code: Any) -> AssessmentTarget | None:
        return self.assessments.get(self._key(system, code))

    def condition(self, system: str | None, code: Any) -> ConditionTarget | None:
        key = self._key(system, code)
        found = self.conditions.get(key)
        if found is not None:
            return found
        for sys_, prefix, target in self.condition_prefixes:
            if key[0] == sys_ and key[1].startswith(prefix):
                return target
        return None

    def drug(self, system: str | None, code: Any) -> DrugTarget | None:
        return self.drugs.get(self._key(system, code))

    def answer(self, system: str | None, code: Any) -> str | None:
        return self.answers.get(self._key(system, code))

    def answer_from_text(self, text: str | None) -> str | None:
        if text is None:
            return None
        return self.answer_text.get(" ".join(str(text).strip().lower().split()))


def _fail(message: str, lines: LineMap, *path: str | int) -> MappingError:
    return MappingError(message, lines.locate(path))


def _codes(
    entry: dict[str, Any], lines: LineMap, path: tuple[str | int, ...], systems: dict[str, str]
) -> Iterable[tuple[int, dict[str, Any], str, str]]:
    codes = entry.get("codes")
    if not isinstance(codes, list) or not codes:
        raise _fail("needs a non-empty list `codes`", lines, *path)
    for j, c in enumerate(codes):
        if not isinstance(c, dict) or "system" not in c or "code" not in c:
            raise _fail("each code needs `system` and `code`", lines, *path, "codes", j)
        if "source" not in c:
            raise _fail("each code needs a `source` (where the code was verified)", lines, *path, "codes", j)
        system = systems.get(str(c["system"]), norm_system(str(c["system"])))
        yield j, c, system, norm_code(c["code"], system)


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Read and check a mapping file (default: the NCT03562065 mapping shipped with screener)."""
    p = Path(path) if path is not None else DEFAULT_MAPPING
    try:
        data, lines = load_file(p)
    except OSError as error:
        raise MappingError(f"cannot read mapping file: {error.strerror}", Location(str(p))) from None
    except yaml.YAMLError as error:
        raise MappingError(yaml_error_message(error), yaml_error_location(error, str(p))) from None
    return mapping_from_data(data, lines)


def mapping_from_data(data: Any, lines: LineMap) -> Mapping:
    if not isinstance(data, dict):
        raise _fail("a mapping file is a YAML mapping", lines)
    systems = {str(k): norm_system(str(v)) for k, v in (data.get("systems") or {}).items()}

    observations: dict[tuple[str, str], ObservationTarget] = {}
    for i, entry in enumerate(data.get("observations") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("an observation entry needs `name`", lines, "observations", i)
        for _j, c, system, code in _codes(entry, lines, ("observations", i), systems):
            observations[(system, code)] = ObservationTarget(
                name=str(entry["name"]),
                coded=entry.get("value") == "coded",
                method=entry.get("method"),
                source=str(c["source"]),
            )

    statuses: dict[tuple[str, str], StatusTarget] = {}
    for i, entry in enumerate(data.get("statuses") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("a status entry needs `name`", lines, "statuses", i)
        answers: dict[tuple[str, str], bool | None] = {}
        for j, a in enumerate(entry.get("answers") or []):
            if not isinstance(a, dict) or "value" not in a or a["value"] not in (True, False, None):
                raise _fail("an answer needs `value: true|false|null`", lines, "statuses", i, "answers", j)
            answers[(systems.get(str(a["system"]), norm_system(str(a["system"]))), norm_code(a["code"]))] = a[
                "value"
            ]
        for _j, c, system, code in _codes(entry, lines, ("statuses", i), systems):
            statuses[(system, code)] = StatusTarget(str(entry["name"]), answers, str(c["source"]))

    conditions: dict[tuple[str, str], ConditionTarget] = {}
    prefixes: list[tuple[str, str, ConditionTarget]] = []
    for i, entry in enumerate(data.get("conditions") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("a condition entry needs `name`", lines, "conditions", i)
        for _j, c, system, code in _codes(entry, lines, ("conditions", i), systems):
            target = ConditionTarget(str(entry["name"]), entry.get("type"), str(c["source"]))
            if c.get("match") == "prefix":
                prefixes.append((system, code, target))
            conditions[(system, code)] = target

    drugs: dict[tuple[str, str], DrugTarget] = {}
    for i, entry in enumerate(data.get("drugs") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("a drug entry needs `name`", lines, "drugs", i)
        for _j, c, system, code in _codes(entry, lines, ("drugs", i), systems):
            drugs[(system, code)] = DrugTarget(str(entry["name"]), str(c["source"]))
    for i, p in enumerate(data.get("products") or []):
        if not isinstance(p, dict) or not {"system", "code", "drug", "source"} <= p.keys():
            raise _fail("a product needs `system`, `code`, `drug` and `source`", lines, "products", i)
        system = systems.get(str(p["system"]), norm_system(str(p["system"])))
        strength = p.get("strength_mg")
        if strength is not None and (not isinstance(strength, int | float) or strength <= 0):
            raise _fail("strength_mg must be a positive number", lines, "products", i, "strength_mg")
        drugs[(system, norm_code(p["code"]))] = DrugTarget(
            str(p["drug"]), str(p["source"]), float(strength) if strength else None, p.get("route")
        )

    assessments: dict[tuple[str, str], AssessmentTarget] = {}
    for i, entry in enumerate(data.get("assessments") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("an assessment entry needs `name`", lines, "assessments", i)
        for _j, c, system, code in _codes(entry, lines, ("assessments", i), systems):
            assessments[(system, code)] = AssessmentTarget(str(entry["name"]), str(c["source"]))

    answers_map: dict[tuple[str, str], str] = {}
    for value, codes in (data.get("answers") or {}).items():
        for c in codes or []:
            answers_map[
                (systems.get(str(c["system"]), norm_system(str(c["system"]))), norm_code(c["code"]))
            ] = str(value)
    answer_text: dict[str, str] = {}
    for value, words in (data.get("answer_text") or {}).items():
        for w in words or []:
            answer_text[" ".join(str(w).lower().split())] = str(value)

    meta = data.get("mapping") or {}
    fhir = data.get("fhir") or {}
    return Mapping(
        id=str(meta.get("id", Path(lines.file).stem)),
        file=lines.file,
        systems=systems,
        observations=observations,
        statuses=statuses,
        conditions=conditions,
        condition_prefixes=tuple(prefixes),
        drugs=drugs,
        assessments=assessments,
        answers=answers_map,
        answer_text=answer_text,
        consent_scopes=tuple(fhir.get("consent_scopes", ("research",))),
        own_studies=tuple(str(x) for x in fhir.get("own_study_identifiers", ())),
        raw=data,
    )
