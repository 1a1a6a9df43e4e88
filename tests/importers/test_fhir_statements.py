"""Issue 11 §5: E14 (in another study), E16 (legal protection) and I2 (SLE classification) from FHIR.

"Yes" comes from a ResearchSubject on study, or a guardian (v3-RoleCode GUARD) in Patient.contact or
RelatedPerson; "none" only from what says the source is complete: an empty List of screener's own
code with emptyReason nilknown, or an explicit Observation. Nothing said stays unknown, and a
"none" that contradicts a current record is left out with a warning.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from screener.engine.evaluate import Engine
from screener.importers.fhir import iter_bundles
from tests.importers.fhir_builders import LOINC, SNOMED, bundle, coded_obs, patient

AS_OF = date(2026, 11, 25)
OWN = "urn:screener:codes"
THO = "http://terminology.hl7.org/CodeSystem"
ROLE = f"{THO}/v3-RoleCode"


def _screen(tmp_path: Path, engine: Engine, *resources: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle(*resources)), encoding="utf-8")
    run = iter_bundles([path])
    (record,) = list(run)
    outcomes = {c.id: c.outcome for c in engine.screen(record.patient(), AS_OF).criteria}
    return outcomes, [str(i) for i in run.report.issues]


def empty_list(
    code: str, day: str | None = "2026-11-18", reason: str = "nilknown", **extra: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "List",
        "id": f"list-{code}",
        "status": "current",
        "mode": "snapshot",
        "code": {"coding": [{"system": OWN, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "emptyReason": {"coding": [{"system": f"{THO}/list-empty-reason", "code": reason}]},
        **extra,
    }
    if day:
        res["date"] = day
    return res


def statement(code: str, value: Any, day: str = "2026-11-18", oid: str | None = None) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid or f"obs-{code}",
        "status": "final",
        "code": {"coding": [{"system": OWN, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": day,
        "valueBoolean": value,
    }


def research_subject(status: str = "on-study", period: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "resourceType": "ResearchSubject",
        "id": "rs",
        "status": status,
        "individual": {"reference": "Patient/p1"},
        "study": {"display": "Another lupus study"},
        "period": period or {"start": "2026-01-05"},
    }


def related(code: str, period: dict[str, str] | None = None, rid: str = "rp") -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": rid,
        "patient": {"reference": "Patient/p1"},
        "relationship": [{"coding": [{"system": ROLE, "code": code}]}],
    }
    if period:
        res["period"] = period
    return res


# ------------------------------------------------------------------------------------ E14


@pytest.mark.parametrize(
    ("resources", "outcome"),
    [
        ([], "unknown"),  # nothing said: the absence of a ResearchSubject is not "none"
        ([research_subject()], "fail"),  # on study now
        ([research_subject("off-study")], "unknown"),  # off one study says nothing of others
        ([empty_list("research-participations")], "pass"),  # nil known, a week ago
        ([research_subject("off-study"), empty_list("research-participations")], "pass"),
        ([empty_list("research-participations", reason="notasked")], "unknown"),
        ([empty_list("research-participations", reason="withheld")], "unknown"),
        ([empty_list("research-participations", status="retired")], "unknown"),
        ([statement("in-other-study", False)], "pass"),
        ([statement("in-other-study", True)], "fail"),
        # she enrolled after the "none" was stated: the participation stands
        ([research_subject(period={"start": "2026-11-20"}), empty_list("research-participations")], "fail"),
    ],
)
def test_e14_yes_none_and_nothing_said(
    tmp_path: Path, engine: Engine, resources: list[dict[str, Any]], outcome: str
) -> None:
    outcomes, _ = _screen(tmp_path, engine, patient(), *resources)
    assert outcomes["E14"] == outcome


def test_e14_freshness_boundary_is_the_rule_sets_30_days(tmp_path: Path, engine: Engine) -> None:
    """2026-10-26 is 30 days before 2026-11-25 (counts); 2026-10-25 is 31 (does not)."""
    inside, _ = _screen(tmp_path, engine, patient(), empty_list("research-participations", "2026-10-26"))
    outside, _ = _screen(tmp_path, engine, patient(), empty_list("research-participations", "2026-10-25"))
    assert (inside["E14"], outside["E14"]) == ("pass", "unknown")


def test_e14_a_none_that_contradicts_a_current_participation_is_left_out_with_both(
    tmp_path: Path, engine: Engine
) -> None:
    outcomes, issues = _screen(
        tmp_path, engine, patient(), research_subject(), empty_list("research-participations")
    )
    assert outcomes["E14"] == "unknown"
    assert any("List/list-research-participations" in i and "ResearchSubject/rs" in i for i in issues)


def test_e14_an_empty_list_without_a_date_is_not_a_none(tmp_path: Path, engine: Engine) -> None:
    outcomes, issues = _screen(tmp_path, engine, patient(), empty_list("research-participations", None))
    assert outcomes["E14"] == "unknown"
    assert any("entry[1].resource.date" in i and "no date" in i for i in issues)


# ------------------------------------------------------------------------------------ E16


def test_e16_a_guardian_in_patient_contact_excludes(tmp_path: Path, engine: Engine) -> None:
    p = patient()
    p["contact"] = [
        {"relationship": [{"coding": [{"system": f"{THO}/v2-0131", "code": "N"}]}]},
        {
            "relationship": [{"coding": [{"system": ROLE, "code": "GUARD", "display": "guardian"}]}],
            "period": {"start": "2026-11-01"},
        },
    ]
    alone, _ = _screen(tmp_path, engine, p)
    # a "none" stated before the guardianship began is superseded, not a contradiction
    superseded, _ = _screen(tmp_path, engine, p, statement("legal-protection", False, "2026-10-30"))
    assert (alone["E16"], superseded["E16"]) == ("fail", "fail")


@pytest.mark.parametrize(
    ("resources", "outcome"),
    [
        ([], "unknown"),  # nothing said
        ([related("GUARD")], "fail"),
        ([related("GUARD", {"start": "2015-01-01", "end": "2020-01-01"})], "unknown"),  # ended
        (
            [
                related("GUARD", {"start": "2015-01-01", "end": "2020-01-01"}),
                empty_list("legal-protection-measures"),
            ],
            "pass",
        ),
        ([related("MTH"), empty_list("legal-protection-measures")], "pass"),  # her mother: no role
        ([statement("legal-protection", False)], "pass"),
        ([statement("legal-protection", False, "2026-10-01")], "unknown"),  # stale
        ([statement("legal-protection", True)], "fail"),
        ([related("POWATT"), statement("legal-protection", False)], "unknown"),  # to check
        ([related("HPOWATT"), empty_list("legal-protection-measures")], "unknown"),
        ([related("GUARD", {"start": "2024-02-01"}), statement("legal-protection", False)], "unknown"),
    ],
)
def test_e16_guardian_none_and_nothing_said(
    tmp_path: Path, engine: Engine, resources: list[dict[str, Any]], outcome: str
) -> None:
    outcomes, _ = _screen(tmp_path, engine, patient(), *resources)
    assert outcomes["E16"] == outcome


def test_e16_a_power_of_attorney_is_named_for_a_person_to_check(tmp_path: Path, engine: Engine) -> None:
    _, issues = _screen(tmp_path, engine, patient(), related("POWATT"), statement("legal-protection", False))
    assert any(
        "RelatedPerson/rp" in i and "power of attorney" in i and "person to check" in i for i in issues
    )


# ------------------------------------------------------------------------------------ I2


def sle(cid: str = "sle") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "clinicalStatus": {"coding": [{"system": f"{THO}/condition-clinical", "code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "55464009"}]},
        "onsetDateTime": "2019-05-20",
    }


def criteria_met(
    value: Any, day: str = "2019-06-10", oid: str = "acr", focus: str | None = "sle", year: str = "1997"
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": OWN, "code": f"sle-acr-{year}-criteria-met"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": day,
        "valueInteger": value,
    }
    if focus:
        res["focus"] = [{"reference": f"Condition/{focus}"}]
    return res


ANA = coded_obs("ana", "8061-4", LOINC, "LA6576-8", "2019-06-03")


@pytest.mark.parametrize(
    ("resources", "outcome"),
    [
        ([sle(), ANA], "unknown"),  # a bare SLE code does not show 4 ACR criteria
        ([sle(), ANA, criteria_met(4)], "pass"),  # the boundary: 4 of 11
        ([sle(), ANA, criteria_met(3)], "fail"),
        ([sle(), ANA, criteria_met(6, focus=None)], "pass"),  # no focus: the SLE diagnosis
        ([sle(), ANA, criteria_met(6, year="1982")], "pass"),
        ([sle(), ANA, criteria_met(12)], "unknown"),  # impossible: refused
        ([sle(), ANA, criteria_met(4.5)], "unknown"),
        ([sle(), ANA, criteria_met(6, focus="other")], "unknown"),  # classifies another condition
        ([sle(), ANA, criteria_met(3, "2018-01-01", "a1"), criteria_met(5, "2019-01-01", "a2")], "pass"),
        ([sle(), ANA, criteria_met(3, oid="a1"), criteria_met(5, oid="a2")], "unknown"),  # same day
        ([ANA, criteria_met(6, focus=None)], "fail"),  # no SLE diagnosis at all
    ],
)
def test_i2_classification_from_an_observation(
    tmp_path: Path, engine: Engine, resources: list[dict[str, Any]], outcome: str
) -> None:
    outcomes, _ = _screen(tmp_path, engine, patient(), *resources)
    assert outcomes["I2"] == outcome


def test_i2_refused_and_unused_classifications_are_reported(tmp_path: Path, engine: Engine) -> None:
    _, issues = _screen(tmp_path, engine, patient(), sle(), criteria_met(12))
    assert any("outside 0-11" in i and "entry[2].resource.value" in i for i in issues)
    _, issues = _screen(tmp_path, engine, patient(), sle(), criteria_met(6, focus="other"))
    assert any("Condition/other" in i and "not used" in i for i in issues)


# ------------------------------------------------------------------ SLEDAI from a QuestionnaireResponse


def response(
    items: list[dict[str, Any]], status: str = "completed", authored: str | None = "2026-11-18"
) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": "qr",
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "item": items,
    }
    if authored:
        res["authored"] = authored
    return res


def total(value: Any, coded: bool = True, text: str = "SELENA-SLEDAI total") -> dict[str, Any]:
    item: dict[str, Any] = {"linkId": "total", "text": text, "answer": [{"valueInteger": value}]}
    if coded:
        item["code"] = [{"system": OWN, "code": "selena-sledai"}]
    return item


@pytest.mark.parametrize(
    ("resources", "outcome"),
    [
        ([response([total(6)])], "pass"),  # the boundary: >= 6
        ([response([total(5)])], "fail"),
        ([response([total(8, coded=False)])], "pass"),  # read from its text, with a warning
        ([response([{"linkId": "g", "item": [total(8)]}])], "pass"),  # nested in a group
        ([response([total(8)], status="in-progress")], "unknown"),
        ([response([total(8)], authored=None)], "unknown"),
        ([response([total(8)], authored="2026-10-20")], "unknown"),  # 36 days: not at baseline
        ([response([total(8, coded=False, text="SLEDAI descriptor: arthritis")])], "unknown"),
        ([response([total("high")])], "unknown"),
    ],
)
def test_i3_sledai_total_from_a_questionnaire_response(
    tmp_path: Path, engine: Engine, resources: list[dict[str, Any]], outcome: str
) -> None:
    outcomes, _ = _screen(tmp_path, engine, patient(), *resources)
    assert outcomes["I3"] == outcome


def test_a_sledai_total_read_from_words_is_a_warning_naming_the_item(tmp_path: Path, engine: Engine) -> None:
    _, issues = _screen(
        tmp_path, engine, patient(), response([{"linkId": "g", "item": [total(8, coded=False)]}])
    )
    assert any("entry[1].resource.item[0].item[0].text" in i and "warning" in i for i in issues)


def test_a_yes_and_a_none_of_one_day_are_both_left_out(tmp_path: Path, engine: Engine) -> None:
    outcomes, issues = _screen(
        tmp_path,
        engine,
        patient(),
        statement("in-other-study", True, oid="yes"),
        empty_list("research-participations"),
    )
    assert outcomes["E14"] == "unknown"
    assert any("Observation/yes" in i and "List/list-research-participations" in i for i in issues)
    # a day apart they do not contradict: the later one counts
    outcomes, _ = _screen(
        tmp_path,
        engine,
        patient(),
        statement("in-other-study", True, "2026-11-17", oid="yes"),
        empty_list("research-participations"),
    )
    assert outcomes["E14"] == "pass"
