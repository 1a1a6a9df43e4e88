"""The SQL of the FHIR conversion: resources grouped by patient (:func:`group`), then the rows
of Patient and Condition here, of Observation in :mod:`.observations`, of the medication
resources in :mod:`.medications` (:func:`convert`).

Every rule mirrors :mod:`screener.importers.fhir`. Each step adds to ``py`` a query of the
patients it cannot take exactly (``fx_py``): they go whole to the Python converter. Dates are
taken only when written cleanly (``YYYY-MM-DD`` with an optional time); anything else the Python
importer reads or reports itself.
"""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.converter import USED
from screener.tables.from_fhir.medications import administrations, medications, no_rows
from screener.tables.from_fhir.observations import observations
from screener.tables.from_fhir.shapes import Shapes, classify
from screener.tables.from_fhir.sql import MACROS, sql_in

# the resource types the SQL reads; the other USED ones send their patient to Python, except
# Procedure and AllergyIntolerance, which give no row unless their code says otherwise
SQL_KINDS = (
    "Patient",
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
)
NO_ROW_KINDS = ("Procedure", "AllergyIntolerance")


def group(con: Any) -> None:
    """``fx_res``: each resource with its patient key ``pkey`` (NULL: not a patient's), its order
    ``k``; ``fx_units``: the inputs the SQL cannot group as the Python importer would."""
    con.execute(MACROS)
    used = sql_in(USED - {"Patient"})
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_full AS
        SELECT u, fx_ref_id(full_url) AS url, arg_max(x[2] ->> '$', k) AS id FROM fhir_res
        WHERE full_url IS NOT NULL AND json_type(x[2]) = 'VARCHAR' AND (x[2] ->> '$') <> '' GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_res AS
        SELECT a.*, CASE WHEN a.kind = 'Patient' THEN a.id
                         WHEN a.kind IN {used} THEN coalesce(f.id, a.ref) END AS pkey
        FROM (SELECT u, fi, file, line, entry, full_url, k,
                     json_type(x[1]) AS kind_type, x[1] ->> '$' AS kind, json_type(x[2]) AS id_type,
                     x[2] ->> '$' AS id,
                     fx_ref_id(fx_ref_of(fx_first(coalesce(x[3], x[4], x[5], x[6])))) AS ref,
                     {_COLUMNS}
              FROM fhir_res) a
        LEFT JOIN fx_full f ON f.u = a.u AND f.url = coalesce(a.ref, '')"""
    )
    con.execute("DROP TABLE fhir_res")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_units AS
        SELECT DISTINCT u FROM fx_res WHERE kind_type IS DISTINCT FROM 'VARCHAR'
        UNION SELECT DISTINCT u FROM fx_res WHERE kind = 'Patient'
            AND (id_type <> 'VARCHAR' OR id = '' OR id IS NULL)
        UNION SELECT u FROM fx_res WHERE kind = 'Patient' GROUP BY u, id HAVING count(*) > 1
        UNION SELECT DISTINCT u FROM fx_res WHERE kind IN {used} AND pkey IS NULL
        UNION SELECT DISTINCT u FROM fx_res WHERE full_url IS NOT NULL AND id_type NOT IN ('VARCHAR', 'NULL')
        UNION SELECT DISTINCT r.u FROM fx_res r WHERE r.kind IN {used} AND NOT EXISTS (
            SELECT 1 FROM fx_res p WHERE p.kind = 'Patient' AND p.u = r.u AND p.id = r.pkey)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_pat AS
        SELECT r.* EXCLUDE (id), r.id AS pkey FROM fx_res r
        WHERE r.kind = 'Patient' AND r.u NOT IN (SELECT u FROM fx_units)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP VIEW fx_of AS
        SELECT r.* EXCLUDE (fi, file, line, entry, full_url, kind_type, ref) FROM fx_res r
        WHERE r.pkey IS NOT NULL AND r.kind <> 'Patient' AND r.u NOT IN (SELECT u FROM fx_units)"""
    )


KEYS = (
    "birthDate",
    "gender",
    "extension",
    "deceasedDateTime",
    "deceasedBoolean",
    "contact",
    "abatementDateTime",
    "abatementPeriod",
    "authoredOn",
    "clinicalStatus",
    "code",
    "component",
    "dateAsserted",
    "dispenseRequest",
    "doNotPerform",
    "dosage",
    "dosageInstruction",
    "effectiveDateTime",
    "effectiveInstant",
    "effectivePeriod",
    "intent",
    "issued",
    "medicationCodeableConcept",
    "medicationReference",
    "onsetDateTime",
    "onsetPeriod",
    "performedDateTime",
    "performedPeriod",
    "recordedDate",
    "referenceRange",
    "status",
    "statusReason",
    "valueBoolean",
    "valueCodeableConcept",
    "valueInteger",
    "valueQuantity",
    "valueString",
    "verificationStatus",
)


# every resource's top-level elements the SQL reads, as columns f_<key> (JSON; SQL NULL when
# absent), taken in the same json_extract as its type, id and patient: each resource is parsed once
PATHS = "'$.resourceType', '$.id', '$.subject', '$.patient', '$.beneficiary', '$.individual', " + ", ".join(
    f"'$.{k}'" for k in KEYS
)
_COLUMNS = ", ".join(f"x[{i}] AS f_{k}" for i, k in enumerate(KEYS, start=7))


def _path(alias: str, path: str) -> str:
    """``fx_dok`` of ``path`` (``key`` or ``key.sub``) of the extracted columns of ``alias``."""
    key, _, rest = path.partition(".")
    value = f"{alias}.f_{key}" + (f" -> '$.{rest}'" if rest else "")
    return f"fx_dok({value})"


def _source(kind: str) -> str:
    """``Kind/<id>`` as Python writes f"{kind}/{res.get('id')}" (an absent id is 'None')."""
    return f"'{kind}/' || coalesce(id, 'None')"


def convert(con: Any, shapes: Shapes) -> None:
    """The rows of every patient, and ``fx_py``: the patients left to Python."""
    # a resource whose id is not text (or absent) is named oddly by Python: left to it
    py: list[str] = [
        "SELECT u, pkey FROM fx_of WHERE kind IN "
        + sql_in(set(USED) - set(SQL_KINDS) - set(NO_ROW_KINDS))
        + " OR (id_type NOT IN ('VARCHAR') AND id_type IS NOT NULL AND kind IN "
        + sql_in(set(SQL_KINDS))
        + ")"
    ]
    _patients(con, shapes, py)
    _conditions(con, shapes, py)
    observations(con, shapes, py)
    medications(con, shapes, py)
    administrations(con, shapes, py)
    no_rows(con, shapes, py)
    con.execute("CREATE OR REPLACE TEMP TABLE fx_py AS " + " UNION ".join(py))


def _patients(con: Any, shapes: Shapes, py: list[str]) -> None:
    classify(
        con,
        "fx_sex",
        """SELECT DISTINCT CAST(f_extension AS VARCHAR), CAST(f_gender AS VARCHAR)
        FROM fx_pat""",
        2,
        shapes.patient,
        (
            ("ext", "VARCHAR"),
            ("gender", "VARCHAR"),
            ("action", "VARCHAR"),
            ("sex", "VARCHAR"),
            ("sex_source", "VARCHAR"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_patients AS
        SELECT p.u, p.pkey, p.k, p.file, p.line, p.entry, s.action,
               fx_dok(p.f_birthDate)
                   AND (NOT fx_truthy(p.f_birthDate)
                       OR json_type(p.f_birthDate) = 'VARCHAR') AS birth_ok,
               CASE WHEN fx_truthy(p.f_birthDate) THEN fx_date(p.f_birthDate) END AS birth_date,
               s.sex, s.sex_source,
               (NOT (p.f_deceasedDateTime IS NOT NULL) OR fx_dok(p.f_deceasedDateTime)) AS dec_ok,
               'Patient/' || p.pkey AS demographics_source,
               CASE WHEN (p.f_deceasedDateTime IS NOT NULL) THEN
                        CASE WHEN fx_dok(p.f_deceasedDateTime)
                            THEN fx_date(p.f_deceasedDateTime) END
                    END AS deceased,
               ((p.f_deceasedDateTime IS NOT NULL) AND NOT (fx_dok(p.f_deceasedDateTime)
                    AND fx_date(p.f_deceasedDateTime) IS NOT NULL))
               OR (NOT (p.f_deceasedDateTime IS NOT NULL)
                   AND json_type(p.f_deceasedBoolean) = 'BOOLEAN'
                    AND (p.f_deceasedBoolean ->> '$') = 'true') AS deceased_undated
        FROM fx_pat p JOIN fx_sex s
          ON s.ext IS NOT DISTINCT FROM CAST(p.f_extension AS VARCHAR)
         AND s.gender IS NOT DISTINCT FROM CAST(p.f_gender AS VARCHAR)"""
    )
    # a Patient.contact may name a legal representative (importers.fhir.statements): Python reads it
    py.append(
        "SELECT u, pkey FROM fx_patients WHERE action = 'python' OR NOT birth_ok OR NOT dec_ok "
        "UNION SELECT u, pkey FROM fx_pat WHERE json_type(f_contact) = 'ARRAY'"
    )


def _conditions(con: Any, shapes: Shapes, py: list[str]) -> None:
    classify(
        con,
        "fx_cond_shape",
        """SELECT DISTINCT CAST(f_verificationStatus AS VARCHAR), CAST(f_clinicalStatus AS VARCHAR),
               CAST(f_code AS VARCHAR)
        FROM fx_of WHERE kind = 'Condition'""",
        3,
        shapes.condition,
        (
            ("ver", "VARCHAR"),
            ("cli", "VARCHAR"),
            ("code", "VARCHAR"),
            ("action", "VARCHAR"),
            ("name", "VARCHAR"),
            ("type", "VARCHAR"),
            ("status", "VARCHAR"),
            ("verification", "VARCHAR"),
        ),
    )
    dates = (
        "onsetDateTime",
        "onsetPeriod.start",
        "abatementDateTime",
        "abatementPeriod.start",
        "recordedDate",
    )
    ok = " AND ".join(_path("c", d) for d in dates)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_cond AS
        SELECT c.u, c.pkey, c.k, s.action, s.name, s.type, s.status, s.verification,
               {_source("Condition").replace("id", "c.id")} AS source,
               ({ok}) AND fx_obj(c.f_onsetPeriod) AND fx_obj(c.f_abatementPeriod) AS dates_ok,
               coalesce(fx_date(c.f_onsetDateTime), fx_date((c.f_onsetPeriod -> '$.start')),
                        fx_date(c.f_recordedDate)) AS onset0,
               coalesce(fx_date(c.f_abatementDateTime), fx_date((c.f_abatementPeriod -> '$.start'))) AS end0
        FROM fx_of c JOIN fx_cond_shape s
          ON s.ver IS NOT DISTINCT FROM CAST(c.f_verificationStatus AS VARCHAR)
         AND s.cli IS NOT DISTINCT FROM CAST(c.f_clinicalStatus AS VARCHAR)
         AND s.code IS NOT DISTINCT FROM CAST(c.f_code AS VARCHAR)
        WHERE c.kind = 'Condition'"""
    )
    py.append("SELECT u, pkey FROM fx_cond WHERE action = 'python' OR NOT dates_ok")
