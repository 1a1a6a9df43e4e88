"""The columnar registry layout: one Parquet dataset per table, keyed by ``pid``.

Values are stored as the native loader leaves them (:mod:`screener.model.patient`):
validated against the patient schema, quantities converted to their canonical
units, impossible values refused. Nothing here depends on a rule set or a
screening date; choosing the value that counts is the reader's job.

``pid`` is a dense integer per patient (0, 1, 2... in input order); ``seq`` is a
record's position in its patient's list, which breaks ties the way the Python
path does (of two values on the same date, the one listed later counts). A
scalar value goes in exactly one of ``value_num`` (numbers), ``value_text``
(strings) and ``value_bool`` (true/false), so a value of the wrong type for a
rule set is still seen as such when screening.

The record tables' columns come from the one declaration of record fields
(:mod:`screener.model.records`), in its order.

On disk: ``DIR/<table>/part-00000.parquet``, ``part-00001.parquet``... (one part
per written chunk) and ``DIR/manifest.json`` (format, counts, sources).
"""

from __future__ import annotations

from screener.model.records import TABLE_OF, table_columns

# 2: patients.line; 3: what leaves a record uncertain (patients.deceased, deceased_undated,
# observed; conditions.verification: see screener.engine.uncertain)
FORMAT = "screener-tables/3"

TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "patients": (
        ("pid", "BIGINT"),
        ("patient_id", "VARCHAR"),
        ("birth_date", "DATE"),
        ("sex", "VARCHAR"),
        ("demographics_source", "VARCHAR"),
        ("file", "VARCHAR"),
        ("line", "INTEGER"),  # the record's line in its file (JSONL, CSV), when it has one
        ("deceased", "DATE"),  # date of death
        ("deceased_undated", "BOOLEAN"),  # dead, date unknown
        # periods the source records everything (OMOP OBSERVATION_PERIOD): "START/END;..." in ISO
        # dates, END empty while open; NULL when the source says nothing about it
        ("observed", "VARCHAR"),
    ),
    # the record tables: pid, seq and the stored fields declared in screener.model.records
    **{TABLE_OF[kind]: table_columns(kind) for kind in TABLE_OF},
    "administrations": (
        ("pid", "BIGINT"),
        ("med_seq", "INTEGER"),
        ("date", "DATE"),
    ),
}
