"""Record fields are declared once (screener.model.records, issue 16 section 3): the tables,
the rules' field lists, the engine facts and both preparations are built from the
declaration; the patient schema and the model's dataclasses are checked against it here."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import date
from pathlib import Path

import pytest

from screener.model import patient as model
from screener.model import rules
from screener.model.records import RECORDS, TABLE_OF, RecordField, rule_fields, stored, table_columns
from screener.spec.validate import schema
from screener.tables.layout import FORMAT, TABLES

ROOT = Path(__file__).resolve().parents[2]
CLASSES = {
    "observation": model.Observation,
    "status": model.Status,
    "assessment": model.Assessment,
    "condition": model.Condition,
    "medication": model.Medication,
}
# Model attributes that are not stored fields: how the value was written before conversion,
# and a medication's administration dates (their own table, pid + med_seq + date).
NOT_STORED = {"observation": {"original"}, "medication": {"administrations"}}
# Schema properties written otherwise in the model: a dose with its unit becomes dose_mg, a
# reference range becomes its two bounds.
SCHEMA_SPELLING = {
    "medication": {"dose": "dose_mg", "unit": None, "administrations": None},
    "observation": {"reference_range": ("reference_high", "reference_low")},
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_the_model_dataclass_has_exactly_the_stored_fields(kind: str) -> None:
    attributes = {f.name for f in dataclasses.fields(CLASSES[kind])} - NOT_STORED.get(kind, set())
    assert attributes == {f.name for f in stored(kind)}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_the_patient_schema_has_exactly_the_stored_fields(kind: str) -> None:
    properties = schema("patient.schema.json")["$defs"][kind]["properties"]
    named: set[str] = set()
    for name in properties:
        spelled = SCHEMA_SPELLING.get(kind, {}).get(name, name)
        if isinstance(spelled, tuple):
            named |= set(spelled)
        elif spelled is not None:
            named.add(spelled)
    assert named == {f.name for f in stored(kind)}


def test_the_tables_the_rules_and_their_types_come_from_the_declaration() -> None:
    for kind, table in TABLE_OF.items():
        assert TABLES[table] == table_columns(kind)
    assert rule_fields("condition") == rules.CONDITION_FIELDS
    assert rule_fields("medication") == rules.EXPOSURE_FIELDS
    assert rule_fields("observation", "status", "assessment") == rules.FACT_FIELDS
    assert rules.CONDITION_FIELDS["criteria_met"] == "number"  # an integer column, a number to rules
    assert ("criteria_met", "BIGINT") in TABLES["conditions"]
    assert "source" not in rules.CONDITION_FIELDS and "verification" not in rules.CONDITION_FIELDS


def test_the_registry_layout_is_pinned_to_its_format() -> None:
    """Adding a stored field changes the registry tables: bump FORMAT in screener.tables.layout
    and the fingerprint here, so an old registry is refused rather than misread."""
    fingerprint = hashlib.sha256(json.dumps(TABLES, sort_keys=True).encode()).hexdigest()[:16]
    assert (FORMAT, fingerprint) == ("screener-tables/3", "2c304f7420330805")


def test_a_field_added_to_the_declaration_reaches_tables_and_rules() -> None:
    """The builders read the declaration they are given: one entry is all a new field needs there."""
    extended = {**RECORDS, "condition": (*RECORDS["condition"], RecordField("laterality", "string"))}
    assert table_columns("condition", extended)[-1] == ("laterality", "VARCHAR")
    assert rule_fields("condition", records=extended)["laterality"] == "string"
    hidden = {**RECORDS, "medication": (*RECORDS["medication"], RecordField("lot", "string", rules=False))}
    assert table_columns("medication", hidden)[-1] == ("lot", "VARCHAR")
    assert "lot" not in rule_fields("medication", records=hidden)
    computed = {**RECORDS, "medication": (*RECORDS["medication"], RecordField("x", "number", stored=False))}
    assert table_columns("medication", computed) == table_columns("medication")


def test_a_new_stored_field_flows_through_the_writer_reader_and_both_preparations(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a condition field: one declaration entry (and the dataclass attribute the test
    above asks for) and the engine fact, the registry row and the SQL preparation carry it."""
    duckdb = pytest.importorskip("duckdb")
    import screener.facts as facts
    import screener.tables.read as read
    import screener.tables.write as write
    from screener.model.records import RECORDS as declared

    Condition = dataclasses.make_dataclass(
        "Condition",
        [("laterality", str | None, dataclasses.field(default=None))],
        bases=(model.Condition,),
        frozen=True,
    )
    # the one edit: the declaration (TABLES is built from it when screener.tables.layout is imported)
    monkeypatch.setitem(declared, "condition", (*declared["condition"], RecordField("laterality", "string")))
    monkeypatch.setitem(TABLES, "conditions", table_columns("condition"))
    cond = Condition("sle", onset=date(2020, 1, 1), laterality="left")
    patient = model.Patient("p", conditions=(cond,))

    ruleset = rules.load_ruleset(ROOT / "rules" / "nct03562065")
    prepared = facts.prepare(patient, ruleset, date(2026, 11, 25))
    assert [f["laterality"] for f in prepared.facts if f["kind"] == "condition"] == ["left"]

    with write.TablesWriter(tmp_path / "reg") as writer:
        writer.add(patient)
    con = duckdb.connect()
    relations = {t: f"read_parquet('{tmp_path / 'reg' / t}/part-*.parquet')" for t in TABLES}
    assert con.execute(f"SELECT laterality FROM {relations['conditions']}").fetchall() == [("left",)]
    row = con.execute(f"SELECT * FROM {relations['conditions']}").fetchone()
    assert read._record(Condition, "condition", row) == cond
