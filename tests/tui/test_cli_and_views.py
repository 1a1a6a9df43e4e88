"""The ``screener tui`` command and the text the views render from a ScreeningResult."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from screener.cli.main import build_parser, main
from screener.engine.evaluate import Engine
from screener.model.patient import load_patient
from screener.tui.widgets.detail import render_criterion
from screener.tui.widgets.todo import missing_fact_name, todo_items

from .conftest import AS_OF, MISSING_CREATININE, ROOT


def test_command_module_does_not_import_textual() -> None:
    code = "import sys; import screener.cli.main as m; m.build_parser(); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


def test_tui_arguments() -> None:
    args = build_parser().parse_args(["tui", "p.yaml", "--as-of", "2026-11-25", "--rules", "r"])
    assert (args.patient, args.as_of, str(args.rules)) == ("p.yaml", date(2026, 11, 25), "r")
    assert build_parser().parse_args(["tui"]).patient is None


def test_bad_patient_file_is_an_input_error(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: '1'\npatient_id: x\n", encoding="utf-8")
    assert main(["tui", str(bad), "--rules", str(ROOT / "rules" / "nct03562065")]) == 2
    assert str(bad) in capsys.readouterr().err


def test_detail_shows_protocol_evidence_and_derived_inputs(engine: Engine) -> None:
    patient = load_patient(ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml")
    result = engine.screen(patient, AS_OF)
    text = render_criterion(result.criterion("I1")).plain
    assert "Age > 18 years and < 70 years." in text
    assert "Inclusion criteria, bullet 1" in text
    assert "Reading" in text and "yes age >= 18 years" in text
    assert "age = 34 years" in text and " a\n" not in text
    assert "age_in_years(birth_date=1992-03-14, on=2026-11-25)" in text
    assert "← birth_date = 1992-03-14" in text
    assert "Missing" not in text


def test_detail_and_todo_of_an_unknown_criterion(engine: Engine) -> None:
    result = engine.screen(load_patient(MISSING_CREATININE), AS_OF)
    text = render_criterion(result.criterion("E2")).plain
    assert "UNKNOWN" in text and "Missing" in text and "creatinine (Serum creatinine" in text
    items = todo_items(result, engine.ruleset, {"creatinine", "creatinine_clearance_measured"})
    assert [i.fact for i in items] == ["creatinine_clearance_measured", "creatinine"]
    assert [i.action for i in items] == ["fact", "fact"]
    assert [i.text for i in items] == ["Enter measured 24-h creatinine clearance", "Enter serum creatinine"]
    assert all(i.criteria == ("E2",) for i in items)
    # a fact the form cannot enter is still listed, to review, not to type
    assert [i.action for i in todo_items(result, engine.ruleset, set())] == ["review", "review"]


def test_eligible_from_is_shown(engine: Engine) -> None:
    result = engine.screen(load_patient(MISSING_CREATININE), date(2026, 6, 15))
    failing = result.failing[0]
    assert failing.eligible_from == date(2026, 7, 1)
    assert "Qualifies from 2026-07-01" in render_criterion(failing).plain


def test_missing_fact_name() -> None:
    assert missing_fact_name("creatinine (older than 60 days)") == "creatinine"
    assert missing_fact_name("sle (c0): classification") == "sle"
    assert (
        missing_fact_name("glucocorticoid treatment history (drug, dose)")
        == "glucocorticoid treatment history"
    )


def test_person_only_checks_are_listed(engine: Engine) -> None:
    from screener.model.patient import patient_from_data
    from screener.yamlio import LineMap

    raw = load_patient(ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml").raw
    raw = {**raw, "statuses": [s for s in raw["statuses"] if s["name"] != "informed_consent"]}
    result = engine.screen(patient_from_data(raw, LineMap("memory", {})), AS_OF)
    assert result.decision == "incomplete"
    items = todo_items(result, engine.ruleset, {"informed_consent"})
    # one item for the person-only criterion, not one for its fact and one for the check
    assert len(items) == 1
    (item,) = items
    assert item.person_only and item.fact == "informed_consent" and item.action == "fact"
    assert item.criteria == ("I8",) and item.text == "Ask and record (yes/no): Signed informed consent"
