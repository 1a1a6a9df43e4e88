"""What is left to collect before a decision, in the nurse's words (issue 14, point 5).

One item per thing to collect, whatever number of criteria wait for it: a fact to enter
(``e`` in the TUI), a record of the history to complete or add (``h``), a check only a
person can make (entered as a confirmed fact), or a criterion to review. Items that
settle more criteria come first. The CLI text and the TUI show the same list.

The engine's ``missing`` strings have four shapes (screener.engine.evaluate): a fact
``name (label)``, a fact set aside ``name (why)``, a record's field
``label (c0): field``, and a free description from the rule file's ``missing:``.

Plain Python: no textual, no rich.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from screener.explain.words import safe
from screener.model.rules import RuleSet
from screener.results import ScreeningResult

#: What choosing an item does: enter a fact, edit or add a history record, or review.
ACTIONS = ("fact", "record", "history", "review")

_RECORD_FIELD = re.compile(r"^(?P<label>.+) \((?P<rid>[cm])(?P<index>\d+)\): (?P<field>[\w.]+)$")
_FACT = re.compile(r"^(?P<name>[a-z0-9_]+)(?: \((?P<rest>.*)\))?$", re.S)
_FACT_FIELD = re.compile(r"^(?P<name>[a-z0-9_]+): (?P<field>[\w.]+)$")
_LOINC = re.compile(r"\s*\((?:LOINC|SNOMED)[^()]*\)\s*$")

RECORD_KINDS = {"c": "condition", "m": "medication"}
FIELD_WORDS = {
    "criteria_met": "number of classification criteria met",
    "classification": "classification criteria used (e.g. acr_1997)",
    "dose_mg": "dose",
    "weekly_dose_mg": "dose",
    "daily_dose_mg": "dose",
    "administrations": "infusion dates",
    "failed": "outcome (failed or not)",
    "start": "start date",
    "end": "end date",
    "onset": "onset date",
}

#: engine fields of a medication period -> the patient record's field that feeds them
RECORD_FIELDS = {
    "dose_mg": "dose",
    "daily_dose_mg": "dose",
    "weekly_dose_mg": "dose",
    "failed": "outcome",
}


@dataclass(frozen=True)
class TodoItem:
    """One thing to collect, and the criteria that wait for it."""

    text: str
    criteria: tuple[str, ...]
    action: str  # one of ACTIONS
    fact: str | None = None  # action "fact": the rule-set fact to enter
    record: tuple[str, int] | None = None  # action "record": ("condition"|"medication", index)
    history: str | None = None  # action "history": the kind of record to add
    person_only: bool = False
    fields: tuple[str, ...] = ()  # action "record": the fields of the patient record to fill

    @property
    def key(self) -> str:
        """The TUI key that does this item's job."""
        return {"fact": "e", "record": "h", "history": "h"}.get(self.action, "⏎")


def plain_label(label: str) -> str:
    """A fact's label without the trailing code reference: ``LV ejection fraction, any imaging
    method (LOINC 10230-1)`` -> ``LV ejection fraction, any imaging method``."""
    return _LOINC.sub("", label).strip()


def missing_fact_name(missing: str) -> str:
    """``"creatinine (Serum creatinine ...)"`` -> ``"creatinine"``."""
    return missing.split(" (", 1)[0].split(":", 1)[0].strip()


def _lower(label: str) -> str:
    """``Mean pulmonary artery pressure`` -> ``mean ...``; ``LV ejection fraction`` stays."""
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _history_kind(text: str) -> str | None:
    lowered = text.lower()
    if any(w in lowered for w in ("treatment", "medication", "drug", "therapy", "exposure")):
        return "medication"
    if any(w in lowered for w in ("condition", "diagnos", "disease", "history of")):
        return "condition"
    return None


def todo_items(
    result: ScreeningResult | None, ruleset: RuleSet, enterable: set[str] | None = None
) -> list[TodoItem]:
    """The to-do of ``result``: one item per thing to collect, those settling most criteria first.

    ``enterable``: the facts a person can type in (the TUI's fact form); by default every
    base fact of the rule set that is not a condition or a medication.
    """
    if result is None:
        return []
    if enterable is None:
        enterable = {n for n, f in ruleset.facts.items() if f.kind not in ("condition", "exposure")}
    order: list[str] = []
    found: dict[str, dict[str, object]] = {}

    def add(key: str, criterion: str, **item: object) -> None:
        if key not in found:
            order.append(key)
            found[key] = {"criteria": [], **item}
        entry = found[key]
        ids = entry["criteria"]
        assert isinstance(ids, list)
        if criterion not in ids:
            ids.append(criterion)
        fields = item.get("fields")
        if isinstance(fields, list):
            known = entry.setdefault("all_fields", [])
            assert isinstance(known, list)
            known.extend(f for f in fields if f not in known)

    for c in result.unknown:
        for missing in c.missing:
            rec = _RECORD_FIELD.match(missing)
            fact = _FACT.match(missing)
            fact_field = _FACT_FIELD.match(missing)
            if rec is not None:
                kind = RECORD_KINDS[rec["rid"]]
                add(
                    f"record:{rec['rid']}{rec['index']}",
                    c.id,
                    action="record",
                    record=(kind, int(rec["index"])),
                    label=rec["label"],
                    kind=kind,
                    fields=[rec["field"]],
                )
            elif fact is not None and fact["name"] in ruleset.facts:
                name = fact["name"]
                definition = ruleset.facts[name]
                label = plain_label(definition.label) or name
                rest = fact["rest"]
                if definition.person_only:
                    text = f"Ask and record (yes/no): {label}"
                elif rest and rest != definition.label:
                    text = f"Enter a newer {_lower(label)} ({rest})"
                else:
                    text = f"Enter {_lower(label)}"
                action = "fact" if name in enterable else "review"
                add(f"fact:{name}", c.id, action=action, fact=name, text=text, person=definition.person_only)
            elif fact_field is not None and fact_field["name"] in ruleset.facts:
                name = fact_field["name"]
                label = plain_label(ruleset.facts[name].label) or name
                add(
                    f"fact:{name}",
                    c.id,
                    action="fact" if name in enterable else "review",
                    fact=name,
                    text=f"Enter {_lower(label)} ({fact_field['field']})",
                )
            else:
                kind = _history_kind(missing)
                add(
                    f"text:{missing}",
                    c.id,
                    action="history" if kind else "review",
                    history=kind,
                    text=f"Add {missing}" if kind else f"Review: {missing}",
                )
        if not c.missing:
            if c.person_only:
                add(
                    f"person:{c.id}", c.id, action="review", text=f"Confirm in person: {c.title}", person=True
                )
            else:
                text = f"Review: {c.title} (see its explanation)"
                add(f"review:{c.id}", c.id, action="review", text=text)

    items: list[TodoItem] = []
    for key in order:
        entry = found[key]
        criteria = tuple(entry["criteria"])  # type: ignore[arg-type]
        if entry["action"] == "record":
            fields = [FIELD_WORDS.get(f, f.replace("_", " ")) for f in entry["all_fields"]]  # type: ignore[union-attr]
            kind = str(entry["kind"])
            label = str(entry["label"])
            text = f"Complete the {kind} {label.split(' (', 1)[0]}: {', '.join(fields)}"
            record_fields = tuple(
                dict.fromkeys(RECORD_FIELDS.get(f, f) for f in entry["all_fields"])  # type: ignore[union-attr]
            )
            items.append(
                TodoItem(safe(text), criteria, "record", record=entry["record"], fields=record_fields)  # type: ignore[arg-type]
            )
        else:
            items.append(
                TodoItem(
                    safe(str(entry["text"])),
                    criteria,
                    str(entry["action"]),
                    fact=entry.get("fact"),  # type: ignore[arg-type]
                    history=entry.get("history"),  # type: ignore[arg-type]
                    person_only=bool(entry.get("person")),
                )
            )
    # Items settling more criteria first; among equals, facts to collect before person checks.
    return sorted(items, key=lambda i: (-len(i.criteria), i.person_only))
