"""Observation in SQL: numbers with units and reference ranges, blood gases with their oxygen
component, coded results, statuses and scores (:mod:`screener.importers.fhir.observations`)."""

from __future__ import annotations

from typing import Any

from screener.importers.fhir.status import OBS_NOT_RESULT
from screener.tables.from_fhir.shapes import Shapes, classify
from screener.tables.from_fhir.sql import sql_in


def observations(con: Any, shapes: Shapes, py: list[str]) -> None:
    not_result = sql_in(OBS_NOT_RESULT)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_obs0 AS
        SELECT u, pkey, k, id, f_status, f_component, f_effectiveDateTime, f_effectiveInstant,
               f_effectivePeriod, f_issued, f_referenceRange, f_valueBoolean, f_valueCodeableConcept,
               f_valueInteger, f_valueQuantity, f_valueString, json_type(f_status) AS status_type,
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
