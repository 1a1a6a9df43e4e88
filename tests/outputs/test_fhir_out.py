"""FHIR R4 exports: Group of the eligible patients, ResearchSubjects with the matching status.

Each resource is validated with ``fhir.resources`` (its R4B models: Group, ResearchSubject and
ResearchStudy have the same elements as in R4), and read back and compared with the rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screener.model.rules import load_ruleset

from ..batch.conftest import AS_OF, RULES
from .conftest import batch, make_patients, read_csv

pytest.importorskip("fhir.resources")
from fhir.resources.R4B.group import Group
from fhir.resources.R4B.researchstudy import ResearchStudy
from fhir.resources.R4B.researchsubject import ResearchSubject

# http://hl7.org/fhir/R4/valueset-research-subject-status.html (R4 4.0.1): the 13 codes
R4_SUBJECT_STATUS = {
    "candidate", "eligible", "follow-up", "ineligible", "not-registered", "off-study", "on-study",
    "on-study-intervention", "on-study-observation", "pending-on-study", "potential-candidate",
    "screening", "withdrawn",
}  # fmt: skip


def test_group_lists_the_eligible_patients_and_names_trial_and_rule_set(tmp_path: Path) -> None:
    patients = make_patients(tmp_path / "p", [f"pt-{i}" for i in range(10)])
    out, group_file = tmp_path / "rows.csv", tmp_path / "group.json"
    assert batch(patients, out, "--fhir-group", str(group_file)) == 0
    doc = json.loads(group_file.read_text(encoding="utf-8"))
    group = Group.model_validate(doc)  # raises on anything FHIR does not allow
    assert group.actual is True and group.type == "person"
    eligible = {f"Patient/{r['patient_id']}" for r in read_csv(out) if r["decision"] == "eligible"}
    assert {m.entity.reference for m in group.member} == eligible and len(eligible) == 2
    assert group.quantity == 2 and all(str(m.period.start) == AS_OF.isoformat() for m in group.member)
    ruleset = load_ruleset(RULES)
    trial, rules = group.characteristic
    assert trial.valueReference.display == ruleset.trial and trial.exclude is False
    assert rules.valueCodeableConcept.coding[0].code == ruleset.sha256
    assert rules.valueCodeableConcept.coding[0].version == ruleset.version


def test_research_subjects_carry_the_status_of_the_decision(tmp_path: Path) -> None:
    ids = [f"pt-{i}" for i in range(9)] + ["id with spaces/and slash"]
    patients = make_patients(tmp_path / "p", ids)
    out, folder = tmp_path / "rows.jsonl", tmp_path / "fhir"
    assert batch(patients, out, "--fhir-subjects", str(folder)) == 0
    rows = {r["patient_id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    (study_file,) = folder.glob("ResearchStudy-*.json")
    study = ResearchStudy.model_validate_json(study_file.read_text(encoding="utf-8"))
    assert study.identifier[0].value == load_ruleset(RULES).trial
    subjects = [
        ResearchSubject.model_validate_json(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("ResearchSubject-*.json"))
    ]
    assert len(subjects) == len(rows) == 10
    want = {"eligible": "eligible", "ineligible": "ineligible", "incomplete": "screening"}
    seen = set()
    for subject in subjects:
        pid = subject.identifier[0].value
        assert subject.status in R4_SUBJECT_STATUS and subject.status == want[rows[pid]["decision"]]
        assert subject.study.reference == f"ResearchStudy/{study.id}"
        if pid == "id with spaces/and slash":  # not a FHIR id: referred to by identifier
            assert subject.individual.reference is None and subject.individual.identifier.value == pid
        else:
            assert subject.individual.reference == f"Patient/{pid}"
        seen.add(subject.status)
    assert seen == {"eligible", "ineligible", "screening"}


def test_existing_fhir_files_are_not_overwritten_without_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    patients = make_patients(tmp_path / "p", [f"pt-{i}" for i in range(3)])
    group_file, folder = tmp_path / "group.json", tmp_path / "fhir"
    assert (
        batch(patients, tmp_path / "a.csv", "--fhir-group", str(group_file), "--fhir-subjects", str(folder))
        == 0
    )
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    group_file.write_text("{}", encoding="utf-8")
    assert batch(patients, tmp_path / "b.csv", "--fhir-group", str(group_file)) == 2
    assert "already exists" in capsys.readouterr().err and group_file.read_text() == "{}"
    assert batch(patients, tmp_path / "c.csv", "--fhir-subjects", str(folder)) == 2
    assert "already exists" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert batch(patients, tmp_path / "d.csv", "--fhir-group", str(group_file), "--overwrite") == 0
    assert Group.model_validate_json(group_file.read_text(encoding="utf-8")).actual is True


def test_batch_audit_entry_hashes_every_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from screener.audit.trail import read_entries
    from screener.audit.verify import verify_log

    patients = make_patients(tmp_path / "p", [str(10 + i) for i in range(5)])
    log = tmp_path / "audit.jsonl"
    args = ["--fhir-group", str(tmp_path / "g.json"), "--fhir-subjects", str(tmp_path / "fhir")]
    args += ["--omop-cohort", str(tmp_path / "cohort.csv"), "--audit-log", str(log)]
    assert batch(patients, tmp_path / "rows.csv", *args) == 0
    (entry,) = read_entries(log)
    roles = sorted(o["role"] for o in entry["outputs"])
    assert roles == ["fhir-group", "fhir-subjects", "omop-cohort", "omop-cohort", "rows"]
    assert verify_log(log).problems == []
    subject = next((tmp_path / "fhir").glob("ResearchSubject-*.json"))
    subject.write_text(subject.read_text().replace('"ineligible"', '"eligible"'), encoding="utf-8")
    (tmp_path / "cohort.csv").unlink()
    found = [(p.kind, p.message.split()[0]) for p in verify_log(log).problems]
    assert ("output-changed", "fhir-subjects") in found and ("output-missing", "omop-cohort") in found
