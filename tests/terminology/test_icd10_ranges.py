"""ICD-10 ranges: every subcode of a block counts, carve-outs are narrower ranges, both sides of each edge."""

from __future__ import annotations

import pytest

from screener.importers.mapping import ConditionTarget, NotCriterion, load_mapping
from screener.terminology import icd10

CM = "http://hl7.org/fhir/sid/icd-10-cm"
WHO = "http://hl7.org/fhir/sid/icd-10"


def _what(system: str, code: str) -> tuple[str | None, str | None]:
    m = load_mapping()
    target = m.condition(system, code)
    if target is not None:
        return target.name, target.type
    ignored = m.not_criterion(system, code)
    return ("not_criterion", None) if ignored is not None else (None, None)


@pytest.mark.parametrize(
    ("system", "code", "expected"),
    [
        (CM, "C50.9", ("neoplasia", "malignant_neoplasm")),
        (WHO, "C50.9", ("neoplasia", "malignant_neoplasm")),
        (CM, "C50.911", ("neoplasia", "malignant_neoplasm")),
        # chapter edges: C00 in, B99 and D50 out
        (CM, "C00.0", ("neoplasia", "malignant_neoplasm")),
        (CM, "B99.9", (None, None)),
        (CM, "D50.9", (None, None)),
        (WHO, "C97", ("neoplasia", "malignant_neoplasm")),
        (CM, "C7A.00", ("neoplasia", "malignant_neoplasm")),
        # skin: melanoma C43 excludes; CM C44.x1 / C44.x2 are the protocol's exceptions
        (CM, "C43.9", ("neoplasia", "malignant_neoplasm")),
        (CM, "C44.01", ("neoplasia", "basal_cell_carcinoma")),
        (CM, "C44.1121", ("neoplasia", "basal_cell_carcinoma")),
        (CM, "C44.92", ("neoplasia", "squamous_cell_carcinoma_skin")),
        (CM, "C44.1221", ("neoplasia", "squamous_cell_carcinoma_skin")),
        (CM, "C44.99", ("neoplasia", "malignant_neoplasm")),
        (CM, "C44.131", ("neoplasia", "malignant_neoplasm")),
        (CM, "C44.00", ("neoplasia", None)),  # unspecified histology: E7 unknown
        (WHO, "C44.3", ("neoplasia", None)),  # WHO C44 never tells BCC/SCC
        (CM, "C45.0", ("neoplasia", "malignant_neoplasm")),
        # in situ: cervix D06 carved out, breast D05 is not
        (CM, "D06.9", ("neoplasia", "carcinoma_in_situ_cervix")),
        (WHO, "D06.1", ("neoplasia", "carcinoma_in_situ_cervix")),
        (CM, "D05.10", ("neoplasia", "carcinoma_in_situ")),
        (CM, "D07.0", ("neoplasia", "carcinoma_in_situ")),
        (CM, "D09.9", ("neoplasia", "carcinoma_in_situ")),
        (CM, "D04.9", ("neoplasia", None)),
        (CM, "D10.0", ("not_criterion", None)),  # benign
        (CM, "D36.9", ("not_criterion", None)),
        (CM, "D3A.010", ("not_criterion", None)),
        (CM, "D37.0", ("neoplasia", None)),  # uncertain behaviour
        (CM, "D46.9", ("myelodysplasia", None)),
        (CM, "D46.A", ("myelodysplasia", None)),
        (CM, "D49.0", ("neoplasia", None)),
        (CM, "Z85.3", ("not_criterion", None)),
        # HIV B20-B24 (WHO), B20 (CM), Z21; B19 / B25 outside
        (WHO, "B23.0", ("hiv_infection", None)),
        (WHO, "B24", ("hiv_infection", None)),
        (WHO, "B25.0", (None, None)),
        (WHO, "B19.9", (None, None)),
        (CM, "Z21", ("hiv_infection", None)),
        (CM, "O98.711", ("hiv_infection", None)),
        (CM, "B18.1", ("chronic_hepatitis_b", None)),
        (CM, "B18.2", ("not_criterion", None)),  # HCV: decided on HCV RNA
        (CM, "F20.9", ("psychotic_disorder", None)),
        (CM, "F29", ("psychotic_disorder", None)),
        (CM, "F30.2", (None, None)),
        (CM, "F19.10", ("substance_abuse", None)),
        (WHO, "F10.2", ("substance_abuse", None)),
        (CM, "F09", (None, None)),
        (CM, "I50.23", ("heart_failure", None)),
        (WHO, "I50.1", ("heart_failure", None)),
        (CM, "I47.21", ("ventricular_arrhythmia", None)),
        (CM, "M32.0", (None, None)),  # drug-induced lupus deliberately left out
    ],
)
def test_code_inside_and_outside_each_range(
    system: str, code: str, expected: tuple[str | None, str | None]
) -> None:
    assert _what(system, code) == expected


def test_remission_codes_are_resolved_not_current() -> None:
    m = load_mapping()
    remission = m.condition(CM, "F10.21")
    current = m.condition(CM, "F10.20")
    assert remission is not None and remission.status == "resolved" and remission.name == "substance_abuse"
    assert current is not None and current.status is None


def test_each_answer_says_which_range_gave_it() -> None:
    m = load_mapping()
    target = m.condition(CM, "C50.9")
    assert isinstance(target, ConditionTarget) and target.via == "ICD-10-CM C00-C96 range"
    assert "simple-icd-10-cm" in target.source
    ignored = m.not_criterion(CM, "D25.9")
    assert isinstance(ignored, NotCriterion) and "benign" in ignored.reason


def test_narrowest_range_wins_regardless_of_order() -> None:
    wide = icd10.CodeRange("s", "C00", "C97", "wide", "C00-C97")
    skin = icd10.CodeRange("s", "C44", "C44", "skin", "C44")
    bcc = icd10.CodeRange("s", "C4491", "C4491", "bcc", "C44.91")
    for order in ([wide, skin, bcc], [bcc, wide, skin], [skin, bcc, wide]):
        table = icd10.RangeTable(order)
        assert table.lookup("s", "C44.91").target == "bcc"
        assert table.lookup("s", "C44.90").target == "skin"
        assert table.lookup("s", "C50").target == "wide"
        assert table.lookup("s", "D00") is None
        assert table.lookup("other", "C50") is None


@pytest.mark.parametrize("bad", ["C00-", "C97-C00", "X", "C00-C10-C20", "1234"])
def test_malformed_ranges_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        icd10.parse_range(bad)


def test_a_range_in_the_mapping_file_names_file_line_and_field(tmp_path) -> None:
    from screener.importers.mapping import MappingError

    bad = tmp_path / "m.yaml"
    bad.write_text(
        "condition_ranges:\n  - name: neoplasia\n    codes:\n"
        "      - {system: 'http://hl7.org/fhir/sid/icd-10', range: C99-C00, source: x}\n",
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as info:
        load_mapping(bad)
    assert info.value.location.file == str(bad) and info.value.location.line == 4
    assert "ends before it starts" in info.value.message
