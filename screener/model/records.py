"""The fields of every patient record kind, declared once.

Each record kind (observation, status, assessment, condition, medication) lists its fields
here, in the registry tables' column order, with their type and who sees them. What was
written out by hand in eight places is built from this declaration:

- the registry tables' columns (:data:`screener.tables.layout.TABLES`), the rows the tables
  writer builds (:mod:`screener.tables.write`) and the records the reader rebuilds
  (:mod:`screener.tables.read`);
- the fields rules may test (:data:`screener.model.rules.CONDITION_FIELDS`,
  ``EXPOSURE_FIELDS``, ``FACT_FIELDS``), hence the load checks, the vectorized layout
  (:mod:`screener.vectorized.flatten`) and the load-time type checks;
- the condition facts the engine matches (:func:`screener.facts.prepare`) and the
  condition and stored exposure columns of the SQL preparation
  (:mod:`screener.vectorized.prepare`).

Where generating would be worse, a test checks the code against this declaration
(``tests/model/test_records.py``): the patient schema (``spec/patient.schema.json``,
which auditors read as a document), the model's dataclasses (typed code, whose
constructors take required fields first), and the computed exposure attributes of
``facts._exposure`` and ``prepare._exposures`` (logic, not declaration).

Adding a stored field therefore means one entry here, plus the schema property and the
dataclass attribute that the test asks for (and, since the registry tables change, a new
``FORMAT`` in :mod:`screener.tables.layout`: a test pins the layout to it); the tables,
the rules' field lists, the engine facts and both preparations follow
(``test_a_new_stored_field_flows_through_the_writer_reader_and_both_preparations``).

Types: ``string``, ``number`` (DOUBLE), ``integer`` (BIGINT; rules see a number),
``boolean``, ``date``, and ``scalar`` (a fact's value: number, text or true/false, stored
in three columns ``value_num``, ``value_text``, ``value_bool``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecordField:
    name: str  # the model attribute, table column and rule field name
    type: str  # string | number | integer | boolean | date | scalar
    stored: bool = True  # in the patient record and the registry tables (False: computed when screening)
    rules: bool = True  # rules may test it (a quantifier's match/where, a fact's field)


def _f(name: str, type_: str, *, stored: bool = True, rules: bool = True) -> RecordField:
    return RecordField(name, type_, stored, rules)


#: Every record kind's fields, stored ones in table column order.
RECORDS: dict[str, tuple[RecordField, ...]] = {
    "observation": (
        _f("name", "string", rules=False),
        _f("date", "date"),
        _f("value", "scalar", rules=False),  # tested as the fact itself
        _f("unit", "string", rules=False),  # the rule set's unit, not a test
        _f("reference_high", "number"),
        _f("reference_low", "number"),
        _f("method", "string"),
        _f("on_oxygen", "boolean"),
        _f("attributed_to_sle", "boolean"),
        _f("source", "string", rules=False),
    ),
    "status": (
        _f("name", "string", rules=False),
        _f("date", "date"),
        _f("value", "scalar", rules=False),
        _f("confirmed_by", "string"),
        _f("source", "string", rules=False),
    ),
    "assessment": (
        _f("name", "string", rules=False),
        _f("date", "date"),
        _f("score", "number", rules=False),  # tested as the fact itself
        _f("source", "string", rules=False),
    ),
    "condition": (
        _f("name", "string"),
        _f("status", "string"),
        _f("active", "boolean", stored=False),  # status active and not ended, unknown when contradicted
        _f("type", "string"),
        _f("onset", "date"),
        _f("end", "date"),
        _f("severity", "string"),
        _f("classification", "string"),
        _f("criteria_met", "integer"),
        _f("controlled", "boolean"),
        _f("source", "string", rules=False),
        _f("verification", "string", rules=False),  # read by screener.engine.uncertain
    ),
    "medication": (
        _f("drug", "string"),
        _f("dose_mg", "number"),
        _f("daily_dose_mg", "number", stored=False),
        _f("weekly_dose_mg", "number", stored=False),
        _f("monthly_dose_mg", "number", stored=False),
        _f("route", "string"),
        _f("frequency", "string"),
        _f("start", "date"),
        _f("end", "date"),
        _f("last_dose", "date", stored=False),
        _f("ongoing", "boolean", stored=False),
        _f("duration_days", "number", stored=False),
        _f("cumulative_days_at_dose", "number", stored=False),
        # the record's administration dates are their own table; rules see how many
        _f("administrations", "number", stored=False),
        _f("administration_span_days", "number", stored=False),
        _f("failed", "boolean", stored=False),
        _f("outcome", "string"),
        _f("source", "string", rules=False),
    ),
}

#: The registry table of each record kind.
TABLE_OF = {
    "observation": "observations",
    "status": "statuses",
    "assessment": "assessments",
    "condition": "conditions",
    "medication": "medications",
}

_SQL = {"string": "VARCHAR", "number": "DOUBLE", "integer": "BIGINT", "boolean": "BOOLEAN", "date": "DATE"}
SCALAR_COLUMNS = (("value_num", "DOUBLE"), ("value_text", "VARCHAR"), ("value_bool", "BOOLEAN"))


def stored(kind: str, records: dict[str, tuple[RecordField, ...]] = RECORDS) -> tuple[RecordField, ...]:
    """The fields of ``kind`` kept in the patient record and the registry tables, in column order."""
    return tuple(f for f in records[kind] if f.stored)


def table_columns(
    kind: str, records: dict[str, tuple[RecordField, ...]] = RECORDS
) -> tuple[tuple[str, str], ...]:
    """(column, SQL type) of ``kind``'s table: ``pid``, ``seq``, then each stored field."""
    columns: list[tuple[str, str]] = [("pid", "BIGINT"), ("seq", "INTEGER")]
    for f in stored(kind, records):
        columns += SCALAR_COLUMNS if f.type == "scalar" else [(f.name, _SQL[f.type])]
    return tuple(columns)


def rule_fields(*kinds: str, records: dict[str, tuple[RecordField, ...]] = RECORDS) -> dict[str, str]:
    """Fields rules may test on records of ``kinds`` -> their rule type (an integer is a number)."""
    out: dict[str, str] = {}
    for kind in kinds:
        for f in records[kind]:
            if f.rules:
                out.setdefault(f.name, "number" if f.type == "integer" else f.type)
    return out
