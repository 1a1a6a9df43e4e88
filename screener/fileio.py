"""Reading input files safely: size cap, strict UTF-8, bounded depth, strict JSON.

Every input path (patient files, rule files, mappings, FHIR JSON) reads its bytes
through here so a hostile or broken file becomes one located message instead of
a traceback, a hang or a silently different value:

- a file larger than :data:`max_input_bytes` (``/dev/zero`` included) is refused;
  ``screener --max-input-mb N`` or ``SCREENER_MAX_INPUT_MB`` raises the cap;
- text must be UTF-8 (a UTF-8 byte-order mark is allowed); UTF-16/32, Latin-1 and
  binary files are refused with the line of the first bad byte;
- JSON objects may not repeat a key (``"value": 61, "value": 20``), numbers must be
  finite (no ``NaN``/``Infinity``) and short enough for Python (4300 digits), strings
  may not hold lone surrogates (``"\\ud800"``), nesting stops at :data:`MAX_DEPTH`.

JSON errors are :class:`JsonInputError`, a :class:`json.JSONDecodeError`, so code that
already catches malformed JSON reports them the same way (``lineno`` is the line).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any, BinaryIO

#: Deepest nesting of lists and mappings accepted in any input file. Real patient
#: files nest 4 levels, rule files about 15, FHIR resources about 10.
MAX_DEPTH = 64

_DEFAULT_MAX_MB = 256
_MB = 1024 * 1024


def _env_max_bytes() -> int:
    text = os.environ.get("SCREENER_MAX_INPUT_MB", "")
    try:
        return int(float(text) * _MB) if text.strip() else _DEFAULT_MAX_MB * _MB
    except ValueError:
        return _DEFAULT_MAX_MB * _MB


#: Largest input file read whole, in bytes (``screener --max-input-mb`` changes it).
max_input_bytes: int = _env_max_bytes()


def set_max_input_mb(megabytes: float) -> None:
    """Raise (or lower) the size cap for whole-file reads in this process."""
    global max_input_bytes
    max_input_bytes = int(megabytes * _MB)


class FileFormatError(ValueError):
    """A file cannot be read as text of the expected kind; ``line`` is 1-based or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def too_large_message(limit: int) -> str:
    return (
        f"file is larger than {limit / _MB:g} MB; if it really is an input, raise the cap "
        "with screener --max-input-mb N (or SCREENER_MAX_INPUT_MB)"
    )


def read_capped(handle: BinaryIO, limit: int | None = None) -> bytes:
    """Read a whole binary stream, refusing more than ``limit`` bytes (default: the cap)."""
    cap = max_input_bytes if limit is None else limit
    data = handle.read(cap + 1)
    if len(data) > cap:
        raise FileFormatError(too_large_message(cap))
    return data


def read_bytes(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of a file, at most the size cap (raises OSError when it cannot be opened)."""
    with Path(path).open("rb") as handle:
        return read_capped(handle, limit)


_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def decode_utf8(data: bytes) -> str:
    """Strict UTF-8 text (a leading BOM is dropped); FileFormatError names the line."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise FileFormatError(f"file is {name} text; save it as UTF-8", 1)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        bad = data[error.start : error.start + 1].hex()
        hint = " (a binary file?)" if b"\x00" in data[:8192] else " (Latin-1 or another encoding?)"
        raise FileFormatError(f"file is not UTF-8 text: byte 0x{bad} cannot be decoded{hint}", line) from None


def read_text(path: str | Path, limit: int | None = None) -> str:
    """A UTF-8 text file, size-capped."""
    return decode_utf8(read_bytes(path, limit))


def has_lone_surrogate(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# ------------------------------------------------------------------------------------- JSON


class JsonInputError(json.JSONDecodeError):
    """A JSON document that is malformed or unsafe to use; ``lineno`` is its line or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        ValueError.__init__(self, message)
        self.msg = message
        self.doc = ""
        self.pos = 0
        self.lineno = line  # type: ignore[assignment]
        self.colno = None  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.msg

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.msg, self.lineno))


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_tree(data: Any, depth_limit: int) -> str | None:
    """Why ``data`` is unsafe (too deep, lone surrogate), iteratively; None when it is fine."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth >= depth_limit:
                return f"nested deeper than {depth_limit} levels"
            for key, item in value.items():
                if has_lone_surrogate(key):
                    return f"key {key.encode('utf-8', 'backslashreplace').decode()!r} holds a lone surrogate"
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth >= depth_limit:
                return f"nested deeper than {depth_limit} levels"
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and has_lone_surrogate(value):
            shown = value.encode("utf-8", "backslashreplace").decode()[:60]
            return f"text {shown!r} holds a lone surrogate (an invalid \\ud800-\\udfff escape)"
    return None


def loads_json(raw: bytes | str, depth_limit: int = MAX_DEPTH) -> Any:
    """Parse one JSON document strictly; raises :class:`JsonInputError` with the line."""
    if isinstance(raw, bytes):
        try:
            text = decode_utf8(raw)
        except FileFormatError as error:
            raise JsonInputError(error.message, error.line) from None
    else:
        text = raw
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_float=_finite_float
        )
    except json.JSONDecodeError as error:
        raise JsonInputError(
            f"{error.msg} (line {error.lineno}, column {error.colno})", error.lineno
        ) from None
    except _DuplicateKey as error:
        raise JsonInputError(f"duplicate key {error.key!r} in one object (a value would be lost)") from None
    except RecursionError:
        raise JsonInputError(f"nested deeper than {depth_limit} levels") from None
    except ValueError as error:  # NaN/Infinity, integers past Python's digit limit
        raise JsonInputError(str(error).split(";")[0]) from None
    # Depth can only exceed the limit if there are that many brackets; strings can only
    # hold lone surrogates if the text has a surrogate escape. Skip the walk otherwise.
    brackets = text.count("{") + text.count("[")
    if brackets >= depth_limit or _SURROGATE_ESCAPE.search(text):
        problem = _check_tree(data, depth_limit)
        if problem:
            raise JsonInputError(problem)
    return data


def read_json(source: str | Path | BinaryIO, depth_limit: int = MAX_DEPTH) -> Any:
    """A whole JSON file (a path or an open binary file), size-capped and strict."""
    if isinstance(source, str | Path):
        with Path(source).open("rb") as handle:
            return read_json(handle, depth_limit)
    try:
        raw = read_capped(source)
    except FileFormatError as error:
        raise JsonInputError(error.message) from None
    return loads_json(raw, depth_limit)
