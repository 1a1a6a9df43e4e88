"""The vectorized batch's temporary folders: named by their process, swept when it is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screener import scratch


def _gone_pid() -> int:
    """The pid of a process that has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return int(done.stdout)


def _folder(root: Path, name: str, age: float) -> Path:
    path = root / name
    path.mkdir()
    (path / "spill.tmp").write_bytes(b"x" * 10)
    past = time.time() - age
    os.utime(path, (past, past))
    return path


def test_folders_of_a_process_that_is_gone_and_untouched_for_an_hour_are_removed(tmp_path: Path) -> None:
    gone, alive = _gone_pid(), os.getppid()
    hour = scratch.MIN_AGE_SECONDS
    left = [_folder(tmp_path, f"screener-{k}-{gone}-abc", hour + 60) for k in ("spill", "rows", "fast")]
    kept = [
        _folder(tmp_path, f"screener-spill-{gone}-new", hour - 60),  # touched within the hour
        _folder(tmp_path, f"screener-rows-{alive}-abc", hour + 60),  # its process runs
        _folder(tmp_path, f"screener-spill-{os.getpid()}-abc", hour + 60),  # this process's
        _folder(tmp_path, "screener-spill-abc", hour + 60),  # no pid: not one of ours to judge
        _folder(tmp_path, f"screener-cases-{gone}-abc", hour + 60),  # another kind
        _folder(tmp_path, f"other-spill-{gone}-abc", hour + 60),
    ]
    plain = tmp_path / f"screener-spill-{gone}-file"
    plain.write_text("a file, not a folder")
    os.utime(plain, (time.time() - 2 * hour, time.time() - 2 * hour))
    assert sorted(scratch.sweep(tmp_path)) == sorted(left)
    assert not any(p.exists() for p in left)
    assert all(p.exists() for p in kept) and plain.exists()


def test_a_folder_is_named_by_its_process_and_a_missing_root_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    made = scratch.make("rows")
    assert made.parent == tmp_path and made.name.startswith(f"screener-rows-{os.getpid()}-")
    assert scratch.sweep() == [] and made.exists()  # its own process: never swept
    assert scratch.sweep(tmp_path / "missing") == []


def test_a_vectorized_batch_sweeps_what_a_killed_run_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screener.batch.fast import run_fast_batch
    from screener.cli.main import main

    from .conftest import variant, write_jsonl
    from .test_fast import options

    tables = tmp_path / "registry.tables"
    jsonl = write_jsonl(tmp_path / "registry.jsonl", [variant(i) for i in range(3)])
    assert main(["convert", "--to", "tables", str(tables), str(jsonl)]) == 0
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    left = _folder(temp, f"screener-spill-{_gone_pid()}-abc", scratch.MIN_AGE_SECONDS + 60)
    report = run_fast_batch(options([tables], tmp_path / "rows.csv", memory_limit="100MB"))
    assert report.complete and report.rows == 3
    assert not left.exists() and list(temp.iterdir()) == []  # and its own folders are gone
