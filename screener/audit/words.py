"""A rule's condition tree in plain words, for reports and diffs.

``all of: age >= 18 a; age < 70 a``; quantifiers read as
``some medication period with drug in [rituximab] where last_dose is at most 6 months
before the screening date``.
"""

from __future__ import annotations

from screener.model.logic import GROUPS
from screener.model.operators import OPERATORS
from screener.model.rules import Comparison, FactTest, FieldTest, Group, Node, Quantifier, WhereNode

RECORD_WORDS = {"exposure": "medication period", "condition": "condition"}
GROUP_WORDS = {op: g.words for op, g in GROUPS.items() if op != "not"}  # "not (...)" reads apart


def scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def comparison_words(comparison: Comparison, unit: str | None = None) -> str:
    operator, value = OPERATORS[comparison.op], comparison.value
    if operator.value == "list":
        text = f"{operator.symbol} [{', '.join(scalar(v) for v in value)}]"
    elif operator.window:
        text = comparison.describe()
    else:
        text = f"{operator.symbol} {scalar(value)}"
    if unit:
        text += f" {unit}"
    return text


def test_words(node: FactTest | FieldTest) -> str:
    if isinstance(node, FactTest):
        subject = f"{node.fact}.{node.field}" if node.field else node.fact
    else:
        subject = node.field
    words = f"{subject} {comparison_words(node.comparison, node.unit)}"
    if isinstance(node, FactTest) and node.unknown_when is not None:
        outcome = "holds" if node.unknown_when else "does not hold"
        words += f" (when it {outcome}: unknown" + (f", to collect: {node.missing})" if node.missing else ")")
    return words


def _match_words(match: tuple[tuple[str, tuple[object, ...]], ...]) -> str:
    parts = []
    for key, values in match:
        if len(values) == 1:
            parts.append(f"{key} = {scalar(values[0])}")
        else:
            parts.append(f"{key} in [{', '.join(scalar(v) for v in values)}]")
    return " and ".join(parts)


def node_words(node: Node | WhereNode) -> str:
    """One line of plain words for a condition tree."""
    if isinstance(node, Group):
        if node.op == "not":
            return f"not ({node_words(node.children[0])})"
        inner = "; ".join(node_words(c) for c in node.children)
        return f"{GROUP_WORDS[node.op]}: {inner}" if len(node.children) > 1 else inner
    if isinstance(node, Quantifier):
        record = RECORD_WORDS.get(node.record, node.record)
        head = "some" if node.quantifier == "exists" else "every"
        text = f"{head} {record}"
        if node.match:
            text += f" with {_match_words(node.match)}"
        if node.where is not None:
            text += f" where {node_words(node.where)}"
        absent = "counts as no" if node.absent == "false" else "leaves it unknown"
        text += f" (none recorded {absent})"
        return text
    return test_words(node)


def node_lines(node: Node | WhereNode, indent: str = "") -> list[str]:
    """The same tree as indented lines, one test a line, for longer criteria."""
    if isinstance(node, Group):
        if node.op == "not":
            return [f"{indent}not:", *node_lines(node.children[0], indent + "  ")]
        lines = [f"{indent}{GROUP_WORDS[node.op]}:"]
        for child in node.children:
            lines.extend(node_lines(child, indent + "  "))
        return lines
    if isinstance(node, Quantifier):
        record = RECORD_WORDS.get(node.record, node.record)
        head = "some" if node.quantifier == "exists" else "every"
        text = f"{indent}{head} {record}"
        if node.match:
            text += f" with {_match_words(node.match)}"
        absent = "counts as no" if node.absent == "false" else "leaves it unknown"
        text += f" (none recorded {absent})"
        if node.where is None:
            return [text]
        return [text + " where", *node_lines(node.where, indent + "  ")]
    return [f"{indent}{test_words(node)}"]
