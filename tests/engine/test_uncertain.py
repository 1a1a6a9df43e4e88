"""Unconfirmed conditions, unobserved time and death (screener.engine.uncertain), in the engine
and the vectorized path alike (a differential test on every case)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.engine.uncertain import merge_readings, readings
from screener.errors import PatientDataError
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet
from screener.vectorized import VectorizedScreener
from screener.yamlio import LineMap, load_file
from tests.conftest import EXAMPLE_PATIENT

AS_OF = date(2026, 11, 25)


@pytest.fixture(scope="module")
def base() -> dict[str, Any]:
    data, _ = load_file(EXAMPLE_PATIENT)
    return data


@pytest.fixture(scope="module")
def fast(ruleset: RuleSet) -> Iterator[VectorizedScreener]:
    screener = VectorizedScreener(ruleset)
    yield screener
    screener.close()


def make(base: dict[str, Any], **changes: Any) -> Patient:
    data = copy.deepcopy(base)
    for key, value in changes.items():
        if key == "conditions":
            data["conditions"] = data["conditions"] + value
        else:
            data["demographics"][key] = value
    return patient_from_data(data, LineMap("<test>", {}))


def both(engine: Engine, fast: VectorizedScreener, patient: Patient) -> dict[str, str]:
    result = engine.screen(patient, AS_OF)
    outcomes = {c.id: c.outcome for c in result.criteria}
    assert fast.screen([patient], AS_OF)[0] == outcomes  # the two paths agree
    assert engine.outcomes(patient, AS_OF) == outcomes
    return outcomes


CANCER = {"name": "neoplasia", "type": "breast_cancer", "onset": "2026-01-10", "source": "Condition/c9"}


def test_the_base_patient_passes_e7(engine: Engine, fast: VectorizedScreener, base: dict[str, Any]) -> None:
    outcomes = both(engine, fast, make(base))
    assert outcomes["E7"] == "pass"


def test_confirmed_cancer_fails_e7_unconfirmed_makes_it_unknown_with_a_todo(
    engine: Engine, fast: VectorizedScreener, base: dict[str, Any]
) -> None:
    assert both(engine, fast, make(base, conditions=[CANCER]))["E7"] == "fail"
    unconfirmed = make(base, conditions=[{**CANCER, "verification": "unconfirmed"}])
    outcomes = both(engine, fast, unconfirmed)
    assert outcomes["E7"] == "unknown"
    e7 = engine.screen(unconfirmed, AS_OF).criterion("E7")
    assert any("confirm" in m and "neoplasia" in m and "Condition/c9" in m for m in e7.missing)
    # every other criterion is as without the record
    plain = both(engine, fast, make(base))
    assert {k: v for k, v in outcomes.items() if k != "E7"} == {k: v for k, v in plain.items() if k != "E7"}


def test_an_unconfirmed_condition_cannot_undo_a_confirmed_one(
    engine: Engine, fast: VectorizedScreener, base: dict[str, Any]
) -> None:
    patient = make(
        base, conditions=[CANCER, {**CANCER, "source": "Condition/c10", "verification": "unconfirmed"}]
    )
    assert both(engine, fast, patient)["E7"] == "fail"


def test_unconfirmed_inclusion_condition_is_unknown_not_pass(
    engine: Engine, fast: VectorizedScreener, base: dict[str, Any]
) -> None:
    data = copy.deepcopy(base)
    data["conditions"][0]["verification"] = "unconfirmed"  # the SLE diagnosis itself
    patient = patient_from_data(data, LineMap("<test>", {}))
    outcomes = both(engine, fast, patient)
    confirmed = both(engine, fast, make(base))
    changed = {k for k in outcomes if outcomes[k] != confirmed[k]}
    assert changed and all(outcomes[k] == "unknown" for k in changed)


def test_death_before_the_screening_date_is_never_eligible_or_incomplete(
    engine: Engine, base: dict[str, Any]
) -> None:
    alive = engine.screen(make(base), AS_OF)
    for deceased in ("2026-11-25", "2025-01-01", True):
        result = engine.screen(make(base, deceased=deceased), AS_OF)
        assert result.decision == "ineligible"
        assert result.decision_reason is not None
        assert "deceased" in result.decision_reason or "died on" in result.decision_reason
        assert [c.outcome for c in result.criteria] == [c.outcome for c in alive.criteria]
        assert result.to_dict()["decision_reason"] == result.decision_reason
    later = engine.screen(make(base, deceased="2026-11-26"), AS_OF)  # died the day after
    assert later.decision == alive.decision and later.decision_reason is None


def test_outside_observed_time_absent_means_none_becomes_unknown(
    engine: Engine, fast: VectorizedScreener, base: dict[str, Any]
) -> None:
    inside = both(engine, fast, make(base, observed=[{"start": "2019-01-01", "end": "2026-11-25"}]))
    plain = both(engine, fast, make(base))
    assert inside == plain
    outside = make(base, observed=[{"start": "2019-01-01", "end": "2026-11-24"}])
    outcomes = both(engine, fast, outside)
    for cid in ("E7", "E10", "E11"):  # "none recorded counts as none"
        assert plain[cid] == "pass" and outcomes[cid] == "unknown"
    e10 = engine.screen(outside, AS_OF).criterion("E10")
    assert any("does not cover the screening date" in m for m in e10.missing)
    # an open-ended period covers every later date
    assert both(engine, fast, make(base, observed=[{"start": "2019-01-01"}])) == plain


def test_native_file_errors_name_the_field(base: dict[str, Any]) -> None:
    with pytest.raises(PatientDataError, match="deceased"):
        make(base, deceased="last year")
    with pytest.raises(PatientDataError, match="before it starts"):
        make(base, observed=[{"start": "2020-01-01", "end": "2019-01-01"}])


# ------------------------------------------------------------ the readings every route screens


def test_a_record_without_unconfirmed_conditions_is_read_once_as_it_is(base: dict[str, Any]) -> None:
    patient = make(base, conditions=[CANCER])
    assert readings(patient) == [patient]


def test_an_unconfirmed_condition_gives_two_readings_with_it_confirmed_then_without_it(
    base: dict[str, Any],
) -> None:
    doubtful = {**CANCER, "source": "Condition/c10", "verification": "unconfirmed"}
    patient = make(base, conditions=[CANCER, doubtful])
    with_it, without_it = readings(patient)
    assert len(with_it.conditions) == len(patient.conditions)
    assert all(c.verification != "unconfirmed" for c in with_it.conditions)
    assert [c.source for c in without_it.conditions] == [
        c.source for c in patient.conditions if c.source != "Condition/c10"
    ]
    assert "Condition/c9" in [c.source for c in without_it.conditions]  # the confirmed one stays


@pytest.mark.parametrize("with_it", ["pass", "fail", "unknown"])
@pytest.mark.parametrize("without_it", ["pass", "fail", "unknown"])
def test_merging_two_readings_keeps_an_outcome_only_where_they_agree(with_it: str, without_it: str) -> None:
    merged = merge_readings([{"E7": with_it, "I1": "pass"}, {"E7": without_it, "I1": "pass"}])
    assert merged == {"E7": with_it if with_it == without_it else "unknown", "I1": "pass"}


def test_merging_one_reading_gives_its_outcomes() -> None:
    assert merge_readings([{"E7": "fail", "I1": "unknown"}]) == {"E7": "fail", "I1": "unknown"}


def test_the_todo_names_only_the_unconfirmed_records_the_criterion_reads(
    engine: Engine, fast: VectorizedScreener, base: dict[str, Any]
) -> None:
    """E9 reads HIV and hepatitis B records: its to-do names the unconfirmed HIV diagnosis,
    not an unconfirmed heart-failure record on the same patient (E9 does not read it)."""
    hiv = {"name": "hiv_infection", "onset": "2025-05-01", "source": "Condition/hiv"}
    heart = {"name": "heart_failure", "onset": "2025-06-01", "source": "Condition/hf"}
    assert both(engine, fast, make(base, conditions=[hiv]))["E9"] == "fail"
    doubtful = [{**c, "verification": "unconfirmed"} for c in (hiv, heart)]
    e9 = engine.screen(make(base, conditions=doubtful), AS_OF).criterion("E9")
    assert e9.outcome == "unknown"
    assert any("hiv_infection" in m and "Condition/hiv" in m for m in e9.missing)
    assert not any("Condition/hf" in m for m in e9.missing)
