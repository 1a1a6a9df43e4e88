"""Three-valued groups and quantifiers, and what their explanations show (issue 16 section 7).

``not``, ``all``, ``any`` and ``first_known`` over every combination of true, false and unknown
children, and quantifiers with and without ``where`` and records: the full screening (which
builds explanations), the outcome-only evaluation (no explanations) and the fast path must all
give the outcome of Kleene's logic, computed here independently (an order false < unknown <
true: ``all`` is the minimum, ``any`` the maximum). Then the explanations: the evidence of a
negated test is the test's own, and the values, records and labels an auditor reads are there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date

import pytest

from screener.clinical import FUNCTIONS
from screener.engine.evaluate import Engine
from screener.model.patient import Patient
from screener.model.rules import RuleSet

from .mutant_rules import AS_OF, patient, ruleset

_ORDER = {False: 0, None: 1, True: 2}
_BACK = {0: False, 1: None, 2: True}


def _all(*values: bool | None) -> bool | None:
    return _BACK[min(_ORDER[v] for v in values)]


def _any(*values: bool | None) -> bool | None:
    return _BACK[max(_ORDER[v] for v in values)]


def _not(value: bool | None) -> bool | None:
    return _BACK[2 - _ORDER[value]]


def _first_known(*values: bool | None) -> bool | None:
    return next((v for v in values if v is not None), None)


def _word(value: bool | None, inclusion: bool = True) -> str:
    if value is None:
        return "unknown"
    return "pass" if value is inclusion else "fail"


LVEFS: dict[float | None, bool | None] = {None: None, 35.0: True, 45.0: False}  # lvef < 40
ANAS: dict[str | None, bool | None] = {None: None, "positive": True, "negative": False}  # ana == positive
GRID = list(itertools.product(LVEFS, ANAS))


def expected_logic(lvef: float | None, ana: str | None) -> dict[str, str]:
    low, pos = LVEFS[lvef], ANAS[ana]
    return {
        "I40": _word(_not(low)),
        "I41": _word(_all(low, pos)),
        "I42": _word(_any(low, pos)),
        "I43": _word(_first_known(low, pos)),
        "I44": _word(_first_known(pos, low)),
        "I50": _word(pos),
        "I51": _word(_not(pos)),
        "E40": _word(_not(low), inclusion=False),
        "E41": _word(_any(low, pos), inclusion=False),
    }


def _grid_patient(lvef: float | None, ana: str | None) -> Patient:
    return patient(f"lvef-{lvef}-ana-{ana}", lvef=lvef, ana=ana)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return ruleset()


@pytest.fixture(scope="module")
def engine(rules: RuleSet) -> Iterator[Engine]:
    with Engine(rules) as e:
        yield e


def _outcomes(engine: Engine, p: Patient, when: date = AS_OF) -> dict[str, dict[str, str]]:
    """criterion -> outcome, by each engine evaluation: full, outcome-only, batch, one-criterion."""
    full = {c.id: c.outcome for c in engine.screen(p, when).criteria}
    lean = {c.id: c.outcome for c in engine.screen(p, when, explain=False, evidence="failing").criteria}
    single = {c.id: engine.outcome(c, p, when) for c in engine.ruleset.criteria}
    return {"screen": full, "outcomes": engine.outcomes(p, when), "batch": lean, "one criterion": single}


@pytest.mark.parametrize(("lvef", "ana"), GRID, ids=[f"lvef={a}-ana={b}" for a, b in GRID])
def test_groups_follow_kleene_logic_on_every_engine_evaluation(
    engine: Engine, lvef: object, ana: object
) -> None:
    want = expected_logic(lvef, ana)  # type: ignore[arg-type]
    for how, got in _outcomes(engine, _grid_patient(lvef, ana)).items():  # type: ignore[arg-type]
        assert {k: got[k] for k in want} == want, how


def test_the_grid_has_every_truth_value_on_each_side() -> None:
    assert {(LVEFS[a], ANAS[b]) for a, b in GRID} == set(itertools.product(_ORDER, _ORDER))


# Quantifiers: (patient, expected outcome of I45..I48)
QUANTIFIED = [
    ("no records", {}, {"I45": "fail", "I46": "unknown", "I47": "pass", "I48": "fail"}),
    ("sle without criteria", {"sle": True}, {"I45": "pass", "I46": "pass", "I47": "unknown", "I48": "fail"}),
    ("sle 3 criteria", {"sle": 3}, {"I45": "pass", "I46": "pass", "I47": "pass", "I48": "fail"}),
    ("sle 4 criteria", {"sle": 4}, {"I45": "pass", "I46": "pass", "I47": "fail", "I48": "fail"}),
    ("azathioprine all low", {"azathioprine": [50.0, 100.0]}, {"I48": "pass"}),
    ("azathioprine one high", {"azathioprine": [50.0, 100.5]}, {"I48": "fail"}),
]


@pytest.mark.parametrize(("name", "facts", "want"), QUANTIFIED, ids=[q[0] for q in QUANTIFIED])
def test_quantifiers_on_every_engine_evaluation(
    engine: Engine, name: str, facts: dict[str, object], want: dict[str, str]
) -> None:
    """``exists`` without ``where`` is true as soon as one record matches (the outcome-only
    evaluator's shortcut too); ``absent`` decides when none does; ``every`` needs each record."""
    for how, got in _outcomes(engine, patient(name, **facts)).items():  # type: ignore[arg-type]
        assert {k: got[k] for k in want} == want, how


def test_an_absent_record_that_means_none_leaves_the_group_open(engine: Engine) -> None:
    """any(no SLE record, with absent "false"; lvef unknown) is unknown with lvef to collect, also
    when batch screening re-reads an unknown criterion for its missing facts only."""
    for how, got in _outcomes(engine, patient("nothing")).items():
        assert got["I53"] == "unknown", how
    lean = engine.screen(patient("nothing"), AS_OF, explain=False, evidence="failing")
    assert next(c for c in lean.criteria if c.id == "I53").missing == ("lvef (LVEF)",)
    assert _outcomes(engine, patient("low", lvef=35.0))["outcomes"]["I53"] == "pass"
    assert _outcomes(engine, patient("ok", lvef=45.0))["outcomes"]["I53"] == "fail"


@pytest.mark.parametrize(("position", "want"), [("below", "pass"), ("at", "unknown"), ("above", "unknown")])
def test_a_result_that_cannot_settle_the_test_is_unknown_with_its_to_do(
    engine: Engine, position: str, want: str
) -> None:
    """``unknown_when: false``: platelets < 100 passes; a count of 100 or more cannot settle it."""
    from .mutant_rules import boundary_patient

    p = boundary_patient(position)
    for how, got in _outcomes(engine, p).items():
        assert got["I54"] == want, how
    for explain, evidence in ((True, "all"), (False, "failing")):
        result = next(
            c for c in engine.screen(p, AS_OF, explain=explain, evidence=evidence).criteria if c.id == "I54"
        )
        assert result.missing == (() if want == "pass" else ("a repeat platelet count",))


duckdb = pytest.importorskip("duckdb")


def test_the_fast_path_follows_the_same_logic(rules: RuleSet) -> None:
    from screener.vectorized import VectorizedScreener

    from .mutant_rules import boundary_patient

    patients = [_grid_patient(a, b) for a, b in GRID] + [patient(n, **f) for n, f, _ in QUANTIFIED]  # type: ignore[arg-type]
    wants = [expected_logic(a, b) for a, b in GRID] + [w for _, _, w in QUANTIFIED]  # type: ignore[arg-type]
    patients += [patient("nothing"), *(boundary_patient(p) for p in ("below", "at"))]
    wants += [{"I53": "unknown", "I54": "unknown"}, {"I54": "pass"}, {"I54": "unknown"}]
    with_fast = VectorizedScreener(rules)
    try:
        got = with_fast.screen(patients, AS_OF)
    finally:
        with_fast.close()
    for p, outcomes, want in zip(patients, got, wants, strict=True):
        assert {k: outcomes[k] for k in want} == want, p.patient_id


# ------------------------------------------------------------------------------ explanations


def _criterion(engine: Engine, p: Patient, cid: str):  # type: ignore[no-untyped-def]
    return next(c for c in engine.screen(p, AS_OF).criteria if c.id == cid)


def test_a_negated_test_shows_the_tests_own_evidence(engine: Engine) -> None:
    """``not`` turns the value around and keeps what was read: lvef 35 %, compared with 40."""
    result = _criterion(engine, patient("n", lvef=35.0), "I40")
    assert result.outcome == "fail"
    (evidence,) = result.evidence
    assert (evidence.test, evidence.outcome, evidence.value, evidence.threshold, evidence.op) == (
        "lvef < 40 %",
        True,
        35.0,
        40,
        "lt",
    )
    assert [(f.name, f.value, f.unit, f.date) for f in evidence.facts] == [("lvef", 35.0, "%", "2026-03-01")]
    unknown = _criterion(engine, patient("u"), "I40")
    assert unknown.outcome == "unknown" and unknown.evidence == () and unknown.missing == ("lvef (LVEF)",)


def test_all_and_any_keep_the_deciding_evidence_and_name_what_is_missing(engine: Engine) -> None:
    p = patient("m", lvef=45.0)  # lvef < 40 is false, ana unknown
    all_ = _criterion(engine, p, "I41")  # false settles it: the false test is the evidence
    assert all_.outcome == "fail" and [e.test for e in all_.evidence] == ["lvef < 40 %"] and not all_.missing
    any_ = _criterion(engine, p, "I42")  # not settled: unknown, the false test and the missing fact
    assert any_.outcome == "unknown" and any_.missing == ("ana (ANA)",)
    assert [(e.test, e.outcome) for e in any_.evidence] == [("lvef < 40 %", False)]
    first = _criterion(engine, p, "I44")  # ana unknown, then lvef: the first known is lvef's
    assert first.outcome == "fail" and [e.test for e in first.evidence] == ["lvef < 40 %"]
    neither = _criterion(engine, patient("x"), "I43")
    assert neither.outcome == "unknown" and neither.missing == ("lvef (LVEF)", "ana (ANA)")


def test_a_field_test_shows_the_record_its_value_and_label(engine: Engine) -> None:
    """The evidence of a field test inside a quantifier names the record (drug, dates, id), and
    the fact used carries the record's label and the compared value."""
    result = _criterion(engine, patient("a", azathioprine=[150.0]), "I48")
    assert result.outcome == "fail"
    (evidence,) = result.evidence
    assert evidence.test.startswith("azathioprine 2026-01-01..ongoing (") and evidence.test.endswith(
        "): daily_dose_mg <= 100"
    )
    label = evidence.test.removesuffix(": daily_dose_mg <= 100")
    assert (evidence.outcome, evidence.value, evidence.threshold, evidence.op) == (False, 150.0, 100, "lte")
    (used,) = evidence.facts
    assert (used.name, used.value, used.record, used.date) == ("daily_dose_mg", 150.0, label, "2026-01-01")
    assert used.source == "MedicationStatement/aza-0"  # where an auditor finds the record


def test_a_per_exposure_derived_value_shows_its_record_and_inputs(engine: Engine) -> None:
    from .mutant_rules import boundary_patient

    result = _criterion(engine, boundary_patient("above"), "I13")  # pred_eq > 100 mg/d
    assert result.outcome == "pass"
    (evidence,) = result.evidence
    assert evidence.test.startswith("prednisone 2026-01-01..ongoing (")
    assert (evidence.value, evidence.threshold, evidence.op, evidence.unit) == (100.5, 100, "gt", "mg/d")
    (used,) = evidence.facts
    assert (used.name, used.value, used.unit) == ("pred_eq", 100.5, "mg/d")
    assert used.function == "prednisone_equivalent_mg"
    assert used.record == evidence.test.removesuffix(": pred_eq > 100 mg/d")
    assert used.note == "prednisone_equivalent_mg(drug=prednisone, dose_mg=100.5)"


def test_a_quantifier_without_where_shows_each_matching_record(engine: Engine) -> None:
    result = _criterion(engine, patient("s", sle=True), "I45")
    assert result.outcome == "pass"
    (evidence,) = result.evidence
    assert evidence.test.startswith("condition record sle (") and evidence.outcome is True
    (used,) = evidence.facts
    assert used.name == "sle" and used.record == evidence.test.removeprefix("condition record ")
    none = _criterion(engine, patient("none"), "I45")
    assert [(e.test, e.outcome) for e in none.evidence] == [
        ("no condition record with name in ['sle']", False)
    ]


def test_a_derived_value_shows_its_function_and_inputs(engine: Engine) -> None:
    p = patient("adult", birth_date="2000-03-11", sex="male")  # 25 on AS_OF, 26 the day after
    result = _criterion(engine, p, "I49")
    assert result.outcome == "pass"
    age = next(e for e in result.evidence if e.test == "age >= 18 a")
    assert (age.value, age.threshold, age.op) == (25, 18, "gte")
    (used,) = age.facts
    assert (used.name, used.value, used.unit) == ("age", 25, "a")
    assert used.function == "age_in_years" and used.citation == FUNCTIONS["age_in_years"].citation
    assert used.note == f"age_in_years(birth_date=2000-03-11, on={AS_OF.isoformat()})"
    assert [(i.name, i.value) for i in used.inputs] == [("birth_date", "2000-03-11")]
