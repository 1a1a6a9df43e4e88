"""Shared pieces of the FHIR SQL: macros mirroring the Python importer's small helpers."""

from __future__ import annotations

from typing import Any

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?)?"


def sql_in(values: Any) -> str:
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
