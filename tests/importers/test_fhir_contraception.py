"""Contraception from FHIR (issue 11 §5): procedures (IUD, implant, tubal ligation) and current
contraceptive drugs become ``effective_contraception``; what was not done, not taken, stopped or
removed does not."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.importers.fhir import iter_bundles
from screener.importers.mapping import load_mapping
from tests.importers.conftest import shared_path
from tests.importers.fhir_builders import RXNORM, SNOMED, bundle, patient

AS_OF = date(2026, 11, 25)
IUD_INSERTION = "65200003"
IUD_REMOVAL = "68254000"
IUD_REPLACEMENT = "46706006"
TUBAL_LIGATION = "287664005"
JOLIVETTE = "757594"  # norethindrone 0.35 MG 28 day pack
HPV_VACCINATION = "761841000"  # a procedure no criterion needs


def procedure(pid: str, code: str, day: str, status: str = "completed") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": pid,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "performedPeriod": {"start": f"{day}T09:00:00+01:00", "end": f"{day}T09:30:00+01:00"},
    }


def pill(kind: str, mid: str, status: str, **extra: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": kind,
        "id": mid,
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": JOLIVETTE}]},
        **extra,
    }
    if kind == "MedicationRequest":
        res.setdefault("intent", "order")
        res.setdefault("authoredOn", "2026-11-10")
    else:
        res.setdefault("effectivePeriod", {"start": "2025-01-10"})
    return res


def _read(tmp_path: Path, *resources: dict[str, Any]) -> tuple[Any, Any]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), *resources)), encoding="utf-8")
    run = iter_bundles([path])
    (record,) = list(run)
    return record, run.report


def _contraception(record: Any) -> list[dict[str, Any]]:
    return [s for s in record.data.get("statuses", []) if s["name"] == "effective_contraception"]


def test_completed_iud_insertion_is_contraception_dated_and_sourced(tmp_path: Path) -> None:
    record, report = _read(tmp_path, procedure("iud", IUD_INSERTION, "2026-11-02"))
    (status,) = _contraception(record)
    assert status["value"] is True
    assert status["date"] == "2026-11-02"
    assert "Procedure/iud" in status["source"] and "iud" in status["source"]
    assert report.unmapped_count(SNOMED, IUD_INSERTION) == 0


@pytest.mark.parametrize("status", ["not-done", "in-progress", "preparation", "entered-in-error", "stopped"])
def test_a_procedure_not_completed_is_not_contraception(tmp_path: Path, status: str) -> None:
    record, report = _read(tmp_path, procedure("iud", IUD_INSERTION, "2026-11-02", status))
    assert _contraception(record) == []
    assert report.skipped[f"Procedure ({status})"] == 1


def test_tubal_ligation_is_contraception(tmp_path: Path) -> None:
    record, _ = _read(tmp_path, procedure("tl", TUBAL_LIGATION, "2026-11-20"))
    (status,) = _contraception(record)
    assert status["date"] == "2026-11-20" and "sterilisation" in status["source"]


def test_removal_after_insertion_ends_it_and_a_later_replacement_restores_it(tmp_path: Path) -> None:
    removed, report = _read(
        tmp_path, procedure("in", IUD_INSERTION, "2026-06-01"), procedure("out", IUD_REMOVAL, "2026-11-01")
    )
    assert _contraception(removed) == []  # removal ends the method; it never says "none"
    assert report.skipped["contraceptive iud removed on or after it was put in place"] == 1
    replaced, _ = _read(
        tmp_path,
        procedure("in", IUD_INSERTION, "2020-06-01"),
        procedure("out", IUD_REMOVAL, "2026-11-01"),
        procedure("new", IUD_REPLACEMENT, "2026-11-02"),
    )
    (status,) = _contraception(replaced)
    assert status["date"] == "2026-11-02" and "Procedure/new" in status["source"]


def test_other_procedures_stay_unmapped(tmp_path: Path) -> None:
    record, report = _read(tmp_path, procedure("v", HPV_VACCINATION, "2026-11-02"))
    assert _contraception(record) == []
    assert report.unmapped_count(SNOMED, HPV_VACCINATION) == 1


def test_active_pill_statement_is_dated_by_its_assertion(tmp_path: Path) -> None:
    record, _ = _read(tmp_path, pill("MedicationStatement", "ms", "active", dateAsserted="2026-11-18"))
    (status,) = _contraception(record)
    assert status["date"] == "2026-11-18" and "MedicationStatement/ms" in status["source"]
    # not a trial drug: only the marker that the record has a medication history
    assert [m["drug"] for m in record.data.get("medications", [])] == ["other_medication"]


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        (pill("MedicationStatement", "ms", "intended"), "MedicationStatement (intended)"),
        (pill("MedicationStatement", "ms", "not-taken"), "MedicationStatement (not-taken)"),
        (
            pill("MedicationStatement", "ms", "stopped"),
            "MedicationStatement of a contraceptive (stopped: not current)",
        ),
        (
            pill("MedicationStatement", "ms", "completed"),
            "MedicationStatement of a contraceptive (completed: not current)",
        ),
        (pill("MedicationRequest", "mr", "active", intent="proposal"), "MedicationRequest (intent proposal)"),
        (
            pill("MedicationRequest", "mr", "stopped"),
            "MedicationRequest of a contraceptive (stopped: not current)",
        ),
    ],
)
def test_a_contraceptive_not_taken_or_no_longer_taken_is_not_contraception(
    tmp_path: Path, resource: dict[str, Any], reason: str
) -> None:
    record, report = _read(tmp_path, resource)
    assert _contraception(record) == []
    assert report.skipped[reason] == 1


def test_active_pill_order_counts(tmp_path: Path) -> None:
    record, _ = _read(tmp_path, pill("MedicationRequest", "mr", "active"))
    (status,) = _contraception(record)
    assert status["date"] == "2026-11-10"


@pytest.mark.parametrize(("day", "outcome"), [("2026-10-26", "pass"), ("2026-10-25", "unknown")])
def test_i7_uses_the_record_while_fresh(tmp_path: Path, engine: Engine, day: str, outcome: str) -> None:
    """I7's status may be 30 days old (rules.yaml max_age_days): 30 days passes, 31 stays to do."""
    record, _ = _read(tmp_path, procedure("iud", IUD_INSERTION, day))
    record.data["statuses"].append({"name": "contraception_required", "value": True})
    result = engine.screen(record.patient(), AS_OF).criterion("I7")
    assert result.outcome == outcome


def test_every_contraception_code_is_named_so_in_the_shared_omop_vocabulary() -> None:
    concept = shared_path("data", "synthea27nj-omop", "CONCEPT.csv")
    with concept.open(encoding="utf-8") as fh:
        rows = {(r["vocabulary_id"], r["concept_code"]): r for r in csv.DictReader(fh)}
    mapping = load_mapping()
    vocab = {SNOMED: "SNOMED", RXNORM: "RxNorm"}
    assert len(mapping.contraception) >= 20
    for (system, code), target in mapping.contraception.items():
        if target.source.startswith("KBV ValueSet"):
            # a device type (DeviceUseStatement), not in the extract's vocabulary: cited from the
            # KBV implant value set; read in test_an_iud_recorded_as_a_device_in_use below
            assert code == "268460000" and target.method == "iud", (code, target)
            continue
        row = rows[(vocab[system], code)]
        assert row["concept_id"] in target.source, (code, target.source)
        assert row["domain_id"] == ("Procedure" if system == SNOMED else "Drug")


# ------------------------------------------------------------------ an IUD recorded only as a device


def _device(status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": "iud",
        "status": status,
        "type": {
            "coding": [
                {"system": SNOMED, "code": "268460000", "display": "Intrauterine contraceptive device"}
            ]
        },
        "patient": {"reference": "Patient/p1"},
    }


def _use(
    status: str = "active", recorded: str | None = "2026-11-18", device: str = "Device/iud"
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "DeviceUseStatement",
        "id": "use",
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "device": {"reference": device},
        "timingPeriod": {"start": "2023-03-15"},
    }
    if recorded:
        res["recordedOn"] = recorded
    return res


@pytest.mark.parametrize(
    ("resources", "dated"),
    [
        ([_device(), _use()], "2026-11-18"),  # stated in use a week ago
        ([_device(), _use(recorded=None)], "2023-03-15"),  # only its start: too old for I7
        ([_device(), _use("completed")], None),  # no longer in use
        ([_device(), _use("intended")], None),
        ([_device("inactive"), _use()], None),
        ([_device()], None),  # a device alone says nothing of its use
        ([_use()], None),  # its Device is not in the input: reported
    ],
)
def test_an_iud_recorded_as_a_device_in_use(
    tmp_path: Path, resources: list[dict[str, Any]], dated: str | None
) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(patient(), *resources)), encoding="utf-8")
    run = iter_bundles([path])
    (record,) = list(run)
    found = [s for s in record.data.get("statuses", []) if s["name"] == "effective_contraception"]
    assert [s["date"] for s in found] == ([dated] if dated else [])
    if dated:
        assert "DeviceUseStatement/use" in found[0]["source"] and "(iud)" in found[0]["source"]
    if resources == [_use()]:
        assert any("Device is not in the input" in str(i) for i in run.report.issues)
