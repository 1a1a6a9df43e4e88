"""A careful forger against the signed audit trail: every tampering is named, with its entry.

The log holds screen, batch and TUI-save entries, signed with an Ed25519 key; the forger can
rewrite the file (and re-hash and re-link the chain) but does not have the private key.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from screener.audit.keys import AuditKeyError, generate, load_public_keys, load_signing_key
from screener.audit.trail import (
    GENESIS,
    AuditLogError,
    append_entry,
    canonical_json,
    entry_hash,
    head_of,
    read_entries,
)
from screener.audit.verify import verify_log
from screener.cli.main import main


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "audit.pub"
    generate(private, public)
    return private, public


def _record(folder: Path, name: str, decision: str, operator: str, facts: dict[str, Any]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": "screener.screening-record",
        "record_version": "2",
        "operator": operator,
        "patient_id": facts["patient_id"],
        "ruleset": {"id": "r", "version": "1", "sha256": "r" * 64},
        "as_of": "2026-11-25",
        "decision": decision,
        "patient": facts,
    }
    (folder / name).write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return hashlib.sha256(canonical_json(facts).encode("utf-8")).hexdigest()


@pytest.fixture
def trail(tmp_path: Path, keys: tuple[Path, Path]) -> tuple[Path, Path]:
    """Six signed entries: screen, tui-save, batch, screen, tui-save, screen; records beside."""
    log, records = tmp_path / "audit.jsonl", tmp_path / "screenings"
    key = load_signing_key(keys[0])
    common = {"ruleset_sha256": "r" * 64, "as_of": "2026-11-25", "key": key}
    for i in range(6):
        kind = ("screen", "tui-save", "batch")[i % 3]
        if kind == "screen":
            append_entry(
                log,
                operator="nurse1",
                action="screen",
                input_sha256=f"{i:064x}",
                patient_id=f"p{i}",
                decision="ineligible",
                **common,
            )
        elif kind == "tui-save":
            facts = {"schema_version": "1", "patient_id": f"p{i}", "demographics": {"sex": "female"}}
            name = f"p{i}.json"
            digest = _record(records, name, "eligible", "nurse2", facts)
            append_entry(
                log,
                operator="nurse2",
                action="tui-save",
                input_sha256=digest,
                patient_id=f"p{i}",
                decision="eligible",
                record=name,
                **common,
            )
        else:
            append_entry(
                log,
                operator="analyst",
                action="batch",
                input_sha256=f"{i:064x}",
                count=3,
                summary={"eligible": 1, "ineligible": 1, "incomplete": 1, "errors": 0},
                **common,
            )
    return log, records


def _entries(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _relink(entries: list[dict[str, Any]], renumber: bool = False) -> list[dict[str, Any]]:
    """What a forger without the key does after a change: fix seq (optionally), prev_hash, hash."""
    prev = GENESIS
    out = []
    for i, entry in enumerate(entries, start=1):
        e = dict(entry)
        if renumber:
            e["seq"] = i
        e["prev_hash"] = prev
        e["hash"] = entry_hash(e)
        prev = e["hash"]
        out.append(e)
    return out


def _save(log: Path, entries: list[dict[str, Any]]) -> None:
    log.write_text("".join(canonical_json(e) + "\n" for e in entries), encoding="utf-8")


def _found(log: Path, public: Path, **kw: Any) -> list[tuple[int, str]]:
    report = verify_log(log, keys=load_public_keys([public]), **kw)
    return [(p.line, p.kind) for p in report.problems]


def test_the_untouched_signed_trail_is_intact(trail: tuple[Path, Path], keys: tuple[Path, Path]) -> None:
    log, records = trail
    report = verify_log(log, keys=load_public_keys([keys[1]]), records=records, head=head_of(log))
    assert report.problems == [] and (report.entries, report.signed, report.last_signed_seq) == (6, 6, 6)
    assert all(len(e["sig"]) == 128 and e["key_id"] for e in read_entries(log))


def test_edited_entry_with_the_chain_rehashed_is_found(
    trail: tuple[Path, Path], keys: tuple[Path, Path]
) -> None:
    log, _ = trail
    entries = _entries(log)
    entries[2]["count"] = 30  # the batch now claims 30 patients
    _save(log, _relink(entries))
    assert verify_log(log).problems == []  # the chain alone cannot tell
    assert _found(log, keys[1]) == [(3, "edited")]


def test_deleted_last_entry_is_found_against_the_noted_head(
    trail: tuple[Path, Path], keys: tuple[Path, Path]
) -> None:
    log, records = trail
    noted = head_of(log)
    _save(log, _entries(log)[:-1])
    assert _found(log, keys[1]) == []  # a shorter signed log is valid on its own...
    assert _found(log, keys[1], head=noted) == [(5, "truncated")]  # ...but not against the noted head
    entries = _entries(log)
    _save(log, entries[:-1])  # the last TUI save too: its record is now unlogged
    assert (0, "record-unlogged") in _found(log, keys[1], records=records)


@pytest.mark.parametrize("renumber", [False, True])
def test_swap_with_the_chain_relinked_is_found(
    trail: tuple[Path, Path], keys: tuple[Path, Path], renumber: bool
) -> None:
    log, _ = trail
    entries = _entries(log)
    entries[2], entries[3] = entries[3], entries[2]
    _save(log, _relink(entries, renumber=renumber))
    found = _found(log, keys[1])
    if renumber:
        assert found == [(3, "reordered"), (4, "reordered")]
    else:
        assert {kind for _, kind in found} <= {"reordered", "removed"} and 4 in {line for line, _ in found}


@pytest.mark.parametrize("renumber", [False, True])
def test_middle_deletion_with_the_chain_relinked_is_found(
    trail: tuple[Path, Path], keys: tuple[Path, Path], renumber: bool
) -> None:
    log, _ = trail
    entries = _entries(log)
    del entries[2]
    _save(log, _relink(entries, renumber=renumber))
    found = _found(log, keys[1])
    assert (3, "removed") in found
    assert all(kind == "removed" for _, kind in found)


def test_emptied_file_is_found(trail: tuple[Path, Path], keys: tuple[Path, Path]) -> None:
    log, records = trail
    noted = head_of(log)
    log.write_text("", encoding="utf-8")
    assert verify_log(log).problems == []  # without key or head an empty log looks new
    assert _found(log, keys[1]) == [(1, "truncated")]
    assert [(p.line, p.kind) for p in verify_log(log, head=noted).problems] == [(1, "truncated")]
    assert {kind for _, kind in _found(log, keys[1], records=records)} == {"truncated", "record-unlogged"}


def test_correctly_chained_forged_entry_appended_is_found(
    trail: tuple[Path, Path], keys: tuple[Path, Path]
) -> None:
    log, _ = trail
    noted = head_of(log)
    entries = _entries(log)
    forged = {k: v for k, v in entries[0].items() if k not in ("sig", "key_id", "hash")}
    forged.update(seq=7, patient_id="p99", decision="eligible", prev_hash=entries[-1]["hash"])
    forged["hash"] = entry_hash(forged)
    _save(log, [*entries, forged])
    assert verify_log(log).problems == []  # the chain is fine
    assert verify_log(log, head=noted).problems == []  # and the noted head is still there
    assert _found(log, keys[1]) == [(7, "appended")]
    assert _found(log, keys[1], head=noted) == [(7, "appended")]
    # a copied signature does not help the forger either
    forged["sig"], forged["key_id"] = entries[0]["sig"], entries[0]["key_id"]
    forged["hash"] = entry_hash(forged)
    _save(log, [*entries, forged])
    assert _found(log, keys[1]) == [(7, "edited")]


def test_head_cases(trail: tuple[Path, Path], keys: tuple[Path, Path]) -> None:
    log, _ = trail
    noted = head_of(log)
    key = load_signing_key(keys[0])
    append_entry(
        log,
        operator="nurse1",
        action="screen",
        ruleset_sha256="r" * 64,
        input_sha256="a" * 64,
        patient_id="p7",
        decision="eligible",
        key=key,
    )
    assert _found(log, keys[1], head=noted) == []  # a signed append after the noted head is fine
    assert verify_log(log, head=noted).notes  # without the key it is said to be unproved
    entries = _entries(log)
    entries[1]["decision"] = "ineligible"  # a rewrite, nothing cut: not called "truncated"
    _save(log, _relink(entries))
    found = _found(log, keys[1], head=noted)
    assert (2, "edited") in found and all(kind != "truncated" for _, kind in found)
    seq, _, _ = noted.partition(":")
    assert int(seq) == 6


def test_duplicated_json_key_is_found(trail: tuple[Path, Path], keys: tuple[Path, Path]) -> None:
    log, _ = trail
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"decision":"eligible"' in lines[1]
    lines[1] = lines[1].replace('{"', '{"decision":"ineligible","', 1)  # a reader of the first key
    log.write_text("".join(lines), encoding="utf-8")
    assert json.loads(lines[1])["decision"] == "eligible"  # the hash still covers the last key
    found = verify_log(log).problems
    assert [(p.line, p.kind) for p in found] == [(2, "edited")] and "twice" in found[0].message
    assert (2, "edited") in _found(log, keys[1])


def test_records_are_cross_checked(trail: tuple[Path, Path], keys: tuple[Path, Path]) -> None:
    log, records = trail
    for name, key, value in (("p1.json", "decision", "ineligible"), ("p4.json", "operator", "someone")):
        doc = json.loads((records / name).read_text(encoding="utf-8"))
        doc[key] = value
        (records / name).write_text(json.dumps(doc), encoding="utf-8")
    found = verify_log(log, records=records).problems
    assert [(p.line, p.kind) for p in found] == [(2, "record-changed"), (5, "record-changed")]
    assert "decision" in found[0].message and "operator" in found[1].message
    doc = json.loads((records / "p4.json").read_text(encoding="utf-8"))
    doc["operator"] = "nurse2"
    doc["patient"]["demographics"]["sex"] = "male"  # facts edited
    (records / "p4.json").write_text(json.dumps(doc), encoding="utf-8")
    (records / "p1.json").unlink()
    found = verify_log(log, records=records).problems
    assert [(p.line, p.kind) for p in found] == [(2, "record-missing"), (5, "record-changed")]
    assert "facts" in found[1].message


def test_batch_outputs_are_hashed_and_checked(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    from screener.audit.trail import tree_sha256

    out = tmp_path / "rows.csv"
    out.write_text("patient_id,decision\np1,eligible\n", encoding="utf-8")
    log = tmp_path / "audit.jsonl"
    append_entry(
        log,
        operator="a",
        action="batch",
        ruleset_sha256="r" * 64,
        input_sha256="i" * 64,
        outputs=[{"role": "rows", "path": str(out), "sha256": tree_sha256(out)}],
        key=load_signing_key(keys[0]),
    )
    assert verify_log(log).problems == []
    out.write_text("patient_id,decision\np1,ineligible\n", encoding="utf-8")
    assert [(p.line, p.kind) for p in verify_log(log).problems] == [(1, "output-changed")]
    out.unlink()
    assert [(p.line, p.kind) for p in verify_log(log).problems] == [(1, "output-missing")]
    assert verify_log(log, outputs=False).problems == []


def test_unreadable_key_is_an_error_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("SCREENER_AUDIT_KEY", str(tmp_path / "missing.key"))
    with pytest.raises(AuditKeyError, match="cannot read the audit signing key"):
        append_entry(log, operator="a", action="screen", ruleset_sha256="r" * 64, input_sha256="i" * 64)
    assert not log.exists()
    bad = tmp_path / "bad.key"
    bad.write_text("not a key", encoding="utf-8")
    monkeypatch.setenv("SCREENER_AUDIT_KEY", str(bad))
    with pytest.raises(AuditKeyError, match="not a PEM private key"):
        append_entry(log, operator="a", action="screen", ruleset_sha256="r" * 64, input_sha256="i" * 64)
    assert not log.exists()


def test_a_signed_log_is_not_appended_to_unsigned(trail: tuple[Path, Path]) -> None:
    log, _ = trail
    before = log.read_bytes()
    with pytest.raises(AuditLogError, match="this audit log is signed"):
        append_entry(
            log, operator="a", action="screen", ruleset_sha256="r" * 64, input_sha256="i" * 64, key=None
        )
    assert log.read_bytes() == before


def test_cli_signs_from_env_and_verify_names_the_problem(
    tmp_path: Path,
    keys: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    patient = Path(__file__).resolve().parents[2] / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("SCREENER_AUDIT_KEY", str(keys[0]))
    for _ in range(2):
        assert main(["screen", str(patient), "--as-of", "2026-11-25", "--audit-log", str(log)]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", str(log), "--key", str(keys[1])]) == 0
    assert "intact (2 entries, 2 signed" in capsys.readouterr().out
    assert main(["audit", "head", str(log)]) == 0
    noted = capsys.readouterr().out.strip()
    _save(log, _entries(log)[:1])
    assert main(["audit", "verify", str(log), "--key", str(keys[1]), "--head", noted]) == 1
    assert "truncated: entries cut from the end (seq 2)" in capsys.readouterr().out
    monkeypatch.setenv("SCREENER_AUDIT_PUBLIC_KEY", str(tmp_path / "nope.pub"))
    assert main(["audit", "verify", str(log)]) == 2  # an unreadable key is an error, not "intact"
    assert "cannot read the audit public key" in capsys.readouterr().err


def test_keygen_refuses_to_overwrite(keys: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    before = keys[0].read_bytes()
    assert main(["audit", "keygen", str(keys[0]), str(keys[1])]) == 2
    assert keys[0].read_bytes() == before and oct(keys[0].stat().st_mode & 0o777) == "0o600"


def test_rotated_keys_verify_together_and_each_signed_range_is_told(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    generate(old / "k", old / "k.pub")
    generate(new / "k", new / "k.pub")
    log = tmp_path / "audit.jsonl"
    fields = {"operator": "a", "action": "screen", "ruleset_sha256": "r" * 64, "input_sha256": "i" * 64}
    for private in (old / "k", old / "k", new / "k"):
        append_entry(log, key=load_signing_key(private), **fields)
    both = verify_log(log, keys=load_public_keys([old / "k.pub", new / "k.pub"]))
    assert both.problems == [] and both.signed == 3
    old_id, new_id = load_signing_key(old / "k").key_id, load_signing_key(new / "k").key_id
    assert f"key {old_id} signed seq 1 to 2" in both.notes and f"key {new_id} signed seq 3 to 3" in both.notes
    only_new = verify_log(log, keys=load_public_keys([new / "k.pub"]))
    assert [(p.line, p.kind) for p in only_new.problems] == [(1, "unknown-key"), (2, "unknown-key")]


def test_screen_and_batch_with_an_unreadable_key_fail_and_write_no_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures" / "patients"
    log, out = tmp_path / "audit.jsonl", tmp_path / "rows.csv"
    monkeypatch.setenv("SCREENER_AUDIT_KEY", str(tmp_path / "gone.key"))
    patient = fixtures / "eligible_refractory_lupus.yaml"
    assert main(["screen", str(patient), "--as-of", "2026-11-25", "--audit-log", str(log)]) == 2
    assert "gone.key" in capsys.readouterr().err and not log.exists()
    args = [
        "batch",
        str(fixtures),
        "--out",
        str(out),
        "--audit-log",
        str(log),
        "--no-progress",
        "--workers",
        "1",
    ]
    assert main(args) == 2
    assert "gone.key" in capsys.readouterr().err and not log.exists() and not out.exists()  # checked first
