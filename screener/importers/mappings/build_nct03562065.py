"""Developer tool: regenerate ``nct03562065.yaml`` from the shared terminology reference.

Not imported at run time. Every code in the generated mapping is copied from
``shared/reference/terminology.yaml`` (by entry id) or ``valuesets.yaml`` (by value set
name), never typed by hand, and keeps a ``source`` naming that entry so an auditor can trace
it; ``tests/importers/test_mapping_audit.py`` re-checks every entry against the reference.
The few entries that are not in the reference (coded answers Positive/Negative, product-level
RxNorm codes seen in the sample data) are listed in ``EXTRA`` below with ``verified: false``
and where they were seen.

Usage: ``python -m screener.importers.mappings.build_nct03562065 /path/to/shared/reference``
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

SYSTEMS = {
    "http://loinc.org": "loinc",
    "http://snomed.info/sct": "snomed",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
    "http://www.whocc.no/atc": "atc",
}

# fact name -> (terminology ids "section/id", extra keys)
OBSERVATIONS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "creatinine",
        {},
        [
            "loinc/creatinine_serum_mass",
            "loinc/creatinine_serum_molar",
            "loinc/creatinine_blood_mass",
            "loinc/creatinine_blood_molar",
            "loinc/creatinine_serplasbld_molar",
        ],
    ),
    ("creatinine_clearance_measured", {}, ["loinc/creatinine_clearance_24h"]),
    ("weight", {}, ["loinc/body_weight", "loinc/body_weight_measured"]),
    ("height", {}, ["loinc/body_height"]),
    ("ast", {}, ["loinc/ast", "loinc/ast_p5p"]),
    ("alt", {}, ["loinc/alt", "loinc/alt_p5p"]),
    (
        "neutrophils",
        {},
        ["loinc/neutrophils_abs_auto", "loinc/neutrophils_abs", "loinc/neutrophils_abs_manual"],
    ),
    ("platelets", {}, ["loinc/platelets_auto", "loinc/platelets"]),
    ("hemoglobin", {}, ["loinc/hemoglobin"]),
    ("cd4", {}, ["loinc/cd4_abs"]),
    ("lvef", {}, ["loinc/lvef"]),
    ("lvef", {"method": "echocardiography"}, ["loinc/lvef_us", "loinc/lvef_2d_echo"]),
    ("pap_mean", {}, ["loinc/pa_mean_pressure", "snomed/pa_mean_pressure"]),
    ("pao2", {}, ["loinc/pao2_arterial"]),
    ("paco2", {}, ["loinc/paco2_arterial"]),
    ("ana", {"value": "coded"}, ["loinc/ana_presence", "loinc/ana_presence_if", "loinc/ana_presence_ia"]),
    ("hiv", {"value": "coded"}, ["loinc/hiv12_ab_ag", "loinc/hiv12_ab_ia", "loinc/hiv12_ab"]),
    ("htlv", {"value": "coded"}, ["loinc/htlv12_ab", "loinc/htlv12_ab_ia", "loinc/htlv12_ab_ib"]),
    ("hbsag", {"value": "coded"}, ["loinc/hbsag", "loinc/hbsag_ia"]),
    ("hcv_rna", {"value": "coded"}, ["loinc/hcv_rna_presence"]),
    ("pregnancy_test", {"value": "coded"}, ["loinc/hcg_urine_qual", "loinc/hcg_serum_qual"]),
]

STATUSES = [
    (
        "pregnant",
        "loinc/pregnancy_status",
        {"77386006": True, "LA15173-0": True, "LA26683-5": False, "60001007": False, "LA4489-6": None},
    ),
    (
        "breastfeeding",
        "loinc/breastfeeding_status",
        {"LA29252-6": True, "LA29253-4": False, "LA4489-6": None},
    ),
]

CONDITIONS: list[tuple[str, dict[str, Any], list[str]]] = [
    (
        "sle",
        {},
        [
            "snomed/sle",
            "snomed/sle_organ_involvement",
            "icd10/sle",
            "icd10/sle_organ_who",
            "icd10/sle_other_who",
            "icd10/sle_unspec_who",
            "icd10/sle_cm",
            "icd10/sle_organ_unspec",
            "icd10/sle_endocarditis",
            "icd10/sle_pericarditis",
            "icd10/sle_lung",
            "icd10/sle_glomerular",
            "icd10/sle_tubulointerstitial",
            "icd10/sle_other_organ",
            "icd10/sle_other",
            "icd10/sle_unspec",
        ],
    ),
    (
        "heart_failure",
        {},
        [
            "snomed/chf",
            "snomed/heart_failure",
            "snomed/hfref",
            "icd10/heart_failure_cm",
            "icd10/heart_failure_unspec",
            "icd10/chf_who",
            "valueset/Heart Failure",
        ],
    ),
    (
        "ventricular_arrhythmia",
        {},
        [
            "snomed/ventricular_arrhythmia",
            "snomed/ventricular_tachycardia",
            "snomed/ventricular_fibrillation",
            "icd10/reentry_ventricular_arrhythmia",
            "icd10/vt_cm",
            "icd10/vt_unspec",
            "icd10/vf",
            "icd10/vflutter",
            "icd10/vf_flutter_who",
            "icd10/pvc",
        ],
    ),
    ("myelodysplasia", {}, ["snomed/mds", "icd10/mds", "icd10/mds_unspec"]),
    ("neoplasia", {"type": "basal_cell_carcinoma"}, ["snomed/bcc_skin", "icd10/bcc_skin_unspec"]),
    ("neoplasia", {"type": "squamous_cell_carcinoma_skin"}, ["snomed/scc_skin", "icd10/scc_skin_unspec"]),
    (
        "neoplasia",
        {"type": "carcinoma_in_situ_cervix"},
        ["snomed/cis_cervix", "icd10/cis_cervix", "icd10/cis_cervix_unspec"],
    ),
    ("neoplasia", {}, ["icd10/skin_other_who", "icd10/atll"]),
    (
        "hiv_infection",
        {},
        [
            "snomed/hiv_infection",
            "snomed/hiv_positive",
            "icd10/hiv_disease",
            "icd10/hiv_unspec_who",
            "icd10/hiv_asymptomatic",
            "valueset/HIV",
        ],
    ),
    (
        "chronic_hepatitis_b",
        {},
        [
            "snomed/chronic_hepatitis_b",
            "icd10/chronic_hbv_delta",
            "icd10/chronic_hbv",
            "valueset/Hepatitis B|chronic",
        ],
    ),
    (
        "substance_abuse",
        {},
        [
            "snomed/substance_abuse",
            "icd10/substance_abuse_cm",
            "icd10/substance_harmful_use_who",
            "valueset/Substance Abuse|-remission",
        ],
    ),
    ("alcohol_abuse", {}, ["snomed/alcohol_abuse"]),
    ("drug_abuse", {}, ["snomed/opioid_abuse", "snomed/drug_dependence"]),
    (
        "psychotic_disorder",
        {},
        [
            "snomed/psychotic_disorder",
            "icd10/psychosis_organic",
            "icd10/psychosis_hallucinations_organic",
            "icd10/psychosis_unspec",
        ],
    ),
    ("neuropsychiatric_lupus", {}, ["snomed/npsle"]),
]

# Category codes that also cover their subcodes (ICD-10 hierarchy: I50 covers I50.x).
PREFIX_IDS = {"icd10/heart_failure_cm", "icd10/mds", "icd10/cis_cervix", "icd10/hiv_disease"}

ATC_DRUGS = {
    "H02AB07": "prednisone",
    "H02AB06": "prednisolone",
    "H02AB04": "methylprednisolone",
    "H02AB02": "dexamethasone",
    "H02AB09": "hydrocortisone",
    "H02AB13": "deflazacort",
    "P01BA02": "hydroxychloroquine",
    "P01BA01": "chloroquine",
    "L01AA01": "cyclophosphamide",
    "L04AX01": "azathioprine",
    "L04AX03": "methotrexate",
    "L01BA01": "methotrexate",
    "L04AK01": "leflunomide",
    "L01FA01": "rituximab",
    "L04AD01": "cyclosporine",
    "L04AG04": "belimumab",
    "L01FA02": "ofatumumab",
    "L01FA03": "obinutuzumab",
}
# previous ATC codes listed in terminology.yaml (previous_code), same drug
ATC_PREVIOUS = {"L04AK01", "L01FA01", "L04AG04", "L01FA02", "L01FA03"}

EXTRA_ANSWERS = {
    "positive": [
        {"system": "snomed", "code": "10828004", "display": "Positive (qualifier value)"},
        {"system": "loinc", "code": "LA6576-8", "display": "Positive"},
    ],
    "negative": [
        {"system": "snomed", "code": "260385009", "display": "Negative (qualifier value)"},
        {"system": "loinc", "code": "LA6577-6", "display": "Negative"},
    ],
}
EXTRA_ANSWER_SOURCE = (
    "not in terminology.yaml: answer codes named in the importer brief and seen in public FHIR "
    "examples and IGs (exact-string code search; repositories not identified) - check against a "
    "SNOMED CT / LOINC release"
)

# Product-level RxNorm codes (SCD/SBD) seen in shared/data; product -> ingredient is NOT in
# terminology.yaml (no offline RxNorm relationship file).  strength_mg is read from the display.
PRODUCTS = [
    {
        "system": "rxnorm",
        "code": "312617",
        "drug": "prednisone",
        "strength_mg": 5,
        "route": "oral",
        "display": "predniSONE 5 MG Oral Tablet",
        "source": "shared/data/smart-r4-synthea-sample/README.md (pred=prednisone RxNorm 312617) and the "
        "resource display",
    },
    {
        "system": "rxnorm",
        "code": "105586",
        "drug": "methotrexate",
        "strength_mg": 10,
        "route": "oral",
        "display": "Methotrexate 10 MG Oral Tablet",
        "source": "shared/data/smart-r4-synthea-sample/README.md (mtx=methotrexate 105586) and the "
        "resource display",
    },
    {
        "system": "rxnorm",
        "code": "835900",
        "drug": "cyclosporine",
        "route": "oral",
        "display": "cycloSPORINE 50 MG Oral Capsule",
        "source": "shared/data/smart-r4-synthea-sample/README.md (csa=cyclosporine 835900; strength "
        "disputed: display says 50 MG, Synthea module says Neoral 100 MG, so no strength_mg)",
    },
    {
        "system": "rxnorm",
        "code": "241834",
        "drug": "cyclosporine",
        "strength_mg": 100,
        "route": "oral",
        "display": "cyclosporine, modified 100 MG Oral Capsule",
        "source": "shared/data/synthea27nj-omop/README.md (cyclosporine 241834) and its CONCEPT.csv "
        "concept_name",
    },
    {
        "system": "rxnorm",
        "code": "106258",
        "drug": "hydrocortisone",
        "route": "topical",
        "display": "Hydrocortisone 10 MG/ML Topical Cream",
        "source": "shared/data/synthea27nj-omop/README.md (topical hydrocortisone 106258) and the resource "
        "display; topical: not a systemic glucocorticoid",
    },
]


def _index(ref: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    term = yaml.safe_load((ref / "terminology.yaml").read_text(encoding="utf-8"))
    entries: dict[str, dict[str, Any]] = {}
    for section in ("loinc", "snomed", "icd10", "rxnorm"):
        for e in term[section]:
            entries[f"{section}/{e['id']}"] = e
    for e in term["atc"]:
        entries[f"atc/{e['code']}"] = {**e, "system": "http://www.whocc.no/atc"}
    vs = {
        v["name"]: v
        for v in yaml.safe_load((ref / "valuesets.yaml").read_text(encoding="utf-8"))["valuesets"]
    }
    return entries, vs


def _code(entry: dict[str, Any], ident: str) -> dict[str, Any]:
    if not entry.get("verified") or entry.get("code") is None:
        raise SystemExit(f"{ident} is not verified in terminology.yaml")
    out = {
        "system": SYSTEMS[entry["system"]],
        "code": str(entry["code"]),
        "display": entry["display"],
        "source": f"terminology.yaml#{ident}",
    }
    if ident in PREFIX_IDS:
        out["match"] = "prefix"
    return out


def _expand(ident: str, entries: dict[str, Any], vs: dict[str, Any]) -> list[dict[str, Any]]:
    if ident.startswith("valueset/"):
        name, _, flt = ident[len("valueset/") :].partition("|")
        out = []
        for c in vs[name]["codes"]:
            text = c["display"].lower()
            if flt.startswith("-") and flt[1:] in text:
                continue
            if flt and not flt.startswith("-") and flt not in text:
                continue
            out.append(
                {
                    "system": SYSTEMS[c["system"]],
                    "code": str(c["code"]),
                    "display": c["display"],
                    "source": f"valuesets.yaml#{name}",
                }
            )
        return out
    return [_code(entries[ident], ident)]


def build(ref: Path) -> dict[str, Any]:
    entries, vs = _index(ref)

    def dedupe(codes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[tuple[str, str]] = set()
        out = []
        for c in codes:
            if (c["system"], c["code"]) not in seen:
                seen.add((c["system"], c["code"]))
                out.append(c)
        return out

    observations = []
    for name, extra, ids in OBSERVATIONS:
        observations.append({"name": name, **extra, "codes": [_code(entries[i], i) for i in ids]})
    statuses = []
    for name, ident, answers in STATUSES:
        entry = entries[ident]
        value_codes = {vc["code"]: vc for vc in entry["value_codes"]}
        answer_list = []
        for code, value in answers.items():
            vc = value_codes[code]
            answer_list.append(
                {
                    "system": SYSTEMS[vc["system"]],
                    "code": code,
                    "display": vc["display"],
                    "value": value,
                    "source": f"terminology.yaml#{ident}.value_codes",
                }
            )
        statuses.append({"name": name, "codes": [_code(entry, ident)], "answers": answer_list})
    conditions = []
    for name, extra, ids in CONDITIONS:
        codes: list[dict[str, Any]] = []
        for i in ids:
            codes.extend(_expand(i, entries, vs))
        conditions.append({"name": name, **extra, "codes": dedupe(codes)})
    drugs: dict[str, list[dict[str, Any]]] = {}
    for key, entry in entries.items():
        if key.startswith("rxnorm/") and entry.get("code") and entry.get("verified"):
            drugs.setdefault(entry["id"], []).append(_code(entry, key))
    for atc_code, drug in ATC_DRUGS.items():
        key = f"atc/{atc_code}"
        drugs.setdefault(drug, []).append(_code(entries[key], key))
        if atc_code in ATC_PREVIOUS:
            prev = entries[key]["previous_code"].split()[0]
            drugs[drug].append(
                {
                    "system": "atc",
                    "code": prev,
                    "display": f"{drug} (previous ATC code)",
                    "source": f"terminology.yaml#{key}.previous_code",
                }
            )
    answers = {}
    for value, codes in EXTRA_ANSWERS.items():
        answers[value] = [{**c, "source": EXTRA_ANSWER_SOURCE, "verified": False} for c in codes]
    return {
        "schema_version": "1",
        "mapping": {
            "id": "nct03562065",
            "title": "Codes to screener facts for NCT03562065 (MSC-SLE)",
            "generated_by": "screener/importers/mappings/build_nct03562065.py from shared/reference",
        },
        "systems": {v: k for k, v in SYSTEMS.items()},
        "fhir": {
            # Consent.scope codes read as consent to research (FHIR R4 consentscope "research").
            "consent_scopes": ["research"],
            # A ResearchSubject in this trial is not "another study" (E14).
            "own_study_identifiers": ["NCT03562065"],
        },
        "answers": answers,
        "answer_text": {
            "positive": ["positive", "pos", "detected", "reactive", "present"],
            "negative": ["negative", "neg", "not detected", "non-reactive", "nonreactive", "absent"],
        },
        "observations": observations,
        "statuses": statuses,
        "conditions": conditions,
        "drugs": [{"name": k, "codes": dedupe(v)} for k, v in drugs.items()],
        "products": [{**p, "verified": False} for p in PRODUCTS],
    }


HEADER = """\
# Code -> fact mapping for NCT03562065 (GENERATED by build_nct03562065.py; edit the builder, not
# this file). Every entry names its source: terminology.yaml#<section>/<id> or
# valuesets.yaml#<value set> in shared/reference, so an auditor can trace each code. Entries not in
# the reference carry verified: false and say where they were seen.
#   observations: (system, code) -> observation name; value: coded = result is an answer
#                 (positive/negative) resolved through `answers` / `answer_text`
#   statuses:     (system, code) -> status name, answers -> true/false (null = unknown, skipped)
#   conditions:   (system, code) -> condition name [+ type]; match: prefix = the code and its subcodes
#   drugs:        ingredient codes (RxNorm IN, ATC) -> drug name
#   products:     product codes -> drug name [+ strength_mg per unit, route]; not in the reference
#   fhir:         Consent scopes read as research consent; identifiers of this trial (E14)
"""


def main(argv: list[str]) -> int:
    ref = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference")
    out = Path(__file__).with_name("nct03562065.yaml")
    text = yaml.safe_dump(build(ref), sort_keys=False, allow_unicode=True, width=200, default_flow_style=None)
    out.write_text(HEADER + text, encoding="utf-8")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
