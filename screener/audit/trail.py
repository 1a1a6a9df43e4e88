"""Append-only, hash-chained audit trail of screenings (JSON Lines).

Each line is one entry::

    {"seq": 1, "time": "2026-11-25T16:02:11.123Z", "operator": "nurse1", "action": "screen",
     "ruleset_sha256": "...", "input_sha256": "...", "patient_id": "p1", "decision": "eligible",
     "prev_hash": "000...0", "hash": "..."}

``hash`` is the sha256 of the entry's canonical JSON without ``hash`` (sorted
keys, no spaces, UTF-8), and ``prev_hash`` is the previous entry's ``hash``
(64 zeros for the first). Editing, removing, reordering or cutting entries
breaks the chain; :func:`verify` says where. Appends take an exclusive
``fcntl`` lock on the file, so concurrent writers stay ordered, and are
fsynced before the call returns. Removing whole entries from the *end* of the
log leaves a valid chain: keep the last hash elsewhere and pass it as ``head``
to detect that.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screener.errors import InputError, Location

GENESIS = "0" * 64
ACTIONS = ("screen", "tui-save", "batch")
REQUIRED = ("seq", "time", "operator", "action", "ruleset_sha256", "input_sha256", "prev_hash", "hash")
_RESERVED = ("seq", "prev_hash", "hash")


class AuditLogError(InputError):
    """The audit log cannot be read or appended to."""


@dataclass(frozen=True)
class Problem:
    line: int
    kind: str  # "edited" | "removed" | "reordered" | "truncated" | "malformed" | "missing-field"
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.kind}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "kind": self.kind, "message": self.message}


def canonical_json(entry: dict[str, Any]) -> str:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    """sha256 of the entry's canonical JSON without its ``hash`` field."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _last_line(fd: int) -> bytes:
    """The file's last non-empty line, read backwards from the end."""
    size = os.fstat(fd).st_size
    tail = b""
    offset = size
    while offset > 0:
        step = min(1 << 16, offset)
        offset -= step
        tail = os.pread(fd, step, offset) + tail
        stripped = tail.rstrip(b"\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return tail.rstrip(b"\n")


def _line_count(fd: int) -> int:
    count, offset, size = 0, 0, os.fstat(fd).st_size
    while offset < size:
        block = os.pread(fd, 1 << 20, offset)
        if not block:
            break
        count += block.count(b"\n")
        offset += len(block)
    if size and os.pread(fd, 1, size - 1) != b"\n":
        count += 1
    return count


def append_entry(log_path: str | Path, **fields: Any) -> dict[str, Any]:
    """Append one entry and return it (with seq, time, prev_hash and hash filled in).

    ``fields``: operator, action (one of :data:`ACTIONS`), ruleset_sha256,
    input_sha256, and patient_id + decision (one screening) or count + summary
    (a batch). ``time`` defaults to now (UTC). Refuses to chain onto a damaged
    last line.
    """
    bad = [k for k in _RESERVED if k in fields]
    if bad:
        raise ValueError(f"append_entry sets {', '.join(bad)} itself")
    action = fields.get("action")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    missing = [k for k in ("operator", "ruleset_sha256", "input_sha256") if not fields.get(k)]
    if missing:
        raise ValueError(f"audit entry needs {', '.join(missing)}")
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as error:
        raise AuditLogError(f"cannot open audit log: {error.strerror}", Location(str(path))) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        last = _last_line(fd)
        if last.strip():
            try:
                previous = json.loads(last)
                prev_seq, prev_hash = int(previous["seq"]), str(previous["hash"])
            except (ValueError, KeyError, TypeError):
                raise AuditLogError(
                    "last entry is damaged; run 'screener audit verify' before appending",
                    Location(str(path), _line_count(fd)),
                ) from None
        else:
            prev_seq, prev_hash = 0, GENESIS
        entry: dict[str, Any] = {"seq": prev_seq + 1, "time": fields.pop("time", None) or utc_now()}
        entry.update(fields)
        entry["prev_hash"] = prev_hash
        entry["hash"] = entry_hash(entry)
        data = (canonical_json(entry) + "\n").encode("utf-8")
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # never glue an entry onto a cut line
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing releases the lock
    return entry


def _read_lines(path: Path) -> tuple[list[str], bool]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise AuditLogError(f"cannot read audit log: {error.strerror}", Location(str(path))) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise AuditLogError("audit log is not UTF-8 text", Location(str(path), line)) from None
    ends_cleanly = text.endswith("\n") or not text
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines, ends_cleanly


def verify(log_path: str | Path, head: str | None = None) -> list[Problem]:
    """Problems of the chain, in line order; an empty list means intact.

    ``head``: the hash the last entry is known to have (kept elsewhere), to
    detect entries cut from the end. Raises :class:`AuditLogError` when the
    file cannot be read at all.
    """
    path = Path(log_path)
    lines, ends_cleanly = _read_lines(path)
    problems: list[Problem] = []
    entries: list[tuple[int, dict[str, Any]]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            problems.append(Problem(number, "malformed", "empty line"))
            continue
        last = number == len(lines)
        try:
            entry = json.loads(text)
        except ValueError:
            if last and not ends_cleanly:
                problems.append(Problem(number, "truncated", "last entry is cut short"))
            else:
                problems.append(Problem(number, "malformed", "not a JSON entry"))
            continue
        if not isinstance(entry, dict):
            problems.append(Problem(number, "malformed", "not a JSON object"))
            continue
        if last and not ends_cleanly:
            problems.append(Problem(number, "truncated", "last entry has no line end (cut short?)"))
        absent = [k for k in REQUIRED if k not in entry]
        if absent:
            problems.append(Problem(number, "missing-field", f"missing {', '.join(absent)}"))
            continue
        entries.append((number, entry))

    where_hash = {str(e["hash"]): n for n, e in entries}
    seq_line: dict[int, int] = {}
    top_seq, top_hash, top_line = 0, GENESIS, 0
    for number, entry in entries:
        seq = entry["seq"]
        if not isinstance(seq, int) or isinstance(seq, bool):
            problems.append(Problem(number, "malformed", f"seq is not an integer: {seq!r}"))
            continue
        if entry_hash(entry) != entry["hash"]:
            problems.append(
                Problem(number, "edited", f"entry seq {seq} was changed: its hash does not match its content")
            )
        elif seq == top_seq + 1 and entry["prev_hash"] != top_hash and entry["prev_hash"] not in where_hash:
            # Self-consistent entry whose link breaks: the one before it was edited and re-hashed,
            # or it was removed and replaced.
            problems.append(
                Problem(
                    top_line or number,
                    "edited",
                    f"entry seq {top_seq} was changed and re-hashed: entry seq {seq} (line {number}) "
                    "does not link to it"
                    if top_line
                    else f"first entry seq {seq} does not link to the start of the chain",
                )
            )
        elif seq <= top_seq:
            earlier = seq_line.get(seq)
            again = f" (already at line {earlier})" if earlier else ""
            problems.append(
                Problem(number, "reordered", f"entry seq {seq} comes after entry seq {top_seq}{again}")
            )
            seq_line.setdefault(seq, number)
            continue
        elif seq > top_seq + 1:
            linked = where_hash.get(str(entry["prev_hash"]))
            if linked is not None and linked > number:
                problems.append(
                    Problem(
                        number,
                        "reordered",
                        f"entry seq {seq} comes before entry seq {seq - 1} (line {linked})",
                    )
                )
            else:
                gap = f"seq {top_seq + 1}" if seq == top_seq + 2 else f"seq {top_seq + 1} to {seq - 1}"
                problems.append(Problem(number, "removed", f"entries missing before this one ({gap})"))
        elif entry["prev_hash"] != top_hash:
            problems.append(
                Problem(number, "removed", f"entry seq {seq} does not link to the entry before it")
            )
        seq_line.setdefault(seq, number)
        top_seq, top_hash, top_line = seq, str(entry["hash"]), number

    if head is not None and entries:
        if head not in where_hash:
            problems.append(
                Problem(len(lines), "truncated", f"expected last entry {head[:12]}... is not in the log")
            )
    elif head is not None and head != GENESIS:
        problems.append(Problem(1, "truncated", "the log has no entries but a last hash was expected"))
    problems.sort(key=lambda p: p.line)
    return problems


def read_entries(log_path: str | Path) -> list[dict[str, Any]]:
    """Entries of an intact log (for tools that show the trail)."""
    lines, _ = _read_lines(Path(log_path))
    return [json.loads(line) for line in lines if line.strip()]
