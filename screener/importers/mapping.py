"""Code-to-fact mappings, declared in YAML (``mappings/nct03562065.yaml`` by default).

A mapping says which coded item becomes which native fact:

- ``observations``: (system, code) -> observation name; ``value: coded`` when the result is an
  answer (positive/negative) rather than a quantity;
- ``statuses``: (system, code) -> status name, with the coded answers meaning true/false;
- ``conditions``: (system, code) -> condition name and optional ``type`` (``match: prefix``
  lets an ICD-10 category cover its subcodes); ``also: [names]`` on a condition or range entry
  says the same record is further conditions too (M32.14: SLE and a lupus nephritis), one
  native condition each;
- ``drugs``: ingredient codes (RxNorm IN, ATC) -> drug name; ``products``: product codes ->
  drug name with optional strength per unit and route;
- ``answers`` / ``answer_text``: coded and written answers -> ``positive`` / ``negative``;
- ``assessments`` (optional): local codes for scored instruments such as SELENA-SLEDAI;
- ``completeness_lists``: codes of a FHIR List whose being empty (emptyReason ``nilknown``) says
  a status is false (no other study, no legal protection measure);
- ``classifications``: codes of an Observation giving how many classification criteria of a
  condition are met (SLE, ACR 1997) -> that condition's ``classification`` and ``criteria_met``;
- ``legal_representatives``: responsible-party role codes (v3-RoleCode GUARD...) of
  Patient.contact / RelatedPerson -> ``legal_protection`` true, or null when a person must check;
- ``condition_ranges``: ICD-10 / ICD-10-CM blocks, categories and subcodes -> condition name
  (the narrowest range covering a code answers, so carve-outs are narrower ranges; see
  :mod:`screener.terminology.icd10`); an entry may set ``status`` (``resolved``: in remission)
  or ``verification: unconfirmed``;
- ``not_criteria``: ranges and codes that are classified but name no criterion's condition
  (benign neoplasms, personal or family history of cancer), with the reason; the import report
  counts them as "not used" and the text safety net leaves them alone;
- ``suspicious_text``: words which, in the text or display of a condition no code classifies,
  name a criterion's condition (malignancy, HIV, hepatitis, psychosis, substance abuse): such a
  record becomes that condition with ``verification: unconfirmed``, so its criterion is
  ``unknown`` with a to-do to confirm it, never a silent pass.

Codes are looked up in this order, and each answer says which terminology gave it
(:attr:`ConditionTarget.via`, :attr:`DrugTarget.via`): the mapping's own codes ("bundled map"),
an ICD-10 range, a local terminology the user pointed screener at (``--terminology DIR`` or
``SCREENER_TERMINOLOGY``: SNOMED CT RF2 or OMOP vocabulary ancestors, RxNorm RRF), then the
RxNorm normalised name of a product, then the text safety net.

:func:`load_mapping` parses a file once per process and run (cached on path, modification time
and terminology directory), so a batch of many files pays for it once.

Every entry keeps its ``source`` so an auditor can trace a fact back to the terminology
reference. Codes are matched on system plus code. A display is read only for an RxNorm
product no code list answers (its normalised name; the import report lists each such
product under ``answered_codes``) and by the text safety net, which can only make a criterion
``unknown``, never let it pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from screener.errors import InputError, Location
from screener.terminology import icd10, rxnorm
from screener.terminology import text as text_net
from screener.terminology.local import LocalTerminology, terminology_from
from screener.terminology.text import SuspiciousWord
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
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


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
    via: str = "bundled map"  # which terminology answered (shown in the import report)
    status: str | None = None  # e.g. resolved for an "in remission" code
    verification: str | None = None  # unconfirmed: the criterion stays unknown until confirmed
    matched: str | None = None  # what answered: "system|code" or "text '...'" (import report)
    # further conditions the same record is (M32.14 is SLE and a lupus nephritis): the importer
    # adds one condition per target, each with its own name and type (``also:`` in the YAML,
    # and the union of several trials' mappings, :mod:`screener.importers.mapping_union`)
    also: tuple[ConditionTarget, ...] = ()

    def all(self) -> tuple[ConditionTarget, ...]:
        """This target and the further conditions it names, in order."""
        return (self, *self.also)


def also_item(item: dict[str, Any], extra: ConditionTarget) -> dict[str, Any]:
    """The native condition a further target (``also``) of a record adds: the record's dates,
    status and source under the target's name and type; unconfirmed when either is."""
    out = {**item, "name": extra.name, "type": extra.type}
    if extra.status:
        out["status"] = extra.status
    if extra.verification == "unconfirmed":
        out["verification"] = "unconfirmed"
    return out


@dataclass(frozen=True)
class DrugTarget:
    drug: str
    source: str
    strength_mg: float | None = None
    route: str | None = None
    via: str = "bundled map"
    matched: str | None = None  # what answered: "system|code" (import report)


@dataclass(frozen=True)
class NotCriterion:
    """A classified code that names no criterion's condition (e.g. a benign neoplasm)."""

    reason: str
    source: str
    via: str


@dataclass(frozen=True)
class AssessmentTarget:
    name: str
    source: str


@dataclass(frozen=True)
class ContraceptionTarget:
    """A code that records a contraceptive method: put in place (``start``) or taken out (``removal``)."""

    method: str  # iud, implant, injection, oral, patch, ring, sterilisation
    event: str  # start | removal
    display: str
    source: str


@dataclass(frozen=True)
class ClassificationTarget:
    """An Observation code giving how many classification criteria of a condition are met."""

    condition: str  # e.g. sle
    classification: str  # e.g. acr_1997
    criteria: int  # how many criteria the classification has (the count cannot exceed it)
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
    # condition ranges and not-criteria ranges in one table: the narrowest range answers
    condition_ranges: icd10.RangeTable[ConditionTarget | NotCriterion] = field(
        default_factory=icd10.RangeTable, compare=False, repr=False
    )
    suspicious: tuple[SuspiciousWord, ...] = ()
    contraception: dict[tuple[str, str], ContraceptionTarget] = field(default_factory=dict)
    treatment_outcomes: dict[tuple[str, str], str] = field(default_factory=dict)  # stop reason -> outcome
    # List codes whose empty List (emptyReason nilknown) says a status is false
    completeness_lists: dict[tuple[str, str], str] = field(default_factory=dict)
    classifications: dict[tuple[str, str], ClassificationTarget] = field(default_factory=dict)
    # responsible-party role codes -> legal_protection true, or None: a person must check
    legal_representatives: dict[tuple[str, str], tuple[bool | None, str]] = field(default_factory=dict)
    ingredient_names: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    local: LocalTerminology | None = field(default=None, compare=False, repr=False)
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
        """The condition a code names: exact code, ICD-10 range, then a local terminology."""
        key = self._key(system, code)
        found = self.conditions.get(key)
        if found is not None:
            return found
        if key[0] in _ICD:
            hit = self.condition_ranges.lookup(key[0], key[1])
            return hit.target if hit is not None and isinstance(hit.target, ConditionTarget) else None
        if self.local is not None:
            return self.local.condition(self, key[0], key[1])
        return None

    def classify_condition(
        self,
        codings: Iterable[tuple[str | None, Any, str | None]],
        text: str | None = None,
        ancestors: Iterable[tuple[str, str, str]] = (),
    ) -> ConditionTarget | NotCriterion | None:
        """What a condition record is, from its (system, code, display) codings and its text.

        A coding the mapping classifies answers first (a criterion's condition, else a
        classified code that names none); then ``ancestors`` of the record's concept, nearest
        first, as (system, code, how they were found), e.g. from an OMOP CONCEPT_ANCESTOR table;
        with none, the text safety net looks at the text and the displays
        (:meth:`suspicious_condition`); None when nothing classifies the record.
        """
        codings = list(codings)
        ignored = None
        for system, code, _display in codings:
            target = self.condition(system, code)
            if target is not None:
                return replace(target, matched=f"{self.system(system)}|{code}")
            ignored = ignored or self.not_criterion(system, code)
        if ignored is not None:
            return ignored
        first = f"{self.system(codings[0][0])}|{codings[0][1]}" if codings else None
        for system, code, how in ancestors:
            target = self.conditions.get(self._key(system, code))
            if target is not None:
                return replace(target, via=how, matched=first)
        found = self.suspicious_condition(text, *(d for _s, _c, d in codings))
        return replace(found, matched=first or f"text {text!r}") if found is not None else None

    def not_criterion(self, system: str | None, code: Any) -> NotCriterion | None:
        """Why a classified code names no criterion's condition (None if it is not one of those)."""
        key = self._key(system, code)
        if key[0] in _ICD:
            hit = self.condition_ranges.lookup(key[0], key[1])
            return hit.target if hit is not None and isinstance(hit.target, NotCriterion) else None
        return None

    def suspicious_condition(self, *texts: str | None) -> ConditionTarget | None:
        """Safety net: a condition no code classifies whose text names a criterion's condition.

        The answer is that condition with ``verification: unconfirmed``; the importer keeps the
        record (its criterion becomes ``unknown`` with a to-do to confirm it).
        """
        found = text_net.first_named(self.suspicious, *texts)
        if found is None:
            return None
        word, text = found
        return ConditionTarget(
            word.condition,
            None,
            f"text {text!r} names {word.label}",
            via="text safety net",
            verification="unconfirmed",
        )

    def drug(self, system: str | None, code: Any, display: str | None = None) -> DrugTarget | None:
        """The trial drug a medication code gives: exact code, local RxNorm, then the RxNorm name.

        ``display`` is the coding's display: for an RxNorm product code the mapping does not
        list, its normalised name gives the ingredient and strength (:mod:`~screener.terminology.rxnorm`).
        """
        key = self._key(system, code)
        found = self.drugs.get(key)
        if found is None and key[0] == RXNORM and self.local is not None:
            product = self.local.rxnorm_product(key[1])
            if product is not None:
                found = self.drug_from_product(product, f"RxNorm {key[1]}", "RxNorm RRF")
        if found is None and key[0] == RXNORM and display:
            parsed = rxnorm.parse_name(display)
            if parsed is not None:
                found = self.drug_from_product(parsed, f"RxNorm {key[1]} {display!r}", "RxNorm name parse")
        return replace(found, matched=f"{key[0]}|{key[1]}") if found is not None else None

    def listed_drug(self, system: str | None, code: Any) -> DrugTarget | None:
        """The drug of a code the mapping itself lists (no hierarchy, no name)."""
        return self.drugs.get(self._key(system, code))

    def drug_from_product(self, product: rxnorm.Product, what: str, via: str) -> DrugTarget | None:
        """The trial drug among a product's ingredients (None when none is a trial drug)."""
        for ingredient in product.ingredients:
            drug = self.ingredient_drug(ingredient.name)
            if drug is not None:  # strength: of this ingredient, per unit (tablet, capsule ...)
                return DrugTarget(
                    drug, f"{what} -> {ingredient.name}", ingredient.strength_mg, product.route, via
                )
        return None

    def ingredient_drug(self, name: str) -> str | None:
        """The trial drug an ingredient name (``hydroxychloroquine sulfate``) stands for."""
        low = " ".join(name.lower().replace(",", " ").split())
        best = None
        for known, drug in self.ingredient_names.items():
            if (low == known or low.startswith(known + " ")) and (best is None or len(known) > len(best[0])):
                best = (known, drug)
        return best[1] if best else None

    def contraceptive(self, system: str | None, code: Any) -> ContraceptionTarget | None:
        """The contraceptive method a procedure, device or medication code records (None: not one)."""
        return self.contraception.get(self._key(system, code))

    def treatment_outcome(self, system: str | None, code: Any) -> str | None:
        """The medication outcome (inefficacy, adverse_effect) a stop-reason code records."""
        return self.treatment_outcomes.get(self._key(system, code))

    def answer(self, system: str | None, code: Any) -> str | None:
        return self.answers.get(self._key(system, code))

    def completeness_list(self, system: str | None, code: Any) -> str | None:
        """The status an empty List with this code says is false (None: not such a list)."""
        return self.completeness_lists.get(self._key(system, code))

    def classification(self, system: str | None, code: Any) -> ClassificationTarget | None:
        return self.classifications.get(self._key(system, code))

    def legal_representative(self, system: str | None, code: Any) -> tuple[bool | None, str] | None:
        """(value, role) of a relationship code: a guardian is True, a power of attorney None;
        None when the code is no legal representative."""
        return self.legal_representatives.get(self._key(system, code))

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


TERMINOLOGY_ENV = "SCREENER_TERMINOLOGY"
_CACHE: dict[tuple[str, int, int, str], Mapping] = {}


def load_mapping(path: str | Path | None = None, terminology: str | Path | None = None) -> Mapping:
    """Read and check a mapping file (default: the NCT03562065 mapping shipped with screener).

    ``terminology`` is a directory of local terminology files (default: the
    ``SCREENER_TERMINOLOGY`` environment variable; see :mod:`screener.terminology.local`). The
    parsed mapping is cached on (path, size, modification time, terminology), so reading many
    input files in one run parses it once.
    """
    p = Path(path) if path is not None else DEFAULT_MAPPING
    term = terminology if terminology is not None else os.environ.get(TERMINOLOGY_ENV) or None
    try:
        stat = p.stat()
    except OSError as error:
        raise MappingError(f"cannot read mapping file: {error.strerror}", Location(str(p))) from None
    key = (str(p.resolve()), stat.st_mtime_ns, stat.st_size, str(term or ""))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    try:
        data, lines = load_file(p)
    except OSError as error:
        raise MappingError(f"cannot read mapping file: {error.strerror}", Location(str(p))) from None
    except yaml.YAMLError as error:
        raise MappingError(yaml_error_message(error), yaml_error_location(error, str(p))) from None
    mapping = mapping_from_data(data, lines)
    if term:
        mapping = replace(mapping, local=terminology_from(Path(term)))
    if len(_CACHE) >= 8:  # one mapping per trial of a portfolio at most; keep memory flat
        _CACHE.clear()
    _CACHE[key] = mapping
    return mapping


def _range_codes(
    entry: dict[str, Any], lines: LineMap, path: tuple[str | int, ...], systems: dict[str, str]
) -> Iterable[tuple[str, str, str, str, str]]:
    """(system, start, end, label, source) of each ``codes`` item of a range entry."""
    codes = entry.get("codes")
    if not isinstance(codes, list) or not codes:
        raise _fail("needs a non-empty list `codes`", lines, *path)
    for j, c in enumerate(codes):
        here = (*path, "codes", j)
        if not isinstance(c, dict) or "system" not in c or ("range" not in c and "code" not in c):
            raise _fail("each item needs `system` and `range` (or `code`)", lines, *here)
        if "source" not in c:
            raise _fail("each item needs a `source` (where the range was verified)", lines, *here)
        system = systems.get(str(c["system"]), norm_system(str(c["system"])))
        if system not in _ICD:
            raise _fail(f"ranges are for ICD-10 and ICD-10-CM codes, not {c['system']!r}", lines, *here)
        text = str(c.get("range", c.get("code")))
        try:
            start, end = icd10.parse_range(text)
        except ValueError as error:
            raise _fail(str(error), lines, *here) from None
        label = f"{'ICD-10-CM' if system.endswith('-cm') else 'ICD-10'} {text}"
        yield system, start, end, label, str(c["source"])


def _suspicious(data: Any, lines: LineMap) -> tuple[SuspiciousWord, ...]:
    out = []
    for i, entry in enumerate(data or []):
        if not isinstance(entry, dict) or not {"condition", "words"} <= entry.keys():
            raise _fail("a suspicious_text entry needs `condition` and `words`", lines, "suspicious_text", i)
        out.append(
            text_net.compile_words(
                str(entry["condition"]),
                str(entry.get("label", entry["condition"])),
                [str(w) for w in entry["words"]],
                [str(w) for w in entry.get("unless") or []],
            )
        )
    return tuple(out)


def _also(entry: dict[str, Any], lines: LineMap, path: tuple[str | int, ...]) -> list[str]:
    """The ``also:`` names of a condition entry (further conditions the same codes name)."""
    also = entry.get("also") or []
    if not isinstance(also, list) or not all(isinstance(n, str) and n for n in also):
        raise _fail("`also` is a list of condition names", lines, *path, "also")
    return [str(n) for n in also]


def _also_targets(
    names: list[str],
    source: str,
    via: str = "bundled map",
    status: str | None = None,
    verification: str | None = None,
) -> tuple[ConditionTarget, ...]:
    return tuple(
        ConditionTarget(n, None, source, via=via, status=status, verification=verification) for n in names
    )


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
    ranges: icd10.RangeTable[ConditionTarget | NotCriterion] = icd10.RangeTable()
    for i, entry in enumerate(data.get("conditions") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("a condition entry needs `name`", lines, "conditions", i)
        also = _also(entry, lines, ("conditions", i))
        for _j, c, system, code in _codes(entry, lines, ("conditions", i), systems):
            target = ConditionTarget(
                str(entry["name"]),
                entry.get("type"),
                str(c["source"]),
                also=_also_targets(also, str(c["source"])),
            )
            if c.get("match") == "prefix":
                prefixes.append((system, code, target))
                ranges.add(icd10.CodeRange(system, code, code, target, f"{code} and subcodes"))
            conditions[(system, code)] = target
    for i, entry in enumerate(data.get("condition_ranges") or []):
        if not isinstance(entry, dict) or "name" not in entry:
            raise _fail("a condition range entry needs `name`", lines, "condition_ranges", i)
        verification = entry.get("verification")
        if verification not in (None, "unconfirmed"):
            raise _fail(
                "verification is `unconfirmed` or absent", lines, "condition_ranges", i, "verification"
            )
        also = _also(entry, lines, ("condition_ranges", i))
        for system, start, end, label, source in _range_codes(entry, lines, ("condition_ranges", i), systems):
            target = ConditionTarget(
                str(entry["name"]),
                entry.get("type"),
                source,
                via=f"{label} range",
                status=entry.get("status"),
                verification=verification,
                also=_also_targets(also, source, f"{label} range", entry.get("status"), verification),
            )
            ranges.add(icd10.CodeRange(system, start, end, target, label))
    for i, entry in enumerate(data.get("not_criteria") or []):
        if not isinstance(entry, dict) or "reason" not in entry:
            raise _fail("a not_criteria entry needs `reason`", lines, "not_criteria", i)
        for system, start, end, label, source in _range_codes(entry, lines, ("not_criteria", i), systems):
            reason = NotCriterion(str(entry["reason"]), source, f"{label} range")
            ranges.add(icd10.CodeRange(system, start, end, reason, label))

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

    # ingredient names (lower case, as RxNorm writes them) -> drug: the drug's own name and the
    # displays of its ingredient codes, e.g. "mycophenolate mofetil", "cyclosporine"
    ingredient_names: dict[str, str] = {}
    for entry in data.get("drugs") or []:
        name = str(entry["name"])
        ingredient_names[name.replace("_", " ")] = name
        for c in entry.get("codes") or []:
            if isinstance(c, dict) and c.get("display") and "previous" not in str(c["display"]):
                ingredient_names.setdefault(
                    " ".join(str(c["display"]).lower().replace(",", " ").split()), name
                )
    for alias, drug in (data.get("ingredient_names") or {}).items():
        ingredient_names[" ".join(str(alias).lower().split())] = str(drug)

    contraception: dict[tuple[str, str], ContraceptionTarget] = {}
    for i, entry in enumerate(data.get("contraception") or []):
        if (
            not isinstance(entry, dict)
            or entry.get("event") not in ("start", "removal")
            or "method" not in entry
        ):
            raise _fail(
                "a contraception entry needs `method` and `event` (start or removal)",
                lines,
                "contraception",
                i,
            )
        for _j, c, system, code in _codes(entry, lines, ("contraception", i), systems):
            contraception[(system, code)] = ContraceptionTarget(
                method=str(entry["method"]),
                event=str(entry["event"]),
                display=str(c.get("display") or code),
                source=str(c["source"]),
            )

    treatment_outcomes: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(data.get("treatment_outcomes") or []):
        if not isinstance(entry, dict) or entry.get("outcome") not in ("inefficacy", "adverse_effect"):
            raise _fail(
                "a treatment_outcomes entry needs `outcome`: inefficacy or adverse_effect",
                lines,
                "treatment_outcomes",
                i,
            )
        for _j, _c, system, code in _codes(entry, lines, ("treatment_outcomes", i), systems):
            treatment_outcomes[(system, code)] = str(entry["outcome"])

    completeness_lists: dict[tuple[str, str], str] = {}
    for i, entry in enumerate(data.get("completeness_lists") or []):
        if not isinstance(entry, dict) or "status" not in entry:
            raise _fail("a completeness_lists entry needs `status`", lines, "completeness_lists", i)
        for _j, _c, system, code in _codes(entry, lines, ("completeness_lists", i), systems):
            completeness_lists[(system, code)] = str(entry["status"])

    classifications: dict[tuple[str, str], ClassificationTarget] = {}
    for i, entry in enumerate(data.get("classifications") or []):
        if (
            not isinstance(entry, dict)
            or not {"condition", "classification", "criteria"} <= entry.keys()
            or not isinstance(entry["criteria"], int)
        ):
            raise _fail(
                "a classifications entry needs `condition`, `classification` and `criteria` (a count)",
                lines,
                "classifications",
                i,
            )
        for _j, c, system, code in _codes(entry, lines, ("classifications", i), systems):
            classifications[(system, code)] = ClassificationTarget(
                str(entry["condition"]), str(entry["classification"]), entry["criteria"], str(c["source"])
            )

    representatives: dict[tuple[str, str], tuple[bool | None, str]] = {}
    for i, entry in enumerate(data.get("legal_representatives") or []):
        if not isinstance(entry, dict) or entry.get("value", "") not in (True, None):
            raise _fail(
                "a legal_representatives entry needs `value: true` (a legal protection) or null (to check)",
                lines,
                "legal_representatives",
                i,
            )
        for _j, c, system, code in _codes(entry, lines, ("legal_representatives", i), systems):
            representatives[(system, code)] = (entry["value"], str(c.get("display") or code))

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
        condition_ranges=ranges,
        suspicious=_suspicious(data.get("suspicious_text"), lines),
        contraception=contraception,
        treatment_outcomes=treatment_outcomes,
        completeness_lists=completeness_lists,
        classifications=classifications,
        legal_representatives=representatives,
        ingredient_names=ingredient_names,
        raw=data,
    )
