"""MedicationRequest / MedicationStatement / MedicationAdministration in SQL, and the resources that
give no row unless their code says so (Procedure, AllergyIntolerance)
(:mod:`screener.importers.fhir.medications`, :mod:`.procedures`, :mod:`.outcomes`)."""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.status import MED_ENDED
from screener.tables.from_fhir.shapes import Shapes, classify
from screener.tables.from_fhir.sql import sql_in

# what shapes.medication_status answers per distinct (kind, status, intent, doNotPerform)
_STATUS_COLUMNS = tuple((name, "VARCHAR") for name in ("kind", "st", "intent", "dnp", "action", "status"))


def medications(con: Any, shapes: Shapes, py: list[str]) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_med0 AS
        SELECT u, pkey, k, kind, id, f_authoredOn, f_dateAsserted, f_dispenseRequest, f_doNotPerform,
               f_dosage, f_dosageInstruction, f_effectiveDateTime, f_effectivePeriod, f_intent,
               f_medicationCodeableConcept, f_medicationReference, f_status, f_statusReason,
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
        _STATUS_COLUMNS,
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
    ended = sql_in(MED_ENDED)
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


def administrations(con: Any, shapes: Shapes, py: list[str]) -> None:
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
        _STATUS_COLUMNS,
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


def no_rows(con: Any, shapes: Shapes, py: list[str]) -> None:
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
