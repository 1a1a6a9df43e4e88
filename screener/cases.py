"""Fixture cases kept beside a rule set, and the runner that checks them (as ``opa test``).

A rule set directory ``rules/<trial>/`` holds ``tests/*.yaml``; each file has a
``cases:`` list and each case says what it exercises and what the screening must
give::

    cases:
      - note: I1 age on the 18th birthday passes
        as_of: 2026-11-25
        patient:                       # inline native patient (may be minimal)
          schema_version: "1"
          patient_id: i1-18th-birthday
          demographics: {birth_date: 2008-11-25, sex: female}
        # or: patient_file: ../../../fixtures/patients/x.yaml (relative to the case file)
        want:
          criteria: {I1: pass}         # only the listed criteria are checked
          decision: incomplete         # optional
          eligible_from: {E10: 2027-01-26}   # optional; null asserts there is none
          missing: {I3: [selena_sledai]}     # optional; each substring in some missing entry

A case whose note starts with ``todo:`` is loaded (so it stays valid) but not run;
it is reported as skipped, with the note as the reason. Files are read with the
safe loader of :mod:`screener.yamlio`; every problem names the file, line and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from screener.engine.evaluate import Engine
from screener.errors import InputError, Location, ScreenerError
from screener.model.patient import Patient, load_patient, patient_from_data
from screener.model.rules import RuleSet, find_rule_file, load_ruleset
from screener.results import CriterionResult, ScreeningResult
from screener.yamlio import (
    LineMap,
    PathKey,
    json_path,
    load_text,
    read_source,
    yaml_error_location,
    yaml_error_message,
)

__all__ = [
    "TODO_PREFIX",
    "Case",
    "CaseFileError",
    "CaseResult",
    "Want",
    "case_files",
    "check",
    "collect_cases",
    "load_cases",
    "run_case",
    "run_cases",
    "skipped",
]

TODO_PREFIX = "todo:"
OUTCOMES = ("pass", "fail", "unknown")
DECISIONS = ("eligible", "ineligible", "incomplete")
CASE_KEYS = {"note", "as_of", "patient", "patient_file", "want"}
WANT_KEYS = {"criteria", "decision", "eligible_from", "missing"}


class CaseFileError(InputError):
    """A fixture case file is malformed or refers to something that does not exist."""


@dataclass(frozen=True)
class Want:
    """What a case expects. Only what is listed is checked."""

    criteria: Mapping[str, str] = field(default_factory=dict)
    decision: str | None = None
    eligible_from: Mapping[str, date | None] = field(default_factory=dict)
    missing: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    note: str
    as_of: date
    patient: Patient
    want: Want

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def todo(self) -> bool:
        return self.note.strip().lower().startswith(TODO_PREFIX)

    @property
    def id(self) -> str:
        """A stable name for reports and pytest ids: ``file:line note``."""
        return f"{self.where} {self.note}"


@dataclass(frozen=True)
class CaseResult:
    """One case on one route (``engine``, ``python`` or ``sql``: see :mod:`screener.case_routes`).

    ``gaps`` are the differences a known gap of the rule set sets aside, each with its reason
    (:mod:`screener.case_gaps`); they do not fail the case, but they are listed.
    """

    case: Case
    passed: bool
    problems: tuple[str, ...] = ()
    skipped: bool = False
    route: str = "engine"
    gaps: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        if self.skipped:
            return "skipped"
        if not self.passed:
            return "failed"
        return "gap" if self.gaps else "passed"


# ---------------------------------------------------------------------------- loading


class _SubLineMap(LineMap):
    """The lines of a value nested in a larger file (an inline patient inside a case file)."""

    def __init__(self, parent: LineMap, prefix: PathKey) -> None:
        super().__init__(parent.file, {})
        self._parent = parent
        self._prefix = prefix

    def line(self, path: Iterable[str | int]) -> int | None:
        return self._parent.line((*self._prefix, *tuple(path)))

    def locate(self, path: Iterable[str | int]) -> Location:
        full = (*self._prefix, *tuple(path))
        return Location(self.file, self._parent.line(full), json_path(full) or None)


class _File:
    """One case file being read: its data and the line of every value."""

    def __init__(self, path: Path, data: Any, lines: LineMap) -> None:
        self.path = path
        self.data = data
        self.lines = lines

    def error(self, message: str, *path: str | int) -> CaseFileError:
        return CaseFileError(message, self.lines.locate(path))


def _parse_date(value: Any, what: str, f: _File, *path: str | int) -> date:
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise f.error(f"{what} must be a date YYYY-MM-DD, got {value!r}", *path)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise f.error(f"{what} must be a date YYYY-MM-DD, got {value!r}", *path) from None


def _check_ids(ids: Iterable[Any], known: set[str] | None, f: _File, *path: str | int) -> None:
    for cid in ids:
        if not isinstance(cid, str):
            raise f.error(f"criterion id must be a string, got {cid!r}", *path)
        if known is not None and cid not in known:
            raise f.error(
                f"unknown criterion {cid!r}; the rule set has {', '.join(sorted(known))}", *path, cid
            )


def _want(raw: Any, known: set[str] | None, f: _File, *at: str | int) -> Want:
    if not isinstance(raw, dict):
        raise f.error("want must be a mapping with criteria, decision, eligible_from, missing", *at)
    extra = set(raw) - WANT_KEYS
    if extra:
        raise f.error(
            f"unknown key(s) in want: {', '.join(sorted(map(str, extra)))}; "
            f"allowed: {', '.join(sorted(WANT_KEYS))}",
            *at,
            sorted(map(str, extra))[0],
        )
    if not raw:
        raise f.error("want is empty: give criteria, decision, eligible_from or missing", *at)
    criteria = raw.get("criteria", {})
    if not isinstance(criteria, dict):
        raise f.error("want.criteria must map criterion ids to pass|fail|unknown", *at, "criteria")
    _check_ids(criteria, known, f, *at, "criteria")
    for cid, outcome in criteria.items():
        if outcome not in OUTCOMES:
            raise f.error(
                f"outcome of {cid} must be one of {', '.join(OUTCOMES)}, got {outcome!r}",
                *at,
                "criteria",
                cid,
            )
    decision = raw.get("decision")
    if decision is not None and decision not in DECISIONS:
        raise f.error(f"decision must be one of {', '.join(DECISIONS)}, got {decision!r}", *at, "decision")
    eligible_raw = raw.get("eligible_from", {})
    if not isinstance(eligible_raw, dict):
        raise f.error("want.eligible_from must map criterion ids to dates (or null)", *at, "eligible_from")
    _check_ids(eligible_raw, known, f, *at, "eligible_from")
    eligible_from = {
        cid: None
        if value is None
        else _parse_date(value, f"eligible_from of {cid}", f, *at, "eligible_from", cid)
        for cid, value in eligible_raw.items()
    }
    missing_raw = raw.get("missing", {})
    if not isinstance(missing_raw, dict):
        raise f.error("want.missing must map criterion ids to lists of substrings", *at, "missing")
    _check_ids(missing_raw, known, f, *at, "missing")
    missing: dict[str, tuple[str, ...]] = {}
    for cid, subs in missing_raw.items():
        if isinstance(subs, str):
            subs = [subs]
        if not isinstance(subs, list) or not subs or not all(isinstance(s, str) and s for s in subs):
            raise f.error(f"missing of {cid} must be a list of non-empty strings", *at, "missing", cid)
        missing[cid] = tuple(subs)
    return Want(criteria=dict(criteria), decision=decision, eligible_from=eligible_from, missing=missing)


def _case(
    f: _File,
    index: int,
    raw: Any,
    known: set[str] | None,
    patients: dict[Path, Patient],
) -> Case:
    at: tuple[str | int, ...] = ("cases", index)
    line = f.lines.line(at) or 1
    if not isinstance(raw, dict):
        raise f.error("a case must be a mapping with note, as_of, patient or patient_file, want", *at)
    extra = set(raw) - CASE_KEYS
    if extra:
        first = sorted(map(str, extra))[0]
        raise f.error(
            f"unknown key(s) in case: {', '.join(sorted(map(str, extra)))}; "
            f"allowed: {', '.join(sorted(CASE_KEYS))}",
            *at,
            first,
        )
    for key in ("note", "as_of", "want"):
        if key not in raw:
            raise f.error(f"case has no {key}", *at)
    note = raw["note"]
    if not isinstance(note, str) or not note.strip():
        raise f.error("note must be a non-empty string saying what the case exercises", *at, "note")
    as_of = _parse_date(raw["as_of"], "as_of", f, *at, "as_of")
    has_inline, has_file = "patient" in raw, "patient_file" in raw
    if has_inline == has_file:
        raise f.error("a case needs exactly one of patient (inline) or patient_file", *at)
    if has_inline:
        patient = patient_from_data(raw["patient"], _SubLineMap(f.lines, (*at, "patient")))
    else:
        ref = raw["patient_file"]
        if not isinstance(ref, str) or not ref:
            raise f.error("patient_file must be a path relative to the case file", *at, "patient_file")
        target = (f.path.parent / ref).resolve()
        if not target.is_file():
            raise f.error(f"patient_file {ref} not found (looked for {target})", *at, "patient_file")
        if target not in patients:
            patients[target] = load_patient(target)
        patient = patients[target]
    want = _want(raw["want"], known, f, *at, "want")
    return Case(file=str(f.path), line=line, note=note.strip(), as_of=as_of, patient=patient, want=want)


def _duplicate_key(node: yaml.Node | None, path: PathKey = ()) -> tuple[str, PathKey, int] | None:
    """The first key given twice in one mapping (YAML keeps the last one silently)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                return key, path, key_node.start_mark.line + 1
            seen.add(key)
            found = _duplicate_key(value_node, (*path, key))
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found = _duplicate_key(item, (*path, index))
            if found:
                return found
    return None


def _read(path: Path) -> _File:
    try:
        text = read_source(path)  # size-capped, strict UTF-8 (a located error otherwise)
        data, lines = load_text(text, str(path))
        duplicate = _duplicate_key(yaml.compose(text, Loader=yaml.SafeLoader))
    except OSError as error:
        raise CaseFileError(f"cannot read case file: {error.strerror}", Location(str(path))) from None
    except yaml.YAMLError as error:
        raise CaseFileError(yaml_error_message(error), yaml_error_location(error, str(path))) from None
    if duplicate:
        key, where, line = duplicate
        raise CaseFileError(
            f"key {key!r} is given twice; the first would be silently ignored",
            Location(str(path), line, json_path((*where, key))),
        )
    return _File(path, data, lines)


def case_files(rules_dir: str | Path) -> list[Path]:
    """The case files of a rule set: ``<rules_dir>/tests/*.yaml`` (and ``*.yml``), sorted."""
    tests = Path(rules_dir) / "tests"
    if not tests.is_dir():
        return []
    return sorted(p for p in tests.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def collect_cases(
    rules_dir: str | Path, ruleset: RuleSet | None = None
) -> tuple[list[Case], list[InputError]]:
    """Every well-formed case of a rule set, and an error for each one that is not.

    A bad case does not stop the others (a bad file, or a file without a ``cases``
    list, loses only that file). Criterion ids are checked against ``ruleset``
    (loaded from ``rules_dir`` when not given).
    """
    if ruleset is None:
        ruleset = load_ruleset(find_rule_file(rules_dir))
    known = {c.id for c in ruleset.criteria}
    cases: list[Case] = []
    errors: list[InputError] = []
    patients: dict[Path, Patient] = {}
    for path in case_files(rules_dir):
        try:
            f = _read(path)
        except InputError as error:
            errors.append(error)
            continue
        if not isinstance(f.data, dict) or not isinstance(f.data.get("cases"), list):
            errors.append(f.error("a case file must be a mapping with a 'cases:' list"))
            continue
        extra = set(f.data) - {"cases"}
        if extra:
            first = sorted(map(str, extra))[0]
            errors.append(f.error(f"unknown top-level key(s): {', '.join(sorted(map(str, extra)))}", first))
        for index, raw in enumerate(f.data["cases"]):
            try:
                cases.append(_case(f, index, raw, known, patients))
            except InputError as error:
                errors.append(error)
    return cases, errors


def load_cases(rules_dir: str | Path, ruleset: RuleSet | None = None) -> list[Case]:
    """Every case of a rule set; raise the first problem (a :class:`CaseFileError` or
    a patient error, each with file:line) if any case cannot be used."""
    cases, errors = collect_cases(rules_dir, ruleset)
    if errors:
        raise errors[0]
    return cases


# ---------------------------------------------------------------------------- running


def _evidence_text(result: CriterionResult, limit: int = 4) -> str:
    parts = []
    for e in result.evidence[:limit]:
        value = f" [value {e.value}]" if e.value is not None else ""
        parts.append(f"{e.test} -> {'yes' if e.outcome else 'no'}{value}")
    if len(result.evidence) > limit:
        parts.append(f"... {len(result.evidence) - limit} more")
    return "; ".join(parts)


def _describe(result: CriterionResult) -> str:
    if result.outcome == "unknown":
        return f"missing: {'; '.join(result.missing) or '(nothing named)'}"
    return f"evidence: {_evidence_text(result) or '(none)'}"


def check(case: Case, result: ScreeningResult) -> tuple[str, ...]:
    """What in ``result`` differs from what ``case`` wants (empty when it all holds)."""
    problems: list[str] = []
    by_id = {c.id: c for c in result.criteria}
    want = case.want
    if want.decision is not None and result.decision != want.decision:
        why = ", ".join(f"{c.id} {c.outcome}" for c in result.criteria if c.outcome != "pass")
        problems.append(f"decision: want {want.decision}, got {result.decision} ({why or 'all pass'})")
    for cid, outcome in want.criteria.items():
        got = by_id.get(cid)
        if got is None:
            problems.append(f"{cid}: not in the screening result")
        elif got.outcome != outcome:
            problems.append(f"{cid}: want {outcome}, got {got.outcome} ({_describe(got)})")
    for cid, when in want.eligible_from.items():
        got = by_id.get(cid)
        if got is None:
            problems.append(f"{cid}: not in the screening result")
        elif got.eligible_from != when:
            shown = got.eligible_from.isoformat() if got.eligible_from else "none"
            wanted = when.isoformat() if when else "none"
            problems.append(f"{cid}: eligible_from want {wanted}, got {shown} (outcome {got.outcome})")
    for cid, subs in want.missing.items():
        got = by_id.get(cid)
        if got is None:
            problems.append(f"{cid}: not in the screening result")
            continue
        for sub in subs:
            if not any(sub in entry for entry in got.missing):
                entries = "; ".join(got.missing) or "nothing"
                problems.append(
                    f"{cid}: missing should mention {sub!r}, got: {entries} (outcome {got.outcome})"
                )
    return tuple(problems)


def skipped(case: Case, route: str = "engine") -> CaseResult:
    """The result of a ``todo:`` case: not run, the note's reason kept."""
    reason = case.note.strip()[len(TODO_PREFIX) :].strip()
    return CaseResult(case, passed=False, problems=(f"skipped: {reason}",), skipped=True, route=route)


def run_case(engine: Engine, case: Case) -> CaseResult:
    if case.todo:
        return skipped(case)
    try:
        result = engine.screen(case.patient, case.as_of)
    except ScreenerError as error:
        return CaseResult(case, passed=False, problems=(f"screening raised {type(error).__name__}: {error}",))
    problems = check(case, result)
    return CaseResult(case, passed=not problems, problems=problems)


def run_cases(engine: Engine, cases: Sequence[Case]) -> list[CaseResult]:
    """Run every case with one engine (compiled once, reused for every patient)."""
    return [run_case(engine, case) for case in cases]
