"""RxNorm products: normalised names on every RxNorm code/display in the shared data, and RRF files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from screener.importers.mapping import load_mapping
from screener.terminology.rxnorm import RxNormRelease, parse_name
from tests.importers.conftest import shared_path

RX = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _shared_rxnorm() -> list[tuple[str, str, str]]:
    """(where, code, display) of each RxNorm coding in the shared FHIR bundles, OMOP CONCEPT, lupus module."""
    out: list[tuple[str, str, str]] = []
    for path in sorted(shared_path("data", "smart-r4-synthea-sample").glob("*.json")):
        for entry in json.loads(path.read_text(encoding="utf-8"))["entry"]:
            res = entry["resource"]
            concept = res.get("medicationCodeableConcept") or (
                res.get("code") if res["resourceType"] == "Medication" else None
            )
            for c in (concept or {}).get("coding", []):
                if c.get("system") == RX:
                    out.append((path.name, c["code"], c.get("display", "")))
    with shared_path("data", "synthea27nj-omop", "CONCEPT.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["vocabulary_id"] == "RxNorm":
                out.append(("CONCEPT.csv", row["concept_code"], row["concept_name"]))

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("system") == "RxNorm":
                out.append(("synthea-lupus-module.json", str(node["code"]), node["display"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(json.loads(shared_path("data", "synthea-lupus-module.json").read_text(encoding="utf-8")))
    return out


# Trial drugs among the shared data's products: code -> (drug, strength mg per unit, route)
EXPECTED = {
    "312615": ("prednisone", 20.0, "oral"),
    "312617": ("prednisone", 5.0, "oral"),
    "105586": ("methotrexate", 10.0, "oral"),
    "105585": ("methotrexate", 2.5, "oral"),
    "241834": ("cyclosporine", 100.0, "oral"),
    "106258": ("hydrocortisone", None, "topical"),
    "979092": ("hydroxychloroquine", 200.0, "oral"),
    "1116758": ("chloroquine", 500.0, "oral"),
    "1734919": ("cyclophosphamide", 1000.0, None),
}


def test_every_shared_rxnorm_code_is_read_and_trial_drugs_are_recognised() -> None:
    m = load_mapping()
    seen = _shared_rxnorm()
    assert len(seen) > 250
    found: dict[str, tuple[str, float | None, str | None]] = {}
    for where, code, display in seen:
        target = m.drug(RX, code, display)
        if target is not None:
            found[code] = (target.drug, target.strength_mg, target.route)
            # a strength is only ever per unit of a unit dose form (never a concentration or rate)
            assert target.strength_mg is None or "/" not in display.split(" MG")[1][:3], (where, display)
    # the listed mapping products keep their reviewed values (835900: strength disputed, none)
    assert found.pop("835900") == ("cyclosporine", None, "oral")
    assert found == EXPECTED


def test_rxnorm_312615_is_prednisone_20_mg_from_its_name() -> None:
    target = load_mapping().drug(RX, "312615", "predniSONE 20 MG Oral Tablet")
    assert target is not None
    assert (target.drug, target.strength_mg, target.route, target.via) == (
        "prednisone",
        20.0,
        "oral",
        "RxNorm name parse",
    )
    assert load_mapping().drug(RX, "312615") is None  # no display, no local RxNorm: not guessed


@pytest.mark.parametrize(
    ("name", "ingredients", "route"),
    [
        ("prednisone 20 MG Oral Tablet", [("prednisone", 20.0)], "oral"),
        (
            "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]",
            [("metoprolol succinate", 100.0)],
            "oral",
        ),
        (
            "1 ML medroxyprogesterone acetate 150 MG/ML Injection",
            [("medroxyprogesterone acetate", 150.0)],
            None,
        ),
        ("Hydrocortisone 10 MG/ML Topical Cream", [("hydrocortisone", None)], "topical"),
        ("72 HR fentanyl 0.025 MG/HR Transdermal System", [("fentanyl", None)], None),
        (
            "Amoxicillin 250 MG / Clavulanate 125 MG Oral Tablet",
            [("amoxicillin", 250.0), ("clavulanate", 125.0)],
            "oral",
        ),
        ("{28 (norethindrone 0.35 MG Oral Tablet) } Pack [Camila 28 Day]", [("norethindrone", None)], "oral"),
        ("NDA020800 0.3 ML Epinephrine 1 MG/ML Auto-Injector", [("epinephrine", 0.3)], None),
        ("levothyroxine sodium 0.075 MG Oral Tablet", [("levothyroxine sodium", 0.075)], "oral"),
        ("methotrexate 2500 MCG Oral Tablet", [("methotrexate", 2.5)], "oral"),
    ],
)
def test_normalised_names(name: str, ingredients: list[tuple[str, float | None]], route: str | None) -> None:
    product = parse_name(name)
    assert product is not None
    assert [(i.name, i.strength_mg) for i in product.ingredients] == ingredients
    assert product.route == route


@pytest.mark.parametrize("name", ["", "Camila 28 Day Pack", "Tylenol"])
def test_names_that_are_not_normalised_give_nothing(name: str) -> None:
    assert parse_name(name) is None


def test_salt_and_similar_names_map_to_the_right_drug() -> None:
    m = load_mapping()
    assert m.ingredient_drug("hydroxychloroquine sulfate") == "hydroxychloroquine"
    assert m.ingredient_drug("methylprednisolone") == "methylprednisolone"
    assert m.ingredient_drug("prednisolone") == "prednisolone"
    assert m.ingredient_drug("mycophenolate mofetil hydrochloride") == "mycophenolate_mofetil"
    assert m.ingredient_drug("mycophenolic acid") == "mycophenolic_acid"
    assert m.ingredient_drug("cyclosporine, modified") == "cyclosporine"
    assert m.ingredient_drug("prednisonex") is None
    assert m.ingredient_drug("naproxen sodium") is None


def _rrf(tmp_path: Path) -> Path:
    """A tiny RxNorm release: branded prednisone tablet -> SCD -> SCDC -> IN (rows as in RXNCONSO/RXNREL)."""
    conso = [
        ("8640", "IN", "prednisone"),
        ("315266", "SCDC", "prednisone 20 MG"),
        ("312615", "SCD", "prednisone 20 MG Oral Tablet"),
        ("999001", "SBD", "prednisone 20 MG Oral Tablet [Deltasone]"),
    ]
    (tmp_path / "RXNCONSO.RRF").write_text(
        "".join(f"{c}|ENG||||||A{c}|||{c}|RXNORM|{t}|{c}|{s}||N|4096|\n" for c, t, s in conso),
        encoding="utf-8",
    )
    rel = [
        ("312615", "RO", "999001", "tradename_of"),
        ("315266", "RO", "312615", "constitutes"),
        ("8640", "RO", "315266", "has_ingredient"),
    ]
    (tmp_path / "RXNREL.RRF").write_text(
        "".join(f"{a}||CUI|{r}|{b}||CUI|{rela}|||RXNORM||||N||\n" for a, r, b, rela in rel), encoding="utf-8"
    )
    return tmp_path


def test_rxnorm_release_files_give_ingredient_and_strength(tmp_path: Path) -> None:
    release = RxNormRelease.load(_rrf(tmp_path))
    product, cuis = release.product("999001")
    assert [(i.name, i.strength_mg) for i in product.ingredients] == [("prednisone", 20.0)]
    assert cuis == ("8640",) and product.route == "oral"
    assert release.product("12345") is None
    m = load_mapping(terminology=tmp_path)
    target = m.drug(RX, "999001")  # no display at all: the release answers
    assert (target.drug, target.strength_mg, target.via) == ("prednisone", 20.0, "RxNorm RRF")


def test_snomed_descendants_through_rf2_and_omop_vocabulary(tmp_path: Path) -> None:
    """A SNOMED code the mapping does not list counts as its nearest mapped ancestor; BCC stays BCC."""
    sct = "http://snomed.info/sct"
    rf2 = tmp_path / "rf2" / "Snapshot" / "Terminology"
    rf2.mkdir(parents=True)
    header = (
        "\t".join(
            [
                "id",
                "effectiveTime",
                "active",
                "moduleId",
                "sourceId",
                "destinationId",
                "relationshipGroup",
                "typeId",
                "characteristicTypeId",
                "modifierId",
            ]
        )
        + "\n"
    )
    rows = [
        ("1", "1", "111111001", "254637007"),  # a made-up child of NSCLC
        ("2", "1", "222222001", "254701007"),  # a made-up child of BCC of skin ...
        ("3", "1", "222222001", "363346000"),  # ... also a malignant neoplastic disease
        ("4", "0", "333333001", "363346000"),  # inactive row: not used
    ]
    (rf2 / "sct2_Relationship_Snapshot_INT_20250101.txt").write_text(
        header
        + "".join(
            "\t".join(
                (i, "20250101", a, "900000000000207008", s, d, "0", "116680003", "900000000000011006", "0")
            )
            + "\n"
            for i, a, s, d in rows
        ),
        encoding="utf-8",
    )
    m = load_mapping(terminology=tmp_path / "rf2")
    nsclc_child = m.condition(sct, "111111001")
    assert (nsclc_child.name, nsclc_child.type) == ("neoplasia", "malignant_neoplasm")
    assert nsclc_child.via.startswith("SNOMED CT RF2")
    bcc_child = m.condition(sct, "222222001")
    assert bcc_child.type == "basal_cell_carcinoma"  # nearest ancestor wins over the broad one
    assert m.condition(sct, "333333001") is None
    assert load_mapping().condition(sct, "111111001") is None  # no local source: not guessed

    vocab = tmp_path / "vocab"
    vocab.mkdir()
    (vocab / "CONCEPT.csv").write_text(
        "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept\tconcept_code\n"
        "4115276\tNon-small cell lung cancer\tCondition\tSNOMED\tClinical Finding\tS\t254637007\n"
        "9000001\tSome NSCLC subtype\tCondition\tSNOMED\tClinical Finding\tS\t444444001\n",
        encoding="utf-8",
    )
    (vocab / "CONCEPT_ANCESTOR.csv").write_text(
        "ancestor_concept_id\tdescendant_concept_id\tmin_levels_of_separation\tmax_levels_of_separation\n"
        "4115276\t9000001\t1\t1\n4115276\t4115276\t0\t0\n",
        encoding="utf-8",
    )
    via_omop = load_mapping(terminology=vocab).condition(sct, "444444001")
    assert via_omop.name == "neoplasia" and via_omop.via.startswith("OMOP CONCEPT_ANCESTOR")
