"""Split a registry's eligibility text into numbered criteria, keeping each item's exact words.

The text is the one string ClinicalTrials.gov holds (``Inclusion Criteria:`` and
``Exclusion Criteria:`` headings, items as ``*``/``-``/``•`` bullets or sponsor
numbering, lines wrapped at 80 columns on the classic page). The reading, item by
item:

- A bullet (``*``, ``-``, ``•``, ``·``, ``–``) starts a top-level item; the bullet
  itself is layout and is not quoted.
- A paragraph with no bullet (after a blank line) is a top-level item, unless the
  current item is a lead-in (it ends with ``:``, ``plus...`` or ``following``):
  then it belongs to that item.
- A numbered (``1.``, ``2)``) or lettered (``a.``) line under a lead-in belongs to it.
- A wrapped line (no blank line before it, no marker) continues the item above.

Items under a lead-in become criteria in one of three ways:

- lettered sub-items (``a. ... b. ...``, also written on one line) become
  sub-criteria ``I4a``, ``I4b``; the first one carries the lead-in in its quote;
- numbered sub-items under a short lead-in (``Presence of:``, four words or fewer)
  become criteria of their own, numbered on; the numbering is layout and is not quoted;
- anything else stays one criterion whose quote is the lead-in and its items.

Every word of the criteria text ends up in exactly one quote, in order, but for the
markers and a flattened group's lead-in, kept as ``lead_in`` of its first item (tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADING = re.compile(r"^\s*(?:key\s+)?(inclusion|exclusion)\s+criteria\s*:?\s*$", re.IGNORECASE)
_BULLET = re.compile(r"^(\s*)[*\-•·–]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d{1,2})[.)]\s+(.*)$")
_LETTERED = re.compile(r"^(\s*)([a-h])[.)]\s+(.*)$")
_SHORT_LEAD_IN_WORDS = 4


@dataclass
class _Item:
    text: str
    kind: str  # bullet | paragraph | numbered | lettered
    children: list[_Item] = field(default_factory=list)

    @property
    def lead_in(self) -> bool:
        tail = self.text.rstrip().lower()
        return tail.endswith((":", "plus...", "plus", "following", "following:"))


@dataclass(frozen=True)
class DraftItem:
    """One criterion as drafted: its id, type, where it sits, and its exact words."""

    id: str
    type: str  # inclusion | exclusion
    section: str
    quote: str
    lead_in: str = ""  # words before a flattened group (``Presence of:``), kept with its first item


def split_criteria(text: str) -> list[DraftItem]:
    """The criteria of an eligibility text, numbered I1.. and E1.. in the order they appear."""
    sections: dict[str, list[_Item]] = {"inclusion": [], "exclusion": []}
    current: list[_Item] | None = None
    top: _Item | None = None
    last: _Item | None = None
    blank_before = True
    for raw in text.splitlines():
        if not raw.strip():
            blank_before = True
            continue
        heading = _HEADING.match(raw)
        if heading:
            current = sections[heading.group(1).lower()]
            top = last = None
            blank_before = True
            continue
        if current is None:  # text before the first heading is not a criterion
            continue
        item = _classify(raw)
        if item is None:  # no marker
            if last is not None and not blank_before:
                last.text = f"{last.text} {raw.strip()}"
                blank_before = False
                continue
            item = _Item(raw.strip(), "paragraph")
        if item.kind in ("numbered", "lettered", "paragraph") and top is not None and top.lead_in:
            top.children.append(item)
        else:
            current.append(item)
            top = item
        last = item
        blank_before = False
    drafted: list[DraftItem] = []
    for kind, items in sections.items():
        drafted.extend(_number(kind, items))
    return drafted


def _classify(raw: str) -> _Item | None:
    for pattern, kind in ((_BULLET, "bullet"), (_NUMBERED, "numbered"), (_LETTERED, "lettered")):
        found = pattern.match(raw)
        if found:
            text = found.group(found.lastindex or 0).strip()
            if kind == "lettered":  # keep the letter: the lead-in refers to it
                text = f"{found.group(2)}. {text}"
            return _Item(text, kind)
    return None


def _number(kind: str, items: list[_Item]) -> list[DraftItem]:
    prefix = "I" if kind == "inclusion" else "E"
    heading = f"{kind.capitalize()} criteria"
    out: list[DraftItem] = []
    n = 0
    for position, item in enumerate(items, start=1):
        children = _split_letters(item.children)
        if children and all(c.kind == "lettered" for c in children):
            n += 1
            for index, child in enumerate(children):
                letter = child.text[0]
                quote = f"{item.text} {child.text}" if index == 0 else child.text
                out.append(
                    DraftItem(f"{prefix}{n}{letter}", kind, f"{heading}, item {position}{letter}", quote)
                )
        elif (
            children
            and all(c.kind == "numbered" for c in children)
            and len(item.text.split()) <= _SHORT_LEAD_IN_WORDS
        ):
            for index, child in enumerate(children, start=1):
                n += 1
                section = f"{heading}, item {position} ({item.text.rstrip(':')}) {index}"
                lead_in = item.text if index == 1 else ""
                out.append(DraftItem(f"{prefix}{n}", kind, section, child.text, lead_in))
        else:
            n += 1
            quote = " ".join([item.text, *(c.text for c in children)])
            out.append(DraftItem(f"{prefix}{n}", kind, f"{heading}, item {position}", quote))
    return out


def _split_letters(children: list[_Item]) -> list[_Item]:
    """Lettered sub-items written on one line (``a. ... b. ...``) split into one item each."""
    out: list[_Item] = []
    for child in children:
        if child.kind != "lettered":
            out.append(child)
            continue
        text = child.text
        letter = text[0]
        while True:
            following = chr(ord(letter) + 1)
            found = re.search(rf"(?<=[.;,)])\s+({following})[.)]\s+", text)
            if not found:
                break
            out.append(_Item(text[: found.start()].strip(), "lettered"))
            text = f"{following}. {text[found.end() :].strip()}"
            letter = following
        out.append(_Item(text, "lettered"))
    return out


def normalise(text: str) -> str:
    """Whitespace folded, for comparing quotes."""
    return " ".join(text.split())
