from __future__ import annotations

import json
from pathlib import Path

import pytest

from screener.batch import runner
from screener.batch.runner import BatchOptions, run_batch

from .conftest import AS_OF, RULES

distributed = pytest.importorskip("distributed")


def test_dask_cluster_screens_like_the_local_run_with_one_engine_per_worker(
    tmp_path: Path, registry: Path
) -> None:
    local = run_batch(BatchOptions((str(registry),), RULES, AS_OF, tmp_path / "local.jsonl", fmt="jsonl"))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = run_batch(
            BatchOptions(
                (str(registry),),
                RULES,
                AS_OF,
                tmp_path / "dask.jsonl",
                fmt="jsonl",
                chunk_size=3,
                scheduler=cluster.scheduler_address,
            )
        )
        built = client.run(runner.engines_built)
    assert report.complete and report.rows == local.rows == 23
    lines = (tmp_path / "dask.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [
        json.loads(x) for x in (tmp_path / "local.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(built) == 2 and all(n == 1 for n in built.values())  # 8 chunks, one engine each worker
