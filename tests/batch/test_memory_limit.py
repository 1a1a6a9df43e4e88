"""``--memory-limit``: the vectorized batch caps DuckDB's memory per process and spills the rest."""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")

import itertools

from screener.batch.fast import run_fast_batch
from screener.batch.memory import PartSize, in_parts
from screener.cli.common import memory_size
from screener.cli.main import main
from screener.model.rules import load_ruleset
from screener.vectorized.screen import VectorizedScreener

from .conftest import RULES, variant, write_jsonl
from .test_fast import options


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("300MB", "300MB"),
        ("1.5gb", "1.5GB"),
        ("512MiB", "512MiB"),
        (" 2 GiB ", "2GiB"),
        ("100MB", "100MB"),  # the floor itself
        ("96MiB", "96MiB"),  # 100.7 MB
        ("100000000B", "100000000B"),
    ],
)
def test_a_memory_size_is_kept_in_duckdb_spelling(text: str, kept: str) -> None:
    assert memory_size(text) == kept


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("99MB", "at least 100MB"),
        ("95MiB", "at least 100MB"),  # 99.6 MB
        ("99999999B", "at least 100MB"),
        ("300", "not a size"),
        ("300 M", "not a size"),
        ("-1GB", "not a size"),
        ("lots", "not a size"),
        ("80%", "not a size"),
    ],
)
def test_a_memory_size_that_duckdb_would_refuse_or_choke_on_is_refused(text: str, why: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=why):
        memory_size(text)


def test_the_batch_command_refuses_a_bad_limit_or_one_for_the_durable_engine_before_reading_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["batch", str(tmp_path / "none"), "--engine", "vectorized", "--out", str(tmp_path / "o.csv"),
              "--memory-limit", "50MB"])  # fmt: skip
    assert stop.value.code == 2
    assert "--memory-limit: at least 100MB: '50MB'" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()
    jsonl = write_jsonl(tmp_path / "r.jsonl", [variant(0)])
    out = str(tmp_path / "o.csv")
    code = main(["batch", str(jsonl), "--out", out, "--memory-limit", "300MB", "--no-progress"])  # durable
    assert code == 2 and "--memory-limit is for --engine vectorized" in capsys.readouterr().err
    assert not (tmp_path / "o.csv").exists()


def test_a_capped_screener_sets_duckdb_and_removes_its_spill_directory() -> None:
    screener = VectorizedScreener(load_ruleset(RULES), memory_limit="150MB")
    limit, spill = screener.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
    ).fetchone()
    assert limit == "143.0 MiB"  # 150 * 10**6 bytes
    spill_dir = Path(spill)
    assert spill_dir.is_dir() and spill_dir.name.startswith("screener-spill-")
    screener.close()
    assert not spill_dir.exists()
    uncapped = VectorizedScreener(load_ruleset(RULES))  # DuckDB's own default: 80 % of the RAM
    (default,) = uncapped.con.execute("SELECT current_setting('memory_limit')").fetchone()
    assert default != limit and uncapped._spill is None
    uncapped.close()


# --------------------------------------------------------------------------- out of memory


def test_in_parts_halves_a_part_that_runs_out_of_duckdb_memory_and_remembers_the_size() -> None:
    import duckdb

    con = duckdb.connect(config={"memory_limit": "30MB", "threads": 1})

    def work(first: int, last: int) -> tuple[int, int]:
        # a list of 40 bytes per pid must be held whole: about 2M pids fit in 30 MB, 4M do not
        con.execute(f"SELECT len(list(repeat('x', 40))) FROM range({first}, {last + 1})").fetchall()
        return first, last

    size = PartSize()
    parts = list(in_parts(0, 4_999_999, size, work))
    assert parts[0] == (0, size.most - 1) and parts[-1][1] == 4_999_999
    assert all(b + 1 == a for (_, b), (a, _) in itertools.pairwise(parts))  # no gap, no overlap
    assert size.most is not None and 2 * size.most >= 625_000 and size.most < 5_000_000
    learned = size.most
    again = list(in_parts(10, 10 + learned, size, work))  # one pid more than fits: two parts, no failure
    assert again == [(10, 9 + learned), (10 + learned, 10 + learned)] and size.most == learned


def test_in_parts_calls_once_for_an_empty_or_single_range_and_raises_for_one_pid() -> None:
    import duckdb

    calls: list[tuple[int, int]] = []
    assert list(in_parts(5, 4, PartSize(most=2), lambda a, b: calls.append((a, b)))) == [None]
    assert calls == [(5, 4)]

    def never_fits(first: int, last: int) -> None:
        raise duckdb.OutOfMemoryException("no room")

    size = PartSize()
    with pytest.raises(duckdb.OutOfMemoryException):
        list(in_parts(0, 6, size, never_fits))
    assert size.most == 1


@pytest.mark.parametrize("partitions", [1, 2])
def test_pieces_and_row_writes_that_run_out_of_memory_are_split_into_the_same_rows(
    partitions: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A piece over 6 pids and a COPY of rows over 3 pids run out of DuckDB memory (made to):
    the run screens and writes them in smaller parts, the rows and errors are the bytes of a
    run that had the memory, no spill directory is left behind, and the user is told once.
    The rows are written by the pieces of a whole registry, by this process for partitions."""
    import duckdb

    from screener.batch import fast, fast_piece
    from screener.vectorized import screen

    patients = [variant(i) for i in range(13)]
    patients[4]["observations"].append({"name": "hiv", "value": 3, "date": "2026-11-20"})  # an error
    jsonl = write_jsonl(tmp_path / "registry.jsonl", patients)
    tables = tmp_path / "registry.tables"
    split = ["--partitions", str(partitions)]
    assert main(["convert", "--to", "tables", str(tables), str(jsonl), *split]) == 0
    plain = run_fast_batch(options([tables], tmp_path / "plain.jsonl", fmt="jsonl"))
    screened: list[tuple[int, int]] = []
    whole = fast_piece._screen_whole

    def tight_piece(job: Any, piece: Any, state: Any) -> Any:
        screened.append((piece.first, piece.last))
        if piece.last - piece.first + 1 > 6:
            raise duckdb.OutOfMemoryException("made to run out")
        return whole(job, piece, state)

    copies: list[str] = []

    class TightConnection:
        def __init__(self, con: Any) -> None:
            self._con = con

        def execute(self, sql: str, *args: Any) -> Any:
            if sql.startswith("COPY (") and "WHERE outcomes.pid BETWEEN" in sql:  # rows
                first, last = map(int, re.findall(r"BETWEEN (\d+) AND (\d+) ORDER BY", sql)[-1])
                copies.append(f"{first}-{last}")
                if last - first + 1 > 3:
                    raise duckdb.OutOfMemoryException("made to run out")
            return self._con.execute(sql, *args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._con, name)

    real = fast.capped_connection
    monkeypatch.setattr(fast_piece, "_screen_whole", tight_piece)
    for module in (fast, screen):  # this process's connection and the pieces'
        monkeypatch.setattr(module, "capped_connection", lambda *a: (TightConnection(real(*a)[0]), None))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    capsys.readouterr()
    tight = run_fast_batch(options([tables], tmp_path / "tight.jsonl", fmt="jsonl", memory_limit="100MB"))
    assert capsys.readouterr().err.splitlines() == [
        "screener: DuckDB ran out of its --memory-limit (100MB) on 13 patients at once; this process "
        "now screens 6 at a time, which is slower (a larger --memory-limit is faster)"
    ]
    # halved once, then by 6 (the process remembers it for the second partition's piece)
    assert screened == [(0, 12), *[(0, 5), (6, 11), (12, 12)] * partitions]
    if partitions == 1:  # each part of the piece writes its rows, the first in halves: 6 -> 3 pids
        assert copies == ["0-5", "0-2", "3-5", "6-8", "9-11", "12-12"]
    else:  # this process writes the range: 13 -> 6 -> 3 pids
        assert copies == ["0-12", "0-5", "0-2", "3-5", "6-8", "9-11", "12-12"]
    assert tight.complete and (tight.rows, tight.errors) == (plain.rows, plain.errors) == (12, 1)
    for name in ("tight.jsonl", "tight.jsonl.errors.jsonl"):
        assert (tmp_path / name).read_bytes() == (tmp_path / name.replace("tight", "plain")).read_bytes()
    assert list(scratch.iterdir()) == []
