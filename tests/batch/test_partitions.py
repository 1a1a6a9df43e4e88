"""Patient-hash partitions, worker processes, a dask cluster and killed workers for
``screener batch --engine vectorized`` (issue 17 section 3): the rows, errors and funnel are
the same bytes as one process screening an unpartitioned registry."""

from __future__ import annotations

import copy
import json
import os
import signal
import zlib
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("duckdb")
pytest.importorskip("numpy")

from screener.batch import fast
from screener.batch.fast import run_fast_batch
from screener.batch.runner import BatchOptions
from screener.batch.tasks import TaskFailed, run_tasks
from screener.cli.main import main
from screener.tables.place import partition_of
from screener.tables.write import read_manifest, table_glob

from .conftest import AS_OF, RULES, base_patient, variant, write_jsonl


def _patients() -> list[dict[str, Any]]:
    """Plain variants, one ill-typed value (an error record), the dead and the unconfirmed
    (screened by the engine), so every kind of row and error crosses the partitions."""
    out = [variant(i) for i in range(30)]
    odd = copy.deepcopy(out[7])
    odd["observations"].append({"name": "hiv", "value": 3, "date": "2026-11-20"})
    out[7] = odd
    for i, demographics in ((11, {"deceased": "2026-01-02"}), (19, {"deceased": True})):
        out[i]["demographics"].update(demographics)
    out[23].setdefault("conditions", []).append(
        {"name": "hiv_infection", "status": "active", "verification": "unconfirmed"}
    )
    extra = base_patient()
    extra["patient_id"] = "p-last"
    return [*out, extra]


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("partitions")
    jsonl = write_jsonl(tmp / "registry.jsonl", _patients())
    plain, split = tmp / "plain.tables", tmp / "split.tables"
    assert main(["convert", "--to", "tables", str(plain), str(jsonl)]) == 0
    assert (
        main(["convert", "--to", "tables", str(split), str(jsonl), "--partitions", "3", "--chunk-size", "7"])
        == 0
    )
    return {"plain": plain, "split": split}


def _run(registry: Path, out: Path, **kw: Any) -> tuple[Any, bytes, bytes]:
    explain = kw.pop("explain", "none")
    kw.setdefault("chunk_size", 100_000)
    report = run_fast_batch(
        BatchOptions(inputs=(str(registry),), rules=RULES, as_of=AS_OF, out=out, **kw), explain=explain
    )
    errors = out.with_name(out.name + ".errors.jsonl")
    return report, out.read_bytes(), errors.read_bytes() if errors.exists() else b""


_ONE: dict[tuple[Path, str, str], tuple[Any, bytes, bytes]] = {}


def _one_process(
    registries: dict[str, Path], fmt: str = "csv", explain: str = "none"
) -> tuple[Any, bytes, bytes]:
    """The plain registry screened here in one range: what every other way must write (one run
    per module and kind of row, which several tests compare against)."""
    key = (registries["plain"], fmt, explain)
    if key not in _ONE:
        out = registries["plain"].parent / f"one-{explain}.{fmt}"
        _ONE[key] = _run(registries["plain"], out, fmt=fmt, explain=explain)
    return _ONE[key]


def test_a_partitioned_registry_keeps_each_patient_whole_in_one_partition(
    registries: dict[str, Path],
) -> None:
    import duckdb

    split = registries["split"]
    manifest = read_manifest(split)
    assert manifest["partitions"] == 3 and "partitions" not in read_manifest(registries["plain"])
    con = duckdb.connect()
    seen: dict[int, int] = {}
    for k in range(3):
        ids = con.execute(
            f"SELECT pid, patient_id FROM read_parquet('{table_glob(split, 'patients', k)}')"
        ).fetchall()
        assert ids, "every partition holds patients"
        for pid, patient_id in ids:
            assert partition_of(patient_id, 3) == k == zlib.crc32(patient_id.encode()) % 3
            seen[pid] = k
        for table in ("observations", "medications", "conditions"):
            pids = con.execute(
                f"SELECT DISTINCT pid FROM read_parquet('{table_glob(split, table, k)}')"
            ).fetchall()
            assert all(seen.get(pid, k) == k for (pid,) in pids)
    assert sorted(seen) == list(range(manifest["patients"]))  # every patient once


@pytest.mark.parametrize(("fmt", "explain"), [("csv", "open"), ("jsonl", "none")])
def test_rows_are_the_same_bytes_whatever_the_partitions_and_workers(
    tmp_path: Path, registries: dict[str, Path], fmt: str, explain: str
) -> None:
    base, rows, errors = _one_process(registries, fmt, explain)
    assert base.complete and base.rows == 30 and base.errors == 1  # p0007: its ill-typed value
    for name, registry, workers, chunk in (
        ("split-1", registries["split"], 1, 100_000),
        ("split-2", registries["split"], 2, 16),  # ranges cross the registry's parts of 7
        ("plain-2", registries["plain"], 2, 16),
    ):
        report, other_rows, other_errors = _run(
            registry, tmp_path / f"{name}.{fmt}", fmt=fmt, explain=explain, workers=workers, chunk_size=chunk
        )
        assert (other_rows, other_errors) == (rows, errors), name
        assert report.funnel.rows() == base.funnel.rows() and report.errors == base.errors, name


def test_pieces_that_cannot_see_the_rows_folder_send_their_rows(
    tmp_path: Path, registries: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker on another machine cannot see the folder where this process collects the rows
    the pieces write: it sends their bytes, and the output is the same."""
    from screener.batch import fast

    _, rows, errors = _one_process(registries)
    elsewhere = tmp_path / "on-another-machine"
    real = fast.RowSpec
    monkeypatch.setattr(fast, "RowSpec", lambda *spec: real(*spec[:3], str(elsewhere)))
    report, other_rows, other_errors = _run(
        registries["plain"], tmp_path / "sent.csv", workers=2, chunk_size=16
    )
    assert report.complete and (other_rows, other_errors) == (rows, errors)
    assert not elsewhere.exists()


def test_a_resumed_partitioned_run_loses_and_repeats_nothing(
    tmp_path: Path, registries: dict[str, Path]
) -> None:
    _, rows, _ = _one_process(registries)
    out = tmp_path / "split.csv"
    report = run_fast_batch(
        BatchOptions((str(registries["split"]),), RULES, AS_OF, out, workers=2, chunk_size=16, limit=16)
    )
    assert not report.complete and report.records == 16
    report = run_fast_batch(
        BatchOptions((str(registries["split"]),), RULES, AS_OF, out, workers=2, chunk_size=16, resume=True)
    )
    assert report.complete and out.read_bytes() == rows


# --------------------------------------------------------------------------- killed workers


def _kill_on(job: dict[str, Any], task: int) -> int:
    """A task that kills its own worker process for the tasks in ``job["kill"]`` (once, if
    ``job["marker"]`` is given: the marker file says it already did)."""
    if task in job["kill"]:
        marker = job.get("marker")
        if marker is None or not Path(f"{marker}.{task}").exists():
            if marker is not None:
                Path(f"{marker}.{task}").write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)
    if task in job.get("raise", ()):
        raise ValueError(f"task {task} always fails")
    return task * 10


@pytest.fixture()
def no_hang() -> Any:
    """Fail the test instead of hanging for ever (what multiprocessing.Pool did)."""

    def expired(*_: Any) -> None:
        raise TimeoutError("the run hung")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_worker_killed_once_is_retried_and_nothing_is_lost(tmp_path: Path, no_hang: None) -> None:
    job = {"kill": {3, 6}, "marker": str(tmp_path / "killed")}
    results = list(run_tasks(_kill_on, job, range(10), workers=2))
    assert results == [(i, i * 10) for i in range(10)]  # in order, every one, the killed ones retried
    assert (tmp_path / "killed.3").exists() and (tmp_path / "killed.6").exists()


def test_a_task_that_always_kills_its_worker_is_reported_and_the_rest_go_on(no_hang: None) -> None:
    results = dict(run_tasks(_kill_on, {"kill": {4}, "raise": {7}}, range(9), workers=2))
    assert sorted(results) == list(range(9))
    failed = {i: r for i, r in results.items() if isinstance(r, TaskFailed)}
    assert set(failed) == {4, 7}
    assert "worker process screening it died" in failed[4].message
    assert failed[7].message == "ValueError: task 7 always fails"
    assert all(results[i] == i * 10 for i in results if i not in failed)


def _deadly_piece(job: Any, piece: Any) -> Any:
    """Kills its worker on partition 1 of the first range (module level: the pool pickles it)."""
    from screener.batch.fast_piece import screen_piece

    if piece.partition == 1 and piece.first == 0:
        os.kill(os.getpid(), signal.SIGKILL)
    return screen_piece(job, piece)


def test_a_piece_whose_worker_dies_is_reported_patient_by_patient(
    tmp_path: Path, registries: dict[str, Path], monkeypatch: pytest.MonkeyPatch, no_hang: None
) -> None:
    """Partition 1 of the first range kills its worker every time: its patients are in the errors
    file by name, every other patient has its row, and the run completes."""
    import duckdb

    monkeypatch.setattr(fast, "screen_piece", _deadly_piece)
    _, all_rows, _ = _one_process(registries, "jsonl")
    report, rows, errors = _run(
        registries["split"], tmp_path / "split.jsonl", fmt="jsonl", workers=2, chunk_size=16
    )
    glob = table_glob(registries["split"], "patients", 1)
    lost = (
        duckdb.connect().execute(f"SELECT patient_id FROM read_parquet('{glob}') WHERE pid <= 15").fetchall()
    )
    lost_ids = {p for (p,) in lost}
    assert lost_ids and report.complete
    records = [json.loads(line) for line in errors.decode().splitlines()]
    reported = {r["patient_id"] for r in records if "worker process screening it died" in r["message"]}
    assert reported == lost_ids
    expected = [r for r in all_rows.decode().splitlines() if json.loads(r)["patient_id"] not in lost_ids]
    assert rows.decode().splitlines() == expected
    assert report.rows == len(expected)


# --------------------------------------------------------------------------- dask


def test_a_dask_cluster_screens_partitions_like_one_process(
    tmp_path: Path, registries: dict[str, Path]
) -> None:
    distributed = pytest.importorskip("distributed")
    _, rows, errors = _one_process(registries, "csv", "open")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        report, dask_rows, dask_errors = _run(
            registries["split"], tmp_path / "dask.csv", explain="open", scheduler=cluster.scheduler_address
        )
    assert report.complete and (dask_rows, dask_errors) == (rows, errors)


def _deadly_chunk(job: Any, chunk: Any) -> Any:
    """Kills its worker on the chunk holding p0004 (module level: the pool pickles it)."""
    from screener.batch.runner import engine_for, screen_record

    if any(isinstance(r.data, dict) and r.data.get("patient_id") == "p0004" for r in chunk):
        os.kill(os.getpid(), signal.SIGKILL)
    _, engine = engine_for(job)
    return [screen_record(engine, record, job.as_of) for record in chunk]


def test_the_engine_batch_pool_survives_a_killed_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_hang: None
) -> None:
    """The durable path's pool: the chunk whose worker dies is reported record by record, the
    other chunks are screened, the run completes (it used to wait for ever)."""
    from screener.batch import runner
    from screener.batch.runner import run_batch

    jsonl = write_jsonl(tmp_path / "p.jsonl", [variant(i) for i in range(12)])
    monkeypatch.setattr(runner, "screen_chunk", _deadly_chunk)
    out = tmp_path / "rows.jsonl"
    report = run_batch(BatchOptions((str(jsonl),), RULES, AS_OF, out, fmt="jsonl", workers=2, chunk_size=3))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    errors = [json.loads(line) for line in (tmp_path / "rows.jsonl.errors.jsonl").read_text().splitlines()]
    lost = {e["patient_id"] for e in errors}
    assert report.complete and "p0004" in lost and all("worker process" in e["message"] for e in errors)
    assert {r["patient_id"] for r in rows} | lost == {f"p{i:04d}" for i in range(12)}
    assert not {r["patient_id"] for r in rows} & lost


@pytest.mark.parametrize(
    ("value", "message"), [("0", "must be 1 or more"), ("4097", "at most 4096 partitions")]
)
def test_convert_refuses_a_partition_count_it_cannot_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    jsonl = write_jsonl(tmp_path / "p.jsonl", [variant(0)])
    with pytest.raises(SystemExit) as stop:
        main(["convert", "--to", "tables", "--out", str(tmp_path / "t"), str(jsonl), "--partitions", value])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "t").exists()
