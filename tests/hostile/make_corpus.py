"""Writes the hostile-input corpus in tests/data/hostile/ (run from the repo root).

The corpus is data committed to git; this script documents how each file was made
and re-creates it: ``python tests/hostile/make_corpus.py``. ``test_corpus.py`` says,
for each file, the exit code and a fragment of the message. The one file too big
to keep in git (a FHIR Patient with 100,000 nested extensions, 2.4 MB) is written
by the test itself with :func:`deep_extension_bundle`.
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "hostile"
PATIENT = (ROOT / "fixtures" / "patients" / "eligible_refractory_lupus.yaml").read_text(encoding="utf-8")
RULES = (ROOT / "rules" / "nct03562065" / "rules.yaml").read_text(encoding="utf-8")

VERSION = next(line for line in RULES.splitlines() if line.startswith("  version: "))
WEIGHT = "  - {name: weight, value: 61, unit: kg, date: 2026-11-18, source: nursing note 2026-11-18}\n"
I1 = "        - {fact: age, gte: 18, unit: a}\n"
ANA = "        - {fact: ana, eq: positive}\n"


def patient(replace: str, by: str) -> str:
    assert replace in PATIENT, replace
    return PATIENT.replace(replace, by, 1)


def rules(replace: str, by: str) -> str:
    assert replace in RULES, replace
    return RULES.replace(replace, by, 1)


def nested_not(depth: int) -> str:
    test = "{fact: age, gte: 18, unit: a}"
    for _ in range(depth):
        test = "{not: " + test + "}"
    return "        - " + test + "\n"


def laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def bundle(**extra: object) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Patient",
                    "id": "p1",
                    "gender": "female",
                    "birthDate": "1992-03-14",
                    **extra,
                }
            }
        ],
    }


PATIENTS: dict[str, str | bytes] = {
    # dates
    "year0_birth.yaml": patient("birth_date: 1992-03-14", "birth_date: 0000-01-01"),
    "year0_observation.yaml": patient(
        "date: 2026-11-18, source: nursing note", "date: 0000-01-01, source: nursing note"
    ),
    "date_30_february.yaml": patient(
        "start: 2019-06-10, end: 2020-01-31", "start: 2019-02-30, end: 2020-01-31"
    ),
    # numbers
    "dose_nan.yaml": patient("dose: 200, unit: mg", "dose: .nan, unit: mg"),
    "dose_inf.yaml": patient("dose: 200, unit: mg", "dose: .inf, unit: mg"),
    "dose_1e308_mg.yaml": patient("dose: 200, unit: mg", "dose: 1e308, unit: mg"),
    "dose_1e308_g.yaml": patient("dose: 200, unit: mg", "dose: 1e308, unit: g"),
    "dose_400_digits.yaml": patient("dose: 200, unit: mg", "dose: " + "9" * 400 + ", unit: mg"),
    "value_5000_digits.yaml": patient("value: 61, unit: kg", "value: " + "1" * 5000 + ", unit: kg"),
    "float_overflow.yaml": patient("value: 61, unit: kg", "value: 1e999, unit: kg"),
    "reference_range_inf.yaml": patient("reference_range: {high: 35}", "reference_range: {high: .inf}"),
    "reference_range_inverted.yaml": patient(
        "reference_range: {low: 45, high: 90}", "reference_range: {low: 90, high: 45}"
    ),
    "reference_range_negative.yaml": patient("reference_range: {high: 35}", "reference_range: {high: -35}"),
    "acr_criteria_12.yaml": patient("criteria_met: 6", "criteria_met: 12"),
    "medication_before_birth.yaml": patient(
        "start: 2019-06-10, source: current", "start: 1980-06-10, source: current"
    ),
    "sledai_nan_json.json": json.dumps({"schema_version": "1", "patient_id": "x", "demographics": {}})[:-1]
    + ', "assessments": [{"name": "selena_sledai", "score": NaN, "date": "2026-11-18"}]}',
    # YAML 1.1 surprises (YAML 1.2 reads them as text)
    "status_value_no.yaml": patient("{name: pregnant, value: false", "{name: pregnant, value: no"),
    "sexagesimal_weight.yaml": patient("value: 61, unit: kg", "value: 1:01, unit: kg"),
    # duplicate keys
    "duplicate_patient_id.yaml": patient(
        "patient_id: story-eligible-001\n", "patient_id: story-eligible-001\npatient_id: other\n"
    ),
    "duplicate_value.yaml": patient("value: 61, unit: kg", "value: 61, value: 20, unit: kg"),
    "duplicate_key.json": '{"schema_version": "1", "patient_id": "a", "patient_id": "b", "demographics": {}}',
    # tags building other types
    "tag_binary.yaml": patient("source: hospital admission record", "source: !!binary aGVsbG8="),
    "tag_set.yaml": patient("sex: female", "sex: !!set {female}"),
    "tag_timestamp.yaml": patient("birth_date: 1992-03-14", "birth_date: !!timestamp 1992-03-14"),
    "tag_python.yaml": patient("sex: female", "sex: !!python/object/apply:os.getcwd []"),
    # structure
    "recursive_alias.yaml": patient("observations:\n", "extra: &a [*a]\nobservations:\n"),
    "deep_list_5000.yaml": patient("observations:\n", "observations: " + "[" * 5000 + "]" * 5000 + "\nx:\n"),
    "deep_json_100000.json": "[" * 100_000 + "]" * 100_000,
    "billion_laughs.yaml": laughs(),
    "merge_key.yaml": patient("demographics:\n", "base: &b {sex: female}\ndemographics:\n  <<: *b\n"),
    "two_documents.yaml": PATIENT + "---\npatient_id: second\n",
    "empty.yaml": "",
    "only_a_list.yaml": "- 1\n- 2\n",
    # encodings
    "latin1.yaml": patient("source: hospital admission record", "source: h\u00f4pital").encode("latin-1"),
    "utf16.yaml": PATIENT.encode("utf-16"),
    "binary.yaml": bytes(range(256)) * 4,
    "lone_surrogate.json": '{"schema_version": "1", "patient_id": "\\ud800", "demographics": {}}',
    # names nothing defines (issue 13 section 1)
    "drug_typo.yaml": patient("drug: hydroxychloroquine", "drug: methotrexat"),
    "condition_typo.yaml": patient("{name: sle,", "{name: neoplasm,"),
    "observation_typo.yaml": patient("{name: weight, value: 61", "{name: wieght, value: 61"),
    "status_as_observation.yaml": patient(
        WEIGHT, WEIGHT + "  - {name: pregnant, value: false, date: 2026-11-18}\n"
    ),
}

FHIR: dict[str, str | bytes] = {
    "fhir_duplicate_key.json": json.dumps(bundle()).replace('"id": "p1"', '"id": "p1", "id": "p2"'),
    "fhir_nan.json": json.dumps(bundle()).replace('"female"', '"female", "multipleBirthInteger": NaN'),
    "fhir_overflow.json": json.dumps(bundle()).replace('"female"', '"female", "multipleBirthInteger": 1e999'),
    "fhir_lone_surrogate.json": json.dumps(bundle()).replace('"p1"', '"\\udc00"', 1),
    "fhir_latin1.json": json.dumps(bundle(), ensure_ascii=False)
    .replace("female", "f\u00e9male")
    .encode("latin-1"),
}


def deep_extension_bundle(depth: int) -> str:
    head = json.dumps(bundle())
    cut = head.rindex("}}]}")
    inner = '{"url": "x", "valueString": "leaf"}'
    opening = '{"url": "x", "extension": [' * depth
    closing = "]}" * depth
    return head[:cut] + ', "extension": [' + opening + inner + closing + "]" + head[cut:]


FHIR["fhir_deep_extension_70.json"] = deep_extension_bundle(70)

RULES_FILES: dict[str, str | bytes] = {
    "rule_gtee.yaml": rules(I1, I1.replace("gte:", "gtee:")),
    "rule_gte_text.yaml": rules(I1, I1.replace("gte: 18", "gte: '18'")),
    "rule_all_empty.yaml": rules("      all:\n" + I1 + I1.replace("gte: 18", "lt: 70"), "      all: []\n"),
    "rule_two_comparisons.yaml": rules(I1, I1.replace("gte: 18", "gte: 18, lt: 99")),
    "rule_gte_nan.yaml": rules(I1, I1.replace("gte: 18", "gte: .nan")),
    "rule_gte_inf.yaml": rules(I1, I1.replace("gte: 18", "gte: .inf")),
    "rule_enum_typo.yaml": rules(ANA, ANA.replace("positive", "positve")),
    "rule_match_drug_typo.yaml": rules("methotrexate, leflunomide", "methotrexat, leflunomide"),
    "rule_match_condition_typo.yaml": rules("match: {name: [neoplasia,", "match: {name: [neoplasm,"),
    "rule_wrong_canonical_unit.yaml": rules(
        "weight: {kind: observation, type: number, unit: kg,",
        "weight: {kind: observation, type: number, unit: lb,",
    ),
    "rule_derived_cycle.yaml": rules(
        "inputs: {height_cm: height, weight_kg: weight}",
        "inputs: {height_cm: height, weight_kg: crcl_cockcroft_gault}",
    ).replace("inputs: {age_years: age, weight_kg: weight,", "inputs: {age_years: age, weight_kg: bsa,", 1),
    "rule_600_not.yaml": rules(I1, nested_not(600)),
    "rule_duplicate_key.yaml": rules("  id: nct03562065\n", "  id: nct03562065\n  id: other\n"),
    "rule_tag_binary.yaml": rules(VERSION, "  version: !!binary MS4wLjA="),
    "rule_billion_laughs.yaml": laughs(),
    "rule_latin1.yaml": rules("title: Age 18 to 69 years", "title: \u00c2ge").encode("latin-1", "replace"),
    "rule_yes_as_text.yaml": rules(
        "person_only: true, label: Signed informed consent",
        "person_only: yes, label: Signed informed consent",
    ),
}


def write(folder: Path, files: dict[str, str | bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write(OUT / "patients", PATIENTS)
    write(OUT / "fhir", FHIR)
    write(OUT / "rules", RULES_FILES)
    print(f"wrote {len(PATIENTS) + len(FHIR) + len(RULES_FILES)} files under {OUT}")
