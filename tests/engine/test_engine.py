from __future__ import annotations

import copy
from datetime import date

import pytest

from screener.engine.evaluate import Engine
from screener.model.patient import load_patient, parse_patient
from screener.model.rules import RuleSet
from screener.yamlio import LineMap
from tests.conftest import EXAMPLE_PATIENT

AS_OF = date(2026, 11, 25)
# two 1 g infusions two weeks apart, last dose 2026-08-15: inside E10's 6-month washout on AS_OF
RITUXIMAB_AUGUST = {
    "drug": "rituximab",
    "dose": 1,
    "unit": "g",
    "route": "iv",
    "start": "2026-08-01",
    "administrations": ["2026-08-01", "2026-08-15"],
    "outcome": "inefficacy",
}


def _with(raw: dict, **changes: object) -> dict:
    data = copy.deepcopy(raw)
    data.update(changes)
    return data


def _patient(data: dict):  # type: ignore[no-untyped-def]
    from screener.model.patient import patient_from_data

    return patient_from_data(data, LineMap("<test>", {}))


def test_example_patient_is_eligible_with_every_criterion_passing(engine: Engine) -> None:
    result = engine.screen(load_patient(EXAMPLE_PATIENT), AS_OF)
    assert result.decision == "eligible"
    assert {c.outcome for c in result.criteria} == {"pass"}
    assert result.eligible_from is None


def test_explanation_carries_derived_values_with_their_inputs(engine: Engine) -> None:
    result = engine.screen(load_patient(EXAMPLE_PATIENT), AS_OF)
    e2 = result.criterion("E2")
    (evidence,) = e2.evidence
    assert evidence.outcome is False
    (crcl,) = evidence.facts
    assert crcl.name == "crcl_cockcroft_gault" and crcl.function == "cockcroft_gault"
    # (140 - 34) x 61 / (72 x 68/88.4) x 0.85 = 99.2 mL/min
    assert crcl.value == pytest.approx((140 - 34) * 61 / (72 * 68 / 88.4) * 0.85, abs=0.01)
    assert {i.name for i in crcl.inputs} == {"age", "weight", "creatinine", "sex"}
    creatinine = next(i for i in crcl.inputs if i.name == "creatinine")
    assert creatinine.note == "converted from 68 umol/L"
    assert creatinine.source == "lab report 26-88412"
    assert "Cockcroft" in (crcl.citation or "")
    assert evidence.margin == pytest.approx(crcl.value - 30)


def test_missing_facts_are_named_through_derived_values(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    data = _with(raw, observations=[o for o in raw["observations"] if o["name"] != "weight"])
    result = engine.screen(_patient(data), AS_OF)
    e2 = result.criterion("E2")
    assert e2.outcome == "unknown"
    assert any(m.startswith("weight") for m in e2.missing)
    assert result.decision == "incomplete"


def test_a_stale_lab_is_missing_with_the_reason(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    observations = [
        dict(o, date="2026-08-01") if o["name"] == "creatinine" else o for o in raw["observations"]
    ]
    result = engine.screen(_patient(_with(raw, observations=observations)), AS_OF)
    missing = result.criterion("E2").missing
    assert "creatinine (latest value dated 2026-08-01 is older than 60 days)" in missing
    assert any(m.startswith("creatinine_clearance_measured") for m in missing)  # the other way to know


def test_re_screening_starts_from_scratch(engine: Engine) -> None:
    """No truth maintenance in durable_rules: an edit must not leave old derived facts behind."""
    raw = load_patient(EXAMPLE_PATIENT).raw
    low = [dict(o, value=600) if o["name"] == "creatinine" else o for o in raw["observations"]]
    first = engine.screen(_patient(_with(raw, observations=low)), AS_OF)
    assert first.criterion("E2").outcome == "fail"
    second = engine.screen(load_patient(EXAMPLE_PATIENT), AS_OF)
    assert second.criterion("E2").outcome == "pass"
    assert len(second.criterion("E2").evidence) == 1


def test_thousands_of_sessions_do_not_hit_the_session_cap(engine: Engine) -> None:
    patient = load_patient(EXAMPLE_PATIENT)
    first = engine.screen(patient, AS_OF)
    for _ in range(1100):  # durable_rules caps live sessions near 1,024 per ruleset
        result = engine.screen(patient, AS_OF)
    assert result == first


def test_washout_gives_the_date_from_which_the_patient_qualifies(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    rituximab = {**RITUXIMAB_AUGUST, "end": "2026-08-15"}
    result = engine.screen(_patient(_with(raw, medications=[*raw["medications"], rituximab])), AS_OF)
    e10 = result.criterion("E10")
    assert e10.outcome == "fail"
    # last dose 2026-08-15 + 6 calendar months = 2027-02-15, still "within 6 months"
    assert e10.eligible_from == date(2027, 2, 16)
    later = engine.screen(
        _patient(_with(raw, medications=[*raw["medications"], rituximab])), date(2027, 2, 16)
    )
    assert later.criterion("E10").outcome == "pass"
    # by then the labs and statuses are too old: not "eligible from", but "at the earliest, once
    # these are renewed" -- exactly the criteria unknown when screening on that date
    assert result.decision == "ineligible" and result.eligible_from is None
    earliest = result.earliest_possible
    assert earliest is not None and earliest.date == date(2027, 2, 16)
    assert earliest.collect and all(c.renew for c in earliest.collect)
    assert {cid for c in earliest.collect for cid in c.criteria} == {r.id for r in later.unknown}
    assert any(c.item.startswith("legal_protection (latest value dated") for c in earliest.collect)
    doc = result.to_dict()
    assert doc["eligible_from"] is None and doc["earliest_possible"]["date"] == "2027-02-16"


def _hydroxychloroquine_since(start: str) -> dict:
    return {
        "drug": "hydroxychloroquine",
        "dose": 200,
        "unit": "mg",
        "route": "oral",
        "frequency": "bid",
        "start": start,
    }


def test_eligible_from_only_when_nothing_else_is_open_then_or_now(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    meds = [*raw["medications"], _hydroxychloroquine_since("2026-10-30")]  # I5: 26 of 30 days
    result = engine.screen(_patient(_with(raw, medications=meds)), AS_OF)
    assert [r.id for r in result.failing] == ["I5"] and not result.unknown
    assert result.criterion("I5").eligible_from == date(2026, 11, 29)
    # nothing else open and nothing too old four days later: a true "eligible from"
    assert result.eligible_from == date(2026, 11, 29)
    assert result.earliest_possible is not None and result.earliest_possible.collect == ()
    assert engine.screen(_patient(_with(raw, medications=meds)), date(2026, 11, 29)).decision == "eligible"
    assert engine.screen(_patient(_with(raw, medications=meds)), date(2026, 11, 28)).decision == "ineligible"


def test_open_criteria_today_make_it_the_earliest_possible_date(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    meds = [*raw["medications"], _hydroxychloroquine_since("2026-10-30")]
    data = _with(raw, medications=meds, assessments=[])  # SELENA-SLEDAI not collected
    result = engine.screen(_patient(data), AS_OF)
    assert [r.id for r in result.unknown] == ["I3"]
    assert result.eligible_from is None
    earliest = result.earliest_possible
    assert earliest is not None and earliest.date == date(2026, 11, 29)
    (item,) = earliest.collect
    assert item.criteria == ("I3",) and not item.renew and item.item.startswith("selena_sledai")


def test_no_earliest_date_when_a_criterion_fails_for_good(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    rituximab = {**RITUXIMAB_AUGUST, "end": "2026-08-15"}
    data = _with(raw, medications=[*raw["medications"], rituximab])
    data["demographics"] = {**data["demographics"], "sex": "male"}
    data["statuses"] = [*data["statuses"], {"name": "legal_protection", "value": True, "date": "2026-11-20"}]
    result = engine.screen(_patient(data), AS_OF)
    assert result.criterion("E16").outcome == "fail" and result.criterion("E16").eligible_from is None
    assert result.eligible_from is None and result.earliest_possible is None
    day_before = engine.screen(
        _patient(_with(raw, medications=[*raw["medications"], rituximab])), date(2027, 2, 15)
    )
    assert day_before.criterion("E10").outcome == "fail"


@pytest.mark.parametrize(("birth_date", "want"), [("1956-11-28", None), ("1956-11-29", date(2026, 11, 28))])
def test_no_eligible_from_date_when_a_criterion_fails_for_good_at_the_end_of_the_wait(
    engine: Engine, birth_date: str, want: date | None
) -> None:
    """I5 fails today (hydroxychloroquine for 28 of 30 days): its wait ends on 2026-11-28.
    Born 1956-11-28, the patient is 70 that day: I1 (age < 70) then fails for good, so no date
    holds, although the one criterion failing today has one (the engine's row said 2026-11-28
    before: a wrongly eligible date). Born a day later, still 69 then: eligible from that day."""
    raw = load_patient(EXAMPLE_PATIENT).raw
    data = _with(raw, medications=[*raw["medications"], _hydroxychloroquine_since("2026-10-29")])
    data["demographics"] = {**data["demographics"], "birth_date": birth_date}
    result = engine.screen(_patient(data), AS_OF)
    assert [c.id for c in result.failing] == ["I5"] and not result.unknown
    assert result.criterion("I5").eligible_from == date(2026, 11, 28)
    assert result.eligible_from == want
    later = engine.screen(_patient(data), date(2026, 11, 28))
    if want is None:
        assert [c.id for c in later.failing] == ["I1"] and result.earliest_possible is None
    else:
        assert later.decision == "eligible"


def test_person_only_criteria_stay_to_do_without_confirmation(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    person_only = {
        "informed_consent",
        "social_security",
        "national_register_exclusion",
        "incapacity_to_consent",
        "poor_compliance",
    }
    data = _with(raw, statuses=[s for s in raw["statuses"] if s["name"] not in person_only])
    result = engine.screen(_patient(data), AS_OF)
    unknown = {c.id for c in result.criteria if c.outcome == "unknown"}
    assert unknown == {"I8", "I9", "E12", "E13", "E15"}
    assert all(result.criterion(i).person_only for i in unknown)
    assert result.decision == "incomplete"


def test_json_document_has_schema_version_and_per_criterion_fields(engine: Engine) -> None:
    doc = engine.screen(load_patient(EXAMPLE_PATIENT), AS_OF).to_dict()
    assert doc["schema_version"] == "2" and doc["decision"] == "eligible"
    assert len(doc["criteria"]) == 26
    for item in doc["criteria"]:
        assert {"id", "outcome", "missing", "evidence", "eligible_from"} <= set(item)


def test_two_engines_on_one_rule_set_coexist(ruleset: RuleSet) -> None:
    """Re-registering a ruleset name is refused by durable_rules; each Engine gets its own."""
    patient = load_patient(EXAMPLE_PATIENT)
    with Engine(ruleset) as a, Engine(ruleset) as b:
        assert a.screen(patient, AS_OF) == b.screen(patient, AS_OF)


def test_a_patient_with_no_facts_is_incomplete_not_an_error(engine: Engine) -> None:
    patient = parse_patient('schema_version: "1"\npatient_id: empty\ndemographics: {}\n')
    result = engine.screen(patient, AS_OF)
    assert result.decision in ("incomplete", "ineligible")
    assert result.criterion("I1").outcome == "unknown"
    assert any("birth_date" in m for m in result.criterion("I1").missing)


def test_facts_no_rule_matches_are_not_an_error(engine: Engine) -> None:
    """durable_rules reports a fact that matches no rule (code 1); it must not abort the screening."""
    raw = load_patient(EXAMPLE_PATIENT).raw
    data = _with(raw, conditions=[*raw["conditions"], {"name": "asthma", "onset": "2001-01-01"}])
    assert engine.screen(_patient(data), AS_OF).decision == "eligible"


def test_a_failing_clinical_function_is_reported_not_swallowed(engine: Engine) -> None:
    """Action errors vanish silently inside durable_rules; ours surface as 'could not be computed'."""
    data = {"schema_version": "1", "patient_id": "x", "demographics": {"birth_date": "2027-01-01"}}
    i1 = engine.screen(_patient(data), AS_OF).criterion("I1")
    assert i1.outcome == "unknown"
    assert any("could not be computed" in m for m in i1.missing)


def test_json_document_validates_against_the_shipped_result_schema(engine: Engine) -> None:
    from jsonschema import Draft202012Validator, FormatChecker

    from screener.spec.validate import schema

    validator = Draft202012Validator(schema("result.schema.json"), format_checker=FormatChecker())
    raw = load_patient(EXAMPLE_PATIENT).raw
    rituximab = RITUXIMAB_AUGUST
    for patient in (load_patient(EXAMPLE_PATIENT), _patient(_with(raw, medications=[rituximab]))):
        doc = engine.screen(patient, AS_OF).to_dict()
        assert list(validator.iter_errors(doc)) == []


def test_explain_false_keeps_outcomes_missing_dates_and_margins(engine: Engine) -> None:
    raw = load_patient(EXAMPLE_PATIENT).raw
    rituximab = RITUXIMAB_AUGUST
    observations = [o for o in raw["observations"] if o["name"] != "weight"]
    patient = _patient(_with(raw, observations=observations, medications=[*raw["medications"], rituximab]))
    full = engine.screen(patient, AS_OF)
    lean = engine.screen(patient, AS_OF, explain=False)
    assert lean.decision == full.decision == "ineligible"
    for a, b in zip(full.criteria, lean.criteria, strict=True):
        assert (a.id, a.outcome, a.missing, a.eligible_from) == (b.id, b.outcome, b.missing, b.eligible_from)
        assert [(e.test, e.outcome, e.margin) for e in a.evidence] == [
            (e.test, e.outcome, e.margin) for e in b.evidence
        ]
    assert any(e.facts for c in full.criteria for e in c.evidence)
    assert not any(e.facts for c in lean.criteria for e in c.evidence if e.op is not None)


def test_earliest_possible_and_conflicts_validate_against_the_result_schema(engine: Engine) -> None:
    from jsonschema import Draft202012Validator, FormatChecker

    from screener.spec.validate import schema

    raw = load_patient(EXAMPLE_PATIENT).raw
    rituximab = {**RITUXIMAB_AUGUST, "end": "2026-08-15"}
    creatinine = [o for o in raw["observations"] if o["name"] == "creatinine"][-1]
    disagreeing = {**creatinine, "value": 300, "unit": "umol/L", "source": "second lab"}
    data = _with(
        raw,
        medications=[*raw["medications"], rituximab],
        observations=[*raw["observations"], disagreeing],
    )
    result = engine.screen(_patient(data), AS_OF)
    e2 = result.criterion("E2")
    assert e2.outcome == "unknown" and len(e2.conflicts) == 1 and "second lab" in e2.conflicts[0]
    doc = result.to_dict()
    assert (
        doc["earliest_possible"]["collect"]
        and doc["criteria"][[c["id"] for c in doc["criteria"]].index("E2")]["conflicts"]
    )
    validator = Draft202012Validator(schema("result.schema.json"), format_checker=FormatChecker())
    assert not list(validator.iter_errors(doc))


def test_a_screening_whose_action_raised_leaves_the_engine_screening_the_next_patient_right(
    ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One firing's callback raises (a bug, or data nothing foresaw): that screening fails, and
    the same engine then screens the next patient as a fresh one does (it used to fire nothing
    and fail every later patient with a misleading type error)."""
    patient = load_patient(EXAMPLE_PATIENT)
    with Engine(ruleset) as fresh:
        want = fresh.screen(patient, AS_OF)
    with Engine(ruleset) as engine:
        working = engine._glue.action
        firings = 0

        def failing_on_the_third_firing(fired):  # type: ignore[no-untyped-def]
            act = working(fired)

            def action(rule, matched):  # type: ignore[no-untyped-def]
                nonlocal firings
                firings += 1
                if firings == 3:
                    raise RuntimeError("an action failed")
                return act(rule, matched)

            return action

        monkeypatch.setattr(engine._glue, "action", failing_on_the_third_firing)
        with pytest.raises(RuntimeError, match="an action failed"):
            engine.screen(patient, AS_OF)
        monkeypatch.setattr(engine._glue, "action", working)
        got = engine.screen(patient, AS_OF)
    assert want.decision == got.decision == "eligible"
    assert [(c.id, c.outcome) for c in got.criteria] == [(c.id, c.outcome) for c in want.criteria]
