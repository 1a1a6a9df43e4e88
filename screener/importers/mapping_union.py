"""Which code mapping a rule set uses, and one mapping for several rule sets (a portfolio).

**Where a rule set finds its mapping** (:func:`ruleset_mapping_path`), first found wins:

1. ``mapping.yaml`` in the rule set's folder (``rules/<nct id>/mapping.yaml``): a site's own
   mapping, or the mapping of a rule set that screener does not ship;
2. the mapping shipped with screener under the rule set's id,
   ``screener/importers/mappings/<ruleset id>.yaml`` (NCT03562065, NCT03917797, NCT00732940,
   NCT04184258);
3. the default mapping (NCT03562065's): names it does not produce stay missing, so their
   criteria are ``unknown``, never passed.

**A portfolio reads each patient once** with the union of its trials' mappings
(:func:`combine_mappings`), so every trial sees the facts its own mapping would give:

- a code that names an observation, status, assessment, drug, answer, contraceptive method or
  treatment outcome must name the same one in every mapping that lists it; two mappings that
  disagree are a :class:`~screener.importers.mapping.MappingError` naming both files, the code
  and the two facts (one result cannot be two different measurements);
- a condition record is asked of every mapping: each condition a mapping names is kept (a
  record may be several conditions: M32.14 is SLE for one trial and lupus nephritis for
  another), coded answers before text safety-net ones. One condition name with a different
  type, status or verification in two mappings is an error (checked on every code and range
  the mappings list). A "names no criterion" answer (``not_criteria``) of one trial gives way to
  a condition another trial names;
- ``own_study_identifiers`` (a ResearchSubject in "this" trial is not another study) is kept
  only where every mapping agrees: in a portfolio, one trial's own study is another trial's
  other study, so a participation is never hidden from the trial it excludes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from screener.errors import Location
from screener.importers.mapping import (
    DEFAULT_MAPPING,
    ConditionTarget,
    Mapping,
    MappingError,
    NotCriterion,
    load_mapping,
)
from screener.terminology import icd10

SHIPPED = DEFAULT_MAPPING.parent
MAPPING_FILE = "mapping.yaml"


def _rules_file(path: Path) -> Path:
    return path / "rules.yaml" if path.is_dir() else path


_RULESET_ID = re.compile(
    r"^ruleset:[ \t]*\n(?:[ \t]+.*\n|[ \t]*#.*\n|[ \t]*\n)*?[ \t]+id:[ \t]*['\"]?([\w.-]+)", re.M
)


def _ruleset_id(rules_file: Path) -> str | None:
    """The ``ruleset.id`` of a rules file (None when it cannot be read: the rule loader says why).

    Read from the ``ruleset:`` block's ``id:`` line when written that way (a full YAML parse of a
    large rule file costs a noticeable fraction of a second), else from the parsed file."""
    try:
        text = rules_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    found = _RULESET_ID.search(text)
    if found:
        return found.group(1)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    meta = data.get("ruleset") if isinstance(data, dict) else None
    ident = meta.get("id") if isinstance(meta, dict) else None
    return str(ident) if ident else None


def ruleset_mapping_path(rules: str | Path) -> Path:
    """The mapping file of one rule set (a rules file or its folder); see the module docstring."""
    rules_file = _rules_file(Path(rules))
    beside = rules_file.parent / MAPPING_FILE
    if beside.is_file():
        return beside
    ident = _ruleset_id(rules_file)
    if ident:
        shipped = SHIPPED / f"{ident.lower()}.yaml"
        if shipped.is_file():
            return shipped
    return DEFAULT_MAPPING


def rule_set_files(rules: str | Path) -> list[Path]:
    """The rules files under ``rules``: itself, its ``rules.yaml``, or every ``*/rules.yaml``."""
    path = Path(rules)
    if path.is_file() or (path / "rules.yaml").is_file():
        return [_rules_file(path)]
    return sorted(path.glob("*/rules.yaml"))


def mapping_for_rules(rules: str | Path, terminology: str | Path | None = None) -> Mapping:
    """The mapping to read patients with for ``rules``: one rule set's, or the union of a folder's.

    Each file is parsed once per process (:func:`load_mapping`); the union of the same files is
    built once too."""
    files = rule_set_files(rules)
    paths = list(dict.fromkeys(ruleset_mapping_path(f) for f in files)) or [DEFAULT_MAPPING]
    members = tuple(load_mapping(p, terminology) for p in paths)
    key = tuple(id(m) for m in members)
    found = _UNIONS.get(key)
    if found is None or any(a is not b for a, b in zip(found[0], members, strict=True)):
        if len(_UNIONS) >= 4:
            _UNIONS.clear()
        found = (members, combine_mappings(members))
        _UNIONS[key] = found
    return found[1]


_UNIONS: dict[tuple[int, ...], tuple[tuple[Mapping, ...], Mapping]] = {}


@dataclass(frozen=True)
class CombinedMapping(Mapping):
    """The union of several mappings (see the module docstring); conditions ask every member."""

    members: tuple[Mapping, ...] = field(default=(), compare=False, repr=False)

    def condition(self, system: str | None, code: Any) -> ConditionTarget | None:
        found = [t for m in self.members if (t := m.condition(system, code)) is not None]
        return _merge(found) if found else None

    def not_criterion(self, system: str | None, code: Any) -> NotCriterion | None:
        if self.condition(system, code) is not None:
            return None
        return next((n for m in self.members if (n := m.not_criterion(system, code)) is not None), None)

    def classify_condition(
        self,
        codings: Iterable[tuple[str | None, Any, str | None]],
        text: str | None = None,
        ancestors: Iterable[tuple[str, str, str]] = (),
    ) -> ConditionTarget | NotCriterion | None:
        codings, ancestors = list(codings), list(ancestors)
        answers = [m.classify_condition(codings, text, ancestors) for m in self.members]
        found = [a for a in answers if isinstance(a, ConditionTarget)]
        if found:
            return _merge(found)
        return next((a for a in answers if isinstance(a, NotCriterion)), None)


def _merge(found: Sequence[ConditionTarget]) -> ConditionTarget:
    """One target holding every distinct condition the members name; coded answers first."""
    flat = [t for f in found for t in f.all()]
    flat.sort(key=lambda t: t.verification == "unconfirmed")  # stable: coded before text net
    seen: dict[str, ConditionTarget] = {}
    for t in flat:
        seen.setdefault(t.name, replace(t, also=()))
    first, *rest = seen.values()
    return replace(first, also=tuple(rest))


def _conflict(
    what: str, key: tuple[str, str], a: tuple[Mapping, Any], b: tuple[Mapping, Any]
) -> MappingError:
    return MappingError(
        f"{what} {key[0]}|{key[1]} maps to {a[1]} in {a[0].file} but to {b[1]} in {b[0].file}; "
        "two trials' mappings must agree on what a code is",
        Location(b[0].file),
    )


def _union(what: str, mappings: Sequence[Mapping], table: str, same: Any = lambda t: t) -> dict[Any, Any]:
    """Union of one dict-valued table of every mapping; a key two mappings disagree on is an error."""
    out: dict[Any, Any] = {}
    owner: dict[Any, Mapping] = {}
    for m in mappings:
        for key, value in getattr(m, table).items():
            if key in out and same(out[key]) != same(value):
                k = key if isinstance(key, tuple) else ("text", key)
                raise _conflict(what, k, (owner[key], same(out[key])), (m, same(value)))
            out.setdefault(key, value)
            owner.setdefault(key, m)
    return out


def _condition_probe_codes(m: Mapping) -> Iterable[tuple[str, str]]:
    """Codes that exercise a mapping's condition table: each exact code and each range's ends."""
    yield from m.conditions
    for r in m.condition_ranges:
        yield r.system, r.start
        yield r.system, r.end


def _check_conditions(mappings: Sequence[Mapping]) -> None:
    """One condition name must mean the same (type, status, verification) in every mapping."""
    for m in mappings:
        for system, code in _condition_probe_codes(m):
            seen: dict[str, tuple[Mapping, tuple[Any, ...]]] = {}
            for other in mappings:
                target = other.condition(system, code)
                for t in target.all() if target is not None else ():
                    what = (t.type, t.status, t.verification)
                    if t.name in seen and seen[t.name][1] != what:
                        first = seen[t.name]
                        raise _conflict(
                            f"condition {t.name!r}: code",
                            (system, code),
                            (first[0], f"type/status/verification {first[1]}"),
                            (other, f"{what}"),
                        )
                    seen.setdefault(t.name, (other, what))


def combine_mappings(mappings: Sequence[Mapping]) -> Mapping:
    """The union of ``mappings`` (one mapping is returned as it is); MappingError on a conflict."""
    unique = list({id(m): m for m in mappings}.values())
    if len(unique) == 1:
        return unique[0]
    if not unique:
        raise MappingError("no mapping to combine", Location(str(DEFAULT_MAPPING)))
    _check_conditions(unique)

    def obs(t: Any) -> Any:
        return (t.name, t.coded, t.method)

    def drug(t: Any) -> Any:
        return (t.drug, t.strength_mg, t.route)

    def name(t: Any) -> Any:
        return t.name

    def contra(t: Any) -> Any:
        return (t.method, t.event)

    statuses = _union("status code", unique, "statuses", name)
    answers_by_status: dict[tuple[str, str], dict[tuple[str, str], bool | None]] = {}
    for m in unique:
        for key, target in m.statuses.items():
            merged = answers_by_status.setdefault(key, {})
            for answer, value in target.answers.items():
                if answer in merged and merged[answer] != value:
                    raise _conflict(
                        f"status {target.name!r} answer", answer, (unique[0], merged[answer]), (m, value)
                    )
                merged.setdefault(answer, value)
    statuses = {k: replace(t, answers=answers_by_status[k]) for k, t in statuses.items()}
    first = unique[0]
    own = tuple(s for s in first.own_studies if all(s in m.own_studies for m in unique[1:]))
    ranges: icd10.RangeTable[ConditionTarget | NotCriterion] = icd10.RangeTable()
    for m in unique:  # kept for the import report's range look-ups; conditions ask the members
        for r in m.condition_ranges:
            ranges.add(r)
    suspicious = tuple(dict.fromkeys(w for m in unique for w in m.suspicious))
    return CombinedMapping(
        id="+".join(m.id for m in unique),
        file=", ".join(m.file for m in unique),
        systems={k: v for m in unique for k, v in m.systems.items()},
        observations=_union("observation code", unique, "observations", obs),
        statuses=statuses,
        conditions={k: v for m in reversed(unique) for k, v in m.conditions.items()},
        condition_prefixes=tuple(p for m in unique for p in m.condition_prefixes),
        drugs=_union("drug code", unique, "drugs", drug),
        assessments=_union("assessment code", unique, "assessments", name),
        answers=_union("answer code", unique, "answers"),
        answer_text=_union("answer text", unique, "answer_text"),
        consent_scopes=tuple(dict.fromkeys(s for m in unique for s in m.consent_scopes)),
        own_studies=own,
        condition_ranges=ranges,
        suspicious=suspicious,
        contraception=_union("contraception code", unique, "contraception", contra),
        treatment_outcomes=_union("stop-reason code", unique, "treatment_outcomes"),
        ingredient_names=_union("ingredient name", unique, "ingredient_names"),
        local=first.local,
        raw={"combined": [m.file for m in unique]},
        members=tuple(unique),
    )
