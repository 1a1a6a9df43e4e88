"""The SQL of the FHIR conversion: resources grouped by patient, then the rows of the common
patient (Patient, Condition, Observation with a number, MedicationRequest/Statement).

Every rule mirrors :mod:`screener.importers.fhir`; where the SQL does not cover a construct
exactly, the resource's ``py`` flag sends its whole patient to the Python importer. Dates are
taken only when written cleanly (``YYYY-MM-DD`` with an optional time); anything else the Python
importer reads or reports itself.
"""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.converter import USED
from screener.importers.fhir.status import MED_ENDED, OBS_NOT_RESULT
from screener.tables.from_fhir.shapes import Shapes, classify

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
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?"


def _in(values: Any) -> str:
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + ")"


MACROS = f"""
CREATE OR REPLACE TEMP MACRO fx_ref_id(r) AS CASE
    WHEN r IS NULL OR r = '' THEN NULL
    WHEN starts_with(r, '#') THEN substr(r, 2)
    WHEN starts_with(r, 'urn:uuid:') THEN substr(r, 10)
    WHEN starts_with(r, 'urn:oid:') THEN substr(r, 9)
    ELSE regexp_extract(rtrim(r, '/'), '[^/]*$') END;
CREATE OR REPLACE TEMP MACRO fx_ref_of(v) AS CASE json_type(v)
    WHEN 'OBJECT' THEN CASE WHEN json_type(v, '$.reference') = 'VARCHAR' THEN v ->> '$.reference' END
    WHEN 'VARCHAR' THEN v ->> '$' END;
CREATE OR REPLACE TEMP MACRO fx_first(v) AS CASE WHEN json_type(v) = 'ARRAY' THEN v -> '$[0]' ELSE v END;
-- a clean date (NULL when absent or JSON null); 'bad' marks anything else
CREATE OR REPLACE TEMP MACRO fx_dok(v) AS v IS NULL OR json_type(v) = 'NULL' OR (
    json_type(v) = 'VARCHAR' AND regexp_full_match(v ->> '$', '{_DATE}')
    AND substr(v ->> '$', 1, 4) > '0000' AND try_strptime(substr(v ->> '$', 1, 10), '%Y-%m-%d') IS NOT NULL);
CREATE OR REPLACE TEMP MACRO fx_date(v) AS CASE WHEN json_type(v) = 'VARCHAR'
    THEN CAST(try_strptime(substr(v ->> '$', 1, 10), '%Y-%m-%d') AS DATE) END;
-- Python truthiness of a JSON value (absent, null, "", 0, false, [], {{}} are falsy)
CREATE OR REPLACE TEMP MACRO fx_truthy(v) AS v IS NOT NULL AND CASE json_type(v)
    WHEN 'NULL' THEN false WHEN 'VARCHAR' THEN (v ->> '$') <> '' WHEN 'BOOLEAN' THEN (v ->> '$') = 'true'
    WHEN 'ARRAY' THEN json_array_length(v) > 0 WHEN 'OBJECT' THEN (v::VARCHAR) <> '{{}}'
    ELSE CAST(v AS DOUBLE) <> 0 END;
CREATE OR REPLACE TEMP MACRO fx_obj(v) AS v IS NULL OR json_type(v) IN ('NULL', 'OBJECT');
"""


def group(con: Any) -> None:
    """``fx_res``: each resource with its patient key ``pkey`` (NULL: not a patient's), its order
    ``k``; ``fx_units``: the inputs the SQL cannot group as the Python importer would."""
    con.execute(MACROS)
    used = _in(USED - {"Patient"})
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_all AS
        SELECT u, fi, file, line, entry, full_url, k,
               json_type(x[1]) AS kind_type, x[1] ->> '$' AS kind, json_type(x[2]) AS id_type,
                   x[2] ->> '$' AS id,
               fx_ref_id(fx_ref_of(fx_first(coalesce(x[3], x[4], x[5], x[6])))) AS ref, {_COLUMNS}
        FROM (SELECT u, fi, file, line, entry, full_url, k,
                     json_extract(j, ['$.resourceType', '$.id', '$.subject', '$.patient', '$.beneficiary',
                                      '$.individual', {_PATHS}]) AS x
              FROM fhir_res)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_full AS
        SELECT u, fx_ref_id(full_url) AS url, arg_max(id, k) AS id FROM fx_all
        WHERE full_url IS NOT NULL AND id_type = 'VARCHAR' AND id <> '' GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_res AS
        SELECT a.*, CASE WHEN a.kind = 'Patient' THEN a.id
                         WHEN a.kind IN {used} THEN coalesce(f.id, a.ref) END AS pkey
        FROM fx_all a LEFT JOIN fx_full f ON f.u = a.u AND f.url = coalesce(a.ref, '')"""
    )
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
        SELECT r.u, r.id AS pkey, r.k, r.fi, r.file, r.line, r.entry,
            f.j FROM fx_res r JOIN fhir_res f USING (k)
        WHERE r.kind = 'Patient' AND r.u NOT IN (SELECT u FROM fx_units)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_of AS
        SELECT r.* EXCLUDE (fi, file, line, entry, full_url, kind_type, ref) FROM fx_res r
        WHERE r.pkey IS NOT NULL AND r.kind <> 'Patient' AND r.u NOT IN (SELECT u FROM fx_units)"""
    )


KEYS = (
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
_PATHS = ", ".join(f"'$.{k}'" for k in KEYS)
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
        + _in(set(USED) - set(SQL_KINDS) - set(NO_ROW_KINDS))
        + " OR (id_type NOT IN ('VARCHAR') AND id_type IS NOT NULL AND kind IN "
        + _in(set(SQL_KINDS))
        + ")"
    ]
    _patients(con, shapes, py)
    _conditions(con, shapes, py)
    _observations(con, shapes, py)
    _medications(con, shapes, py)
    _administrations(con, shapes, py)
    _no_rows(con, shapes, py)
    con.execute("CREATE OR REPLACE TEMP TABLE fx_py AS " + " UNION ".join(py))


def _patients(con: Any, shapes: Shapes, py: list[str]) -> None:
    classify(
        con,
        "fx_sex",
        """SELECT DISTINCT CAST(j -> '$.extension' AS VARCHAR), CAST(j -> '$.gender' AS VARCHAR)
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
               fx_dok(p.j -> '$.birthDate')
                   AND (NOT fx_truthy(p.j -> '$.birthDate')
                       OR json_type(p.j, '$.birthDate') = 'VARCHAR') AS birth_ok,
               CASE WHEN fx_truthy(p.j -> '$.birthDate') THEN fx_date(p.j -> '$.birthDate') END AS birth_date,
               s.sex, s.sex_source,
               (NOT json_exists(p.j, '$.deceasedDateTime') OR fx_dok(p.j -> '$.deceasedDateTime')) AS dec_ok,
               'Patient/' || p.pkey AS demographics_source,
               CASE WHEN json_exists(p.j, '$.deceasedDateTime') THEN
                        CASE WHEN fx_dok(p.j -> '$.deceasedDateTime')
                            THEN fx_date(p.j -> '$.deceasedDateTime') END
                    END AS deceased,
               (json_exists(p.j, '$.deceasedDateTime') AND NOT (fx_dok(p.j -> '$.deceasedDateTime')
                    AND fx_date(p.j -> '$.deceasedDateTime') IS NOT NULL))
               OR (NOT json_exists(p.j, '$.deceasedDateTime')
                   AND json_type(p.j, '$.deceasedBoolean') = 'BOOLEAN'
                    AND (p.j ->> '$.deceasedBoolean') = 'true') AS deceased_undated
        FROM fx_pat p JOIN fx_sex s
          ON s.ext IS NOT DISTINCT FROM CAST(p.j -> '$.extension' AS VARCHAR)
         AND s.gender IS NOT DISTINCT FROM CAST(p.j -> '$.gender' AS VARCHAR)"""
    )
    # a Patient.contact may name a legal representative (importers.fhir.statements): Python reads it
    py.append(
        "SELECT u, pkey FROM fx_patients WHERE action = 'python' OR NOT birth_ok OR NOT dec_ok "
        "UNION SELECT u, pkey FROM fx_pat WHERE json_type(j, '$.contact') = 'ARRAY'"
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


def _observations(con: Any, shapes: Shapes, py: list[str]) -> None:
    not_result = _in(OBS_NOT_RESULT)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_obs0 AS
        SELECT *, json_type(f_status) AS status_type,
               CAST(f_code AS VARCHAR) AS code FROM fx_of
        WHERE kind = 'Observation'
          AND NOT (json_type(f_status) = 'VARCHAR' AND ((f_status ->> '$')) IN {not_result})"""
    )
    classify(
        con,
        "fx_obs_shape",
        "SELECT DISTINCT code FROM fx_obs0",
        1,
        shapes.observation_code,
        (("code", "VARCHAR"), ("action", "VARCHAR"), ("name", "VARCHAR"), ("method", "VARCHAR")),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_comp AS
        SELECT o.u, o.pkey, CAST(c.value -> '$.code' AS VARCHAR) AS code
        FROM fx_obs0 o, json_each(o.f_component) c
        WHERE json_type(o.f_component) = 'ARRAY' AND json_type(c.value) = 'OBJECT'"""
    )
    classify(
        con,
        "fx_comp_shape",
        "SELECT DISTINCT code FROM fx_comp",
        1,
        shapes.component_code,
        (("code", "VARCHAR"), ("action", "VARCHAR")),
    )
    # the date: first_date(res, effectiveDateTime, effectivePeriod(.start), effectiveInstant, issued)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_obs1 AS
        SELECT o.*, s.action, s.name, s.method,
               CASE WHEN fx_truthy(o.f_effectiveDateTime) THEN o.f_effectiveDateTime
                    WHEN json_type(o.f_effectivePeriod) = 'OBJECT'
                         AND fx_truthy((o.f_effectivePeriod -> '$.start'))
                             THEN (o.f_effectivePeriod -> '$.start')
                    WHEN json_type(o.f_effectivePeriod) NOT IN ('OBJECT', 'NULL')
                         AND fx_truthy(o.f_effectivePeriod) THEN o.f_effectivePeriod
                    WHEN fx_truthy(o.f_effectiveInstant) THEN o.f_effectiveInstant
                    WHEN fx_truthy(o.f_issued) THEN o.f_issued END AS day_json,
               CASE WHEN json_type(o.f_valueQuantity) = 'OBJECT' THEN CAST(
                    json_merge_patch(o.f_valueQuantity, '{"value": null}') AS VARCHAR) END AS qshape,
               json_type(o.f_valueQuantity, '$.value') AS vtype
        FROM fx_obs0 o JOIN fx_obs_shape s ON s.code IS NOT DISTINCT FROM o.code"""
    )
    py.append(
        """SELECT u, pkey FROM fx_obs1 WHERE action = 'python'
              OR (status_type IS NOT NULL AND status_type NOT IN ('VARCHAR', 'NULL'))
              OR ((f_component IS NOT NULL) AND json_type(f_component) NOT IN ('ARRAY', 'NULL'))
              OR (action NOT IN ('none', 'python')
                  AND (day_json IS NULL OR NOT fx_dok(day_json) OR fx_date(day_json) IS NULL))
        UNION SELECT c.u, c.pkey FROM fx_comp c JOIN fx_comp_shape s
              ON s.code IS NOT DISTINCT FROM c.code WHERE s.action = 'python'"""
    )
    _numbers(con, shapes, py)
    _coded(con, shapes, py)
    _statuses(con, shapes, py)
    _assessments(con, shapes, py)


def _numbers(con: Any, shapes: Shapes, py: list[str]) -> None:
    classify(
        con,
        "fx_q_shape",
        "SELECT DISTINCT name, qshape FROM fx_obs1 WHERE action = 'row' AND qshape IS NOT NULL",
        2,
        shapes.quantity,
        (
            ("name", "VARCHAR"),
            ("qshape", "VARCHAR"),
            ("action", "VARCHAR"),
            ("written", "VARCHAR"),
            ("unit", "VARCHAR"),
            ("factor", "DOUBLE"),
            ("low", "DOUBLE"),
            ("high", "DOUBLE"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_obs2 AS
        SELECT o.u, o.pkey, o.k, o.name, o.method, q.written, q.unit, q.action AS qaction,
               fx_date(o.day_json) AS date,
               TRY_CAST((o.f_valueQuantity -> '$.value') AS DOUBLE) * coalesce(q.factor, 1.0) AS value,
               q.low, q.high, o.vtype, o.qshape,
               CASE WHEN o.name IN ('pao2', 'paco2') THEN CAST(o.f_component AS VARCHAR) END AS comp,
               CASE WHEN fx_truthy(o.f_referenceRange) THEN CAST(o.f_referenceRange AS VARCHAR)
                    END AS ranges,
               'Observation/' || coalesce(o.id, 'None') AS source
        FROM fx_obs1 o LEFT JOIN fx_q_shape q ON q.name = o.name AND q.qshape = o.qshape
        WHERE o.action = 'row'"""
    )
    classify(
        con,
        "fx_rr_shape",
        "SELECT DISTINCT name, written, ranges FROM fx_obs2 WHERE qaction = 'row'",
        3,
        shapes.reference_range,
        (
            ("name", "VARCHAR"),
            ("written", "VARCHAR"),
            ("ranges", "VARCHAR"),
            ("action", "VARCHAR"),
            ("reference_low", "DOUBLE"),
            ("reference_high", "DOUBLE"),
        ),
    )
    classify(
        con,
        "fx_oxygen",
        "SELECT DISTINCT comp FROM fx_obs2 WHERE name IN ('pao2', 'paco2')",
        1,
        shapes.oxygen,
        (("comp", "VARCHAR"), ("on_oxygen", "BOOLEAN")),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_obs AS
        SELECT o.u, o.pkey, o.k, o.name, o.date, o.value AS value_num, CAST(NULL AS VARCHAR) AS value_text,
               o.unit, r.reference_high, r.reference_low, o.method, x.on_oxygen, o.source
        FROM fx_obs2 o LEFT JOIN fx_rr_shape r ON r.name = o.name
             AND r.written IS NOT DISTINCT FROM o.written AND r.ranges IS NOT DISTINCT FROM o.ranges
        LEFT JOIN fx_oxygen x ON o.name IN ('pao2', 'paco2') AND x.comp IS NOT DISTINCT FROM o.comp"""
    )
    py.append(
        """SELECT u, pkey FROM fx_obs2 WHERE qshape IS NULL OR qaction IS DISTINCT FROM 'row'
              OR vtype IS NULL OR vtype NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')
              OR NOT isfinite(value) OR abs(value) > 1e15
              OR (low IS NOT NULL AND NOT (value BETWEEN low AND high))
        UNION SELECT o.u, o.pkey FROM fx_obs2 o JOIN fx_rr_shape r ON r.name = o.name
              AND r.written IS NOT DISTINCT FROM o.written AND r.ranges IS NOT DISTINCT FROM o.ranges
              WHERE r.action <> 'row'"""
    )


def _coded(con: Any, shapes: Shapes, py: list[str]) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_coded0 AS
        SELECT u, pkey, k, name, method, fx_date(day_json) AS date, 'Observation/' || coalesce(id,
            'None') AS source,
               CAST(f_valueCodeableConcept AS VARCHAR) AS vcc, CAST(f_valueString AS VARCHAR) AS vs
        FROM fx_obs1 WHERE action = 'coded'"""
    )
    classify(
        con,
        "fx_coded_shape",
        "SELECT DISTINCT vcc, vs FROM fx_coded0",
        2,
        shapes.coded_value,
        (("vcc", "VARCHAR"), ("vs", "VARCHAR"), ("action", "VARCHAR"), ("answer", "VARCHAR")),
    )
    con.execute(
        """INSERT INTO fx_obs
        SELECT c.u, c.pkey, c.k, c.name, c.date, NULL, s.answer, NULL, NULL, NULL, c.method, NULL, c.source
        FROM fx_coded0 c JOIN fx_coded_shape s ON s.vcc IS NOT DISTINCT FROM c.vcc
            AND s.vs IS NOT DISTINCT FROM c.vs
        WHERE s.action = 'row'"""
    )
    py.append(
        """SELECT c.u, c.pkey FROM fx_coded0 c JOIN fx_coded_shape s
              ON s.vcc IS NOT DISTINCT FROM c.vcc
                  AND s.vs IS NOT DISTINCT FROM c.vs WHERE s.action <> 'row'"""
    )


def _statuses(con: Any, shapes: Shapes, py: list[str]) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_st0 AS
        SELECT u, pkey, k, name, code, fx_date(day_json) AS date, 'Observation/' || coalesce(id,
            'None') AS source,
               CAST(f_valueBoolean AS VARCHAR) AS vb, CAST(f_valueCodeableConcept AS VARCHAR) AS vcc
        FROM fx_obs1 WHERE action = 'status'"""
    )
    classify(
        con,
        "fx_st_shape",
        "SELECT DISTINCT code, vb, vcc FROM fx_st0",
        3,
        shapes.status_value,
        (
            ("code", "VARCHAR"),
            ("vb", "VARCHAR"),
            ("vcc", "VARCHAR"),
            ("action", "VARCHAR"),
            ("value", "BOOLEAN"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_st AS
        SELECT c.u, c.pkey, c.k, c.name, c.date, s.value AS value_bool, c.source, s.action
        FROM fx_st0 c JOIN fx_st_shape s ON s.code IS NOT DISTINCT FROM c.code
             AND s.vb IS NOT DISTINCT FROM c.vb AND s.vcc IS NOT DISTINCT FROM c.vcc"""
    )
    py.append("SELECT u, pkey FROM fx_st WHERE action = 'python'")


def _assessments(con: Any, shapes: Shapes, py: list[str]) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_as0 AS
        SELECT u, pkey, k, name, fx_date(day_json) AS date, 'Observation/' || coalesce(id, 'None') AS source,
               CASE WHEN json_type(f_valueQuantity) = 'OBJECT' THEN CAST(f_valueQuantity AS VARCHAR)
                    END AS vq,
               CASE WHEN json_type(f_valueQuantity) = 'OBJECT' THEN NULL
                    ELSE CAST(f_valueInteger AS VARCHAR) END AS vi
        FROM fx_obs1 WHERE action = 'assessment'"""
    )
    classify(
        con,
        "fx_as_shape",
        "SELECT DISTINCT name, vq, vi FROM fx_as0",
        3,
        shapes.score,
        (
            ("name", "VARCHAR"),
            ("vq", "VARCHAR"),
            ("vi", "VARCHAR"),
            ("action", "VARCHAR"),
            ("score", "DOUBLE"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_as AS
        SELECT c.u, c.pkey, c.k, c.name, c.date, s.score, c.source, s.action
        FROM fx_as0 c JOIN fx_as_shape s ON s.name = c.name
             AND s.vq IS NOT DISTINCT FROM c.vq AND s.vi IS NOT DISTINCT FROM c.vi"""
    )
    py.append("SELECT u, pkey FROM fx_as WHERE action <> 'row'")


def _medications(con: Any, shapes: Shapes, py: list[str]) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med0 AS
        SELECT *,
               CASE WHEN fx_truthy(f_dosageInstruction) THEN f_dosageInstruction
                    WHEN fx_truthy(f_dosage) THEN f_dosage END AS dosages
        FROM fx_of WHERE kind IN ('MedicationRequest', 'MedicationStatement')"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med1 AS
        SELECT m.*,
               CASE WHEN json_type(dosages) = 'ARRAY' AND json_type(dosages, '$[0]') = 'OBJECT'
                    THEN dosages -> '$[0]' ELSE '{}'::JSON END AS dosage
        FROM fx_med0 m"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med2 AS
        SELECT m.*, dosage -> '$.timing' AS timing,
               CASE WHEN fx_truthy(dosage -> '$.timing') AND json_type(dosage, '$.timing') = 'OBJECT'
                     AND fx_truthy(dosage -> '$.timing.repeat') THEN dosage -> '$.timing.repeat' END AS rep
        FROM fx_med1 m"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med3 AS
        SELECT m.*,
               CASE WHEN json_type(rep) = 'OBJECT'
                   AND fx_truthy(rep -> '$.boundsPeriod') THEN rep -> '$.boundsPeriod' END AS bounds,
               CASE WHEN json_type(rep) = 'OBJECT'
                    THEN CAST(json_merge_patch(rep, '{"boundsPeriod": null}') AS VARCHAR) END AS rep_shape,
               CAST(f_status AS VARCHAR) AS st, CAST(f_intent AS VARCHAR) AS intent,
               CAST(f_doNotPerform AS VARCHAR) AS dnp,
               CAST(f_medicationCodeableConcept AS VARCHAR) AS concept
        FROM fx_med2 m"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med4 AS
        SELECT m.*,
               CASE WHEN kind = 'MedicationRequest' THEN
                    CASE WHEN fx_truthy(bounds -> '$.start') THEN bounds -> '$.start'
                         WHEN fx_truthy(f_authoredOn) THEN f_authoredOn END
               ELSE CASE WHEN fx_truthy((f_effectivePeriod -> '$.start'))
                   THEN (f_effectivePeriod -> '$.start')
                         WHEN fx_truthy(f_effectiveDateTime) THEN f_effectiveDateTime
                         WHEN fx_truthy(bounds -> '$.start') THEN bounds -> '$.start' END END AS start_json,
               CASE WHEN kind = 'MedicationRequest' THEN
                    CASE WHEN fx_truthy(bounds -> '$.end') THEN bounds -> '$.end'
                         WHEN fx_truthy((f_dispenseRequest -> '$.validityPeriod.end'))
                         THEN (f_dispenseRequest -> '$.validityPeriod.end') END
               ELSE CASE WHEN fx_truthy((f_effectivePeriod -> '$.end')) THEN (f_effectivePeriod -> '$.end')
                         WHEN fx_truthy(bounds -> '$.end') THEN bounds -> '$.end' END END AS end_json,
               fx_obj(dosage -> '$.timing') AND fx_obj(rep) AND fx_obj(bounds)
               AND fx_obj(f_dispenseRequest) AND fx_obj((f_dispenseRequest -> '$.validityPeriod'))
               AND fx_obj(f_effectivePeriod)
               AND ((f_dosageInstruction) IS NULL OR NOT fx_truthy(f_dosageInstruction)
                    OR json_type(f_dosageInstruction) = 'ARRAY')
               AND (fx_truthy(f_dosageInstruction) OR (f_dosage) IS NULL
                    OR NOT fx_truthy(f_dosage) OR json_type(f_dosage) = 'ARRAY')
               AS shapes_ok
        FROM fx_med3 m"""
    )
    classify(
        con,
        "fx_med_status",
        "SELECT DISTINCT kind, st, intent, dnp FROM fx_med4",
        4,
        shapes.medication_status,
        (
            ("kind", "VARCHAR"),
            ("st", "VARCHAR"),
            ("intent", "VARCHAR"),
            ("dnp", "VARCHAR"),
            ("action", "VARCHAR"),
            ("status", "VARCHAR"),
        ),
    )
    classify(
        con,
        "fx_med_code",
        "SELECT DISTINCT concept FROM fx_med4",
        1,
        shapes.medication_code,
        (
            ("concept", "VARCHAR"),
            ("action", "VARCHAR"),
            ("drug", "VARCHAR"),
            ("route", "VARCHAR"),
            ("strength", "DOUBLE"),
            ("method", "VARCHAR"),
            ("event", "VARCHAR"),
            ("display", "VARCHAR"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med5 AS
        SELECT m.*,
               s.action AS set_aside, s.status, c.action, c.drug, c.route AS drug_route, c.strength,
               c.method, c.event, c.display,
               CASE WHEN m.kind = 'MedicationStatement' THEN
                    CASE WHEN fx_truthy(m.f_dateAsserted) THEN m.f_dateAsserted
                         WHEN fx_truthy((m.f_effectivePeriod -> '$.start'))
                             THEN (m.f_effectivePeriod -> '$.start')
                         WHEN fx_truthy(m.f_effectiveDateTime) THEN m.f_effectiveDateTime END
                    ELSE CASE WHEN fx_truthy(m.f_authoredOn) THEN m.f_authoredOn END END AS contra_json,
               CAST(m.dosage -> '$.route' AS VARCHAR) AS route_shape,
               CASE WHEN fx_truthy(m.f_statusReason) THEN CAST(m.f_statusReason AS VARCHAR) END AS reasons,
               CAST(m.dosage -> '$.doseAndRate' AS VARCHAR) AS dar,
                   CAST(m.dosage -> '$.dose' AS VARCHAR) AS dose_shape
        FROM fx_med4 m
        JOIN fx_med_status s ON s.kind = m.kind AND s.st IS NOT DISTINCT FROM m.st
             AND s.intent IS NOT DISTINCT FROM m.intent AND s.dnp IS NOT DISTINCT FROM m.dnp
        JOIN fx_med_code c ON c.concept IS NOT DISTINCT FROM m.concept"""
    )
    classify(
        con,
        "fx_route",
        "SELECT DISTINCT route_shape FROM fx_med5 WHERE action = 'row' AND set_aside = 'go'",
        1,
        shapes.route,
        (("route_shape", "VARCHAR"), ("route", "VARCHAR")),
    )
    classify(
        con,
        "fx_freq",
        "SELECT DISTINCT rep_shape FROM fx_med5 WHERE action = 'row' AND set_aside = 'go'",
        1,
        shapes.frequency,
        (("rep_shape", "VARCHAR"), ("frequency", "VARCHAR")),
    )
    classify(
        con,
        "fx_dose",
        "SELECT DISTINCT dar, dose_shape, strength FROM fx_med5 WHERE action = 'row' AND set_aside = 'go'",
        3,
        shapes.dose,
        (
            ("dar", "VARCHAR"),
            ("dose_shape", "VARCHAR"),
            ("strength", "DOUBLE"),
            ("action", "VARCHAR"),
            ("dose_mg", "DOUBLE"),
        ),
    )
    classify(
        con,
        "fx_outcome",
        "SELECT DISTINCT reasons FROM fx_med5 WHERE action = 'row' AND set_aside = 'go'",
        1,
        shapes.outcome,
        (("reasons", "VARCHAR"), ("outcome", "VARCHAR")),
    )
    ended = _in(MED_ENDED)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_med AS
        SELECT m.u, m.pkey, m.k, CASE WHEN m.action = 'contra' THEN 'other' ELSE m.action END AS action,
               m.drug, d.dose_mg, d.action AS dose_action,
               coalesce(m.drug_route, r.route) AS route, f.frequency, o.outcome,
               fx_date(m.start_json) AS start,
               coalesce(fx_date(m.end_json),
                   CASE WHEN m.status IN {ended} THEN fx_date(m.start_json) END) AS "end",
               m.kind || '/' || coalesce(m.id, 'None') AS source,
               m.shapes_ok AND (m.start_json IS NULL OR fx_dok(m.start_json))
                   AND (m.end_json IS NULL OR fx_dok(m.end_json))
                 AND NOT (m.f_medicationReference IS NOT NULL)
                 AS ok
        FROM fx_med5 m
        LEFT JOIN fx_route r ON r.route_shape IS NOT DISTINCT FROM m.route_shape
        LEFT JOIN fx_freq f ON f.rep_shape IS NOT DISTINCT FROM m.rep_shape
        LEFT JOIN fx_outcome o ON o.reasons IS NOT DISTINCT FROM m.reasons
        LEFT JOIN fx_dose d ON d.dar IS NOT DISTINCT FROM m.dar
            AND d.dose_shape IS NOT DISTINCT FROM m.dose_shape
             AND d.strength IS NOT DISTINCT FROM m.strength
        WHERE m.set_aside = 'go'"""
    )
    # contraceptive events (read_contraceptive_medication): only an active record, with its date
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_contra AS
        SELECT u, pkey, k, method, event, display, fx_date(contra_json) AS day,
               kind || '/' || coalesce(id, 'None') AS source,
               contra_json IS NOT NULL AND fx_dok(contra_json) AS ok
        FROM fx_med5 WHERE action = 'contra' AND set_aside = 'go'
          AND json_type(f_status) = 'VARCHAR' AND ((f_status ->> '$')) = 'active'"""
    )
    py.append(
        """SELECT u, pkey FROM fx_contra WHERE NOT ok
        UNION SELECT u, pkey FROM fx_med5 WHERE set_aside = 'python' OR action = 'python'
        UNION SELECT u, pkey FROM fx_med WHERE NOT ok
              OR (action = 'row' AND (start IS NULL OR dose_action IS DISTINCT FROM 'row'
                  OR "end" < start))"""
    )


DOSE_COLUMNS = (
    ("dar", "VARCHAR"),
    ("dose_shape", "VARCHAR"),
    ("strength", "DOUBLE"),
    ("action", "VARCHAR"),
    ("dose_mg", "DOUBLE"),
    ("dose_key", "VARCHAR"),
)


def _administrations(con: Any, shapes: Shapes, py: list[str]) -> None:
    """MedicationAdministration: records of one drug, dose and route become one period whose
    administrations are their dates (:func:`.medications.add_administrations`)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_adm0 AS
        SELECT *, CAST(f_status AS VARCHAR) AS st,
               CAST(f_medicationCodeableConcept AS VARCHAR) AS concept,
               CASE WHEN fx_truthy(f_dosage) THEN f_dosage ELSE '{}'::JSON END AS dosage,
               CASE WHEN fx_truthy(f_effectiveDateTime) THEN f_effectiveDateTime
                    WHEN json_type(f_effectivePeriod) = 'OBJECT'
                         AND fx_truthy((f_effectivePeriod -> '$.start')) THEN (f_effectivePeriod -> '$.start')
                    WHEN json_type(f_effectivePeriod) NOT IN ('OBJECT', 'NULL')
                         AND fx_truthy(f_effectivePeriod) THEN f_effectivePeriod END AS day_json
        FROM fx_of WHERE kind = 'MedicationAdministration'"""
    )
    classify(
        con,
        "fx_adm_status",
        "SELECT DISTINCT 'MedicationAdministration', st, NULL, NULL FROM fx_adm0",
        4,
        shapes.medication_status,
        (
            ("kind", "VARCHAR"),
            ("st", "VARCHAR"),
            ("intent", "VARCHAR"),
            ("dnp", "VARCHAR"),
            ("action", "VARCHAR"),
            ("status", "VARCHAR"),
        ),
    )
    classify(
        con,
        "fx_adm_code",
        "SELECT DISTINCT concept FROM fx_adm0",
        1,
        shapes.drug_code,
        (
            ("concept", "VARCHAR"),
            ("action", "VARCHAR"),
            ("drug", "VARCHAR"),
            ("route", "VARCHAR"),
            ("strength", "DOUBLE"),
        ),
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_adm1 AS
        SELECT a.*, s.action AS set_aside, c.action, c.drug, c.strength,
               c.route AS drug_route, CAST(a.dosage -> '$.route' AS VARCHAR) AS route_shape,
               CAST(a.dosage -> '$.doseAndRate' AS VARCHAR) AS dar,
                   CAST(a.dosage -> '$.dose' AS VARCHAR) AS dose_shape,
               json_type(a.dosage) = 'OBJECT' AS dosage_ok
        FROM fx_adm0 a JOIN fx_adm_status s ON s.st IS NOT DISTINCT FROM a.st
        JOIN fx_adm_code c ON c.concept IS NOT DISTINCT FROM a.concept"""
    )
    classify(
        con,
        "fx_adm_route",
        "SELECT DISTINCT route_shape FROM fx_adm1 WHERE action = 'row' AND set_aside = 'go'",
        1,
        shapes.route,
        (("route_shape", "VARCHAR"), ("route", "VARCHAR")),
    )
    classify(
        con,
        "fx_adm_dose",
        "SELECT DISTINCT dar, dose_shape, strength FROM fx_adm1 WHERE action = 'row' AND set_aside = 'go'",
        3,
        shapes.dose,
        DOSE_COLUMNS,
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_adm AS
        SELECT a.u, a.pkey, a.k, a.action, a.drug, coalesce(a.drug_route, r.route) AS route,
               d.dose_mg, d.dose_key, d.action AS dose_action, fx_date(a.day_json) AS day,
               'MedicationAdministration/' || coalesce(a.id, 'None') AS source,
               a.dosage_ok AND a.day_json IS NOT NULL AND fx_dok(a.day_json)
                 AND NOT (a.f_medicationReference IS NOT NULL) AS ok
        FROM fx_adm1 a
        LEFT JOIN fx_adm_route r ON r.route_shape IS NOT DISTINCT FROM a.route_shape
        LEFT JOIN fx_adm_dose d ON d.dar IS NOT DISTINCT FROM a.dar
            AND d.dose_shape IS NOT DISTINCT FROM a.dose_shape
             AND d.strength IS NOT DISTINCT FROM a.strength
        WHERE a.set_aside = 'go'"""
    )
    py.append(
        """SELECT u, pkey FROM fx_adm1 WHERE set_aside = 'python' OR action IN ('python', 'other')
        UNION SELECT u, pkey FROM fx_adm WHERE NOT ok OR (action = 'row'
            AND dose_action IS DISTINCT FROM 'row')"""
    )


def _no_rows(con: Any, shapes: Shapes, py: list[str]) -> None:
    classify(
        con,
        "fx_proc",
        "SELECT DISTINCT CAST(f_code AS VARCHAR) FROM fx_of WHERE kind = 'Procedure'",
        1,
        shapes.procedure,
        (
            ("code", "VARCHAR"),
            ("action", "VARCHAR"),
            ("method", "VARCHAR"),
            ("event", "VARCHAR"),
            ("display", "VARCHAR"),
        ),
    )
    # a contraceptive Procedure that was completed is an event dated by performed[DateTime|Period]
    con.execute(
        """INSERT INTO fx_contra
        SELECT o.u, o.pkey, o.k, p.method, p.event, p.display, fx_date(o.day_json),
               'Procedure/' || coalesce(o.id, 'None'), o.day_json IS NOT NULL AND fx_dok(o.day_json)
        FROM (SELECT *, CASE WHEN fx_truthy(f_performedDateTime) THEN f_performedDateTime
                    WHEN json_type(f_performedPeriod) = 'OBJECT'
                         AND fx_truthy((f_performedPeriod -> '$.start')) THEN (f_performedPeriod -> '$.start')
                    WHEN json_type(f_performedPeriod) NOT IN ('OBJECT', 'NULL')
                         AND fx_truthy(f_performedPeriod) THEN f_performedPeriod END AS day_json
              FROM fx_of WHERE kind = 'Procedure') o
        JOIN fx_proc p ON p.code IS NOT DISTINCT FROM CAST(o.f_code AS VARCHAR)
        WHERE p.action = 'contra' AND json_type(o.f_status) = 'VARCHAR'
            AND ((o.f_status ->> '$')) = 'completed'"""
    )
    classify(
        con,
        "fx_allergy",
        """SELECT DISTINCT CAST(f_verificationStatus AS VARCHAR), CAST(f_code AS VARCHAR)
        FROM fx_of WHERE kind = 'AllergyIntolerance'""",
        2,
        shapes.allergy,
        (("ver", "VARCHAR"), ("code", "VARCHAR"), ("action", "VARCHAR")),
    )
    py.append(
        """SELECT u, pkey FROM fx_contra WHERE NOT ok
        UNION SELECT o.u, o.pkey FROM fx_of o JOIN fx_allergy a
            ON a.ver IS NOT DISTINCT FROM CAST(o.f_verificationStatus AS VARCHAR)
           AND a.code IS NOT DISTINCT FROM CAST(o.f_code AS VARCHAR)
        WHERE o.kind = 'AllergyIntolerance' AND a.action = 'python'"""
    )
