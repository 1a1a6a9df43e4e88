"""``screener convert --to tables`` reads FHIR and OMOP inputs in DuckDB (the stagers of
issue 17 §1) and gives, through the command, the registry and the report the Python reader
gives: the shared Synthea data (FHIR bundles, the same as Bulk Data NDJSON, the OMOP extract),
the fixtures, and a mix of kinds in one run (ords continue across runs of inputs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

pytest.importorskip("duckdb")

from screener.cli.main import main
from screener.tables.stagers import kind_of, sql_kinds

from .test_from_native import FIXTURES, assert_same_registry, both_readers

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "data"
SYNTHEA = SHARED / "smart-r4-synthea-sample"
OMOP = SHARED / "synthea27nj-omop"
needs_shared = pytest.mark.skipif(
    not SYNTHEA.is_dir() or not OMOP.is_dir(), reason="../shared/data not beside the repo"
)


def _bulk(bundles: list[Path], folder: Path) -> Path:
    """The bundles' resources as Bulk Data NDJSON, one file per resource type."""
    folder.mkdir()
    by_type: dict[str, list[str]] = {}
    for bundle in bundles:
        for entry in json.loads(bundle.read_text(encoding="utf-8")).get("entry", []):
            resource = entry["resource"]
            by_type.setdefault(resource["resourceType"], []).append(json.dumps(resource))
    for kind, lines in by_type.items():
        (folder / f"{kind}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@needs_shared
def test_fhir_bundles_and_bulk_data_through_the_command(tmp_path: Path) -> None:
    bundles = sorted(SYNTHEA.glob("*.json"))[:4]
    bulk = _bulk(bundles, tmp_path / "bulk")
    assert {kind_of(p) for p in (*bundles, bulk)} == {"fhir"} and sql_kinds([bulk]) == {"fhir"}
    report, _ = both_readers(tmp_path / "bundles", bundles)
    assert report["patients"] == 4
    report, _ = both_readers(tmp_path / "ndjson", [bulk])
    assert report["patients"] == 4


@needs_shared
def test_the_omop_extract_through_the_command(tmp_path: Path) -> None:
    assert kind_of(OMOP) == "omop"
    report, _ = both_readers(tmp_path, [OMOP])
    assert report["patients"] == 28 and report["errors"] == 0


@needs_shared
def test_an_omop_extract_in_parquet_through_the_command(tmp_path: Path) -> None:
    """The shared extract written as Parquet converts (in SQL) to the registry the Python reader
    makes of the CSV extract; the Python reader says it cannot read Parquet."""
    import duckdb

    extract = tmp_path / "omop"  # one folder, first as CSV then as Parquet: the same sources
    shutil.copytree(OMOP, extract)
    csv_out, parquet_out, python_out = tmp_path / "csv", tmp_path / "pq", tmp_path / "py"
    assert main(["convert", str(extract), "--to", "tables", "--out", str(csv_out), "--reader", "python"]) == 0
    for table in sorted(extract.glob("*.csv")):
        duckdb.sql(
            f"COPY (SELECT * FROM read_csv('{table}', all_varchar = true)) "
            f"TO '{table.with_suffix('.parquet')}' (FORMAT parquet)"
        )
        table.unlink()
    assert kind_of(extract) == "omop"
    assert main(["convert", str(extract), "--to", "tables", "--out", str(parquet_out)]) == 0
    assert_same_registry(csv_out, parquet_out)
    code = main(["convert", str(extract), "--to", "tables", "--out", str(python_out), "--reader", "python"])
    assert code != 0 and not python_out.exists()  # an error, not an empty registry


@needs_shared
def test_kinds_mixed_in_one_run_keep_their_order(tmp_path: Path) -> None:
    """Native YAML (Python), an OMOP extract, a FHIR bundle and native JSONL, in that order:
    pids follow the input order across the runs of each kind."""
    jsonl = tmp_path / "two.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(yaml.safe_load(p.read_text(encoding="utf-8")), default=str) for p in FIXTURES[:2]
        )
        + "\n",
        encoding="utf-8",
    )
    inputs = [FIXTURES[0], OMOP, sorted(SYNTHEA.glob("*.json"))[0], jsonl]
    report, _ = both_readers(tmp_path / "mixed", inputs)
    assert report["patients"] == 1 + 28 + 1 + 2  # a YAML, the OMOP extract, a bundle, two JSONL lines
