"""Shared helpers for the export tests: a small batch with OMOP-style (integer) patient ids."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from screener.cli.main import main

from ..batch.conftest import AS_OF, variant


def make_patients(folder: Path, ids: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, pid in enumerate(ids):  # kinds by i % 5: eligible, renal, low SLEDAI, no consent, rituximab
        data = variant(i)
        data["patient_id"] = pid
        (folder / f"{i:03d}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


@pytest.fixture()
def omop_patients(tmp_path: Path) -> Path:
    """Ten patients whose ids are OMOP person_ids (as the OMOP importer keeps them)."""
    return make_patients(tmp_path / "patients", [str(1000 + i) for i in range(10)])


def batch(inputs: Path, out: Path, *extra: str) -> int:
    args = ["batch", str(inputs), "--as-of", AS_OF.isoformat(), "--out", str(out), "--no-progress"]
    return main([*args, "--workers", "1", *extra])


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
