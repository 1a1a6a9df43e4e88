"""Issue 11 §5 "done means": the eligible refractory-lupus patient written three ways (native YAML,
FHIR R4 bundle, OMOP CDM tables; each generated or written from the protocol) gives the same
outcome on every criterion and the same decision, at two screening dates.

The FHIR and OMOP records cannot hold the person-only confirmations (I8, I9, E12, E13, E15: a
person confirms them in screener); they are unknown there, and once the team's confirmations of
the native story are added to them the three decisions agree too."""

from __future__ import annotations

import copy
import csv
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.importers.fhir import iter_bundles, iter_ndjson, split_bundle_to_ndjson
from screener.importers.omop import iter_omop
from screener.importers.omop_details import outcome_of_stop_reason
from screener.model.patient import load_patient, patient_from_data
from screener.yamlio import LineMap, load_file
from tests.importers.conftest import REPO

NATIVE = REPO / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
BUNDLE = REPO / "fixtures" / "fhir" / "eligible_refractory_lupus.bundle.json"
OMOP = REPO / "fixtures" / "omop" / "eligible_refractory_lupus"
PERSON_ONLY = {"I8", "I9", "E12", "E13", "E15"}
# the screening date of the story, and 15 days later (the hCG test of 2026-11-20 is then older
# than the rule set's 14 days: I6 is unknown on all three)
DATES = (date(2026, 11, 25), date(2026, 12, 10))


def _records() -> dict[str, dict[str, Any]]:
    fhir_run, omop_run = iter_bundles([BUNDLE]), iter_omop([OMOP])
    (fhir,), (omop,) = list(fhir_run), list(omop_run)
    for run in (fhir_run, omop_run):
        assert run.report.errors == (), run.report.errors
    native, _ = load_file(NATIVE)
    return {"native": native, "fhir": fhir.data, "omop": omop.data}


def _confirmed(data: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
    """``data`` with the native story's person-confirmed statuses (what the team adds in screener)."""
    out = copy.deepcopy(data)
    out["statuses"] = out.get("statuses", []) + [s for s in native["statuses"] if s.get("confirmed_by")]
    return out


def _screen(engine: Engine, data: dict[str, Any], as_of: date) -> tuple[str, dict[str, str]]:
    result = engine.screen(patient_from_data(copy.deepcopy(data), LineMap("<test>", {})), as_of)
    return result.decision, {c.id: c.outcome for c in result.criteria}


@pytest.mark.parametrize("as_of", DATES)
def test_native_fhir_and_omop_agree_criterion_by_criterion(engine: Engine, as_of: date) -> None:
    records = _records()
    native_decision, native = _screen(engine, records["native"], as_of)
    for name in ("fhir", "omop"):
        decision, outcomes = _screen(engine, records[name], as_of)
        assert outcomes.keys() == native.keys()
        for cid, outcome in native.items():
            assert outcomes[cid] == ("unknown" if cid in PERSON_ONLY else outcome), (name, cid)
        assert decision == ("incomplete" if native_decision == "eligible" else native_decision), name
        confirmed_decision, confirmed = _screen(engine, _confirmed(records[name], records["native"]), as_of)
        assert confirmed == native, name
        assert confirmed_decision == native_decision, name


def test_the_story_is_eligible_on_its_date_and_not_fifteen_days_later(engine: Engine) -> None:
    """The two dates are not the same test twice: the second one changes the outcome."""
    native = load_patient(NATIVE)
    first, later = (engine.screen(native, d) for d in DATES)
    assert first.decision == "eligible"
    assert later.criterion("I6").outcome == "unknown" and later.decision == "incomplete"


def _omop_with(tmp_path: Path, table: str, change: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The OMOP twin with some cells of ``table`` changed ({row id: {column: value}})."""
    folder = tmp_path / "omop"
    shutil.copytree(OMOP, folder)
    path = folder / f"{table}.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.update(change.get(row[f"{table}_id"], {}))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (record,) = list(iter_omop([folder]))
    return record.data


def test_the_omop_facts_of_section_5_are_not_vacuous(tmp_path: Path, engine: Engine) -> None:
    as_of = DATES[0]
    unclear = _omop_with(
        tmp_path / "a",
        "drug_exposure",
        {"5001": {"stop_reason": "stopped"}, "5002": {"stop_reason": "stopped"}},
    )
    _, outcomes = _screen(engine, unclear, as_of)
    assert outcomes["I4a"] == "unknown" and outcomes["I4b"] == "unknown"
    on_oxygen = _omop_with(tmp_path / "b", "measurement", {"2013": {"value_as_number": "40"}})  # FiO2 40 %
    _, outcomes = _screen(engine, on_oxygen, as_of)
    assert outcomes["E5"] == "unknown"
    no_time = _omop_with(tmp_path / "c", "measurement", {"2013": {"measurement_datetime": ""}})
    assert _screen(engine, no_time, as_of)[1]["E5"] == "unknown"  # the oxygen state is not guessed
    in_study = _omop_with(tmp_path / "d", "observation", {"3005": {"value_as_number": "1"}})
    assert _screen(engine, in_study, as_of)[1]["E14"] == "fail"
    three = _omop_with(tmp_path / "e", "observation", {"3004": {"value_as_number": "3"}})
    assert _screen(engine, three, as_of)[1]["I2"] == "fail"


@pytest.mark.parametrize(
    ("text", "outcome", "clear"),
    [
        ("no response", "inefficacy", True),
        ("Treatment failure", "inefficacy", True),
        ("ineffective", "inefficacy", True),
        ("intolerance", "adverse_effect", True),
        ("not tolerated (nausea)", "adverse_effect", True),
        ("adverse reaction; no response", "adverse_effect", True),  # both: adverse, as for FHIR
        ("no side effects, switched", None, False),  # a negated adverse word is not read
        ("renal failure", None, False),  # "failure" alone says nothing of the treatment
        ("course completed", None, True),
        ("", None, True),
        ("stopped", None, False),
    ],
)
def test_stop_reason_is_read_only_from_clear_words(text: str, outcome: str | None, clear: bool) -> None:
    assert outcome_of_stop_reason(text) == (outcome, clear)


def test_the_bundle_as_bulk_ndjson_reads_the_same(tmp_path: Path, engine: Engine) -> None:
    """The List, the classification Observation and the rest read the same from Bulk Data NDJSON."""
    split_bundle_to_ndjson(BUNDLE, tmp_path)
    run = iter_ndjson([tmp_path])
    (record,) = list(run)
    assert run.report.errors == ()
    bundle_outcomes = _screen(engine, _records()["fhir"], DATES[0])
    assert _screen(engine, record.data, DATES[0]) == bundle_outcomes
