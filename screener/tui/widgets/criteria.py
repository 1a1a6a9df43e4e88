"""Criteria grouped Inclusion / Exclusion, each with its outcome icon."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Tree

from screener.results import CriterionResult, ScreeningResult

ICONS = {"pass": ("✔", "green"), "fail": ("✘", "red"), "unknown": ("?", "yellow")}


def criterion_label(c: CriterionResult) -> Text:
    icon, style = ICONS[c.outcome]
    label = Text()
    label.append(f"{icon} ", f"bold {style}")
    label.append(f"{c.id:<4} ", "bold")
    label.append(c.title)
    if c.person_only:
        label.append(" [person]", "dim")
    return label


class CriteriaTree(Tree[str]):
    """Criterion ids are the node data; group nodes carry ``None``."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("Criteria", **kwargs)  # type: ignore[arg-type]
        self.show_root = False
        self.guide_depth = 2

    def show(self, result: ScreeningResult | None) -> None:
        current = self.cursor_node.data if self.cursor_node is not None else None
        self.clear()
        if result is None:
            return
        target = None
        for kind, title in (("inclusion", "Inclusion"), ("exclusion", "Exclusion")):
            items = [c for c in result.criteria if c.type == kind]
            if not items:
                continue
            bad = sum(1 for c in items if c.outcome != "pass")
            heading = Text(f"{title} ({len(items)})", "bold")
            if bad:
                heading.append(f"  {bad} open", "dim")
            group = self.root.add(heading, expand=True)
            for c in items:
                node = group.add_leaf(criterion_label(c), data=c.id)
                if c.id == current or (current is None and target is None):
                    target = node
        if target is not None:
            # Lines are laid out on the next refresh; move the cursor then.
            self.call_after_refresh(self.move_cursor, target)

    def select_criterion(self, criterion_id: str) -> bool:
        for group in self.root.children:
            for node in group.children:
                if node.data == criterion_id:
                    self.move_cursor(node)
                    return True
        return False
