"""Issue 13 §3: one bad record never stops a batch; two runs never mix; a full disk is a message."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from screener.batch import inputs, outputs, runner, safe_io
from screener.batch.runner import BatchOptions, run_batch
from screener.batch.safe_io import OutputError, RunLock
from screener.cli.main import main
from screener.errors import InputError

from .conftest import AS_OF, ROOT, RULES, variant, write_jsonl
from .conftest import batch_cli as cli


def options(inputs_: list[Path], out: Path, **kw: Any) -> BatchOptions:
    return BatchOptions(inputs=tuple(map(str, inputs_)), rules=RULES, as_of=AS_OF, out=out, **kw)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # a RecursionError in json.loads


# --------------------------------------------------------------------------- one bad record


@pytest.mark.parametrize("workers", [1, 2])
def test_a_record_that_raises_anything_is_an_error_and_the_batch_goes_on(
    tmp_path: Path, workers: int
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(6)], extra_lines={3: DEEP_JSON})
    folder = tmp_path / "yaml"
    folder.mkdir()
    (folder / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    (folder / "fine.json").write_text(json.dumps(variant(50)), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = run_batch(options([jsonl, folder], out, fmt="jsonl", workers=workers, chunk_size=2))
    assert report.complete and report.rows == 7 and report.errors == 2
    assert [r["patient_id"] for r in read_jsonl(out)] == [f"p{i:04d}" for i in range(6)] + ["p0050"]
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    # the strict reader locates the deep YAML at its first line
    assert [(Path(e["source"]).name, e["line"]) for e in errors] == [("a.jsonl", 4), ("deep.yaml", 1)]
    assert all(e["message"] for e in errors)


def test_a_reader_that_fails_mid_file_costs_only_that_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(path: Path) -> Any:
        yield 1, variant(90), None, None
        raise ValueError("the reader has a bug")

    monkeypatch.setitem(inputs.READERS, ".broken", broken)
    bad = tmp_path / "x.broken"
    bad.write_text("", encoding="utf-8")
    good = write_jsonl(tmp_path / "b.jsonl", [variant(1), variant(2)])
    out = tmp_path / "out.jsonl"
    report = run_batch(options([bad, good], out, fmt="jsonl"))
    assert report.complete and report.rows == 3 and report.errors == 1
    (error,) = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert error["source"] == str(bad) and error["line"] == 1
    assert "ValueError: the reader has a bug" in error["message"]
    # a resumed run counts the same records: the bad file is not read twice nor skipped
    out2 = tmp_path / "out2.jsonl"
    first = run_batch(options([bad, good], out2, fmt="jsonl", limit=1, chunk_size=1))
    assert not first.complete and first.records == 1
    second = run_batch(options([bad, good], out2, fmt="jsonl", resume=True))
    assert second.complete and read_jsonl(out2) == read_jsonl(out)
    assert read_jsonl(tmp_path / "out2.jsonl.errors.jsonl") == [error]


def test_a_chunk_that_cannot_reach_a_worker_is_screened_record_by_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unpicklable(path: Path) -> Any:
        yield 1, variant(1), None, None
        yield 2, {**variant(2), "oops": threading.Lock()}, None, None  # cannot be pickled
        yield 3, variant(3), None, None

    monkeypatch.setitem(inputs.READERS, ".odd", unpicklable)
    odd = tmp_path / "x.odd"
    odd.write_text("", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = run_batch(options([odd], out, fmt="jsonl", workers=2, chunk_size=3))
    assert report.complete and report.rows == 2 and report.errors == 1
    assert [r["patient_id"] for r in read_jsonl(out)] == ["p0001", "p0003"]
    (error,) = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert error["patient_id"] == "p0002" and error["line"] == 2


def test_resume_goes_past_a_record_that_raised(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(5)], extra_lines={2: DEEP_JSON})
    out = tmp_path / "out.csv"
    assert main([*cli(out, jsonl), "--stop-after", "2"]) == 130
    assert main([*cli(out, jsonl), "--resume"]) == 1  # one record could not be screened
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 5


# --------------------------------------------------------------------------- the first checkpoint


@pytest.mark.parametrize("workers", [1, 2])
def test_the_first_checkpoint_comes_before_the_pool_has_read_its_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i % 50) for i in range(300)])
    pulled = 0
    real_iter = runner.iter_records

    def counting(*args: Any, **kw: Any) -> Any:
        nonlocal pulled
        for record in real_iter(*args, **kw):
            pulled += 1
            yield record

    seen: list[tuple[int, int]] = []
    real_checkpoint = outputs.BatchOutputs.checkpoint

    def spy(self: outputs.BatchOutputs) -> None:
        seen.append((self.done, pulled))
        real_checkpoint(self)

    monkeypatch.setattr(runner, "iter_records", counting)
    monkeypatch.setattr(outputs.BatchOutputs, "checkpoint", spy)
    report = run_batch(options([jsonl], tmp_path / "out.csv", workers=workers, chunk_size=64, limit=130))
    assert not report.complete and report.records == 130
    done, read = next((d, p) for d, p in seen if d > 0)
    # before: nothing was checkpointed until 2 x workers full chunks had been read (in the
    # issue 800 records, ~20 s of YAML files); here 256 of the 300, or 64 with one worker
    window = sum(runner.FIRST_CHUNK * 2**k for k in range(2 * workers))  # 8 (+ 16 + 32 + 64)
    assert done == runner.FIRST_CHUNK and read <= window < 2 * workers * 64
    assert seen[-1][0] == 130


def test_chunks_start_small_and_grow_to_the_chunk_size() -> None:
    sizes = [len(c) for c in runner._chunks(iter(range(1000)), 200)]
    assert sizes[:6] == [8, 16, 32, 64, 128, 200] and sum(sizes) == 1000
    assert [len(c) for c in runner._chunks(iter(range(5)), 2)] == [2, 2, 1]


# --------------------------------------------------------------------------- a full disk


def _enospc(*args: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_a_message_and_the_checkpoint_stays_good(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(40)])
    whole = tmp_path / "whole.csv"
    assert main(cli(whole, jsonl)) == 0
    out = tmp_path / "out.csv"
    calls = 0
    real_sync = outputs._sync

    def filling(handle: Any) -> None:
        nonlocal calls
        calls += 1
        if calls > 6:  # some checkpoints succeed, then the disk is full
            _enospc()
        real_sync(handle)

    monkeypatch.setattr(outputs, "_sync", filling)
    capsys.readouterr()
    assert main(cli(out, jsonl, extra=("--chunk-size", "4"))) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1
    assert "no space left on the device" in err and "out.csv.partial" in err and "--resume" in err
    state = json.loads(outputs.checkpoint_path(out).read_text(encoding="utf-8"))
    assert state["done"] > 0 and not out.exists()
    assert not safe_io.lock_path(out).exists()  # the output is free again
    monkeypatch.setattr(outputs, "_sync", real_sync)
    assert main([*cli(out, jsonl, extra=("--chunk-size", "4")), "--resume"]) == 0
    assert out.read_bytes() == whole.read_bytes()


def test_an_atomic_write_that_fails_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    safe_io.write_atomic(target, "old")
    monkeypatch.setattr(os, "fsync", _enospc)
    with pytest.raises(OutputError, match=r"state\.json: cannot write: no space left"):
        safe_io.write_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


# --------------------------------------------------------------------------- two runs, one output


def test_a_second_run_on_the_same_output_refuses_at_once_naming_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(3)])
    out = tmp_path / "mix.csv"
    with RunLock(out, command="screener batch big.jsonl --out mix.csv"):
        assert main(cli(out, jsonl)) == 2
        err = capsys.readouterr().err
        assert f"pid {os.getpid()}" in err and "started 20" in err
        assert "screener batch big.jsonl --out mix.csv" in err
        assert not out.exists() and not outputs.partial_path(out).exists()
        assert not outputs.checkpoint_path(out).exists()
    assert main(cli(out, jsonl)) == 0 and not safe_io.lock_path(out).exists()


def test_a_named_errors_file_is_locked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(0)])
    shared = tmp_path / "errors.jsonl"
    with RunLock(shared, command="the other run"):
        assert main([*cli(tmp_path / "b.csv", jsonl), "--errors", str(shared)]) == 2
    assert "the other run" in capsys.readouterr().err
    assert not (tmp_path / "b.csv").exists() and not safe_io.lock_path(tmp_path / "b.csv").exists()


def test_the_lock_of_a_dead_run_is_taken_over_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(3)])
    out = tmp_path / "out.csv"
    dead = {"pid": 999999, "host": "elsewhere", "started": "2026-12-01T08:00:00+00:00", "command": "old"}
    safe_io.lock_path(out).write_text(json.dumps(dead), encoding="utf-8")  # no process holds it
    assert main(cli(out, jsonl)) == 0
    err = capsys.readouterr().err
    assert "taking over from a run that is no longer running" in err and "pid 999999 on elsewhere" in err
    assert not safe_io.lock_path(out).exists()


def test_resume_refuses_partial_files_shorter_than_the_checkpoint(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(10)])
    out = tmp_path / "out.jsonl"
    run_batch(options([jsonl], out, fmt="jsonl", limit=5))
    outputs.partial_path(out).write_bytes(b"")  # changed behind the run's back
    with pytest.raises(Exception, match="shorter than the checkpoint"):
        run_batch(options([jsonl], out, fmt="jsonl", resume=True))


def test_starting_again_drops_the_old_checkpoint_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(i) for i in range(10)])
    out = tmp_path / "out.jsonl"
    run_batch(options([jsonl], out, fmt="jsonl", limit=5))
    assert outputs.checkpoint_path(out).exists()

    def dies(self: outputs.BatchOutputs) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(outputs.BatchOutputs, "checkpoint", dies)
    with pytest.raises(KeyboardInterrupt):
        run_batch(options([jsonl], out, fmt="jsonl", overwrite=True))
    # no checkpoint describes the new, truncated partial files: --resume cannot mix them up
    assert not outputs.checkpoint_path(out).exists() and not safe_io.lock_path(out).exists()


# --------------------------------------------------------------------------- SIGKILL


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork pool and /proc")
def test_sigkill_leaves_quiet_workers_and_a_resumable_run(tmp_path: Path) -> None:
    jsonl = write_jsonl(
        tmp_path / "big.jsonl", [variant(i % 50) | {"patient_id": f"q{i:05d}"} for i in range(600)]
    )
    out = tmp_path / "out.jsonl"
    argv = [sys.executable, "-m", "screener.cli.main", *cli(out, jsonl), "--chunk-size", "20"]
    argv[argv.index("--workers") + 1] = "2"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    ckpt = outputs.checkpoint_path(out)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and child.poll() is None:
            try:
                if json.loads(ckpt.read_text(encoding="utf-8"))["done"] > 0:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        assert child.poll() is None, "the batch ended before it could be killed"
        os.kill(child.pid, signal.SIGKILL)
        # stderr reaches EOF only once every worker holding it has exited
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text and "BrokenPipe" not in text, text
    assert not out.exists() and safe_io.lock_path(out).exists()  # the dead run's lock file
    resumed = subprocess.run(
        [*argv, "--resume"], capture_output=True, env=env, cwd=tmp_path, timeout=300, check=False
    )
    message = resumed.stderr.decode("utf-8", "replace")
    assert resumed.returncode == 0, message
    assert "taking over from a run that is no longer running" in message and "resumed after" in message
    ids = [r["patient_id"] for r in read_jsonl(out)]
    assert ids == [f"q{i:05d}" for i in range(600)]


def test_a_run_that_fails_before_its_first_chunk_frees_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [variant(0)])
    out = tmp_path / "out.csv"

    def broken(*args: Any) -> int:
        raise RuntimeError("cannot count")

    monkeypatch.setattr(runner, "count_records", broken)
    with pytest.raises(RuntimeError):
        run_batch(options([jsonl], out, progress=True))
    assert not safe_io.lock_path(out).exists()
    monkeypatch.undo()
    assert run_batch(options([jsonl], out, overwrite=True)).complete  # the same process: not locked out


def test_a_jsonl_record_with_a_key_given_twice_is_an_error_not_a_silent_choice(tmp_path: Path) -> None:
    """Issue 13 §4: ``"value": 61, "value": 20`` must not quietly keep one of them."""
    good = variant(0)
    twice = json.dumps(variant(1)).replace(
        '"patient_id": "p0001"', '"patient_id": "p0001", "patient_id": "x"', 1
    )
    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps(good) + "\n" + twice + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    report = run_batch(options([source], out, fmt="jsonl", workers=1))
    assert report.complete and report.rows == 1 and report.errors == 1
    (error,) = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert error["line"] == 2 and "duplicate key 'patient_id'" in error["message"]


def test_a_rule_file_that_is_not_utf8_is_a_located_error_in_batch(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    text = (RULES / "rules.yaml").read_text(encoding="utf-8").replace("Age", "\u00c2ge")
    rules.write_bytes(text.encode("latin-1", "replace"))
    source = write_jsonl(tmp_path / "a.jsonl", [variant(0)])
    opts = BatchOptions(
        inputs=(str(source),), rules=rules, as_of=AS_OF, out=tmp_path / "o.jsonl", fmt="jsonl"
    )
    with pytest.raises(InputError) as caught:
        run_batch(opts)
    assert caught.value.location is not None and caught.value.location.file == str(rules)
