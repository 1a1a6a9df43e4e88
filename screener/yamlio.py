"""Safe YAML/JSON loading that remembers the line of every value.

Rule and patient files are data, never code. The text is read once, by libyaml
(``yaml.CSafeLoader``'s parser) when present, and built into plain values
straight from the parser's events, so the file is parsed a single time and
every value keeps its line. Alongside the data we keep a map from JSON path (a
tuple of keys and indexes) to the 1-based line where that value starts, so
validation errors can point at the line a person must edit.

Values follow YAML 1.2 (core schema), not PyYAML's YAML 1.1 defaults: ``no``,
``yes``, ``on`` and ``off`` are text, ``1:01`` is text (not 61), dates stay
text (the JSON Schema checks them, the model parses them), ``010`` is ten.
Anything that would make a silent or dangerous value is an error with its line
(:class:`InputFormatError`, a ``yaml.YAMLError`` so callers report it like any
malformed YAML): a key given twice, a tag that builds another type (``!!binary``,
``!!set``, ``!!timestamp``, ``!!python/...``), a non-finite number (``.nan``,
``.inf``, ``1e999``), an integer past Python's 4300-digit limit, a recursive
alias, aliases that expand to more than :data:`MAX_ALIAS_EXPANSION` values
("billion laughs"), nesting deeper than :data:`screener.fileio.MAX_DEPTH`, a
lone surrogate, several documents in one file, a file over the size cap or not
UTF-8 (see :mod:`screener.fileio`).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from screener.errors import Location
from screener.fileio import MAX_DEPTH, FileFormatError, has_lone_surrogate, read_text

try:  # libyaml's parser when PyYAML was built with it (50x faster on big files)
    from yaml import CSafeLoader as _Parser
except ImportError:  # pragma: no cover - pure-Python fallback
    from yaml import SafeLoader as _Parser  # type: ignore[assignment]

PathKey = tuple[str | int, ...]

#: Values that aliases may add beyond those written in the file.
MAX_ALIAS_EXPANSION = 100_000


class _Mark:
    def __init__(self, line: int) -> None:
        self.line = line  # 0-based, as in yaml.Mark


class InputFormatError(yaml.YAMLError):
    """A file whose text cannot safely become data; ``problem_mark.line`` is 0-based."""

    def __init__(self, problem: str, line: int | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.context = None
        self.problem_mark = _Mark(line - 1) if line is not None else None
        self.context_mark = None

    def __str__(self) -> str:
        return self.problem


# ----------------------------------------------------------------------- YAML 1.2 scalars

_NULL = frozenset(("", "~", "null", "Null", "NULL"))
_TRUE = frozenset(("true", "True", "TRUE"))
_FALSE = frozenset(("false", "False", "FALSE"))
_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN = re.compile(r"\.(nan|NaN|NAN)\Z")

_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def _number(text: str, line: int) -> int | float:
    try:
        if _INT.match(text):
            return int(text)
        if _OCT.match(text):
            return int(text[2:], 8)
        if _HEX.match(text):
            return int(text[2:], 16)
        value = float(text)
    except ValueError:  # Python refuses integers of more than 4300 digits
        raise InputFormatError(f"number {text[:20]}... is too long to be a value", line) from None
    if not math.isfinite(value):
        raise InputFormatError(f"{text} is not a finite number", line)
    return value


def _plain(text: str, line: int) -> Any:
    """A plain (unquoted) scalar resolved by the YAML 1.2 core schema."""
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    first = text[:1]
    if first.isdigit() or first in "+-.":
        if _INT.match(text) or _OCT.match(text) or _HEX.match(text) or _FLOAT.match(text):
            return _number(text, line)
        if _INF.match(text) or _NAN.match(text):
            raise InputFormatError(f"{text} is not a finite number", line)
    return text


def _scalar(event: Any, line: int) -> Any:
    text = event.value
    if event.tag is None and text.isascii():
        return _plain(text, line) if event.implicit[0] else text
    if has_lone_surrogate(text):
        raise InputFormatError("text holds a lone surrogate (an invalid \\ud800-\\udfff escape)", line)
    tag = event.tag
    if tag in (None, "!"):
        return _plain(text, line) if event.implicit[0] and tag is None else text
    if tag not in _ALLOWED_TAGS:
        raise InputFormatError(
            f"YAML tag {tag.replace(_TAG, '!!')} is not allowed: values are plain text, "
            "numbers, true/false, lists and mappings",
            line,
        )
    kind = tag[len(_TAG) :]
    if kind == "str":
        return text
    value = _plain(text, line)
    wanted = {"int": int, "float": (int, float), "bool": bool, "null": type(None)}[kind]
    if not isinstance(value, wanted) or (kind in ("int", "float") and isinstance(value, bool)):
        raise InputFormatError(f"{text!r} is not a valid !!{kind}", line)
    return float(value) if kind == "float" else value


class _Frame:
    __slots__ = ("anchor", "container", "is_map", "key", "key_line", "line", "path", "size")

    def __init__(self, container: Any, path: PathKey, anchor: str | None, line: int) -> None:
        self.container = container
        self.is_map = isinstance(container, dict)
        self.path = path
        self.anchor = anchor
        self.line = line
        self.key: Any = _NO_KEY
        self.key_line = 0
        self.size = 1


_NO_KEY = object()
_NOT_ALLOWED = "is not allowed: values are plain text, numbers, true/false, lists and mappings"


def _build(events: Any, lines: dict[PathKey, int]) -> Any:
    """Values from the parser's events, recording the line of every path (single pass)."""
    events.get_event()  # StreamStart
    if events.check_event(yaml.StreamEndEvent):
        return None
    events.get_event()  # DocumentStart
    anchors: dict[str, tuple[Any, int]] = {}
    open_anchors: set[str] = set()
    expansion = 0
    stack: list[_Frame] = []
    done = False
    root: Any = None

    def wants_key() -> bool:
        return bool(stack) and isinstance(stack[-1].container, dict) and stack[-1].key is _NO_KEY

    def place(value: Any, line: int, size: int) -> None:
        nonlocal root, done
        if not stack:
            lines[()] = line
            root, done = value, True
            return
        top = stack[-1]
        top.size += size
        if isinstance(top.container, list):
            lines[(*top.path, len(top.container))] = line
            top.container.append(value)
            return
        if top.key is _NO_KEY:
            if isinstance(value, dict | list):
                raise InputFormatError("a key must be plain text, not a list or mapping", line)
            key = value if isinstance(value, str) else _key_text(value)
            if key == "<<":
                raise InputFormatError("merge keys (<<) are not supported; write the values out", line)
            if key in top.container:
                first = lines.get((*top.path, key))
                where = f" (first at line {first})" if first else ""
                raise InputFormatError(
                    f"key '{key}' is given twice{where}; one value would be silently lost", line
                )
            top.key, top.key_line = key, line
            top.container[key] = None  # reserves the key for duplicate detection
            lines[(*top.path, key)] = line
            return
        top.container[top.key] = value
        lines[(*top.path, top.key)] = top.key_line
        top.key = _NO_KEY

    get_event = events.get_event
    scalar_event = yaml.ScalarEvent
    while not done:
        ev = get_event()
        line = ev.start_mark.line + 1
        if ev.__class__ is scalar_event and stack and ev.anchor is None and ev.tag is None:
            # fast path for the most common event: an untagged key or value in a container
            top = stack[-1]
            container = top.container
            if not top.is_map:
                lines[(*top.path, len(container))] = line
                container.append(_scalar(ev, line))
                top.size += 1
                continue
            key = top.key
            if key is not _NO_KEY:
                container[key] = _scalar(ev, line)
                lines[(*top.path, key)] = top.key_line
                top.key = _NO_KEY
                top.size += 1
                continue
            key = ev.value
            if key != "<<" and key not in container and key.isascii():
                top.key, top.key_line = key, line
                container[key] = None  # reserves the key for duplicate detection
                lines[(*top.path, key)] = line
                top.size += 1
                continue
        if isinstance(ev, yaml.ScalarEvent):
            if wants_key() and ev.tag in (None, "!", _TAG + "str"):
                # keys are text as written: ``on``, ``no`` and ``1`` stay text
                if has_lone_surrogate(ev.value):
                    raise InputFormatError("a key holds a lone surrogate", line)
                value = ev.value
            else:
                value = _scalar(ev, line)
            if ev.anchor is not None:
                anchors[ev.anchor] = (value, 1)
            place(value, line, 1)
        elif isinstance(ev, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            if ev.tag not in (None, "!", _TAG + "seq", _TAG + "map"):
                raise InputFormatError(f"YAML tag {ev.tag.replace(_TAG, '!!')} {_NOT_ALLOWED}", line)
            if wants_key():
                raise InputFormatError("a key must be plain text, not a list or mapping", line)
            if len(stack) >= MAX_DEPTH:
                raise InputFormatError(f"nested deeper than {MAX_DEPTH} levels", line)
            if not stack:
                path: PathKey = ()
            elif isinstance(stack[-1].container, list):
                path = (*stack[-1].path, len(stack[-1].container))
            else:
                path = (*stack[-1].path, stack[-1].key)
            if ev.anchor is not None:
                open_anchors.add(ev.anchor)
            container: Any = [] if isinstance(ev, yaml.SequenceStartEvent) else {}
            stack.append(_Frame(container, path, ev.anchor, line))
        elif isinstance(ev, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            frame = stack.pop()
            if frame.anchor is not None:
                open_anchors.discard(frame.anchor)
                anchors[frame.anchor] = (frame.container, frame.size)
            place(frame.container, frame.line, frame.size)
        elif isinstance(ev, yaml.AliasEvent):
            name = ev.anchor
            if name in open_anchors:
                raise InputFormatError(f"recursive alias *{name}: a value cannot contain itself", line)
            if name not in anchors:
                raise InputFormatError(f"alias *{name} refers to no anchor", line)
            value, size = anchors[name]
            expansion += size
            if expansion > MAX_ALIAS_EXPANSION:
                raise InputFormatError(
                    f"aliases expand to more than {MAX_ALIAS_EXPANSION} values (a 'billion laughs' file?)",
                    line,
                )
            place(copy.deepcopy(value) if isinstance(value, dict | list) else value, line, size)
        else:  # pragma: no cover - parser contract
            raise InputFormatError(f"unexpected YAML event {type(ev).__name__}", line)
    events.get_event()  # DocumentEnd
    if not events.check_event(yaml.StreamEndEvent):
        raise InputFormatError(
            "the file holds more than one YAML document (a second '---'); give one per file",
            events.peek_event().start_mark.line + 1,
        )
    return root


def _key_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class LineMap:
    """Answers 'which line holds this path?', falling back to the nearest parent."""

    def __init__(self, file: str, lines: dict[PathKey, int]) -> None:
        self.file = file
        self._lines = lines

    def line(self, path: Iterable[str | int]) -> int | None:
        if not self._lines:  # a JSONL record: the line is the record's, given elsewhere
            return None
        key = tuple(path)
        while True:
            if key in self._lines:
                return self._lines[key]
            if not key:
                return None
            key = key[:-1]

    def locate(self, path: Iterable[str | int]) -> Location:
        key = tuple(path)
        return Location(self.file, self.line(key), _cached_json_path(key) or None)


def json_path(path: Iterable[str | int]) -> str:
    """Render ('criteria', 3, 'test') as ``criteria[3].test``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


# the same few paths (``observations[3]``...) are located for every record a batch reads
_cached_json_path = lru_cache(maxsize=4096)(json_path)


def load_text(text: str, file: str) -> tuple[Any, LineMap]:
    """Parse YAML (JSON is YAML too) and return the data with its line map.

    Raises ``yaml.YAMLError`` on malformed or unsafe text (:class:`InputFormatError`
    for what this module refuses); callers turn it into their own error class with
    :func:`yaml_error_location` and :func:`yaml_error_message`.
    """
    if has_lone_surrogate(text):
        raise InputFormatError("text holds a lone surrogate (an invalid \\ud800-\\udfff character)")
    lines: dict[PathKey, int] = {}
    try:
        parser = _Parser(text)
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text) from None
    try:
        data = _build(parser, lines)
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text) from None
    except RecursionError:  # pragma: no cover - the depth cap comes first
        raise InputFormatError(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        parser.dispose()
    return data, LineMap(file, lines)


def _reader_error(error: yaml.reader.ReaderError, text: str) -> InputFormatError:
    """A character YAML does not allow (NUL, ESC...), with its line."""
    position = error.position if isinstance(error.position, int) else 0
    line = text.count("\n", 0, position) + 1
    code = error.character if isinstance(error.character, int) else ord(str(error.character)[:1] or "?")
    return InputFormatError(f"the file holds control character #x{code:04x}, which YAML does not allow", line)


def load_file(path: str | Path) -> tuple[Any, LineMap]:
    """Read a YAML/JSON file (size-capped, strict UTF-8) and parse it with its line map.

    Raises OSError when the file cannot be opened, ``yaml.YAMLError`` otherwise.
    """
    p = Path(path)
    return load_text(read_source(p), str(p))


def read_source(path: str | Path) -> str:
    """The text of a YAML/JSON file, size-capped and strict UTF-8.

    Raises OSError when the file cannot be opened, :class:`InputFormatError` (a
    ``yaml.YAMLError``) when it is too large or not UTF-8.
    """
    try:
        return read_text(path)
    except FileFormatError as error:
        raise InputFormatError(error.message, error.line) from None


def yaml_error_location(error: yaml.YAMLError, file: str) -> Location:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return Location(file, mark.line + 1 if mark is not None else None)


def yaml_error_message(error: yaml.YAMLError) -> str:
    if isinstance(error, InputFormatError):
        return error.problem
    problem = getattr(error, "problem", None)
    context = getattr(error, "context", None)
    parts = [p for p in (context, problem) if p]
    text = "; ".join(parts) if parts else str(error)
    return "malformed YAML: " + " ".join(text.split())  # one line, whatever the parser wrote
