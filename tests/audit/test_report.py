"""Rule-set reports in Markdown and HTML (screener.audit.report)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from screener.audit.report import build_report, derived_used, facts_used, render_html, render_markdown
from screener.audit.words import node_words
from screener.model.rules import load_ruleset
from tests.audit.conftest import clean_text

REPO = Path(__file__).resolve().parents[2]

CASES = """\
cases:
  - note: adult on the 18th birthday
    as_of: 2026-11-25
    patient:
      schema_version: "1"
      patient_id: a
      demographics: {birth_date: 2008-11-25, sex: female}
    want:
      criteria: {I1: pass}
  - note: one day short of 18
    as_of: 2026-11-25
    patient_file: ../../patients/young.yaml
    want:
      criteria: {I1: fail, E1: unknown}
  - note: names a criterion the rule set lacks
    as_of: 2026-11-25
    patient: {schema_version: "1", patient_id: c}
    want:
      criteria: {E7: pass}
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "trial"
    (folder / "tests").mkdir(parents=True)
    (folder / "rules.yaml").write_text(clean_text(), encoding="utf-8")
    (folder / "tests" / "i1.yaml").write_text(CASES, encoding="utf-8")
    (folder / "tests" / "broken.yaml").write_text("cases: [\n", encoding="utf-8")
    return folder


def test_plain_words_of_a_test_tree() -> None:
    ruleset = load_ruleset(REPO / "rules" / "nct03562065")
    assert node_words(ruleset.criterion("I1").test) == "all of: age >= 18 a; age < 70 a"
    e10 = node_words(ruleset.criterion("E10").test)
    assert e10.startswith(
        "any of: some medication period with drug = belimumab where last_dose is at most 2 months "
        "before the screening date"
    )
    assert "some medication period with drug in [rituximab, ocrelizumab" in e10


def test_derived_values_include_those_they_are_computed_from() -> None:
    ruleset = load_ruleset(REPO / "rules" / "nct03562065")
    assert derived_used(ruleset, ruleset.criterion("E2")) == ["age", "crcl_cockcroft_gault"]
    assert derived_used(ruleset, ruleset.criterion("I1")) == ["age"]
    assert derived_used(ruleset, ruleset.criterion("I8")) == []
    # Exposure-level derived values read as fields inside a quantifier, and what they need.
    assert derived_used(ruleset, ruleset.criterion("I4b")) == [
        "bsa",
        "mmf_equivalent_mg_day",
        "mg_per_kg_day",
        "mg_per_kg_dose",
        "mg_per_m2_dose",
    ]


def test_facts_read_include_inputs_of_derived_values() -> None:
    ruleset = load_ruleset(REPO / "rules" / "nct03562065")
    assert facts_used(ruleset, ruleset.criterion("E2")) == [
        "birth_date",
        "sex",
        "weight",
        "creatinine",
        "creatinine_clearance_measured",
    ]
    assert facts_used(ruleset, ruleset.criterion("I8")) == ["informed_consent"]


def test_markdown_report_header_and_criterion(rules_dir: Path) -> None:
    ruleset = load_ruleset(rules_dir)
    text = render_markdown(build_report(ruleset))
    sha = hashlib.sha256((rules_dir / "rules.yaml").read_bytes()).hexdigest()
    assert text.startswith("# Clean test rule set\n")
    assert f"sha256: `{sha}`" in text
    assert "version 1.0.0" in text
    assert "## E1 (exclusion): Renal failure" in text
    assert "> Creatinine clearance < 30 mL/min." in text
    assert "**Reading:** Cockcroft-Gault with actual body weight." in text
    assert "crcl_cockcroft_gault < 30 mL/min" in text
    assert "Nephron 1976" in text  # citation of cockcroft_gault from screener.clinical
    assert "  - reading: Actual body weight." in text
    assert "Only a person can confirm this criterion." in text  # I2
    assert "- `creatinine`: Creatinine, in mg/dL, at most 60 days old" in text
    assert "- `informed_consent`: Consent, recorded by a person only" in text


def test_traceability_matrix_lists_cases_with_expected_outcome(rules_dir: Path) -> None:
    report = build_report(load_ruleset(rules_dir))
    by_id = {c.id: c for c in report.criteria}
    assert [(c.note, c.outcome) for c in by_id["I1"].cases] == [
        ("adult on the 18th birthday", "pass"),
        ("one day short of 18", "fail"),
    ]
    assert [c.outcome for c in by_id["E1"].cases] == ["unknown"]
    assert by_id["I2"].cases == ()
    first = by_id["I1"].cases[0]
    assert first.file.endswith("i1.yaml")
    assert first.line == 9  # the "criteria: {I1: pass}" line
    assert first.as_of == "2026-11-25"
    text = render_markdown(report)
    # the expected outcome in the words of its kind (an inclusion is met / not met)
    assert "| adult on the 18th birthday | 2026-11-25 | met |" in text
    assert "| one day short of 18 | 2026-11-25 | not met |" in text
    assert "| I2 | inclusion | Signed consent | none |" in text
    assert "| I1 | inclusion | Adult under 70 | 2 |" in text


def test_bad_case_files_are_reported_and_the_others_still_read(rules_dir: Path) -> None:
    report = build_report(load_ruleset(rules_dir))
    assert len(report.case_files) == 1
    assert any("broken.yaml" in p and "malformed YAML" in p for p in report.case_problems)
    assert any("unknown criterion E7" in p for p in report.case_problems)


def test_no_tests_folder_means_no_cases(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(clean_text(), encoding="utf-8")
    report = build_report(load_ruleset(tmp_path))
    assert report.case_files == () and report.case_problems == ()
    assert all(c.cases == () for c in report.criteria)


def test_html_is_self_contained_and_escaped(tmp_path: Path) -> None:
    hostile = (
        clean_text()
        .replace(
            "quote: Signed informed consent.}",
            "quote: \"<script>alert('x')</script> & <b>consent</b>\"}",
        )
        .replace("title: Clean test rule set", "title: A <i>rule</i> set & co")
    )
    (tmp_path / "rules.yaml").write_text(hostile, encoding="utf-8")
    html_text = render_html(build_report(load_ruleset(tmp_path)))
    assert html_text.startswith("<!DOCTYPE html>")
    assert "<script" not in html_text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &lt;b&gt;consent&lt;/b&gt;" in html_text
    assert "<h1>A &lt;i&gt;rule&lt;/i&gt; set &amp; co</h1>" in html_text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html_text)
    assert "<link" not in html_text
    assert html_text.count("<section") == 3


def test_html_of_trial_rule_set_has_every_criterion() -> None:
    ruleset = load_ruleset(REPO / "rules" / "nct03562065")
    html_text = render_html(build_report(ruleset))
    for c in ruleset.criteria:
        assert f'<section id="{c.id}">' in html_text
    assert ruleset.sha256 in html_text
