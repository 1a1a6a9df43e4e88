"""Hash-chained audit trail (screener.audit.trail) and ``screener audit verify``."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from datetime import datetime
from pathlib import Path

import pytest

from screener.audit.trail import (
    GENESIS,
    AuditLogError,
    append_entry,
    canonical_json,
    entry_hash,
    read_entries,
    sha256_file,
    verify,
)
from screener.cli.main import main

REPO = Path(__file__).resolve().parents[2]
PATIENT = REPO / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"


def _append(log: Path, n: int, start: int = 0) -> list[dict]:
    return [
        append_entry(
            log,
            operator="nurse1",
            action="screen",
            ruleset_sha256="r" * 64,
            input_sha256=f"{i:064x}",
            patient_id=f"p{i}",
            decision="eligible" if i % 2 else "ineligible",
        )
        for i in range(start, start + n)
    ]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit" / "trail.jsonl"
    _append(path, 6)
    return path


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- appending


def test_entries_are_chained_from_genesis(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "log.jsonl"
    first, second = _append(path, 2)
    assert path.exists()
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    body = {k: v for k, v in first.items() if k != "hash"}
    expected = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert first["hash"] == expected == entry_hash(first)
    assert datetime.fromisoformat(first["time"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    assert read_entries(path) == [first, second]
    assert _lines(path)[0] == canonical_json(first) + "\n"


def test_batch_entry_carries_count_and_summary(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    entry = append_entry(
        path,
        operator="ops",
        action="batch",
        ruleset_sha256="r" * 64,
        input_sha256="i" * 64,
        count=3,
        summary={"eligible": 1, "ineligible": 2},
        time="2026-11-25T10:00:00.000Z",
    )
    assert entry["count"] == 3 and entry["time"] == "2026-11-25T10:00:00.000Z"
    assert verify(path) == []


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "delete"},
        {"action": "screen", "seq": 7},
        {"action": "screen", "hash": "0" * 64},
        {"action": "screen", "operator": ""},
    ],
)
def test_append_refuses_bad_fields(tmp_path: Path, fields: dict) -> None:
    base = {"operator": "n", "ruleset_sha256": "r", "input_sha256": "i"}
    with pytest.raises(ValueError):
        append_entry(tmp_path / "log.jsonl", **{**base, **fields})
    assert not (tmp_path / "log.jsonl").exists() or (tmp_path / "log.jsonl").read_text() == ""


def test_append_refuses_to_chain_onto_a_damaged_line(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:-1], lines[-1][:40]])
    with pytest.raises(AuditLogError) as caught:
        _append(log, 1)
    assert caught.value.location is not None and caught.value.location.line == 6


def _worker(args: tuple[str, int, int]) -> None:
    path, who, n = args
    for i in range(n):
        append_entry(
            path,
            operator=f"w{who}",
            action="screen",
            ruleset_sha256="r" * 64,
            input_sha256="i" * 64,
            patient_id=f"w{who}-{i}",
            decision="eligible",
        )


def test_concurrent_appends_stay_ordered(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_worker, [(str(path), w, 15) for w in range(4)])
    entries = read_entries(path)
    assert [e["seq"] for e in entries] == list(range(1, 61))
    assert verify(path) == []
    for w in range(4):
        mine = [e["patient_id"] for e in entries if e["operator"] == f"w{w}"]
        assert mine == [f"w{w}-{i}" for i in range(15)]


# --------------------------------------------------------------------------- verifying


def test_intact_log_has_no_problems(log: Path) -> None:
    assert verify(log) == []
    assert verify(log, head=read_entries(log)[-1]["hash"]) == []


def test_empty_log_is_intact(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert verify(path) == []


def test_edited_field_is_found_on_its_line(log: Path) -> None:
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["decision"] = "eligible" if entry["decision"] != "eligible" else "ineligible"
    _write(log, [*lines[:2], json.dumps(entry) + "\n", *lines[3:]])
    problems = verify(log)
    assert [(p.line, p.kind) for p in problems] == [(3, "edited")]


def test_edited_and_rehashed_entry_is_found_on_its_line(log: Path) -> None:
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["patient_id"] = "someone-else"
    entry["hash"] = entry_hash(entry)
    _write(log, [*lines[:2], canonical_json(entry) + "\n", *lines[3:]])
    problems = verify(log)
    assert [(p.line, p.kind) for p in problems] == [(3, "edited")]
    assert "line 4" in problems[0].message


def test_deleted_line_is_found_where_the_gap_is(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:3], *lines[4:]])  # entry seq 4 removed
    problems = verify(log)
    assert [(p.line, p.kind) for p in problems] == [(4, "removed")]
    assert "seq 4" in problems[0].message


def test_deleted_first_line_is_found(log: Path) -> None:
    _write(log, _lines(log)[1:])
    assert [(p.line, p.kind) for p in verify(log)] == [(1, "removed")]


def test_swapped_lines_are_found(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:2], lines[3], lines[2], *lines[4:]])
    problems = verify(log)
    assert [(p.line, p.kind) for p in problems] == [(3, "reordered"), (4, "reordered")]


def test_duplicated_line_is_found(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines, lines[1]])
    assert [(p.line, p.kind) for p in verify(log)] == [(7, "reordered")]


def test_truncated_last_line_is_found(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:-1], lines[-1][:50]])
    assert [(p.line, p.kind) for p in verify(log)] == [(6, "truncated")]


def test_cut_line_end_alone_is_found(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:-1], lines[-1].rstrip("\n")])
    assert [(p.line, p.kind) for p in verify(log)] == [(6, "truncated")]


def test_whole_entries_cut_from_the_end_need_the_known_head(log: Path) -> None:
    head = read_entries(log)[-1]["hash"]
    _write(log, _lines(log)[:-2])
    assert verify(log) == []  # the shorter chain is still valid on its own
    assert [(p.line, p.kind) for p in verify(log, head=head)] == [(4, "truncated")]


def test_garbage_line_in_the_middle_is_malformed(log: Path) -> None:
    lines = _lines(log)
    _write(log, [*lines[:2], "not json\n", *lines[2:]])
    assert [(p.line, p.kind) for p in verify(log)] == [(3, "malformed")]


def test_unreadable_log_raises(tmp_path: Path) -> None:
    with pytest.raises(AuditLogError):
        verify(tmp_path / "missing.jsonl")
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b'{"seq": 1}\n\xff\xfe\n')
    with pytest.raises(AuditLogError) as caught:
        verify(binary)
    assert caught.value.location is not None and caught.value.location.line == 2


# --------------------------------------------------------------------------- CLI


def test_cli_verify_exit_codes(log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", str(log)]) == 0
    assert "intact (6 entries)" in capsys.readouterr().out
    lines = _lines(log)
    _write(log, [*lines[:3], *lines[4:]])
    assert main(["audit", "verify", str(log)]) == 1
    out = capsys.readouterr().out
    assert f"{log}:4: removed:" in out
    assert main(["audit", "verify", str(log), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["intact"] is False and doc["problems"][0]["line"] == 4
    assert main(["audit", "verify", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err


def test_screen_appends_to_the_audit_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "screen.jsonl"
    argv = ["screen", str(PATIENT), "--as-of", "2026-11-25", "--audit-log", str(path), "--operator", "nurse1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    (entry,) = read_entries(path)
    assert entry["action"] == "screen"
    assert entry["operator"] == "nurse1"
    assert entry["input_sha256"] == sha256_file(PATIENT)
    assert entry["patient_id"] in out
    assert entry["decision"] == "eligible"
    assert len(entry["ruleset_sha256"]) == 64
    assert verify(path) == []


def test_screen_uses_env_log_and_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "env.jsonl"
    monkeypatch.setenv("SCREENER_AUDIT_LOG", str(path))
    monkeypatch.setenv("USER", "dr-who")
    assert main(["screen", str(PATIENT), "--as-of", "2026-11-25", "--format", "json"]) == 0
    json.loads(capsys.readouterr().out)  # stdout still carries only the result
    assert [e["operator"] for e in read_entries(path)] == ["dr-who"]


def test_screen_without_audit_log_writes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCREENER_AUDIT_LOG", raising=False)
    monkeypatch.chdir(tmp_path)
    rules = str(REPO / "rules" / "nct03562065")
    assert main(["screen", str(PATIENT), "--rules", rules, "--as-of", "2026-11-25"]) == 0
    assert list(tmp_path.iterdir()) == []
