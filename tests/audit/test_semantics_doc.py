"""docs/rule-language.md's Semantics section is the text printed from the operator and
truth tables: the document cannot drift from what the routes run."""

from __future__ import annotations

from pathlib import Path

from screener.audit.semantics import BEGIN, END, markdown
from screener.model.logic import GROUPS, QUANTIFIERS
from screener.model.operators import OPERATORS

DOC = Path(__file__).resolve().parents[2] / "docs" / "rule-language.md"


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    return text[text.index(BEGIN) : text.index(END) + len(END)]


def test_the_document_holds_the_generated_section() -> None:
    assert _section() == markdown(), "run: python -m screener.audit.semantics, paste into the doc"


def test_the_section_lists_every_operator_group_and_quantifier() -> None:
    section = _section()
    for name, o in OPERATORS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}`"))
        assert o.words in row and f"`{o.negation}`" in row
    for name in [*GROUPS, *QUANTIFIERS]:
        assert f"`{name}" in section, name
