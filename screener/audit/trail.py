"""Append-only, hash-chained audit trail of screenings (JSON Lines).

Each line is one entry::

    {"seq": 1, "time": "2026-11-25T16:02:11.123Z", "operator": "nurse1", "action": "screen",
     "ruleset_sha256": "...", "input_sha256": "...", "patient_id": "p1", "decision": "eligible",
     "prev_hash": "000...0", "hash": "..."}

``hash`` is the sha256 of the entry's canonical JSON without ``hash`` (sorted
keys, no spaces, UTF-8), and ``prev_hash`` is the previous entry's ``hash``
(64 zeros for the first). Each line must be exactly the canonical JSON of its
entry: a line with a duplicated key, or any other spelling, is refused.

Signed entries (log format 2): when a signing key is configured
(``SCREENER_AUDIT_KEY``, :mod:`screener.audit.keys`), every entry also carries
``key_id`` and ``sig``, an Ed25519 signature of :func:`signed_message`: the
entry's sequence number and the sha256 of its content (every field but
``seq``, ``prev_hash``, ``hash`` and ``sig``). ``hash`` covers ``sig``. Without
the private key nobody can edit, insert, renumber or append an entry that
verifies; cutting entries from the end is found against a noted head
(``SEQ:HASH``, :func:`head_of`). A log that holds signed entries is never
appended to unsigned. Verification: :mod:`screener.audit.verify`.

Appends take an exclusive ``fcntl`` lock on the file, so concurrent writers
stay ordered, and are fsynced before the call returns.
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
SIGNATURE_DOMAIN = b"screener-audit-v2\0"
_POSITION = ("seq", "prev_hash", "hash", "sig")
REQUIRED = ("seq", "time", "operator", "action", "ruleset_sha256", "input_sha256", "prev_hash", "hash")
_RESERVED = ("seq", "prev_hash", "hash", "sig", "key_id")


class AuditLogError(InputError):
    """The audit log cannot be read or appended to."""


class _Unset:
    pass


_FROM_ENV: Any = _Unset()


@dataclass(frozen=True)
class Problem:
    line: int
    # edited | removed | reordered | inserted | truncated | appended | unsigned | unknown-key |
    # malformed | missing-field | record-missing | record-changed | record-unlogged |
    # output-missing | output-changed
    kind: str
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


def content_digest(entry: dict[str, Any]) -> str:
    """sha256 of what an entry says, apart from its place in the chain and its signature."""
    body = {k: v for k, v in entry.items() if k not in _POSITION}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def signed_message(seq: int, digest: str) -> bytes:
    """The bytes an entry's ``sig`` signs: its sequence number and :func:`content_digest`."""
    return SIGNATURE_DOMAIN + canonical_json({"content": digest, "seq": seq}).encode("utf-8")


class DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(f"duplicated key {key!r}")
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKeyError(key)
        out[key] = value
    return out


def parse_entry(text: str) -> dict[str, Any]:
    """One line, strictly: JSON object, no duplicated key, exactly its canonical spelling.

    Raises :class:`ValueError` (:class:`DuplicateKeyError` for a repeated key) otherwise.
    """
    entry = json.loads(text, object_pairs_hook=_no_duplicates)
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    if canonical_json(entry) != text:
        raise ValueError("not in canonical form (sorted keys, no spaces): rewritten by hand?")
    return entry


def tree_sha256(path: str | Path) -> str:
    """sha256 of a file, or of a directory's files (relative name and sha256, in name order)."""
    p = Path(path)
    if not p.is_dir():
        return sha256_file(p)
    digest = hashlib.sha256()
    for file in sorted(f for f in p.rglob("*") if f.is_file()):
        digest.update(f"{file.relative_to(p).as_posix()}\0{sha256_file(file)}\n".encode())
    return digest.hexdigest()


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


def append_entry(log_path: str | Path, *, key: Any = _FROM_ENV, **fields: Any) -> dict[str, Any]:
    """Append one entry and return it (with seq, time, prev_hash, hash and signature filled in).

    ``fields``: operator, action (one of :data:`ACTIONS`), ruleset_sha256,
    input_sha256, and patient_id + decision (one screening) or count + summary
    (a batch). ``time`` defaults to now (UTC). ``key``: a
    :class:`screener.audit.keys.SigningKey`, None for an unsigned entry; by
    default the key named by ``SCREENER_AUDIT_KEY`` (an unreadable key is an
    error, before anything is written). Refuses to chain onto a damaged last
    line, and to append an unsigned entry to a signed log.
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
    if isinstance(key, _Unset):
        from screener.audit.keys import signing_key_from_env

        key = signing_key_from_env()
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
                previous = parse_entry(last.decode("utf-8"))
                prev_seq, prev_hash = int(previous["seq"]), str(previous["hash"])
            except (ValueError, KeyError, TypeError):
                raise AuditLogError(
                    "last entry is damaged; run 'screener audit verify' before appending",
                    Location(str(path), _line_count(fd)),
                ) from None
            if key is None and "sig" in previous:
                raise AuditLogError(
                    f"this audit log is signed (key {previous.get('key_id')}); set SCREENER_AUDIT_KEY "
                    "to its private key file to append: an unsigned entry would not be provable",
                    Location(str(path)),
                )
        else:
            prev_seq, prev_hash = 0, GENESIS
        entry: dict[str, Any] = {"seq": prev_seq + 1, "time": fields.pop("time", None) or utc_now()}
        entry.update(fields)
        if key is not None:
            entry["key_id"] = key.key_id
            entry["sig"] = key.sign(signed_message(entry["seq"], content_digest(entry)))
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


def read_lines(path: Path) -> tuple[list[str], bool]:
    """The log's lines (without line ends) and whether the file ends with one."""
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


def verify(log_path: str | Path, head: str | None = None, **options: Any) -> list[Problem]:
    """Problems of the log, in line order; an empty list means intact.

    See :func:`screener.audit.verify.verify_log` (keys, records, outputs).
    """
    from screener.audit.verify import verify_log

    return verify_log(log_path, head=head, **options).problems


def read_entries(log_path: str | Path) -> list[dict[str, Any]]:
    """Entries of an intact log (for tools that show the trail), parsed strictly."""
    lines, _ = read_lines(Path(log_path))
    return [parse_entry(line) for line in lines if line.strip()]


def head_of(log_path: str | Path) -> str:
    """``SEQ:HASH`` of the log's last entry, to note outside the log (``audit verify --head``)."""
    entries = read_entries(log_path)
    if not entries:
        return f"0:{GENESIS}"
    return f"{entries[-1]['seq']}:{entries[-1]['hash']}"
