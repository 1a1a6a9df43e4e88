"""Patients read back from a columnar registry are the patients that were written."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb")

import duckdb

from screener.model.patient import Patient, load_patient
from screener.tables.layout import TABLES
from screener.tables.read import read_patients
from screener.tables.write import TablesWriter, table_glob

from ..batch.test_vectorized import patients
from ..batch.test_vectorized_tables import people

FIXTURES = sorted((Path(__file__).resolve().parents[2] / "fixtures" / "patients").glob("*.yaml"))


def as_written(p: Patient) -> Patient:
    """What the tables keep: everything but the value as written before unit conversion."""
    return dataclasses.replace(
        p, observations=tuple(dataclasses.replace(o, original=None) for o in p.observations), raw={}
    )


def round_trip(directory: Path, group: list[Patient], pids: list[int] | None = None) -> list[Patient]:
    with TablesWriter(directory, chunk_size=2) as writer:
        for p in group:
            writer.add(p)
    relations = {t: f"read_parquet('{table_glob(directory, t)}')" for t in TABLES}
    return read_patients(duckdb.connect(), relations, list(range(len(group))) if pids is None else pids)


def test_fixture_stories_come_back_equal(tmp_path: Path) -> None:
    group = [load_patient(f) for f in FIXTURES]
    back = round_trip(tmp_path / "reg", group)
    assert back == [as_written(p) for p in group]


def test_pids_in_any_order(tmp_path: Path) -> None:
    group = [load_patient(f) for f in FIXTURES]
    back = round_trip(tmp_path / "reg", group, pids=[2, 0])
    assert [p.patient_id for p in back] == [group[2].patient_id, group[0].patient_id]
    assert round_trip(tmp_path / "other", group, pids=[]) == []


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(datas=st.lists(patients(), min_size=1, max_size=5))
def test_generated_patients_come_back_equal(
    tmp_path_factory: pytest.TempPathFactory, datas: list[Any]
) -> None:
    group = people(datas)
    assert round_trip(tmp_path_factory.mktemp("reg"), group) == [as_written(p) for p in group]
