"""The shipped code mapping is traceable to the terminology reference and names real facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from screener.importers.mapping import DEFAULT_MAPPING, MappingError, load_mapping, mapping_from_data
from screener.yamlio import LineMap, load_text
from tests.importers.conftest import REPO, shared_path

URIS = {
    "loinc": "http://loinc.org",
    "snomed": "http://snomed.info/sct",
    "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "icd10": "http://hl7.org/fhir/sid/icd-10",
    "icd10cm": "http://hl7.org/fhir/sid/icd-10-cm",
    "atc": "http://www.whocc.no/atc",
}


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))


def _all_codes(raw: dict) -> list[dict]:
    out = []
    for section in ("observations", "statuses", "conditions", "drugs"):
        for entry in raw[section]:
            out.extend(entry["codes"])
    for entry in raw["statuses"]:
        out.extend(entry["answers"])
    return out


def test_every_verified_code_matches_its_terminology_entry() -> None:
    ref = shared_path("reference")
    term = yaml.safe_load((ref / "terminology.yaml").read_text(encoding="utf-8"))
    valuesets = {
        v["name"]: v
        for v in yaml.safe_load((ref / "valuesets.yaml").read_text(encoding="utf-8"))["valuesets"]
    }
    index = {f"{s}/{e['id']}": e for s in ("loinc", "snomed", "icd10", "rxnorm") for e in term[s]}
    index.update({f"atc/{e['code']}": {**e, "system": URIS["atc"]} for e in term["atc"]})
    checked = 0
    for c in _all_codes(_raw()):
        source = c["source"]
        if c.get("verified") is False:
            continue  # not in the reference: checked by the next test
        if c["system"] == "screener":
            continue  # screener's own code system: checked against its documentation below
        m = re.fullmatch(
            r"terminology\.yaml#([a-z0-9]+/[A-Za-z0-9_]+)(\.value_codes|\.previous_code)?", source
        )
        if m:
            entry = index[m.group(1)]
            if m.group(2) == ".value_codes":
                pairs = {(vc["system"], str(vc["code"])) for vc in entry["value_codes"]}
                assert (URIS[c["system"]], str(c["code"])) in pairs, c
            elif m.group(2) == ".previous_code":
                assert entry["previous_code"].split()[0] == c["code"], c
            else:
                assert entry["verified"] is True, c
                assert (entry["system"], str(entry["code"])) == (URIS[c["system"]], str(c["code"])), c
            checked += 1
            continue
        m = re.fullmatch(r"valuesets\.yaml#(.+)", source)
        assert m, f"code without a traceable source: {c}"
        members = {(v["system"], str(v["code"])) for v in valuesets[m.group(1)]["codes"]}
        assert (URIS[c["system"]], str(c["code"])) in members, c
        checked += 1
    assert checked > 500


def test_unverified_entries_are_only_answers_and_products_and_say_so() -> None:
    raw = _raw()
    for c in _all_codes(raw):
        if "verified" in c:  # only the bundled SNOMED neoplasia set, each citing where it was seen
            assert c["verified"] is False and c["system"] == "snomed" and c["source"], c
            assert any(e["name"] == "neoplasia" and c in e["codes"] for e in raw["conditions"]), c
    for entries in raw["answers"].values():
        assert all(e["verified"] is False and "not in terminology.yaml" in e["source"] for e in entries)
    assert all(p["verified"] is False and p["source"] for p in raw["products"])


def test_screeners_own_codes_are_documented_and_never_posed_as_a_standard() -> None:
    """Every code of urn:screener:codes is listed in docs/terminology.md, and its entries cite it."""
    raw = _raw()
    assert raw["systems"]["screener"] == "urn:screener:codes"
    doc = (REPO / "docs" / "terminology.md").read_text(encoding="utf-8")
    own = [
        c
        for section in ("statuses", "assessments", "completeness_lists", "classifications")
        for entry in raw[section]
        for c in entry["codes"]
        if c["system"] == "screener"
    ]
    assert len(own) == 7
    for c in own:
        assert f"`{c['code']}`" in doc, c
        assert "urn:screener:codes" in c["source"] and "verified" not in c, c
    roles = [c for e in raw["legal_representatives"] for c in e["codes"]]
    assert {c["code"] for c in roles} == {
        "RESPRSN",
        "EXCEST",
        "GUADLTM",
        "GUARD",
        "POWATT",
        "DPOWATT",
        "HPOWATT",
        "SPOWATT",
    } - {"EXCEST"}
    assert all(c["system"] == "http://terminology.hl7.org/CodeSystem/v3-RoleCode" for c in roles)


# neoplasia types the rule set does not name: E7 excludes every type but its three exceptions
_E7_OTHER_TYPES = {"malignant_neoplasm", "carcinoma_in_situ"}


def test_mapped_names_are_facts_of_the_rule_set() -> None:
    rules = yaml.safe_load((REPO / "rules/nct03562065/rules.yaml").read_text(encoding="utf-8"))
    text = (REPO / "rules/nct03562065/rules.yaml").read_text(encoding="utf-8")
    facts = rules["facts"]
    raw = _raw()
    for entry in raw["observations"]:
        assert facts[entry["name"]]["kind"] == "observation", entry["name"]
    for entry in raw["statuses"]:
        assert facts[entry["name"]]["kind"] == "status", entry["name"]
    for entry in raw["conditions"]:
        assert re.search(rf"\b{entry['name']}\b", text), entry["name"]
        if "type" in entry and entry["type"] not in _E7_OTHER_TYPES:
            assert re.search(rf"\b{entry['type']}\b", text), entry["type"]
    for entry in raw["condition_ranges"]:
        assert re.search(rf"\b{entry['name']}\b", text), entry["name"]
        if "type" in entry and entry["type"] not in _E7_OTHER_TYPES:
            assert re.search(rf"\b{entry['type']}\b", text), entry["type"]
    assert all(
        e["name"] == "neoplasia"
        for e in raw["conditions"] + raw["condition_ranges"]
        if e.get("type") in _E7_OTHER_TYPES
    )
    e7 = next(c for c in rules["criteria"] if c["id"] == "E7")
    assert "type" in str(e7["test"]) and "not_in" in str(e7["test"])
    for entry in raw["suspicious_text"]:
        assert re.search(rf"\b{entry['condition']}\b", text), entry["condition"]
    for entry in raw["drugs"] + [{"name": p["drug"]} for p in raw["products"]]:
        assert re.search(rf"\b{entry['name']}\b", text), entry["name"]


def test_lookups_use_system_and_code_and_prefixes_only_where_declared() -> None:
    m = load_mapping()
    assert m.observation("http://loinc.org", "14682-9").name == "creatinine"
    assert m.observation("loinc", "2160-0").name == "creatinine"
    assert m.observation("http://snomed.info/sct", "2160-0") is None  # right code, wrong system
    assert m.condition("http://hl7.org/fhir/sid/icd-10-cm", "I50.23").name == "heart_failure"  # I50 prefix
    assert m.condition("http://hl7.org/fhir/sid/icd-10-cm", "M32.0") is None  # drug-induced lupus left out
    assert m.condition("http://hl7.org/fhir/sid/icd-10-cm", "M32.14").name == "sle"
    assert m.condition("http://snomed.info/sct", "254701007").type == "basal_cell_carcinoma"
    assert m.drug("http://www.nlm.nih.gov/research/umls/rxnorm", "121191").drug == "rituximab"
    assert m.drug("http://www.whocc.no/atc", "L01XC02").drug == "rituximab"  # previous ATC code
    assert m.answer("http://snomed.info/sct", "10828004") == "positive"
    assert m.answer_from_text("  Not   Detected ") == "negative"
    assert m.answer_from_text("weakly positive") is None


def test_malformed_mapping_names_file_line_and_field(tmp_path: Path) -> None:
    text = "observations:\n  - name: creatinine\n    codes:\n      - {system: loinc, code: 2160-0}\n"
    data, lines = load_text(text, "bad.yaml")
    with pytest.raises(MappingError) as info:
        mapping_from_data(data, lines)
    assert info.value.location.file == "bad.yaml"
    assert info.value.location.line == 4
    assert "source" in info.value.message
    bad = tmp_path / "broken.yaml"
    bad.write_text("observations: [\n", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        load_mapping(bad)
    assert info.value.location.file == str(bad)
    assert mapping_from_data({"observations": []}, LineMap("x", {})).observations == {}
