"""The text safety net: words in a record's text that name a criterion's condition.

A condition record that no code classifies is not evidence of absence when its text says
"adenocarcinoma", "HIV" or "psychosis": screener keeps it as that condition, unconfirmed, so
the criterion is ``unknown`` with a to-do instead of passing silently. The words are data
(``suspicious_text`` in the mapping file); this module only matches them.

Matching is on whole words, case-insensitive, with ``*`` at either end of a word standing for
any letters there (``*carcinoma*`` matches "adenocarcinoma", ``misuse*`` "misuses"); ``unless``
words (``benign``, ``family history``) silence an entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SuspiciousWord:
    """Words that name one condition of the rule set, and words that silence them."""

    pattern: re.Pattern[str]
    condition: str
    label: str
    unless: re.Pattern[str] | None = None

    def names(self, text: str) -> bool:
        low = " ".join(text.lower().split())
        return self.pattern.search(low) is not None and not (self.unless and self.unless.search(low))


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w.lower()).replace(r"\*", r"\w*") for w in words)


def compile_words(condition: str, label: str, words: list[str], unless: list[str]) -> SuspiciousWord:
    return SuspiciousWord(
        re.compile(rf"(?<!\w)(?:{_alternation(words)})(?!\w)"),
        condition,
        label,
        re.compile(rf"(?<!\w)(?:{_alternation(unless)})(?!\w)") if unless else None,
    )


def first_named(words: tuple[SuspiciousWord, ...], *texts: str | None) -> tuple[SuspiciousWord, str] | None:
    """The first entry one of ``texts`` names, with that text (None: no text names any)."""
    for text in texts:
        if text:
            for word in words:
                if word.names(str(text)):
                    return word, str(text)
    return None
