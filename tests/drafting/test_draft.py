"""``screener rules new``: drafting a rule set from a ClinicalTrials.gov record."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
import yaml

from screener.audit.lint import lint
from screener.cli.main import main
from screener.drafting.draft import draft_ruleset
from screener.drafting.registry import Age, read_record, unescape_v2
from screener.drafting.split import normalise, split_criteria
from screener.engine.evaluate import Engine
from screener.errors import InputError
from screener.model.patient import patient_from_data
from screener.model.rules import load_ruleset
from screener.yamlio import LineMap

REPO = Path(__file__).resolve().parents[2]
V2_JSON = REPO / "tests" / "data" / "ctgov" / "NCT03917797.v2.json"
TODAY = date(2026, 12, 3)


def _protocol_dir() -> Path:
    for candidate in (REPO.parent / "shared" / "protocol", Path("/work/shared/protocol")):
        if candidate.is_dir():
            return candidate
    pytest.skip("shared/protocol not available (expected ../shared beside the repo)")


def _registry_texts() -> list[Path]:
    return sorted(_protocol_dir().glob("NCT*.txt"))


# Markup that is layout, not the sponsor's words: headings, bullets, list numbers.
_MARKUP = re.compile(
    r"^\s*(?:(?:key\s+)?(?:inclusion|exclusion)\s+criteria\s*:?\s*$|[*\-•·–]\s+|\d{1,2}[.)]\s+)", re.I
)


def _words_without_markup(criteria_text: str) -> str:
    return normalise(" ".join(_MARKUP.sub("", line) for line in criteria_text.splitlines()))


@pytest.mark.parametrize("name", ["NCT00732940", "NCT03562065", "NCT03917797", "NCT04184258"])
def test_every_word_of_the_criteria_lands_in_one_quote_in_order(name: str) -> None:
    record = read_record(_protocol_dir() / f"{name}.txt")
    items = split_criteria(record.criteria_text)
    rebuilt = normalise(" ".join(f"{i.lead_in} {i.quote}" for i in items))
    assert rebuilt == _words_without_markup(record.criteria_text)
    assert [i.id for i in items] == list(dict.fromkeys(i.id for i in items)), "ids are unique"
    assert items[0].id.startswith("I1") and any(i.id == "E1" for i in items)


def test_draft_of_nct03562065_carries_the_hand_written_quotes() -> None:
    record = read_record(_protocol_dir() / "NCT03562065.txt")
    drafted = {c["id"]: c for c in draft_ruleset(record, TODAY)["criteria"] if c.get("draft")}
    hand = yaml.safe_load((REPO / "rules" / "nct03562065" / "rules.yaml").read_text(encoding="utf-8"))
    hand_quotes = {c["id"]: (c["type"], normalise(c["protocol"]["quote"])) for c in hand["criteria"]}
    draft_quotes = {i: (c["type"], normalise(c["protocol"]["quote"])) for i, c in drafted.items()}
    assert draft_quotes == hand_quotes


def test_structured_fields_of_the_page_text_are_read() -> None:
    record = read_record(_protocol_dir() / "NCT03562065.txt")
    assert (record.nct_id, record.minimum_age, record.maximum_age) == (
        "NCT03562065",
        Age(18, "years"),
        Age(70, "years"),
    )
    assert (record.sex, record.healthy_volunteers) == ("ALL", False)
    silent = read_record(_protocol_dir() / "NCT04184258.txt")  # "Ages eligible: not stated in the source"
    assert (silent.minimum_age, silent.maximum_age) == (None, None)
    doc = draft_ruleset(silent, TODAY)
    assert not any(c["title"].startswith("Age") for c in doc["criteria"])
    assert "states no age limits" in doc["ruleset"]["notes"]


def test_api_v2_json_gives_the_same_quotes_as_the_page_text() -> None:
    from_json = read_record(V2_JSON)
    from_text = read_record(_protocol_dir() / "NCT03917797.txt")
    assert from_json.source_kind == "ctgov-api-v2-json"
    assert [(i.id, normalise(i.quote)) for i in split_criteria(from_json.criteria_text)] == [
        (i.id, normalise(i.quote)) for i in split_criteria(from_text.criteria_text)
    ]
    assert (from_json.minimum_age, from_json.maximum_age) == (from_text.minimum_age, from_text.maximum_age)
    assert "Estimated GFR < 40ml/min/m2" in from_json.criteria_text  # \< unescaped


def test_v2_escapes_are_undone_and_other_backslashes_kept() -> None:
    assert unescape_v2(r"count\<2.5×10\^9/L, \>=6, a\b") == r"count<2.5×10^9/L, >=6, a\b"


def test_lettered_items_on_one_line_become_sub_criteria_and_wrapped_lines_join() -> None:
    text = (
        "Inclusion Criteria:\n\n- Failure of therapies including:\n\n"
        "  a. Prednisone for 28 days. b. One immunosuppressant; c. not d. this\n\n"
        "- Age 18 or\nover\n\nExclusion Criteria:\n\n- Presence of:\n  1. Renal failure\n  2. Heart failure\n"
        "- Pregnancy\n"
    )
    items = [(i.id, i.quote, i.lead_in) for i in split_criteria(text)]
    assert items == [
        ("I1a", "Failure of therapies including: a. Prednisone for 28 days.", ""),
        ("I1b", "b. One immunosuppressant;", ""),
        ("I1c", "c. not d. this", ""),  # "d." does not follow "not" after punctuation: not a marker
        ("I2", "Age 18 or over", ""),
        ("E1", "Renal failure", "Presence of:"),
        ("E2", "Heart failure", ""),
        ("E3", "Pregnancy", ""),
    ]


def _patient(birth: str, sex: str = "female") -> object:
    data = {"schema_version": "1", "patient_id": "p", "demographics": {"birth_date": birth, "sex": sex}}
    return patient_from_data(data, LineMap("<test>", {}))


@pytest.mark.parametrize(
    ("birth", "outcome"),
    [
        ("2008-12-04", "fail"),  # 17 on 2026-12-03: the 18th birthday is tomorrow
        ("2008-12-03", "pass"),  # 18th birthday today
        ("1951-12-04", "pass"),  # 74: 75 tomorrow
        ("1950-12-04", "pass"),  # 75, the registry's maximum age is inclusive
        ("1950-12-03", "fail"),  # 76 today
    ],
)
def test_structured_age_limits_screen_on_both_sides(tmp_path: Path, birth: str, outcome: str) -> None:
    assert main(["rules", "new", "--from", str(V2_JSON), "--out", str(tmp_path / "d")]) == 0
    ruleset = load_ruleset(tmp_path / "d")
    age = next(c for c in ruleset.criteria if not c.draft)
    assert (age.id, age.type) == ("I4", "inclusion")
    result = Engine(ruleset).screen(_patient(birth), TODAY)
    by_id = {c.id: c.outcome for c in result.criteria}
    assert by_id["I4"] == outcome
    assert all(by_id[c.id] == "unknown" for c in ruleset.criteria if c.draft)
    assert result.decision == ("ineligible" if outcome == "fail" else "incomplete")


def test_a_female_only_trial_gets_a_sex_criterion(tmp_path: Path) -> None:
    doc = json.loads(V2_JSON.read_text(encoding="utf-8"))
    doc["protocolSection"]["eligibilityModule"]["sex"] = "FEMALE"
    source = tmp_path / "female.json"
    source.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["rules", "new", "--from", str(source), "--out", str(tmp_path / "d")]) == 0
    ruleset = load_ruleset(tmp_path / "d")
    engine = Engine(ruleset)
    sex_rule = next(c for c in ruleset.criteria if c.title.startswith("Sex"))
    for sex, outcome in (("female", "pass"), ("male", "fail")):
        result = engine.screen(_patient("1980-01-01", sex), TODAY)
        assert {c.id: c.outcome for c in result.criteria}[sex_rule.id] == outcome


def test_rules_check_lists_every_draft(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["rules", "new", "--from", str(_protocol_dir() / "NCT00732940.txt"), "--out", str(tmp_path)])
        == 0
    )
    ruleset = load_ruleset(tmp_path)
    drafts = [c.id for c in ruleset.criteria if c.draft]
    assert len(drafts) == 13
    findings = [f for f in lint(ruleset) if f.code == "SCR012"]
    assert [f.message.split()[0] for f in findings] == drafts
    capsys.readouterr()
    assert main(["rules", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert out.count("SCR012") == 13 and "SCR005" not in out


def test_a_criterion_that_is_not_a_draft_still_needs_a_reading(tmp_path: Path) -> None:
    assert main(["rules", "new", "--from", str(V2_JSON), "--out", str(tmp_path)]) == 0
    path = tmp_path / "rules.yaml"
    text = path.read_text(encoding="utf-8").replace("  draft: true\n", "", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="reading"):
        load_ruleset(path)


def test_an_existing_rule_set_is_not_overwritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rules.yaml").write_text("kept\n", encoding="utf-8")
    assert main(["rules", "new", "--from", str(V2_JSON), "--out", str(tmp_path)]) == 2
    assert "already there" in capsys.readouterr().err
    assert (tmp_path / "rules.yaml").read_text(encoding="utf-8") == "kept\n"
    assert main(["rules", "new", "--from", str(V2_JSON), "--out", str(tmp_path), "--overwrite"]) == 0
    assert load_ruleset(tmp_path).trial == "NCT03917797"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"studies": []}', "0 studies"),
        ('{"protocolSection": {}}', "identificationModule"),
        (
            '{"protocolSection": {"identificationModule": {"nctId": "NCT1"}, "eligibilityModule": {}}}',
            "nctId",
        ),
        ("NCT01234567\nno criteria here\n", "Inclusion Criteria"),
        ("Inclusion Criteria:\n- a\n", "NCT identifier"),
        ("{not json", "not valid JSON"),
    ],
)
def test_unreadable_records_are_errors_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    source = tmp_path / "record.txt"
    source.write_text(content, encoding="utf-8")
    assert main(["rules", "new", "--from", str(source), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(source) in err and message in err
    assert not (tmp_path / "out" / "rules.yaml").exists()


def test_a_missing_record_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "new", "--from", str(tmp_path / "nope.json"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
