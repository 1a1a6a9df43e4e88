"""``screener audit verify``: is the audit trail what was written, and do its records and
outputs still say what it says?

Three layers, each naming the entry (line and seq) and what happened:

1. the file: every line parsed strictly (:func:`screener.audit.trail.parse_entry`: no
   duplicated key, canonical bytes), the hash chain and the sequence numbers (edited,
   removed, reordered, truncated...);
2. the signatures (with the public keys): an entry whose content no longer matches its
   signature was edited; one that verifies under another sequence number was moved (removed,
   inserted or reordered, then renumbered); an unsigned entry after the last signed one was
   appended; a noted head (``SEQ:HASH``) that is missing tells entries cut from the end; an
   empty log is an emptied log;
3. what the entries point to: ``--records DIR`` compares each TUI save with its screening
   record (decision, operator, patient, rule set, facts hash; missing and unlogged records),
   and batch entries' output files are hashed again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.audit.keys import PublicKey
from screener.audit.trail import (
    GENESIS,
    REQUIRED,
    DuplicateKeyError,
    Problem,
    canonical_json,
    content_digest,
    entry_hash,
    parse_entry,
    read_lines,
    signed_message,
    tree_sha256,
)

_SEARCH = 64  # how far from its own number a moved entry's signed number is looked for


@dataclass(frozen=True)
class Report:
    problems: list[Problem]
    entries: int
    signed: int = 0  # entries with a valid signature
    last_signed_seq: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def _parse(lines: list[str], ends_cleanly: bool) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    problems: list[Problem] = []
    entries: list[tuple[int, dict[str, Any]]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            problems.append(Problem(number, "malformed", "empty line"))
            continue
        last = number == len(lines)
        try:
            entry = parse_entry(text)
        except ValueError as error:
            try:
                entry = json.loads(text)  # last key wins, as the hash was computed
            except ValueError:
                entry = None
            if entry is None or not isinstance(entry, dict):
                if last and not ends_cleanly:
                    problems.append(Problem(number, "truncated", "last entry is cut short"))
                else:
                    problems.append(Problem(number, "malformed", "not a JSON entry"))
                continue
            if isinstance(error, DuplicateKeyError):
                message = (
                    f"key {error.key!r} appears twice: readers would disagree on the entry "
                    "(a second value hidden behind the first)"
                )
            else:
                message = f"entry was rewritten: {error}"
            problems.append(Problem(number, "edited", message))
        if last and not ends_cleanly:
            problems.append(Problem(number, "truncated", "last entry has no line end (cut short?)"))
        absent = [k for k in REQUIRED if k not in entry]
        if absent:
            problems.append(Problem(number, "missing-field", f"missing {', '.join(absent)}"))
            continue
        if not isinstance(entry["seq"], int) or isinstance(entry["seq"], bool):
            problems.append(Problem(number, "malformed", f"seq is not an integer: {entry['seq']!r}"))
            continue
        entries.append((number, entry))
    return entries, problems


def _chain(entries: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    """The hash chain and the sequence numbers, without keys."""
    problems: list[Problem] = []
    where_hash = {str(e["hash"]): n for n, e in entries}
    seq_line: dict[int, int] = {}
    top_seq, top_hash, top_line = 0, GENESIS, 0
    for number, entry in entries:
        seq = entry["seq"]
        if entry_hash(entry) != entry["hash"]:
            problems.append(
                Problem(number, "edited", f"entry seq {seq} was changed: its hash does not match its content")
            )
        elif seq == top_seq + 1 and entry["prev_hash"] != top_hash and entry["prev_hash"] not in where_hash:
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
    return problems


def _signed_as(key: PublicKey, entry: dict[str, Any], seq: int) -> int | None:
    """The sequence number the entry's signature was made for, near ``seq``, if any."""
    digest = content_digest(entry)
    signature = str(entry["sig"])
    for delta in range(1, _SEARCH + 1):
        for candidate in (seq + delta, seq - delta):
            if candidate > 0 and key.verifies(signature, signed_message(candidate, digest)):
                return candidate
    return None


def _signatures(
    entries: list[tuple[int, dict[str, Any]]], keys: dict[str, PublicKey]
) -> tuple[list[Problem], set[int], list[str]]:
    problems: list[Problem] = []
    valid: set[int] = set()  # lines
    moved: dict[int, tuple[int, int]] = {}  # line -> (seq now, seq signed)
    for number, entry in entries:
        if "sig" not in entry:
            continue
        key = keys.get(str(entry.get("key_id")))
        if key is None:
            problems.append(
                Problem(
                    number,
                    "unknown-key",
                    f"entry seq {entry['seq']} is signed by key {entry.get('key_id')!r}, "
                    "which is not among the public keys given (--key)",
                )
            )
            continue
        seq = entry["seq"]
        if key.verifies(str(entry["sig"]), signed_message(seq, content_digest(entry))):
            valid.add(number)
            continue
        signed = _signed_as(key, entry, seq)
        if signed is None:
            problems.append(
                Problem(
                    number,
                    "edited",
                    f"entry seq {seq} was changed after it was signed (signature does not match)",
                )
            )
        else:
            moved[number] = (seq, signed)
    by_now = {now: line for line, (now, _) in moved.items()}
    for number, (now, signed) in moved.items():
        partner = by_now.get(signed)
        if partner is not None and moved[partner][1] == now:
            kind, why = (
                "reordered",
                f"entry seq {now} was signed as seq {signed}: swapped with line {partner}",
            )
        elif signed > now:
            kind, why = (
                "removed",
                f"entry seq {now} was signed as seq {signed}: {signed - now} entr"
                + ("y" if signed - now == 1 else "ies")
                + " before it removed and the log renumbered",
            )
        else:
            kind, why = "inserted", f"entry seq {now} was signed as seq {signed}: entries inserted before it"
        problems.append(Problem(number, kind, why))

    notes: list[str] = []
    signed_lines = [n for n, e in entries if "sig" in e]
    last_valid = max(valid, default=0)
    first_signed = min(signed_lines, default=None)
    legacy = 0
    for number, entry in entries:
        if "sig" in entry:
            continue
        if first_signed is None:
            problems.append(Problem(number, "unsigned", f"entry seq {entry['seq']} is not signed"))
        elif number < first_signed:
            legacy += 1
        elif number > last_valid:
            last = max((e["seq"] for n, e in entries if n == last_valid), default=None)
            after = f"seq {last}, line {last_valid}" if last is not None else "none"
            problems.append(
                Problem(
                    number,
                    "appended",
                    f"entry seq {entry['seq']} was appended after the last signed checkpoint ({after}): "
                    "it is not signed",
                )
            )
        else:
            problems.append(
                Problem(
                    number,
                    "inserted",
                    f"entry seq {entry['seq']} is not signed but sits between signed entries",
                )
            )
    ranges: dict[str, list[int]] = {}
    for number, entry in entries:
        if number in valid:
            seqs = ranges.setdefault(str(entry["key_id"]), [entry["seq"], entry["seq"]])
            seqs[1] = entry["seq"]
    for key_id, (first, last) in ranges.items():
        notes.append(f"key {key_id} signed seq {first} to {last}")
    if legacy:
        notes.append(
            f"{legacy} entr{'y' if legacy == 1 else 'ies'} written before signing started: "
            "chained, not signed"
        )
    return problems, valid, notes


def parse_head(text: str) -> tuple[int | None, str]:
    """``SEQ:HASH`` (as ``screener audit head`` prints it) or a bare hash."""
    seq_text, _, digest = text.strip().rpartition(":")
    if seq_text:
        try:
            return int(seq_text), digest
        except ValueError:
            pass
    return None, text.strip()


def _head(
    entries: list[tuple[int, dict[str, Any]]], lines: int, head: str, keyed: bool
) -> tuple[list[Problem], list[str]]:
    seq, digest = parse_head(head)
    if not entries:
        if (seq or 0) > 0 or (seq is None and digest != GENESIS):
            return [Problem(1, "truncated", f"the log is empty but its noted head is {head}: emptied")], []
        return [], []
    at = {str(e["hash"]): (n, e) for n, e in entries}
    if digest in at:
        number, entry = at[digest]
        if seq is not None and entry["seq"] != seq:
            return [
                Problem(
                    number, "edited", f"the noted head is seq {seq}; that entry is now seq {entry['seq']}"
                )
            ], []
        after = sum(1 for n, _ in entries if n > number)
        if after and not keyed:
            return [], [
                f"{after} entries after the noted head cannot be proved without the public key (--key)"
            ]
        return [], []
    top = max(e["seq"] for _, e in entries)
    by_seq = {e["seq"]: n for n, e in entries}
    if seq is None:
        message = "the noted head is not in the log: entries were cut from the end, or the log was rewritten"
        return [Problem(lines, "truncated", message + " (note heads as SEQ:HASH to tell which)")], []
    if seq > top:
        gap = f"seq {top + 1}" if seq == top + 1 else f"seq {top + 1} to {seq}"
        return [
            Problem(lines, "truncated", f"entries cut from the end ({gap}): the noted head is seq {seq}")
        ], []
    return [
        Problem(
            by_seq.get(seq, lines), "edited", f"entry seq {seq} is not the entry noted as head: rewritten"
        )
    ], []


def _outputs(entries: list[tuple[int, dict[str, Any]]]) -> list[Problem]:
    problems: list[Problem] = []
    for number, entry in entries:
        items = entry.get("outputs")
        if not isinstance(items, list):
            continue
        for item in items:
            if not isinstance(item, dict) or not {"role", "path", "sha256"} <= set(item):
                problems.append(Problem(number, "malformed", "an output needs role, path and sha256"))
                continue
            path = Path(str(item["path"]))
            if not path.exists():
                problems.append(Problem(number, "output-missing", f"{item['role']} {path} is gone"))
                continue
            try:
                now = tree_sha256(path)
            except OSError as error:
                problems.append(Problem(number, "output-missing", f"{item['role']} {path}: {error.strerror}"))
                continue
            if now != item["sha256"]:
                problems.append(
                    Problem(
                        number,
                        "output-changed",
                        f"{item['role']} {path} changed since the batch (sha256 differs)",
                    )
                )
    return problems


def _records(entries: list[tuple[int, dict[str, Any]]], directory: Path) -> list[Problem]:
    import hashlib

    problems: list[Problem] = []
    named: set[str] = set()
    for number, entry in entries:
        if entry.get("action") != "tui-save" or not entry.get("record"):
            continue
        name = str(entry["record"])
        named.add(name)
        path = directory / name
        seq = entry["seq"]
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            problems.append(Problem(number, "record-missing", f"entry seq {seq}: record {name} is missing"))
            continue
        except OSError as error:
            problems.append(
                Problem(number, "record-missing", f"entry seq {seq}: record {name}: {error.strerror}")
            )
            continue
        try:
            record = json.loads(text, object_pairs_hook=_strict_pairs)
        except ValueError as error:
            problems.append(
                Problem(number, "record-changed", f"entry seq {seq}: record {name} unreadable: {error}")
            )
            continue
        differences = []
        ruleset = record.get("ruleset") if isinstance(record.get("ruleset"), dict) else {}
        for label, was, now in (
            ("decision", entry.get("decision"), record.get("decision")),
            ("operator", entry.get("operator"), record.get("operator")),
            ("patient", entry.get("patient_id"), record.get("patient_id")),
            ("screening date", entry.get("as_of"), record.get("as_of")),
            ("rule set", entry.get("ruleset_sha256"), ruleset.get("sha256")),
        ):
            if was is not None and was != now:
                differences.append(f"{label} is {now!r} in the record, {was!r} in the trail")
        patient = record.get("patient")
        facts = (
            hashlib.sha256(canonical_json(patient).encode("utf-8")).hexdigest()
            if patient is not None
            else None
        )
        if facts != entry.get("input_sha256"):
            differences.append("the facts differ from those screened (facts sha256)")
        for difference in differences:
            problems.append(
                Problem(number, "record-changed", f"entry seq {seq}: record {name}: {difference}")
            )
    if directory.is_dir():
        for path in sorted(directory.glob("*.json")):
            if path.name not in named:
                problems.append(
                    Problem(0, "record-unlogged", f"record {path.name} has no entry in the trail")
                )
    return problems


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicated key {key!r}")
        out[key] = value
    return out


def verify_log(
    log_path: str | Path,
    head: str | None = None,
    keys: dict[str, PublicKey] | None = None,
    records: str | Path | None = None,
    outputs: bool = True,
) -> Report:
    """Check the log (and its records and outputs); raises AuditLogError if it cannot be read."""
    path = Path(log_path)
    lines, ends_cleanly = read_lines(path)
    entries, problems = _parse(lines, ends_cleanly)
    problems += _chain(entries)
    notes: list[str] = []
    valid: set[int] = set()
    if keys:
        signature_problems, valid, notes = _signatures(entries, keys)
        problems += signature_problems
        if not lines:
            problems.append(
                Problem(1, "truncated", "the log is empty: a signed log in use has entries (emptied?)")
            )
    elif any("sig" in e for _, e in entries):
        notes.append("signatures not checked: give the public key (--key or SCREENER_AUDIT_PUBLIC_KEY)")
    elif entries:
        notes.append("the log is not signed: a rewrite of the whole file cannot be detected")
    if head is not None:
        head_problems, head_notes = _head(entries, max(len(lines), 1), head, bool(keys))
        problems += head_problems
        notes += head_notes
    if outputs:
        problems += _outputs(entries)
    if records is not None:
        problems += _records(entries, Path(records))
    unique = {(p.line, p.kind, p.message): p for p in problems}
    ordered = sorted(unique.values(), key=lambda p: (p.line, p.kind))
    # one finding per line and kind: the first message (the chain's and the signature's agree)
    seen: set[tuple[int, str]] = set()
    final = []
    for p in ordered:
        if (p.line, p.kind) in seen and p.line:
            continue
        seen.add((p.line, p.kind))
        final.append(p)
    last_signed = max((e["seq"] for n, e in entries if n in valid), default=None)
    return Report(final, len(entries), len(valid), last_signed, notes)
