"""Tests for the clinical function registry (screener.clinical)."""

from __future__ import annotations

import inspect
from datetime import date

import pytest

from screener.clinical import FUNCTIONS, ClinicalFunction
from screener.clinical.registry import call

EXPECTED_NAMES = {
    "age_in_years",
    "cockcroft_gault",
    "egfr_ckd_epi_2021",
    "bsa_mosteller",
    "bsa_dubois",
    "ideal_body_weight_devine",
    "adjusted_body_weight",
    "prednisone_equivalent_mg",
    "mmf_equivalent_mg",
    "dose_per_kg",
    "dose_per_m2",
    "daily_dose_mg",
    "weekly_dose_mg",
    "monthly_dose_mg",
    "times_upper_limit",
}


def test_registered_names() -> None:
    assert set(FUNCTIONS) == EXPECTED_NAMES


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_entry_is_complete(name: str) -> None:
    entry = FUNCTIONS[name]
    assert isinstance(entry, ClinicalFunction)
    assert entry.name == name
    assert entry.fn.__name__ == name
    assert entry.citation.strip()
    assert entry.description.strip()
    assert entry.unit.strip()
    assert entry.fn.__doc__ and "Unit:" in entry.fn.__doc__
    assert "Citation" in entry.fn.__doc__ or "Source" in entry.fn.__doc__


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_params_match_signature(name: str) -> None:
    entry = FUNCTIONS[name]
    parameters = inspect.signature(entry.fn).parameters
    assert entry.params == tuple(parameters)
    assert all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in parameters.values())


def test_entries_are_frozen() -> None:
    entry = FUNCTIONS["cockcroft_gault"]
    with pytest.raises(AttributeError):
        entry.unit = "mL/s"  # type: ignore[misc]


def test_call_by_name() -> None:
    # (140 - 40) x 60 / (72 x 1.0) x 0.85 = 70.833 mL/min
    result = call("cockcroft_gault", age_years=40, weight_kg=60, creatinine_mg_dl=1.0, sex="female")
    assert result == pytest.approx(70.8333, rel=1e-5)
    assert call("age_in_years", birth_date=date(2008, 11, 25), on=date(2026, 11, 25)) == 18
    assert call("daily_dose_mg", dose_mg=1000, frequency="bid") == pytest.approx(2000.0)


def test_call_unknown_name_suggests() -> None:
    with pytest.raises(KeyError) as info:
        call("cockroft_gault", age_years=40)
    assert "did you mean 'cockcroft_gault'" in str(info.value)


def test_call_unknown_name_without_close_match() -> None:
    with pytest.raises(KeyError) as info:
        call("zzz")
    assert "did you mean" not in str(info.value)
    assert "cockcroft_gault" in str(info.value)  # the known names are listed


def test_call_wrong_arguments() -> None:
    with pytest.raises(TypeError, match="missing sex"):
        call("cockcroft_gault", age_years=40, weight_kg=60, creatinine_mg_dl=1.0)
    with pytest.raises(TypeError, match="unexpected height"):
        call("dose_per_kg", dose_mg=10, weight_kg=60, height=170)


def test_call_propagates_domain_errors() -> None:
    with pytest.raises(ValueError):
        call("cockcroft_gault", age_years=40, weight_kg=60, creatinine_mg_dl=0, sex="male")
