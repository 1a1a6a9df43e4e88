"""Safe YAML/JSON loading that remembers the line of every value.

Rule and patient files are data, never code: only ``yaml.SafeLoader`` is used.
Alongside the data we keep a map from JSON path (a tuple of keys and indexes)
to the 1-based line where that value starts, so validation errors can point at
the line a person must edit.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from screener.errors import Location

PathKey = tuple[str | int, ...]


class _DataLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as ISO strings.

    Dates are validated by the JSON Schema (``format: date``) and parsed by the
    model, the same way for YAML and JSON input.
    """


_DataLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _walk(node: yaml.Node, path: PathKey, lines: dict[PathKey, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines)


class LineMap:
    """Answers 'which line holds this path?', falling back to the nearest parent."""

    def __init__(self, file: str, lines: dict[PathKey, int]) -> None:
        self.file = file
        self._lines = lines

    def line(self, path: Iterable[str | int]) -> int | None:
        key = tuple(path)
        while True:
            if key in self._lines:
                return self._lines[key]
            if not key:
                return None
            key = key[:-1]

    def locate(self, path: Iterable[str | int]) -> Location:
        key = tuple(path)
        return Location(self.file, self.line(key), json_path(key) or None)


def json_path(path: Iterable[str | int]) -> str:
    """Render ('criteria', 3, 'test') as ``criteria[3].test``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_text(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML (JSON is YAML too) and return the data with its line map.

    Raises ``yaml.YAMLError`` on malformed text; callers turn it into their own
    error class with :func:`yaml_error_location`.
    """
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is None:
        return None, LineMap(file, {})
    lines: dict[PathKey, int] = {}
    _walk(node, (), lines)
    loader = _DataLoader(text)
    try:
        data = loader.get_single_data()
    finally:
        loader.dispose()
    return data, LineMap(file, lines)


def load_file(path: str | Path) -> tuple[Any, LineMap]:
    p = Path(path)
    return load_text(p.read_text(encoding="utf-8"), str(p))


def yaml_error_location(error: yaml.YAMLError, file: str) -> Location:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return Location(file, mark.line + 1 if mark is not None else None)


def yaml_error_message(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    parts = [p for p in (context, problem) if p]
    return "malformed YAML: " + ("; ".join(parts) if parts else str(error))
