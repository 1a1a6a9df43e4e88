"""The hostile-input corpus (tests/data/hostile/, made by make_corpus.py) through the CLI.

Every file becomes one located error (``screener: error: file[:line]: ...``, exit 2)
that says what is wrong, never a traceback, a hang or a silently different decision
(issue 13 sections 1, 2 and 4).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import AS_OF, CORPUS, ELIGIBLE, assert_result_or_located_error, run_cli
from .make_corpus import deep_extension_bundle

# file -> (line of the error or None, fragment of the message)
PATIENTS: dict[str, tuple[int | None, str]] = {
    "year0_birth.yaml": (7, "'0000-01-01' is not a calendar date"),
    "year0_observation.yaml": (11, "'0000-01-01' is not a calendar date"),
    "date_30_february.yaml": (51, "'2019-02-30' is not a 'date'"),
    "dose_nan.yaml": (54, ".nan is not a finite number"),
    "dose_inf.yaml": (54, ".inf is not a finite number"),
    "dose_1e308_mg.yaml": (54, "impossible dose value 1e+308 mg"),
    "dose_1e308_g.yaml": (54, "impossible dose value 1e+308 g: not a finite number"),
    "dose_400_digits.yaml": (54, "is not a usable number"),
    "value_5000_digits.yaml": (11, "is too long to be a value"),
    "float_overflow.yaml": (11, "1e999 is not a finite number"),
    "reference_range_inf.yaml": (14, ".inf is not a finite number"),
    "reference_range_inverted.yaml": (13, "reference range is inverted: low 90 is above high 45"),
    "reference_range_negative.yaml": (14, "reference range high -35 is negative"),
    "acr_criteria_12.yaml": (49, "12 criteria met, but acr_1997 has only 11"),
    "medication_before_birth.yaml": (54, "dated 1980-06-10, before birth (1992-03-14)"),
    "sledai_nan_json.json": (1, "score must be a number, not the text 'NaN'"),
    "status_value_no.yaml": (33, "pregnant is the text 'no'; write true or false"),
    "sexagesimal_weight.yaml": (11, "weight must be a number, got '1:01'"),
    "duplicate_patient_id.yaml": (6, "key 'patient_id' is given twice (first at line 5)"),
    "duplicate_value.yaml": (11, "key 'value' is given twice"),
    "duplicate_key.json": (1, "key 'patient_id' is given twice"),
    "tag_binary.yaml": (9, "YAML tag !!binary is not allowed"),
    "tag_set.yaml": (8, "YAML tag !!set is not allowed"),
    "tag_timestamp.yaml": (7, "YAML tag !!timestamp is not allowed"),
    "tag_python.yaml": (8, "YAML tag !!python/object/apply:os.getcwd is not allowed"),
    "recursive_alias.yaml": (10, "recursive alias *a"),
    "deep_list_5000.yaml": (10, "nesting depth"),
    "deep_json_100000.json": (1, "nesting depth"),
    "billion_laughs.yaml": (6, "aliases expand to more than 100000 values"),
    "merge_key.yaml": (8, "merge keys (<<) are not supported"),
    "two_documents.yaml": (55, "more than one YAML document"),
    "empty.yaml": (None, "the file must be a mapping, not None"),
    "only_a_list.yaml": (1, "the file must be a mapping, not a list"),
    "latin1.yaml": (9, "file is not UTF-8 text: byte 0xf4"),
    "utf16.yaml": (1, "file is UTF-16 text; save it as UTF-8"),
    "binary.yaml": (2, "file is not UTF-8 text: byte 0x80 cannot be decoded (a binary file?)"),
    "lone_surrogate.json": (1, "invalid Unicode character escape"),
    "drug_typo.yaml": (54, "unknown drug name 'methotrexat'"),
    "condition_typo.yaml": (49, "unknown condition name 'neoplasm'"),
    "observation_typo.yaml": (11, "unknown observation name 'wieght'"),
    "status_as_observation.yaml": (12, "'pregnant' is known as a status, not as an observation"),
}

SUGGESTIONS = {
    "drug_typo.yaml": "did you mean 'methotrexate'?",
    "condition_typo.yaml": "did you mean 'neoplasia'?",
    "observation_typo.yaml": "did you mean 'weight'?",
}

FHIR: dict[str, str] = {
    "fhir_deep_extension_70.json": "nested deeper than 64 levels",
    "fhir_duplicate_key.json": "duplicate key 'id'",
    "fhir_nan.json": "NaN is not a number JSON allows",
    "fhir_overflow.json": "1e999 is not a finite number",
    "fhir_lone_surrogate.json": "lone surrogate",
    "fhir_latin1.json": "file is not UTF-8 text",
}

RULES: dict[str, tuple[int, str]] = {
    "rule_gtee.yaml": (172, "criteria[0].test.all[0].gtee: unknown key 'gtee'; did you mean 'gte'?"),
    "rule_gte_text.yaml": (172, "criteria[0].test.all[0].gte: gte must be a number, not the text '18'"),
    "rule_all_empty.yaml": (171, "criteria[0].test.all: all must list at least 1 item(s)"),
    "rule_two_comparisons.yaml": (172, "has lt and gte: give exactly one of them"),
    "rule_gte_nan.yaml": (172, ".nan is not a finite number"),
    "rule_gte_inf.yaml": (172, ".inf is not a finite number"),
    "rule_enum_typo.yaml": (
        197,
        "'positve' is not a value ana can take (negative, positive); did you mean 'positive'?",
    ),
    "rule_match_drug_typo.yaml": (269, "unknown drug name 'methotrexat'"),
    "rule_match_condition_typo.yaml": (546, "unknown condition name 'neoplasm'"),
    "rule_wrong_canonical_unit.yaml": (27, "facts.weight.unit: weight is stated in lb"),
    "rule_derived_cycle.yaml": (
        88,
        "derived values form a cycle: crcl_cockcroft_gault -> bsa -> crcl_cockcroft_gault",
    ),
    "rule_600_not.yaml": (172, "nested deeper than 64 levels"),
    "rule_duplicate_key.yaml": (12, "key 'id' is given twice (first at line 11)"),
    "rule_tag_binary.yaml": (14, "YAML tag !!binary is not allowed"),
    "rule_billion_laughs.yaml": (6, "aliases expand to more than 100000 values"),
    "rule_latin1.yaml": (160, "file is not UTF-8 text"),
    "rule_yes_as_text.yaml": (76, "person_only must be true or false, not the text 'yes'"),
}


def test_the_corpus_is_the_one_listed_here() -> None:
    """A file added to the corpus without an expectation would never be checked."""
    on_disk = {p.name for p in CORPUS.rglob("*") if p.is_file()}
    assert on_disk == set(PATIENTS) | set(FHIR) | set(RULES)


@pytest.mark.parametrize("name", sorted(PATIENTS))
def test_hostile_patient_file_is_one_located_error(name: str) -> None:
    path = CORPUS / "patients" / name
    line, fragment = PATIENTS[name]
    run = run_cli("screen", str(path), "--as-of", AS_OF)
    assert_result_or_located_error(run, path)
    assert run.code == 2 and run.out == ""
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert run.errors[0].startswith(f"screener: error: {where}"), run.errors[0]
    assert fragment in run.errors[0]
    assert SUGGESTIONS.get(name, "") in run.errors[0]


@pytest.mark.parametrize("name", sorted(FHIR))
def test_hostile_fhir_bundle_is_reported_with_the_reason(name: str) -> None:
    path = CORPUS / "fhir" / name
    run = run_cli("screen", str(path), "--as-of", AS_OF)
    assert_result_or_located_error(run, path)
    assert run.code == 2
    assert FHIR[name] in run.err  # the import issue says why no patient was read


def test_a_fhir_patient_with_100000_nested_extensions_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(deep_extension_bundle(100_000), encoding="utf-8")
    run = run_cli("screen", str(path), "--as-of", AS_OF)
    assert_result_or_located_error(run, path)
    assert run.code == 2 and "nested deeper than 64 levels" in run.err


@pytest.mark.parametrize("name", sorted(RULES))
def test_hostile_rule_file_fails_check_and_screen_at_its_line(name: str) -> None:
    path = CORPUS / "rules" / name
    line, fragment = RULES[name]
    check = run_cli("rules", "check", str(path))
    assert "Traceback" not in check.err and "unexpected" not in check.err
    assert check.code == 2
    first = check.err.splitlines()[0]  # errors go to stderr, one per line
    assert first.startswith(f"{path}:{line}: "), check.err
    assert fragment in first
    screen = run_cli("screen", str(ELIGIBLE), "--rules", str(path), "--as-of", AS_OF)
    assert_result_or_located_error(screen, path)  # blamed on the rule file, not the patient
    assert screen.code == 2 and screen.errors[0].startswith(f"screener: error: {path}:{line}: ")


def test_the_unchanged_fixture_is_still_eligible() -> None:
    """The corpus mutates this file: the original must stay a clean result."""
    run = run_cli("screen", str(ELIGIBLE), "--as-of", AS_OF, "--format", "json")
    assert run.code == 0 and '"decision": "eligible"' in run.out
