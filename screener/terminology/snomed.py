"""SNOMED CT is-a hierarchy from an RF2 relationship snapshot (``sct2_Relationship_Snapshot_*.txt``).

RF2 relationship rows (SNOMED CT Release File Specification, 4.2.3 Relationship file):
``id effectiveTime active moduleId sourceId destinationId relationshipGroup typeId
characteristicTypeId modifierId``, tab-separated; ``typeId`` 116680003 is "Is a", and a row
says ``sourceId`` is-a ``destinationId``. Only active rows count.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path

IS_A = "116680003"


class SnomedHierarchy:
    """Parents of each concept; :meth:`ancestors` walks up, nearest first."""

    def __init__(self, parents: dict[str, tuple[str, ...]], source: str) -> None:
        self.parents = parents
        self.source = source

    @classmethod
    def load(cls, path: Path) -> SnomedHierarchy:
        parents: dict[str, list[str]] = {}
        with path.open(encoding="utf-8") as handle:
            header = handle.readline().rstrip("\n").split("\t")
            col = {name: i for i, name in enumerate(header)}
            try:
                active, source, dest, type_ = (
                    col["active"],
                    col["sourceId"],
                    col["destinationId"],
                    col["typeId"],
                )
            except KeyError as missing:
                raise ValueError(f"{path}: not an RF2 relationship file (no column {missing})") from None
            for line in handle:
                row = line.rstrip("\n").split("\t")
                if len(row) > type_ and row[type_] == IS_A and row[active] == "1":
                    parents.setdefault(row[source], []).append(row[dest])
        return cls({k: tuple(v) for k, v in parents.items()}, str(path))

    def ancestors(self, code: str) -> Iterator[tuple[str, int]]:
        """(ancestor, distance) breadth first: the concept itself (0), its parents (1), ..."""
        seen = {code}
        queue = deque([(code, 0)])
        while queue:
            node, depth = queue.popleft()
            yield node, depth
            for parent in self.parents.get(node, ()):
                if parent not in seen:
                    seen.add(parent)
                    queue.append((parent, depth + 1))


def find_snapshot(directory: Path) -> Path | None:
    """The RF2 relationship snapshot under ``directory`` (an unpacked release), if any."""
    for path in sorted(directory.rglob("sct2_Relationship_Snapshot*.txt")):
        return path
    return None
