"""Draft a rule set from a registry record: quotes kept, structured fields encoded, the rest to write.

What the draft encodes, and how:

- the registry's structured age limits (``minimumAge``/``maximumAge``) as one
  inclusion criterion on ``age`` (completed years at the screening date, both
  limits inclusive as ClinicalTrials.gov states them);
- a structured sex of ``FEMALE`` or ``MALE`` as one inclusion criterion on ``sex``;
- healthy volunteers: stated in the rule set's notes (it restricts nobody by
  itself: the disease criteria do).

Every criterion of the free text becomes a *draft*: ``draft: true``, person-only,
its exact quote, an empty reading and a placeholder test on a person-only fact of
its own (``i3_met``, ``e2_present``), so the draft loads, screens (those criteria
come out ``unknown`` with a to-do) and ``screener rules check`` lists every
criterion still to write (SCR012).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml

from screener.drafting.registry import RegistryRecord
from screener.drafting.split import DraftItem, split_criteria

DRAFT_VERSION = "0.1.0-draft"
_TITLE_CHARS = 72


def draft_ruleset(record: RegistryRecord, today: date) -> dict[str, Any]:
    """The rule set document (as loaded from YAML) drafted from one registry record."""
    items = split_criteria(record.criteria_text)
    if not items:
        raise ValueError("no criteria found under 'Inclusion Criteria' or 'Exclusion Criteria'")
    facts: dict[str, Any] = {}
    demographics: dict[str, Any] = {}
    derived: list[dict[str, Any]] = []
    criteria = [_draft_criterion(item, facts) for item in items]
    n_inclusion = max((_number(item.id) for item in items if item.type == "inclusion"), default=0)
    structured: list[dict[str, Any]] = []
    age = _age_criterion(record, items)
    if age is not None:
        demographics["birth_date"] = {"kind": "demographic", "type": "date", "label": "Date of birth"}
        derived.append(
            {
                "name": "age",
                "label": "Age in completed years at the screening date",
                "function": "age_in_years",
                "inputs": {"birth_date": "birth_date", "on": "context.as_of"},
                "unit": "a",
            }
        )
        structured.append(age)
    sex = _sex_criterion(record)
    if sex is not None:
        demographics["sex"] = {
            "kind": "demographic",
            "type": "string",
            "values": ["female", "male"],
            "label": "Sex",
        }
        structured.append(sex)
    for offset, criterion in enumerate(structured, start=1):
        criterion["id"] = f"I{n_inclusion + offset}"
    inclusion = [c for c in criteria if c["type"] == "inclusion"] + structured
    exclusion = [c for c in criteria if c["type"] == "exclusion"]
    doc: dict[str, Any] = {
        "schema_version": "1",
        "ruleset": {
            "id": record.nct_id.lower(),
            "trial": record.nct_id,
            "title": record.brief_title,
            "version": DRAFT_VERSION,
            "protocol_source": (
                f"ClinicalTrials.gov record {record.nct_id} ({_kind_words(record)}, {_name(record)})"
            ),
            "notes": _notes(record, today),
        },
        "facts": {**demographics, **facts},
    }
    if derived:
        doc["derived"] = derived
    doc["criteria"] = inclusion + exclusion
    return doc


def render_yaml(doc: dict[str, Any], record: RegistryRecord, today: date) -> str:
    """The drafted rule set as a YAML file, headed by what it is and what is left to do."""
    header = (
        f"# DRAFT rule set for {record.nct_id}, drafted by `screener rules new` on {today.isoformat()}\n"
        f"# from {_name(record)} ({_kind_words(record)}).\n"
        "# Every criterion marked `draft: true` keeps the registry's exact quote and is still\n"
        "# to write: state its reading, replace its placeholder test and its `*_met`/`*_present`\n"
        "# fact, add fixture cases beside the rules (tests/), then remove `draft` and\n"
        "# `person_only` where the criterion can be read from data. `screener rules check`\n"
        "# lists the drafts left (SCR012).\n"
    )
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return header + body


def _draft_criterion(item: DraftItem, facts: dict[str, Any]) -> dict[str, Any]:
    suffix = "met" if item.type == "inclusion" else "present"
    fact = f"{item.id.lower()}_{suffix}"
    facts[fact] = {
        "kind": "status",
        "type": "boolean",
        "person_only": True,
        "label": f"{item.id} (draft): {_title(item.quote)}",
    }
    return {
        "id": item.id,
        "type": item.type,
        "title": _title(item.quote),
        "draft": True,
        "person_only": True,
        "protocol": {"section": item.section, "quote": item.quote},
        "reading": "",
        "test": {"fact": fact, "eq": True},
    }


def _age_criterion(record: RegistryRecord, items: list[DraftItem]) -> dict[str, Any] | None:
    if record.minimum_age is None and record.maximum_age is None:
        return None
    tests: list[dict[str, Any]] = []
    words: list[str] = []
    if record.minimum_age is not None:
        tests.append({"fact": "age", "gte": _years(record.minimum_age.years), "unit": "a"})
        words.append(f"at least {record.minimum_age}")
    if record.maximum_age is not None:
        # ClinicalTrials.gov's maximum age is inclusive: "18 Years to 70 Years" admits a 70-year-old
        # until the day before the 71st birthday, i.e. completed years <= 70.
        tests.append({"fact": "age", "lte": _years(record.maximum_age.years), "unit": "a"})
        words.append(f"at most {record.maximum_age}")
    text_items = [i.id for i in items if i.type == "inclusion" and _mentions_age(i.quote)]
    reading = (
        "From the registry's structured eligibility fields: age in completed years at the screening "
        f"date, {' and '.join(words)}, both limits inclusive as ClinicalTrials.gov states them."
    )
    if text_items:
        reading += (
            f" The criteria text also states an age limit ({', '.join(text_items)}): reconcile the two "
            "and keep one criterion."
        )
    return {
        "id": "I0",  # numbered after the text's inclusion criteria by draft_ruleset
        "type": "inclusion",
        "title": f"Age {' and '.join(words)} (registry fields)",
        "protocol": {
            "section": "Eligibility, structured fields (minimum and maximum age)",
            "quote": record.ages_line or " ".join(words),
        },
        "reading": reading,
        "test": tests[0] if len(tests) == 1 else {"all": tests},
    }


def _sex_criterion(record: RegistryRecord) -> dict[str, Any] | None:
    if record.sex not in ("FEMALE", "MALE"):
        return None
    value = record.sex.lower()
    return {
        "id": "I0",
        "type": "inclusion",
        "title": f"Sex: {value} (registry field)",
        "protocol": {
            "section": "Eligibility, structured field (sex)",
            "quote": record.sex_line or record.sex,
        },
        "reading": f"From the registry's structured field: only {value} participants.",
        "test": {"fact": "sex", "eq": value},
    }


def _number(criterion_id: str) -> int:
    """The number of a criterion id: 4 for ``I4`` and ``I4a``."""
    return int(criterion_id[1:].rstrip("abcdefgh"))


def _mentions_age(quote: str) -> bool:
    low = quote.lower()
    return ("age " in low or low.startswith("age") or "aged" in low) and any(ch.isdigit() for ch in low)


def _years(value: float) -> int | float:
    return int(value) if value == int(value) else round(value, 2)


def _title(quote: str) -> str:
    text = " ".join(quote.split()).rstrip(".,;:")
    if len(text) <= _TITLE_CHARS:
        return text
    cut = text[:_TITLE_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


def _name(record: RegistryRecord) -> str:
    return Path(record.source).name


def _kind_words(record: RegistryRecord) -> str:
    return "API v2 study JSON" if record.source_kind == "ctgov-api-v2-json" else "registry page text"


def _notes(record: RegistryRecord, today: date) -> str:
    parts = [
        f"Drafted on {today.isoformat()} by `screener rules new` from {_name(record)}.",
        "Criteria marked draft are still to write (quote kept, reading and test to do).",
    ]
    if record.healthy_volunteers is not None:
        parts.append(
            f"Accepts healthy volunteers: {'yes' if record.healthy_volunteers else 'no'} (registry field)."
        )
    if record.minimum_age is None and record.maximum_age is None:
        parts.append("The record states no age limits: say the reading the trial takes.")
    return " ".join(parts)
