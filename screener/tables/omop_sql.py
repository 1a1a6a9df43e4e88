"""The SQL that assembles an OMOP extract's native rows (issue 17 §1; see
:mod:`screener.tables.from_omop`). Every statement mirrors a step of
:class:`screener.importers.omop_convert._OmopConverter` and of the patient loader; whatever would
make the importer or the loader report an error, or that this SQL does not assemble, puts the
person in ``<p>complex`` (read by the Python importer instead).

Order (``seq``) is the importer's: conditions by row then ``also`` targets, then the
``other_diagnosis`` marker; drug exposures by row, then ``other_medication``; MEASUREMENT
rows, then OBSERVATION rows; contraceptive methods in place, by method.
"""

from __future__ import annotations

from typing import Any

from screener.importers.contraception import STATUS
from screener.importers.record_lists import OTHER_DIAGNOSIS, OTHER_MEDICATION
from screener.tables.layout import TABLES
from screener.which_value import SEQ_SPAN


def assemble(con: Any, p: str) -> None:
    _demographics(con, p)
    _conditions(con, p)
    _medications(con, p)
    _observations(con, p)
    _contraception(con, p)
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}complex AS SELECT DISTINCT pid FROM (
            SELECT pid FROM {p}demo WHERE birth_bad
            UNION ALL SELECT pid FROM {p}med WHERE bad
            UNION ALL SELECT m.pid FROM {p}med m JOIN {p}demo d USING (pid) WHERE m.start < d.birth
            UNION ALL SELECT pid FROM {p}obs WHERE bad
            UNION ALL SELECT o.pid FROM {p}obs o JOIN {p}demo d USING (pid) WHERE o.read AND o.date < d.birth
            UNION ALL SELECT pid FROM {p}obs WHERE read GROUP BY pid HAVING count(*) > {SEQ_SPAN}
            UNION ALL SELECT r.pid FROM {p}r_condition_occurrence r JOIN {p}ck k
                ON k.a = r.condition_concept_id AND k.b = r.condition_source_concept_id
                AND k.c = r.condition_source_value WHERE k.kind = 'complex'
            UNION ALL SELECT pid FROM {p}events WHERE day IS NULL
            UNION ALL SELECT s.pid FROM {p}stat s JOIN {p}demo d USING (pid) WHERE s.date < d.birth)"""
    )


def _demographics(con: Any, p: str) -> None:
    ymd = (
        "regexp_full_match(year_of_birth, '[0-9]{1,4}') AND regexp_full_match(month_of_birth, '[0-9]{1,2}')"
        " AND regexp_full_match(day_of_birth, '[0-9]{1,2}')"
    )
    made = (
        "TRY_CAST(lpad(CAST(TRY_CAST(year_of_birth AS INTEGER) AS VARCHAR), 4, '0') || '-' || "
        "lpad(CAST(TRY_CAST(month_of_birth AS INTEGER) AS VARCHAR), 2, '0') || '-' || "
        "lpad(CAST(TRY_CAST(day_of_birth AS INTEGER) AS VARCHAR), 2, '0') AS DATE)"
    )
    given = "omop_trim(birth_datetime) <> ''"
    parts = "year_of_birth <> '' AND month_of_birth <> '' AND day_of_birth <> ''"
    birth = (
        f"CASE WHEN {given} THEN omop_date(birth_datetime) "
        f"WHEN {parts} AND {ymd} AND TRY_CAST(year_of_birth AS INTEGER) > 0 THEN {made} END"
    )
    has_death = con.execute(
        f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{p}death'"
    ).fetchone()[0]
    has_periods = con.execute(
        f"SELECT count(*) FROM information_schema.tables WHERE table_name = '{p}observation_period'"
    ).fetchone()[0]
    death = (
        f"""(SELECT omop_trim(person_id) AS pid,
                arg_max(CASE WHEN death_date <> '' THEN death_date ELSE death_datetime END, line) AS v
            FROM {p}death GROUP BY 1)"""
        if has_death
        else "(SELECT NULL::VARCHAR AS pid, NULL::VARCHAR AS v WHERE false)"
    )
    periods = (
        f"""(SELECT omop_trim(person_id) AS pid, string_agg(
                CAST(omop_date(observation_period_start_date) AS VARCHAR) || '/' ||
                COALESCE(CAST(omop_quiet(omop_trim(observation_period_end_date)) AS VARCHAR), ''),
                ';' ORDER BY line) AS observed
            FROM {p}observation_period GROUP BY 1)"""
        if has_periods
        else "(SELECT NULL::VARCHAR AS pid, NULL::VARCHAR AS observed WHERE false)"
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}demo AS
        SELECT e.pid, e.ord, {birth} AS birth,
            ({given} OR ({parts})) AND ({birth}) IS NULL AS birth_bad,
            CASE WHEN lower(omop_trim(g.name)) IN ('male', 'female') THEN lower(omop_trim(g.name))
                 ELSE CASE lower(omop_trim(e.gender_source_value))
                      WHEN 'm' THEN 'male' WHEN 'f' THEN 'female'
                      WHEN 'male' THEN 'male' WHEN 'female' THEN 'female' END END AS sex,
            omop_date(dd.v) AS deceased, dd.pid IS NOT NULL AND omop_date(dd.v) IS NULL AS undated,
            o.observed
        FROM {p}people e
        LEFT JOIN {p}gk g ON g.a = e.gender_concept_id
        LEFT JOIN {death} dd ON dd.pid = e.pid
        LEFT JOIN {periods} o ON o.pid = e.pid"""
    )


def _conditions(con: Any, p: str) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}cond AS
        WITH rows AS (
            SELECT r.*, k.kind, k.k, k.name, k.type, k.status, k.verification,
                omop_quiet(r.condition_start_date) AS qs, omop_quiet(r.condition_end_date) AS qe
            FROM {p}r_condition_occurrence r JOIN {p}ck k ON k.a = r.condition_concept_id
                AND k.b = r.condition_source_concept_id AND k.c = r.condition_source_value)
        SELECT pid, 0 AS grp, line, k, name, status, type,
            qs AS onset, CASE WHEN condition_start_date <> '' AND qs IS NULL THEN NULL ELSE qe END AS "end",
            'condition_occurrence/' || condition_occurrence_id AS source,
            COALESCE(verification, 'confirmed') AS verification
        FROM rows WHERE kind = 'target'
        UNION ALL
        SELECT pid, 1, min(line), 0, '{OTHER_DIAGNOSIS}',
            CASE WHEN bool_or(qe IS NULL) THEN 'active' ELSE 'resolved' END,
            NULL,
            CASE WHEN bool_and(qs IS NOT NULL) THEN min(qs) END,
            NULL,
            omop_sources(list('condition_occurrence/' || condition_occurrence_id ORDER BY line),
                         'diagnoses no criterion reads'),
            'confirmed'
        FROM rows WHERE kind = 'list' GROUP BY pid"""
    )


def _medications(con: Any, p: str) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}med AS
        WITH rows AS (
            SELECT r.*, k.kind, k.drug, k.strength, k.route,
                omop_quiet(r.drug_exposure_start_date) AS qs, omop_quiet(r.drug_exposure_end_date) AS qe
            FROM {p}r_drug_exposure r JOIN {p}dk k ON k.a = r.drug_concept_id
                AND k.b = r.drug_source_concept_id AND k.c = r.drug_source_value
                AND k.rc = r.route_concept_id AND k.rs = r.route_source_value)
        SELECT r.pid, 0 AS grp, r.line, r.drug, q.dose AS dose_mg, r.route,
            CASE WHEN q.dose IS NOT NULL THEN 'daily' END AS frequency,
            r.qs AS start, r.qe AS "end",
            s.outcome, 'drug_exposure/' || r.drug_exposure_id AS source,
            r.qs IS NULL OR r.qe < r.qs OR NOT COALESCE(q.ok, true) AS bad
        FROM rows r
        LEFT JOIN {p}qk q ON q.strength = r.strength AND q.quantity = r.quantity AND q.days = r.days_supply
        LEFT JOIN {p}sk s ON s.text = r.stop_reason
        WHERE r.kind = 'target'
        UNION ALL
        SELECT pid, 1, min(line), '{OTHER_MEDICATION}', NULL, NULL, NULL,
            min(qs), CASE WHEN bool_or(qe IS NULL) THEN NULL ELSE max(qe) END,
            NULL,
            omop_sources(list('drug_exposure/' || drug_exposure_id ORDER BY line),
                         'medications no criterion reads'),
            false
        FROM rows WHERE kind <> 'target' AND qs IS NOT NULL
        GROUP BY pid
        UNION ALL
        SELECT pid, 2, line, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, true
        FROM rows WHERE kind = 'complex'"""
    )


def _contraception(con: Any, p: str) -> None:
    """Contraceptive methods in place (:mod:`screener.importers.contraception`): per method, the
    latest start (of one day, the first read: drug rows, then procedures) unless a removal of
    that method is on or after it; one ``effective_contraception`` status each, by method."""
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}events AS
        SELECT r.pid, 0 AS grp, r.line, k.method, k.event, k.display,
            omop_day(r.drug_exposure_start_date) AS day, 'drug_exposure/' || r.drug_exposure_id AS source
        FROM {p}r_drug_exposure r JOIN {p}dk k ON k.a = r.drug_concept_id
            AND k.b = r.drug_source_concept_id AND k.c = r.drug_source_value
            AND k.rc = r.route_concept_id AND k.rs = r.route_source_value
        WHERE k.kind = 'contraceptive'
        UNION ALL
        SELECT r.pid, 1, r.line, k.method, k.event, k.display, omop_day(r.procedure_date),
            'procedure_occurrence/' || r.procedure_occurrence_id
        FROM {p}r_procedure_occurrence r JOIN {p}pk k ON k.a = r.procedure_concept_id
            AND k.b = r.procedure_source_concept_id AND k.c = r.procedure_source_value
        WHERE k.kind = 'contraceptive'"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}stat AS
        WITH latest AS (
            SELECT * FROM (
                SELECT *, row_number() OVER (PARTITION BY pid, method ORDER BY day DESC, grp, line) AS rk
                FROM {p}events WHERE event = 'start') WHERE rk = 1)
        SELECT l.pid, l.method, l.day AS date,
            l.source || ': ' || l.display || ' (' || l.method || ')' AS source
        FROM latest l
        WHERE NOT EXISTS (SELECT 1 FROM {p}events e WHERE e.pid = l.pid AND e.method = l.method
                          AND e.event = 'removal' AND e.day >= l.day)"""
    )


def _observations(con: Any, p: str) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE {p}obs AS
        SELECT o.pid, o.tbl, o.line, o.name, omop_day(o.date) AS date, v.num AS value_num,
            v.unit_out AS unit, o.method, o.source, r.low AS reference_low, r.high AS reference_high,
            o.kind = 'numeric' AND (o.op IN ('', '0') OR COALESCE(k.ok, false)) AS read,
            o.kind <> 'numeric' OR omop_day(o.date) IS NULL OR NOT v.number_ok
                OR ((o.op IN ('', '0') OR COALESCE(k.ok, false))
                    AND (NOT v.unit_ok OR NOT COALESCE(r.ok, true)))
                AS bad
        FROM {p}obs_rows o
        LEFT JOIN {p}vk v ON v.name = o.name AND v.value = o.value AND v.unit = o.unit
        LEFT JOIN {p}rk r ON r.name = o.name AND r.unit = o.unit AND r.lo = o.range_low
            AND r.hi = o.range_high
        LEFT JOIN {p}ok k ON k.op = o.op"""
    )


def _insert_table(con: Any, out: str, table: str, exprs: dict[str, str], source: str) -> None:
    columns = [c for c, _ in TABLES[table]]
    select = ", ".join("f.first" if c == "pid" else exprs.get(c, "NULL") for c in columns)
    con.execute(f"INSERT INTO {out}{table} SELECT {select} FROM {source}")


def insert(con: Any, p: str, file: str, out: str) -> None:
    """Append the rows of the persons not in ``<p>complex``, ``ord`` from ``<p>ords``."""
    keep = f"JOIN {p}ords f USING (pid) WHERE pid NOT IN (SELECT pid FROM {p}complex)"
    quoted = "'" + file.replace("'", "''") + "'"
    _insert_table(
        con,
        out,
        "patients",
        {
            "patient_id": "pid",
            "birth_date": "birth",
            "sex": "sex",
            "demographics_source": "'person/' || pid",
            "file": quoted,
            "deceased": "deceased",
            "deceased_undated": "undated",
            "observed": "observed",
        },
        f"{p}demo {keep}",
    )
    seq = "row_number() OVER (PARTITION BY pid ORDER BY grp, line, k) - 1"
    _insert_table(
        con,
        out,
        "conditions",
        {
            "seq": seq,
            "name": "name",
            "status": "status",
            "type": "type",
            "onset": "onset",
            "end": '"end"',
            "source": "source",
            "verification": "verification",
        },
        f"{p}cond {keep}",
    )
    _insert_table(
        con,
        out,
        "medications",
        {
            "seq": "row_number() OVER (PARTITION BY pid ORDER BY grp, line) - 1",
            "drug": "drug",
            "dose_mg": "dose_mg",
            "route": "route",
            "frequency": "frequency",
            "start": "start",
            "end": '"end"',
            "outcome": "outcome",
            "source": "source",
        },
        f"{p}med {keep}",
    )
    _insert_table(
        con,
        out,
        "observations",
        {
            "seq": "row_number() OVER (PARTITION BY pid ORDER BY tbl, line) - 1",
            "name": "name",
            "date": "date",
            "value_num": "value_num",
            "unit": "unit",
            "reference_low": "reference_low",
            "reference_high": "reference_high",
            "method": "method",
            "source": "source",
        },
        f"(SELECT * FROM {p}obs WHERE read) o {keep}",
    )
    _insert_table(
        con,
        out,
        "statuses",
        {
            "seq": "row_number() OVER (PARTITION BY pid ORDER BY method) - 1",
            "name": f"'{STATUS}'",
            "date": "date",
            "value_bool": "true",
            "source": "source",
        },
        f"{p}stat {keep}",
    )
