"""Which names a native patient file may use: the known vocabulary.

A name in a patient file that nothing defines would otherwise be dropped without a
word: ``drug: methotrexat`` is no methotrexate exposure, ``name: neoplasm`` is no
neoplasia, ``name: wieght`` is no weight. So every observation, status, assessment,
condition and drug name of a native patient file must be *known*; an unknown name is
a :class:`PatientDataError` at its line with "did you mean".

A name is known when one of these defines it (a known name the trial at hand does not
use is fine: a record may hold more than one trial needs):

- a rule set: every rule set under the ``rules/`` folder of this checkout and of the
  working directory, and every rule set loaded in this process (``--rules`` elsewhere):
  its facts by kind, the condition names and drug names its tests and derived values
  match on (``match:`` and ``where: {field: name|drug, in/eq: ...}``);
- the code mapping shipped with screener (``importers/mappings/nct03562065.yaml``):
  the names an EHR import can produce;
- the named clinical functions' drug tables (glucocorticoid and mycophenolate
  equivalences, :mod:`screener.clinical.dosing`);
- ``vocabulary.yaml`` beside the rule sets (``rules/vocabulary.yaml``): names a record
  may hold or a rule set may match on that no mapping produces (co-medications,
  comorbidities no criterion reads, drugs without a verified code), each with its source.

A rule set's ``match:`` lists must name known names too, but the rule set itself
does not count there (see :mod:`screener.model.rule_checks`): a typo in a ``match:``
list would otherwise define the misspelt name.

Names must also sit in the right list: a status given as an observation is an error
that says where it belongs. Condition ``type`` (a subtype such as
``breast_carcinoma``) is free text and not checked.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from screener.errors import Location, PatientDataError

if TYPE_CHECKING:
    from screener.model.patient import Patient
    from screener.model.rules import RuleSet
    from screener.yamlio import LineMap

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_A = {"observation": "an", "status": "a", "assessment": "an", "condition": "a", "drug": "a"}
KINDS = ("observation", "status", "assessment", "condition", "drug")
_SECTIONS = {
    "observation": "observations",
    "status": "statuses",
    "assessment": "assessments",
    "condition": "conditions",
    "drug": "medications",
}


@dataclass(frozen=True)
class Vocabulary:
    """Known names by kind (``observation``, ``status``, ``assessment``, ``condition``, ``drug``)."""

    names: tuple[tuple[str, frozenset[str]], ...]

    @staticmethod
    def of(**by_kind: Iterable[str]) -> Vocabulary:
        return Vocabulary(tuple((k, frozenset(by_kind.get(k, ()))) for k in KINDS))

    @cached_property
    def _by_kind(self) -> dict[str, frozenset[str]]:
        return dict(self.names)

    def get(self, kind: str) -> frozenset[str]:
        return self._by_kind[kind]

    def __or__(self, other: Vocabulary) -> Vocabulary:
        return Vocabulary.of(**{k: self.get(k) | other.get(k) for k in KINDS})


def ruleset_vocabulary(rs: RuleSet) -> Vocabulary:
    """The names a rule set defines or matches on."""
    from screener.model.rules import FieldTest, Quantifier, walk

    by_kind: dict[str, set[str]] = {k: set() for k in KINDS}
    for name, fact in rs.facts.items():
        if fact.kind in by_kind:
            by_kind[fact.kind].add(name)
    record_kind = {"condition": ("condition", "name"), "exposure": ("drug", "drug")}
    for d in rs.derived:
        for key, values in d.match:
            if key == "drug":
                by_kind["drug"].update(str(v) for v in values)
    for c in rs.criteria:
        for node in walk(c.test):
            if not isinstance(node, Quantifier) or node.record not in record_kind:
                continue
            kind, field = record_kind[node.record]
            for key, values in node.match:
                if key == field:
                    by_kind[kind].update(str(v) for v in values)
            if node.where is None:
                continue
            for inner in walk(node.where):
                if isinstance(inner, FieldTest) and inner.field == field:
                    value = inner.comparison.value
                    by_kind[kind].update(str(v) for v in (value if isinstance(value, list) else [value]))
    return Vocabulary.of(**by_kind)


# The shipped code mapping (screener.importers.mapping.DEFAULT_MAPPING, named here without
# importing the importers) and the index of the names it produces, written beside it.
SHIPPED_MAPPING = Path(__file__).resolve().parents[1] / "importers" / "mappings" / "nct03562065.yaml"
MAPPING_NAMES = SHIPPED_MAPPING.with_suffix(".names.json")


def names_from_mapping(path: Path = SHIPPED_MAPPING) -> dict[str, list[str]]:
    """The names a code mapping file produces, by kind (parses the mapping)."""
    from screener.importers.mapping import load_mapping

    mapping = load_mapping(path)
    conditions = {t.name for t in mapping.conditions.values()}
    conditions |= {t.name for _, _, t in mapping.condition_prefixes}
    return {
        "observation": sorted({t.name for t in mapping.observations.values()}),
        "status": sorted({t.name for t in mapping.statuses.values()}),
        "assessment": sorted({t.name for t in mapping.assessments.values()}),
        "condition": sorted(conditions),
        "drug": sorted({t.drug for t in mapping.drugs.values()}),
    }


def names_index(path: Path = SHIPPED_MAPPING) -> str:
    """The text of the names index of a mapping file: its names and the SHA-256 of the file
    they were read from (``python -m screener.model.vocabulary`` rewrites the shipped one)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return json.dumps({"mapping_sha256": digest, **names_from_mapping(path)}, indent=1) + "\n"


def _shipped_mapping_names() -> dict[str, list[str]]:
    """The shipped mapping's names from its index when the index was made from this very
    mapping file (same SHA-256), else from the mapping itself: the index saves parsing ~180 KB
    of YAML at every start, and a stale or missing index only costs that time."""
    try:
        index = json.loads(MAPPING_NAMES.read_text(encoding="utf-8"))
        if index.get("mapping_sha256") == hashlib.sha256(SHIPPED_MAPPING.read_bytes()).hexdigest():
            return {kind: index[kind] for kind in KINDS}
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    return names_from_mapping()


@cache
def mapping_vocabulary() -> Vocabulary:
    """The names the shipped code mapping produces, and the clinical functions' drug tables."""
    from screener.clinical.dosing import MYCOPHENOLATE_FACTORS, PREDNISONE_FACTORS

    names = _shipped_mapping_names()
    drugs = {*names["drug"], *(k.replace(" ", "_") for k in (*PREDNISONE_FACTORS, *MYCOPHENOLATE_FACTORS))}
    return Vocabulary.of(**{**names, "drug": drugs})


VOCABULARY_FILE = "vocabulary.yaml"
_FILE_KINDS = {v: k for k, v in _SECTIONS.items()} | {"drugs": "drug"}


@cache
def vocabulary_file(path: Path) -> Vocabulary:
    """Names listed in a ``vocabulary.yaml`` (each with a ``source``); RuleSpecError if malformed."""
    import yaml

    from screener.errors import RuleSpecError
    from screener.yamlio import load_file, yaml_error_location, yaml_error_message

    try:
        data, lines = load_file(path)
    except OSError as error:
        raise RuleSpecError(f"cannot read vocabulary file: {error.strerror}", Location(str(path))) from None
    except yaml.YAMLError as error:
        raise RuleSpecError(yaml_error_message(error), yaml_error_location(error, str(path))) from None
    if not isinstance(data, dict):
        raise RuleSpecError("a vocabulary file is a mapping of lists", lines.locate(()))
    by_kind: dict[str, set[str]] = {k: set() for k in KINDS}
    for section, entries in data.items():
        if section == "schema_version":
            continue
        if section not in _FILE_KINDS:
            known = ", ".join(sorted(s for s in _FILE_KINDS if s != "medications"))
            raise RuleSpecError(f"unknown section '{section}' (expected {known})", lines.locate((section,)))
        for i, entry in enumerate(entries if isinstance(entries, list) else [None]):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not _NAME.match(name) or not entry.get("source"):
                raise RuleSpecError(
                    "each entry needs a lower_snake_case `name` and a `source`", lines.locate((section, i))
                )
            by_kind[_FILE_KINDS[section]].add(name)
    return Vocabulary.of(**by_kind)


def rule_folders() -> list[Path]:
    """The ``rules/`` folders whose rule sets and vocabulary files define known names."""
    here = Path(__file__).resolve().parents[2] / "rules"
    folders = [here]
    cwd = Path("rules").resolve()
    if cwd != here:
        folders.append(cwd)
    return [f for f in folders if f.is_dir()]


@cache
def file_vocabulary(extra_folders: tuple[Path, ...] = ()) -> Vocabulary:
    """Names listed in the ``vocabulary.yaml`` files of the ``rules/`` folders and of ``extra_folders``."""
    vocabulary = Vocabulary.of()
    seen: set[Path] = set()
    for folder in (*rule_folders(), *extra_folders):
        path = (folder / VOCABULARY_FILE).resolve()
        if path not in seen and path.is_file():
            seen.add(path)
            vocabulary = vocabulary | vocabulary_file(path)
    return vocabulary


@cache
def reference_vocabulary(extra_folders: tuple[Path, ...] = ()) -> Vocabulary:
    """Names defined outside any rule set: the code mapping, the clinical functions, and the
    ``vocabulary.yaml`` files of the ``rules/`` folders and of ``extra_folders``."""
    return mapping_vocabulary() | file_vocabulary(extra_folders)


@cache
def shipped_vocabulary() -> Vocabulary:
    """The reference vocabulary and the names of every rule set under the ``rules/`` folders.

    A rule set that does not load contributes nothing (its names then stay unknown,
    which errs on the side of an error, never of a silent drop).
    """
    from screener.errors import ScreenerError
    from screener.model.rules import parse_ruleset, read_rule_text

    vocabulary = reference_vocabulary()
    for folder in rule_folders():
        for rule_file in sorted(folder.glob("*/rules.yaml")):
            try:
                text = read_rule_text(rule_file)
                # a rule set this process already loaded (the one being screened) is not parsed again
                loaded = _loaded.get(hashlib.sha256(text.encode("utf-8")).hexdigest())
                vocabulary = vocabulary | (loaded or ruleset_vocabulary(parse_ruleset(text, str(rule_file))))
            except (ScreenerError, OSError):
                continue
    return vocabulary


_loaded: dict[str, Vocabulary] = {}


def register_ruleset(rs: RuleSet) -> None:
    """Make a loaded rule set's names known in this process (called by the rule loader)."""
    if rs.sha256 not in _loaded:
        _loaded[rs.sha256] = ruleset_vocabulary(rs)


def _at_hand() -> Iterator[Vocabulary]:
    """Growing parts of :func:`known_vocabulary`, cheapest first: the rule sets this process
    loaded and the vocabulary files; then the code mapping as well (its names index, or ~180 KB
    of YAML to parse). A name found in one is known; one found in none is looked up in the
    whole vocabulary (every shipped rule set parsed). Each is merged once per set of loaded
    rule sets (it is asked for every patient a batch reads)."""
    loaded = tuple(_loaded)
    yield _merged(loaded, with_mapping=False)
    yield _merged(loaded, with_mapping=True)


@cache
def _merged(loaded: tuple[str, ...], with_mapping: bool) -> Vocabulary:
    vocabulary = reference_vocabulary() if with_mapping else file_vocabulary()
    for sha in loaded:
        vocabulary = vocabulary | _loaded[sha]
    return vocabulary


def known_vocabulary() -> Vocabulary:
    vocabulary = shipped_vocabulary()
    for extra in _loaded.values():
        vocabulary = vocabulary | extra
    return vocabulary


def _names(patient: Patient) -> Iterable[tuple[str, int, str, str]]:
    """(kind, index, field, name) of every name in the patient record."""
    for i, o in enumerate(patient.observations):
        yield "observation", i, "name", o.name
    for i, s in enumerate(patient.statuses):
        yield "status", i, "name", s.name
    for i, a in enumerate(patient.assessments):
        yield "assessment", i, "name", a.name
    for i, c in enumerate(patient.conditions):
        yield "condition", i, "name", c.name
    for i, m in enumerate(patient.medications):
        yield "drug", i, "drug", m.drug


def unknown_names(
    patient: Patient, lines: LineMap, vocabulary: Vocabulary | None = None
) -> list[PatientDataError]:
    """An error for each name of ``patient`` that ``vocabulary`` (default: all known) lacks."""
    from screener.model.rules import suggest

    if vocabulary is None:
        names = [(kind, name) for kind, _, _, name in _names(patient)]
        for at_hand in _at_hand():
            if all(name in at_hand.get(kind) for kind, name in names):
                return []  # every name is known without parsing more (the mapping, other rule sets)
    vocabulary = vocabulary or known_vocabulary()
    errors: list[PatientDataError] = []
    for kind, index, field, name in _names(patient):
        known = vocabulary.get(kind)
        if name in known:
            continue
        where = lines.locate((_SECTIONS[kind], index, field))
        elsewhere = [k for k in KINDS if k != kind and name in vocabulary.get(k)]
        if elsewhere and elsewhere[0] != "drug" and kind != "drug":
            errors.append(
                PatientDataError(
                    f"'{name}' is known as a {elsewhere[0]}, not as {_A[kind]} {kind}; "
                    f"list it under {_SECTIONS[elsewhere[0]]}",
                    where,
                )
            )
            continue
        errors.append(
            PatientDataError(
                f"unknown {kind} name '{name}': no rule set, code mapping or rules/vocabulary.yaml "
                f"defines it, so it would be ignored{suggest(name, known)}",
                where,
            )
        )
    return errors


if __name__ == "__main__":  # rewrite the shipped mapping's names index after the mapping changed
    MAPPING_NAMES.write_text(names_index(), encoding="utf-8")
    print(MAPPING_NAMES)
