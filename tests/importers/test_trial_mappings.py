"""The code mappings of the four trials: traceable codes, real names, FHIR conversion, and the
portfolio's union of mappings (one conversion serves every trial, conflicts are errors)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from screener.engine.evaluate import Engine
from screener.importers.fhir import iter_bundles
from screener.importers.mapping import DEFAULT_MAPPING, Mapping, MappingError, load_mapping
from screener.importers.mapping_union import (
    CombinedMapping,
    combine_mappings,
    mapping_for_rules,
    ruleset_mapping_path,
)
from screener.model.rules import load_ruleset
from screener.model.vocabulary import ruleset_vocabulary
from tests.importers.conftest import REPO, shared_path
from tests.importers.fhir_builders import LOINC, RXNORM, SNOMED, bundle, coded_obs, patient, quantity_obs

TRIALS = ("nct03917797", "nct00732940", "nct04184258")
ALL = ("nct03562065", *TRIALS)
ICD_CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD_WHO = "http://hl7.org/fhir/sid/icd-10"
URIS = {
    "loinc": LOINC,
    "snomed": SNOMED,
    "rxnorm": RXNORM,
    "icd10": ICD_WHO,
    "icd10cm": ICD_CM,
    "atc": "http://www.whocc.no/atc",
}
AS_OF = date(2026, 11, 25)


def _raw(trial: str) -> dict[str, Any]:
    return yaml.safe_load(ruleset_mapping_path(REPO / "rules" / trial).read_text(encoding="utf-8"))


@pytest.mark.parametrize("trial", ALL)
def test_each_rule_set_finds_its_own_shipped_mapping(trial: str) -> None:
    path = ruleset_mapping_path(REPO / "rules" / trial)
    assert path.name == f"{trial}.yaml"
    assert load_mapping(path).id == trial
    assert ruleset_mapping_path(REPO / "rules" / trial / "rules.yaml") == path


def test_a_mapping_beside_the_rules_wins_and_an_unknown_rule_set_falls_back(tmp_path: Path) -> None:
    folder = tmp_path / "nct00732940"
    folder.mkdir()
    (folder / "rules.yaml").write_text((REPO / "rules/nct00732940/rules.yaml").read_text(encoding="utf-8"))
    assert ruleset_mapping_path(folder).name == "nct00732940.yaml"  # shipped, by the rule set's id
    (folder / "mapping.yaml").write_text("mapping: {id: site}\n", encoding="utf-8")
    assert ruleset_mapping_path(folder) == folder / "mapping.yaml"
    other = tmp_path / "other"
    other.mkdir()
    (other / "rules.yaml").write_text("ruleset: {id: nct99999999}\n", encoding="utf-8")
    assert ruleset_mapping_path(other) == DEFAULT_MAPPING


def _reference_index() -> tuple[dict[str, Any], dict[str, Any]]:
    ref = shared_path("reference")
    term = yaml.safe_load((ref / "terminology.yaml").read_text(encoding="utf-8"))
    index = {f"{s}/{e['id']}": e for s in ("loinc", "snomed", "icd10", "rxnorm") for e in term[s]}
    index.update({f"atc/{e['code']}": {**e, "system": URIS["atc"]} for e in term["atc"]})
    valuesets = {
        v["name"]: v
        for v in yaml.safe_load((ref / "valuesets.yaml").read_text(encoding="utf-8"))["valuesets"]
    }
    return index, valuesets


@pytest.mark.parametrize("trial", TRIALS)
def test_every_code_is_sourced_and_reference_codes_match_the_reference(trial: str) -> None:
    index, valuesets = _reference_index()
    raw = _raw(trial)
    codes = [
        c for s in ("observations", "statuses", "conditions", "drugs") for e in raw[s] for c in e["codes"]
    ]
    checked = 0
    for c in codes:
        assert c.get("source"), c
        if c.get("verified") is False:
            continue  # not in the reference: the source says where it was read
        m = re.fullmatch(r"terminology\.yaml#([a-z0-9]+/[A-Za-z0-9_]+)(\.previous_code)?", c["source"])
        if m:
            entry = index[m.group(1)]
            if m.group(2):
                assert entry["previous_code"].split()[0] == c["code"], c
            else:
                assert (entry["system"], str(entry["code"])) == (URIS[c["system"]], str(c["code"])), c
            checked += 1
            continue
        m = re.fullmatch(r"valuesets\.yaml#(.+)", c["source"])
        assert m, f"{trial}: code without a traceable source: {c}"
        assert (URIS[c["system"]], str(c["code"])) in {
            (v["system"], str(v["code"])) for v in valuesets[m.group(1)]["codes"]
        }, c
        checked += 1
    assert checked > 10
    for entry in raw["condition_ranges"] + raw["not_criteria"]:
        assert all(c["source"].startswith(("WHO ICD-10 2019", "CMS ICD-10-CM 2026")) for c in entry["codes"])


@pytest.mark.parametrize("trial", TRIALS)
def test_mapped_names_are_names_the_trial_uses(trial: str) -> None:
    rules = load_ruleset(REPO / "rules" / trial)
    vocabulary = ruleset_vocabulary(rules)
    raw = _raw(trial)
    for entry in raw["observations"]:
        assert rules.facts[entry["name"]].kind == "observation", entry["name"]
    for entry in raw["statuses"]:
        assert rules.facts[entry["name"]].kind == "status", entry["name"]
    for entry in raw["conditions"] + raw["condition_ranges"]:
        assert entry["name"] in vocabulary.get("condition"), entry["name"]
        assert set(entry.get("also", ())) <= vocabulary.get("condition"), entry
    for entry in raw["suspicious_text"]:
        assert entry["condition"] in vocabulary.get("condition"), entry["condition"]
    for entry in raw["drugs"] + [{"name": n} for n in raw.get("ingredient_names", {}).values()]:
        assert entry["name"] in vocabulary.get("drug"), entry["name"]
    # nothing another trial's rules need slipped in: NCT03562065's own criteria stay out
    assert "in_other_study" not in {e["name"] for e in raw["statuses"]}
    assert "heart_failure" not in {e["name"] for e in raw["conditions"]}


# ----------------------------------------------------------------------------- FHIR conversion


def _condition(cid: str, system: str, code: str, status: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
        "clinicalStatus": {"coding": [{"code": status}]},
        "onsetDateTime": "2024-03-01",
    }


def _medication(mid: str, code: str, display: str, start: str = "2026-09-01") -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": mid,
        "status": "active",
        "subject": {"reference": "Patient/p1"},
        "effectivePeriod": {"start": start},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": display}]},
    }


POSITIVE = (SNOMED, "10828004")
NEGATIVE = (SNOMED, "260385009")


def _lupus_nephritis_bundle() -> dict[str, Any]:
    """A woman with lupus nephritis: the codes the three new trials read."""
    return bundle(
        patient(birth="1990-05-04"),
        quantity_obs("egfr", "98979-8", 35, "mL/min/{1.73_m2}", when="2026-11-10"),
        quantity_obs("upcr", "2890-2", 1200, "mg/g", when="2026-11-10"),
        quantity_obs("rbc", "13945-1", 8, "/[HPF]", when="2026-11-10"),
        quantity_obs("wbc", "5821-4", 3, "/[HPF]", when="2026-11-10"),
        quantity_obs("ana", "5048-4", 160, "{titer}", when="2026-10-01"),
        coded_obs("dsdna", "5130-0", *POSITIVE, when="2026-11-01"),
        coded_obs("hbc", "16933-4", *NEGATIVE, when="2026-11-01"),
        coded_obs("hcv", "16128-1", *NEGATIVE, when="2026-11-01"),
        coded_obs("hcv2", "13955-0", *NEGATIVE, when="2026-11-01"),
        _condition("ln", ICD_CM, "M32.14"),
        _condition("dial", ICD_CM, "Z99.2"),
        _condition("esrd", SNOMED, "46177005"),
        _condition("tb", ICD_WHO, "A15.0", "resolved"),
        _condition("ana-x", ICD_CM, "T78.2XXA", "resolved"),
        _condition("hcv-c", ICD_CM, "B18.2"),
        _condition("flu", ICD_CM, "J10.1"),  # influenza: outside chapter I, not read as an infection
        _medication("cyc", "3002", "cyclophosphamide"),
    )


def _convert(tmp_path: Path, data: dict[str, Any], mapping: Mapping) -> dict[str, Any]:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    records = list(iter_bundles([path], mapping))
    assert len(records) == 1
    return records[0].data


def _observations(data: dict[str, Any]) -> dict[str, Any]:
    return {o["name"]: o["value"] for o in data.get("observations", [])}


def _conditions(data: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(c["name"], c.get("status")) for c in data.get("conditions", [])}


def test_nct03917797_renal_and_serology_codes_convert_from_fhir(tmp_path: Path) -> None:
    data = _convert(tmp_path, _lupus_nephritis_bundle(), mapping_for_rules(REPO / "rules/nct03917797"))
    obs = _observations(data)
    assert obs["egfr"] == 35
    upcr = next(o for o in data["observations"] if o["name"] == "upcr")
    assert (upcr["value"], upcr["unit"]) == (1200, "mg/g")  # the loader converts: 1.2 mg/mg
    assert (obs["urine_rbc"], obs["urine_wbc"]) == (8, 3)
    assert obs["ana_titer"] == 160
    assert obs["anti_dsdna"] == "positive"
    assert ("sle", "active") in _conditions(data)
    assert ("infection", "resolved") in _conditions(data)  # A15.0: no tuberculosis in this trial
    assert ("infection", "active") in _conditions(data)  # B18.2: an infection here, not a criterion
    assert {m["drug"] for m in data["medications"]} == {"cyclophosphamide"}
    with Engine(load_ruleset(REPO / "rules/nct03917797")) as engine:
        outcomes = {c.id: c.outcome for c in engine.screen(_patient(data), AS_OF).criteria}
    assert outcomes["I2"] == "pass"  # ANA 1:160 >= 1:80, anti-dsDNA positive


def test_nct00732940_virology_and_diagnoses_convert_from_fhir(tmp_path: Path) -> None:
    data = _convert(tmp_path, _lupus_nephritis_bundle(), mapping_for_rules(REPO / "rules/nct00732940"))
    obs = _observations(data)
    assert (obs["anti_hbc"], obs["hcv_antibody"]) == ("negative", "negative")
    assert "upcr" not in obs  # a code this trial's rules never read is not mapped
    conditions = _conditions(data)
    assert {("sle", "active"), ("lupus_nephritis", "active")} <= conditions  # M32.14 is both
    assert ("chronic_hepatitis_c", "active") in conditions
    assert ("anaphylaxis", "resolved") in conditions
    assert ("infection", "resolved") in conditions  # tuberculosis is an infection for E7
    assert ("infection", "active") in conditions  # chronic hepatitis C is a chronic infection (E7)
    with Engine(load_ruleset(REPO / "rules/nct00732940")) as engine:
        outcomes = {c.id: c.outcome for c in engine.screen(_patient(data), AS_OF).criteria}
    assert outcomes["E9"] == "fail" and outcomes["E10"] == "fail"  # hepatitis C; anaphylaxis


def test_nct04184258_nephritis_dialysis_and_tuberculosis_convert_from_fhir(tmp_path: Path) -> None:
    data = _convert(tmp_path, _lupus_nephritis_bundle(), mapping_for_rules(REPO / "rules/nct04184258"))
    obs = _observations(data)
    assert obs["anti_dsdna"] == "positive" and obs["urine_rbc"] == 8 and "egfr" not in obs
    conditions = _conditions(data)
    assert {
        ("lupus_nephritis", "active"),
        ("dialysis_dependence", "active"),
        ("end_stage_renal_disease", "active"),
        ("tuberculosis", "resolved"),
        ("chronic_hepatitis_c", "active"),
    } <= conditions
    with Engine(load_ruleset(REPO / "rules/nct04184258")) as engine:
        outcomes = {c.id: c.outcome for c in engine.screen(_patient(data), AS_OF).criteria}
    assert outcomes["I2"] == "pass" and outcomes["I4"] == "pass"  # dsDNA; nephritis with 8 RBC/HPF
    assert outcomes["E5"] == "fail"  # chronic hepatitis C


def test_a_numeric_anti_dsdna_is_not_read_without_the_labs_answer(tmp_path: Path) -> None:
    data = _convert(
        tmp_path,
        bundle(patient(), quantity_obs("dsdna", "5130-0", 250, "[IU]/mL")),
        mapping_for_rules(REPO / "rules/nct04184258"),
    )
    assert "anti_dsdna" not in _observations(data)  # I2 stays unknown: never a silent positive/negative


def _patient(data: dict[str, Any]) -> Any:
    from screener.model.patient import patient_from_data
    from screener.yamlio import LineMap

    return patient_from_data(data, LineMap("b.json", {}))


# ----------------------------------------------------------------------------- the union


def _facts_by_record(data: dict[str, Any], vocabulary: Any) -> dict[str, set[tuple[str, ...]]]:
    names = vocabulary.get("observation") | vocabulary.get("condition") | vocabulary.get("drug")
    out: dict[str, set[tuple[str, ...]]] = {}
    for o in data.get("observations", []):
        out.setdefault(o["source"], set()).add(("obs", o["name"], str(o["value"])))
    for c in data.get("conditions", []):
        out.setdefault(c["source"], set()).add(("cond", c["name"], str(c.get("status")), c.get("type") or ""))
    for m in data.get("medications", []):
        out.setdefault(m["source"], set()).add(("drug", m["drug"]))
    return {k: {f for f in v if f[1] in names} for k, v in out.items()}


def test_the_portfolio_mapping_gives_each_trial_the_facts_its_own_mapping_gives(tmp_path: Path) -> None:
    """Differential: one conversion with the union against each trial's own conversion.

    Every record a trial's own mapping reads gives that trial the same facts from the union;
    the union may only add facts from records the trial's own mapping leaves unread (a code
    another trial verified, such as HCV antibody 16128-1 for NCT03562065)."""
    combined = mapping_for_rules(REPO / "rules")
    assert isinstance(combined, CombinedMapping) and len(combined.members) == 4
    once = _convert(tmp_path, _lupus_nephritis_bundle(), combined)
    for trial in ALL:
        vocabulary = ruleset_vocabulary(load_ruleset(REPO / "rules" / trial))
        own = _convert(tmp_path, _lupus_nephritis_bundle(), mapping_for_rules(REPO / "rules" / trial))
        mine, union = _facts_by_record(own, vocabulary), _facts_by_record(once, vocabulary)
        assert mine, trial
        for source, facts in mine.items():
            if facts:
                assert union[source] == facts, (trial, source)


def test_own_study_identifiers_are_kept_only_where_every_trial_agrees() -> None:
    combined = mapping_for_rules(REPO / "rules")
    assert combined.own_studies == ()  # NCT03562065's own study is another study for the others
    assert load_mapping(ruleset_mapping_path(REPO / "rules/nct03562065")).own_studies == ("NCT03562065",)


def _mapping(tmp_path: Path, name: str, text: str) -> Mapping:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return load_mapping(path)


def test_two_mappings_giving_one_code_two_facts_is_an_error_naming_both(tmp_path: Path) -> None:
    a = _mapping(
        tmp_path,
        "a",
        "observations:\n  - name: egfr\n    codes: [{system: loinc, code: 98979-8, source: x}]\n",
    )
    b = _mapping(
        tmp_path,
        "b",
        "observations:\n  - name: creatinine\n    codes: [{system: loinc, code: 98979-8, source: y}]\n",
    )
    with pytest.raises(MappingError) as info:
        combine_mappings([a, b])
    message = str(info.value)
    assert "98979-8" in message and "egfr" in message and "creatinine" in message
    assert str(tmp_path / "a.yaml") in message and str(tmp_path / "b.yaml") in message
    same = _mapping(
        tmp_path,
        "c",
        "observations:\n  - name: egfr\n    codes: [{system: loinc, code: 98979-8, source: z}]\n",
    )
    assert combine_mappings([a, same]).observation("loinc", "98979-8").name == "egfr"  # agreeing: fine


def test_one_condition_with_two_types_is_an_error_but_two_conditions_are_both_kept(tmp_path: Path) -> None:
    typed = (
        "conditions:\n  - name: neoplasia\n    type: {t}\n"
        "    codes: [{{system: snomed, code: '254701007', source: s}}]\n"
    )
    a = _mapping(tmp_path, "a", typed.format(t="basal_cell_carcinoma"))
    b = _mapping(tmp_path, "b", typed.format(t="malignant_neoplasm"))
    with pytest.raises(MappingError, match="254701007"):
        combine_mappings([a, b])
    drug = _mapping(
        tmp_path,
        "d",
        "drugs:\n  - name: tacrolimus\n    codes: [{system: rxnorm, code: '8640', source: s}]\n",
    )
    pred = _mapping(
        tmp_path,
        "p",
        "drugs:\n  - name: prednisone\n    codes: [{system: rxnorm, code: '8640', source: s}]\n",
    )
    with pytest.raises(MappingError, match="8640"):
        combine_mappings([drug, pred])
    other = _mapping(
        tmp_path, "o", typed.format(t="basal_cell_carcinoma").replace("neoplasia", "skin_cancer")
    )
    target = combine_mappings([a, other]).classify_condition([("snomed", "254701007", None)])
    assert target is not None and {t.name for t in target.all()} == {"neoplasia", "skin_cancer"}


def test_a_condition_another_trial_names_wins_over_a_not_criterion() -> None:
    combined = mapping_for_rules(REPO / "rules")
    own = load_mapping(ruleset_mapping_path(REPO / "rules/nct03562065"))
    assert own.classify_condition([(ICD_CM, "B18.2", None)]).__class__.__name__ == "NotCriterion"
    target = combined.classify_condition([(ICD_CM, "B18.2", None)])
    assert target is not None and target.name == "chronic_hepatitis_c"
    # a code no trial classifies stays unclassified (reported as unmapped, never guessed)
    assert combined.classify_condition([(ICD_CM, "J10.1", None)]) is None


def test_unverified_drugs_are_matched_by_ingredient_name_only() -> None:
    m = load_mapping(ruleset_mapping_path(REPO / "rules/nct03917797"))
    assert m.ingredient_drug("tacrolimus") == "tacrolimus"
    assert m.ingredient_drug("voclosporin") == "voclosporin"
    assert m.ingredient_drug("tacrolimine") is None
    assert not any(t.drug == "tacrolimus" for t in m.drugs.values())  # no guessed code


# ----------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("rules", ["nct04184258", ""])
def test_screen_reads_a_fhir_bundle_with_the_rule_sets_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str
) -> None:
    """``screener screen bundle.json --rules rules/<trial>`` (or the folder) reads the trial's codes:
    M32.14 is a lupus nephritis and 5130-0 a positive anti-dsDNA for NCT04184258."""
    from screener.cli.main import main

    path = tmp_path / "b.json"
    path.write_text(json.dumps(_lupus_nephritis_bundle()), encoding="utf-8")
    code = main(
        [
            "screen",
            str(path),
            "--rules",
            str(REPO / "rules" / rules),
            "--as-of",
            "2026-11-25",
            "--format",
            "json",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    document = json.loads(out)
    results = document.get("results", [document])
    mine = next(r for r in results if r["trial"] == "NCT04184258")
    outcomes = {c["id"]: c["outcome"] for c in mine["criteria"]}
    assert outcomes["I2"] == "pass" and outcomes["I4"] == "pass" and outcomes["E5"] == "fail"


@pytest.mark.parametrize("rules", ["nct04184258", ""])
def test_batch_reads_a_fhir_bundle_with_the_rule_sets_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rules: str
) -> None:
    """``screener batch bundle.json --rules ...`` reads codes as ``screen`` does: with the trial's
    mapping (or the folder's union), not the default NCT03562065 one."""
    from screener.cli.main import main

    path = tmp_path / "b.json"
    path.write_text(json.dumps(_lupus_nephritis_bundle()), encoding="utf-8")
    out = tmp_path / "rows.jsonl"
    argv = ["batch", str(path), "--rules", str(REPO / "rules" / rules), "--as-of", "2026-11-25"]
    code = main([*argv, "--out", str(out), "--workers", "1", "--no-progress"])
    capsys.readouterr()
    assert code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    mine = next(r for r in rows if r.get("trial", "NCT04184258") == "NCT04184258")
    assert "I2" not in mine["unknown"] and "I4" not in mine["unknown"]
    assert "E5" in mine["failing"], mine


def test_omop_condition_occurrences_become_every_condition_their_code_names(tmp_path: Path) -> None:
    """The OMOP reader adds the ``also`` conditions like the FHIR one (same dates, status, source)."""
    from screener.importers.omop import iter_omop

    (tmp_path / "PERSON.csv").write_text(
        "person_id,gender_concept_id,birth_datetime,gender_source_value\n1,8532,1990-05-04 00:00:00,\n",
        encoding="utf-8",
    )
    (tmp_path / "CONDITION_OCCURRENCE.csv").write_text(
        "condition_occurrence_id,person_id,condition_concept_id,condition_start_date,condition_end_date,"
        "condition_source_value\n"
        "7,1,300,2024-03-01,,M32.14\n"
        "8,1,301,2023-01-10,2023-06-30,A15.0\n",
        encoding="utf-8",
    )
    (tmp_path / "CONCEPT.csv").write_text(
        "concept_id,concept_name,domain_id,vocabulary_id,concept_class_id,standard_concept,concept_code\n"
        "8532,FEMALE,Gender,Gender,Gender,S,F\n"
        "300,Glomerular disease in systemic lupus erythematosus,Condition,ICD10CM,5-char code,,M32.14\n"
        "301,Tuberculosis of lung,Condition,ICD10CM,4-char billing code,,A15.0\n",
        encoding="utf-8",
    )
    (record,) = list(iter_omop([tmp_path], mapping_for_rules(REPO / "rules")))
    got = {(c["name"], c.get("onset"), c.get("end"), c["source"]) for c in record.data["conditions"]}
    assert {
        ("sle", "2024-03-01", None, "condition_occurrence/7"),
        ("lupus_nephritis", "2024-03-01", None, "condition_occurrence/7"),
        ("tuberculosis", "2023-01-10", "2023-06-30", "condition_occurrence/8"),
        ("infection", "2023-01-10", "2023-06-30", "condition_occurrence/8"),
    } <= got


def test_a_malformed_also_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "conditions:\n  - name: sle\n    also: lupus_nephritis\n"
        "    codes: [{system: icd10cm, code: M32.14, source: s}]\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    where = info.value.location
    assert where is not None and where.file == str(path) and where.line == 3 and "also" in str(info.value)
