"""Loading a folder of rule sets: every usable one kept, every unusable one named with its file,
the others still screened; a folder holding none is an error naming the folder."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from screener.errors import RuleSpecError
from screener.model.patient import Patient
from screener.portfolio import is_portfolio, load_portfolio, screen_portfolio

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
PATIENT = ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml"
AS_OF = date(2026, 11, 25)


def _copy(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    for name in names:
        shutil.copytree(RULES / name, folder / name)
    return folder


def _patient() -> Patient:
    from screener.importers import load_patient_file

    return load_patient_file(PATIENT)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_folder_with_no_rule_set_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    with pytest.raises(RuleSpecError) as error:
        load_portfolio(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(error.value) and "no rule set" in str(error.value)


def test_a_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RuleSpecError, match="no such folder"):
        load_portfolio(tmp_path / "nowhere")


def test_is_portfolio_tells_a_folder_of_rule_sets_from_one_rule_set() -> None:
    assert is_portfolio(RULES)
    assert not is_portfolio(RULES / "nct03562065")
    assert not is_portfolio(RULES / "nct03562065" / "rules.yaml")


def test_a_rule_set_of_another_schema_version_is_reported_and_the_others_screened(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "nct03562065", "nct04184258", "nct00732940")
    bad = folder / "nct04184258" / "rules.yaml"
    _edit(bad, 'schema_version: "1"', 'schema_version: "9"')
    portfolio = load_portfolio(folder)
    assert portfolio.trials == ("NCT00732940", "NCT03562065")
    [broken] = portfolio.broken
    assert broken.folder == "nct04184258" and broken.file == str(bad)
    assert broken.error.startswith(f"{bad}:11: schema_version")
    result = screen_portfolio(portfolio, _patient(), AS_OF)
    assert [t.trial for t in result.trials] == ["NCT03562065", "NCT00732940"]
    assert result.broken == portfolio.broken


def test_a_criterion_id_used_twice_is_reported_with_its_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "nct03562065", "nct04184258")
    bad = folder / "nct04184258" / "rules.yaml"
    _edit(bad, "  - id: I2\n", "  - id: I1\n")
    portfolio = load_portfolio(folder)
    assert portfolio.trials == ("NCT03562065",)
    [broken] = portfolio.broken
    assert str(bad) in broken.error and "I1 is used twice" in broken.error


def test_an_id_that_differs_from_its_folder_is_reported(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "nct03562065", "nct04184258")
    (folder / "nct04184258").rename(folder / "pooled_msc")
    portfolio = load_portfolio(folder)
    assert portfolio.trials == ("NCT03562065",)
    [broken] = portfolio.broken
    assert broken.folder == "pooled_msc"
    assert broken.error.startswith(f"{folder / 'pooled_msc' / 'rules.yaml'}:13: ruleset.id")
    assert "'nct04184258' differs from its folder's name 'pooled_msc'" in broken.error


def test_two_rule_sets_of_one_trial_are_both_refused_each_naming_the_other(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "nct03562065", "nct04184258")
    shutil.copytree(folder / "nct04184258", folder / "nct04184258_v2")
    _edit(folder / "nct04184258_v2" / "rules.yaml", "id: nct04184258", "id: nct04184258_v2")
    portfolio = load_portfolio(folder)
    assert portfolio.trials == ("NCT03562065",)
    assert [b.folder for b in portfolio.broken] == ["nct04184258", "nct04184258_v2"]
    first, second = portfolio.broken
    assert "trial NCT04184258 is also the trial of" in first.error
    assert str(folder / "nct04184258_v2" / "rules.yaml") in first.error
    assert str(folder / "nct04184258" / "rules.yaml") in second.error
    assert first.error.startswith(f"{folder / 'nct04184258' / 'rules.yaml'}:14: ruleset.trial")
