"""The rows of the patients the SQL reads, in the Python importer's order (``seq``), and the
last checks that send a patient to Python (a record dated before birth is an error there)."""

from __future__ import annotations

from typing import Any

_CONDITION_LIST = ": diagnoses no criterion reads (the record has this list)"
_MEDICATION_LIST = ": medications no criterion reads (the record has this list)"


def _sources(what: str) -> str:
    """:func:`screener.importers.record_lists._sources` in SQL."""
    return (
        "array_to_string(list_slice(list(source ORDER BY k), 1, 3), ', ') || CASE WHEN count(*) > 3 "
        f"THEN ' and ' || CAST(count(*) - 3 AS VARCHAR) || ' more' ELSE '' END || '{what}'"
    )


def finish(con: Any, paths: list[str]) -> None:
    from screener.tables.from_fhir.shapes import register

    register(con, "fx_paths", (("u", "INTEGER"), ("path", "VARCHAR")), list(enumerate(paths)))
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_t_patients AS
        SELECT p.u, p.pkey, p.k, p.pkey AS patient_id, p.birth_date, p.sex, p.demographics_source,
               x.path AS file, CAST(NULL AS INTEGER) AS line, p.deceased, coalesce(p.deceased_undated,
                   false) AS deceased_undated,
               CAST(NULL AS VARCHAR) AS observed
        FROM fx_patients p JOIN fx_paths x ON x.u = p.u"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_t_conditions AS
        WITH rows AS (
            SELECT u, pkey, 0 AS part, k, name, status, type, onset0 AS onset,
                   CASE WHEN end0 < onset0 THEN NULL ELSE end0 END AS "end",
                   source, coalesce(verification, 'confirmed') AS verification
            FROM fx_cond WHERE action = 'row'
            UNION ALL
            SELECT u, pkey, 1, max(k), 'other_diagnosis',
                   CASE WHEN bool_or(status = 'active') THEN 'active' ELSE 'resolved' END, NULL,
                   CASE WHEN count(onset0) = count(*) THEN min(onset0) END, NULL,
                   {_sources(_CONDITION_LIST)}, 'confirmed'
            FROM fx_cond WHERE action = 'other' GROUP BY u, pkey)
        SELECT u, pkey, CAST(row_number() OVER (PARTITION BY u, pkey ORDER BY part, k) - 1 AS INTEGER) AS seq,
               name, status, type, onset, "end", NULL AS severity, NULL AS classification,
               NULL AS criteria_met, NULL AS controlled, source, verification
        FROM rows"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_t_observations AS
        SELECT u, pkey, CAST(row_number() OVER (PARTITION BY u, pkey ORDER BY k) - 1 AS INTEGER) AS seq,
               name, date, value_num, value_text, NULL AS value_bool, unit, reference_high, reference_low,
               method, on_oxygen, NULL AS attributed_to_sle, source
        FROM fx_obs"""
    )
    # contraception settled (screener.importers.contraception): per method, sorted, the latest
    # start (the first listed of a day) unless a removal of that method is dated on or after it
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_t_statuses AS
        WITH starts AS (
            SELECT *, row_number() OVER (PARTITION BY u, pkey, method ORDER BY day DESC, k) AS r
            FROM fx_contra WHERE event = 'start'),
        rows AS (
            SELECT u, pkey, 0 AS part, k, NULL AS method, name, date, value_bool, source
            FROM fx_st WHERE action = 'row'
            UNION ALL
            SELECT s.u, s.pkey, 1, NULL, s.method, 'effective_contraception', s.day, true,
                   s.source || ': ' || s.display || ' (' || s.method || ')'
            FROM starts s WHERE s.r = 1 AND NOT EXISTS (
                SELECT 1 FROM fx_contra x WHERE x.u = s.u AND x.pkey = s.pkey AND x.method = s.method
                AND x.event = 'removal' AND x.day >= s.day))
        SELECT u, pkey, CAST(row_number() OVER (PARTITION BY u, pkey ORDER BY part, k,
            method) - 1 AS INTEGER) AS seq,
               name, date, NULL AS value_num, NULL AS value_text, value_bool, NULL AS confirmed_by, source
        FROM rows"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_t_assessments AS
        SELECT u, pkey, CAST(row_number() OVER (PARTITION BY u, pkey ORDER BY k) - 1 AS INTEGER) AS seq,
               name, date, score, source
        FROM fx_as WHERE action = 'row'"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_adm_groups AS
        SELECT u, pkey, min(k) AS k, drug, route, dose_key, any_value(dose_mg) AS dose_mg,
               min(day) AS start, max(day) AS "end", list_sort(list_distinct(list(day))) AS days,
               array_to_string(list_slice(list(source ORDER BY k), 1, 5), ', ')
                 || CASE WHEN count(*) > 5 THEN ' ...' ELSE '' END AS source
        FROM fx_adm WHERE action = 'row' GROUP BY u, pkey, drug, route, dose_key"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fx_t_medications AS
        WITH rows AS (
            SELECT u, pkey, 0 AS part, k, drug, dose_mg, route, frequency, start, "end", outcome, source
            FROM fx_med WHERE action = 'row'
            UNION ALL
            SELECT u, pkey, 1, k, drug, dose_mg, route, CASE WHEN len(days) = 1 THEN 'once' END, start, "end",
                   NULL, source
            FROM fx_adm_groups
            UNION ALL
            SELECT u, pkey, 2, max(k), 'other_medication', NULL, NULL, NULL, min(start),
                   CASE WHEN count("end") = count(*) THEN max("end") END, NULL,
                   {_sources(_MEDICATION_LIST)}
            FROM fx_med WHERE action = 'other' AND start IS NOT NULL GROUP BY u, pkey)
        SELECT u, pkey, CAST(row_number() OVER (PARTITION BY u, pkey ORDER BY part, k) - 1 AS INTEGER) AS seq,
               drug, dose_mg, route, frequency, start, "end", outcome, source, part, k
        FROM rows"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_t_administrations AS
        SELECT m.u, m.pkey, m.seq AS med_seq, unnest(g.days) AS date
        FROM fx_t_medications m JOIN fx_adm_groups g ON m.part = 1 AND g.u = m.u AND g.pkey = m.pkey
            AND g.k = m.k"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE fx_python AS
        SELECT DISTINCT u, pkey FROM (
            SELECT u, pkey FROM fx_py
            -- a "yes" and a "none" of one day about E14 / E16 are both left out (importers.statements)
            UNION ALL SELECT f.u, f.pkey FROM fx_t_statuses f JOIN fx_t_statuses t USING (u, pkey, name, date)
                WHERE f.name IN ('in_other_study', 'legal_protection') AND NOT f.value_bool AND t.value_bool
            UNION ALL SELECT o.u, o.pkey FROM fx_t_observations o JOIN fx_t_patients p USING (u, pkey)
                WHERE o.date < p.birth_date
            UNION ALL SELECT o.u, o.pkey FROM fx_t_statuses o JOIN fx_t_patients p USING (u, pkey)
                WHERE o.date < p.birth_date
            UNION ALL SELECT o.u, o.pkey FROM fx_t_assessments o JOIN fx_t_patients p USING (u, pkey)
                WHERE o.date < p.birth_date
            UNION ALL SELECT m.u, m.pkey FROM fx_t_medications m JOIN fx_t_patients p USING (u, pkey)
                WHERE m.start < p.birth_date)"""
    )
