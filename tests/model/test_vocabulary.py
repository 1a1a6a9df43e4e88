"""Names in a patient file: unknown ones are errors with "did you mean", known ones pass,
including names a trial does not use (issue 13 section 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from screener.errors import PatientDataError, RuleSpecError
from screener.model.patient import parse_patient
from screener.model.rules import parse_ruleset
from screener.model.vocabulary import known_vocabulary, vocabulary_file

ROOT = Path(__file__).resolve().parents[2]
HEAD = 'schema_version: "1"\npatient_id: p1\ndemographics: {birth_date: 1990-01-01, sex: female}\n'


def section(kind: str, name: str) -> str:
    rows = {
        "observations": f"  - {{name: {name}, value: negative, date: 2026-01-01}}\n",
        "statuses": f"  - {{name: {name}, value: true}}\n",
        "assessments": f"  - {{name: {name}, score: 4, date: 2026-01-01}}\n",
        "conditions": f"  - {{name: {name}}}\n",
        "medications": f"  - {{drug: {name}, start: 2026-01-01}}\n",
    }
    return HEAD + f"{kind}:\n" + rows[kind]


@pytest.mark.parametrize(
    ("kind", "typo", "meant"),
    [
        ("observations", "wieght", "weight"),
        ("statuses", "pregnnant", "pregnant"),
        ("assessments", "selena_sledia", "selena_sledai"),
        ("conditions", "neoplasm", "neoplasia"),
        ("medications", "methotrexat", "methotrexate"),
    ],
)
def test_an_unknown_name_is_an_error_at_its_line_with_a_suggestion(kind: str, typo: str, meant: str) -> None:
    with pytest.raises(PatientDataError) as info:
        parse_patient(section(kind, typo), "p.yaml")
    error = info.value
    assert error.location is not None and error.location.line == 5
    assert error.location.field == f"{kind}[0].{'drug' if kind == 'medications' else 'name'}"
    assert f"'{typo}'" in error.message and f"did you mean '{meant}'?" in error.message
    # the name it should have been loads
    parse_patient(
        section(kind, meant).replace("value: negative", "value: 61, unit: kg")
        if meant == "weight"
        else section(kind, meant)
    )


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("medications", "cortisone_acetate"),  # known to the glucocorticoid table, no criterion matches it
        ("medications", "omeprazole"),  # rules/vocabulary.yaml: a co-medication
        ("conditions", "asthma"),  # rules/vocabulary.yaml: a comorbidity no criterion reads
        ("medications", "tacrolimus"),  # a drug the rule set matches without a mapped code
    ],
)
def test_a_known_name_the_trial_does_not_use_is_fine(kind: str, name: str) -> None:
    parse_patient(section(kind, name), "p.yaml")


def test_a_name_in_the_wrong_list_says_where_it_belongs() -> None:
    with pytest.raises(
        PatientDataError,
        match="'pregnant' is known as a status, not as an observation; list it under statuses",
    ):
        parse_patient(section("observations", "pregnant"), "p.yaml")


def test_a_loaded_rule_set_makes_its_names_known() -> None:
    text = (ROOT / "rules" / "nct03562065" / "rules.yaml").read_text(encoding="utf-8")
    with pytest.raises(PatientDataError, match="unknown observation name 'ferritin'"):
        parse_patient(section("observations", "ferritin"), "p.yaml")
    extended = text.replace(
        "  # Serology (coded results)\n",
        "  ferritin: {kind: observation, type: string, values: [negative, positive], label: Ferritin flag}\n"
        "  # Serology (coded results)\n",
    )
    assert extended != text
    parse_ruleset(extended, str(ROOT / "rules" / "other" / "rules.yaml"))
    assert "ferritin" in known_vocabulary().get("observation")
    parse_patient(section("observations", "ferritin"), "p.yaml")


def test_a_malformed_vocabulary_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "vocabulary.yaml"
    path.write_text('schema_version: "1"\ndrugs:\n  - {name: aspirin}\n', encoding="utf-8")
    with pytest.raises(RuleSpecError, match="needs a lower_snake_case `name` and a `source`") as info:
        vocabulary_file(path)
    assert info.value.location is not None and info.value.location.line == 3
    path.write_text("drugz:\n  - {name: aspirin, source: INN}\n", encoding="utf-8")
    with pytest.raises(RuleSpecError, match="unknown section 'drugz'"):
        vocabulary_file(path)
    path.write_text("drugs:\n  - {name: aspirin, source: INN}\n", encoding="utf-8")
    assert vocabulary_file(path).get("drug") == frozenset({"aspirin"})


def test_the_shipped_names_index_is_the_mapping_s_own() -> None:
    """The index a start-up reads instead of the mapping was made from the shipped mapping file
    as it is (rewrite it with ``python -m screener.model.vocabulary`` after the mapping changes)."""
    from screener.model.vocabulary import MAPPING_NAMES, names_index

    assert MAPPING_NAMES.read_text(encoding="utf-8") == names_index()


def test_a_stale_or_broken_names_index_falls_back_to_the_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screener.model import vocabulary

    parsed = vocabulary.names_from_mapping()
    index = tmp_path / "names.json"
    monkeypatch.setattr(vocabulary, "MAPPING_NAMES", index)
    stale = {"mapping_sha256": "0" * 64, **{k: [] for k in vocabulary.KINDS}}
    for text in (None, "not json", '["a list"]', vocabulary.json.dumps(stale)):
        if text is not None:
            index.write_text(text, encoding="utf-8")
        assert vocabulary._shipped_mapping_names() == parsed
    fresh = vocabulary.json.loads(vocabulary.names_index())
    fresh["drug"] = ["only_this"]  # a current index is believed (and tested above against the file)
    index.write_text(vocabulary.json.dumps(fresh), encoding="utf-8")
    assert vocabulary._shipped_mapping_names()["drug"] == ["only_this"]
