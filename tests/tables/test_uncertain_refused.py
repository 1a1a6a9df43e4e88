"""The columnar registry has no place yet for an unconfirmed condition, a death or observed
periods: such a patient is refused with its field named, never stored as certain."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

pytest.importorskip("duckdb")

from screener.errors import PatientDataError
from screener.model.patient import Condition, Patient
from screener.tables.write import TablesWriter


@pytest.mark.parametrize(
    ("patient", "field"),
    [
        (
            Patient("u", file="u.json", conditions=(Condition("sle", verification="unconfirmed"),)),
            "conditions[0]",
        ),
        (Patient("d", file="d.json", deceased=date(2020, 1, 1)), "demographics.deceased"),
        (Patient("o", file="o.json", observed=((date(2020, 1, 1), None),)), "demographics.observed"),
    ],
)
def test_uncertain_patient_is_refused_by_name(tmp_path: Path, patient: Patient, field: str) -> None:
    with TablesWriter(tmp_path / "reg") as writer:
        with pytest.raises(PatientDataError, match="durable engine") as caught:
            writer.add(patient)
        assert field in str(caught.value.location)
        assert writer.add(Patient("fine", file="f.json", conditions=(Condition("sle"),))) == 0
