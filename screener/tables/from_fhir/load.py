"""Reading FHIR inputs into DuckDB: Bulk Data NDJSON (plain, ``.gz``) and Bundle JSON.

Every input the SQL can take lands in one table ``fhir_res`` (one row per resource):

    u      the input's position among the inputs (``screener.batch.inputs.expand`` order)
    fi     the file's position in the input (Bulk Data: ``bulk_files`` order; a Bundle: 0)
    file   the file, as the Python importer names it in issues
    line   1-based line of an NDJSON resource (NULL in a Bundle)
    entry  0-based entry of a Bundle resource (NULL in NDJSON)
    k      the resource's position in the whole stream (inputs, files, lines or entries in order)
    x      the elements the SQL reads (:data:`screener.tables.from_fhir.rows.PATHS`), taken from
           the line in one ``json_extract`` while it is read: the text itself is not kept

NDJSON lines are read with DuckDB's CSV reader as one text column (``WITH ORDINALITY`` gives
the line number, blank lines included) and checked with ``json_valid``. A line DuckDB finds
broken, and a line DuckDB would read but Python's strict reader might refuse (NaN, Infinity, a
surrogate escape, very deep nesting, a key given twice in one object), is parsed once by
:func:`screener.fileio.loads_json`, so the issue says exactly what the Python importer says
(file, line, message) and the conversion goes on. A Bundle is checked by the same strict
reader once per file (the whole document), then its entries are taken apart in SQL.

An input the SQL does not take (loose resource files, a manifest that lists a missing file, a
file DuckDB cannot read...) is left to the Python path whole (``python_units``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screener.fileio import MAX_DEPTH, loads_json
from screener.importers.core import ImportIssue, ImportLog

# a line DuckDB reads but Python's strict reader (screener.fileio.loads_json) may refuse: NaN or
# Infinity, an escape (a lone surrogate \\udXXX), an integer past Python's digit limit (a long
# line), a number whose exponent may overflow, 64 brackets or more (nesting past its depth limit),
# a key given twice in one object, at the top or in any object inside (DuckDB reads the first of
# the two values, Python the last: the strict reader refuses the line, and so must the SQL)
SUSPICIOUS = f"""keys IS NULL OR len(keys) <> len(list_distinct(keys))
    OR coalesce(list_bool_or(list_transform(try(json_keys(t, '$.**')),
                                            lambda k: len(k) <> len(list_distinct(k)))), FALSE)
    OR contains(t, 'NaN') OR contains(t, 'Infinity') OR contains(t, '\\u') OR length(t) > 4000
    OR regexp_matches(t, '[0-9][eE][+-]?[0-9]{{3}}')
    OR length(t) - length(replace(replace(t, '{{', ''), '[', '')) >= {MAX_DEPTH}"""


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class Loaded:
    """What :func:`load` read: which inputs are in ``fhir_res``, and the issues of broken lines."""

    kinds: list[str] = field(default_factory=list)  # per input: ndjson | bundle | python
    scan_issues: dict[int, list[tuple[tuple[int, int], ImportIssue]]] = field(default_factory=dict)


def input_kind(path: Path) -> str:
    """``ndjson``, ``bundle`` or ``python``, as :func:`screener.batch.inputs.reader_for` decides."""
    from screener.batch.inputs import _is_bulk_folder, reader_for
    from screener.importers import fhir_json_kind

    if not path.exists():
        return "python"
    if path.is_dir():
        if any(child.name.lower() in ("person.csv", "person.tsv") for child in path.iterdir()):
            return "python"
        return "ndjson" if _is_bulk_folder(path) else "python"
    name = path.name.lower()
    if name.endswith((".ndjson", ".ndjson.gz")):
        return "ndjson"
    if name.endswith(".json") and fhir_json_kind(path) == "bundle" and reader_for(path) is not None:
        return "bundle"
    return "python"


def create(con: Any) -> None:
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fhir_res (u INTEGER, fi INTEGER, file VARCHAR, line INTEGER, "
        "entry INTEGER, full_url VARCHAR, k BIGINT, x JSON[])"
    )
    # the text of a Bundle's resources, for a patient the Python converter reads (an NDJSON
    # resource is read back from its file by line: see .fallback)
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_keep (k BIGINT, j VARCHAR)")


def _next_k(con: Any) -> int:
    return int(con.execute("SELECT coalesce(max(k), 0) + 1 FROM fhir_res").fetchone()[0])


def _paths() -> str:
    from screener.tables.from_fhir.rows import PATHS

    return PATHS


def load(con: Any, paths: list[Path]) -> Loaded:
    create(con)
    out = Loaded()
    for u, path in enumerate(paths):
        kind = input_kind(path)
        try:
            if kind == "ndjson":
                issues = _load_ndjson(con, u, path)
            elif kind == "bundle":
                issues = _load_bundle(con, u, path)
            else:
                issues = None
        except Exception:  # a file DuckDB cannot read (not UTF-8, an I/O error): Python reads it
            issues = None
        if issues is None:
            con.execute(f"DELETE FROM fhir_keep WHERE k IN (SELECT k FROM fhir_res WHERE u = {u})")
            con.execute(f"DELETE FROM fhir_res WHERE u = {u}")
            kind = "python"
        else:
            out.scan_issues[u] = issues
        out.kinds.append(kind)
    return out


def _load_ndjson(con: Any, u: int, path: Path) -> list[tuple[tuple[int, int], ImportIssue]] | None:
    from screener.importers.fhir.read import bulk_files

    log = ImportLog("fhir-ndjson", "")
    files = bulk_files([path], log)
    if log.issues:  # a manifest that is not one, or lists a missing file: Python says so
        return None
    issues: list[tuple[tuple[int, int], ImportIssue]] = []
    for fi, f in enumerate(files):
        if not f.is_file():
            return None
        source = sql_string(str(f))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE fhir_lines AS
            SELECT line, suspect, CASE WHEN suspect THEN t END AS t, is_res,
                   CASE WHEN is_res AND NOT suspect THEN json_extract(t, [{_paths()}]) END AS x
            FROM (SELECT line, t, ({SUSPICIOUS}) AS suspect, list_contains(keys, 'resourceType') AS is_res
                  FROM (SELECT CAST(ordinality AS INTEGER) AS line, t, try(json_keys(t)) AS keys
                        FROM read_csv({source}, columns = {{'t': 'VARCHAR'}}, header = false, delim = chr(1),
                                      quote = '', escape = '', auto_detect = false, compression = 'auto')
                             WITH ORDINALITY)
                  WHERE t IS NOT NULL)"""
        )
        suspect = con.execute("SELECT line, t FROM fhir_lines WHERE suspect ORDER BY line").fetchall()
        kept: list[int] = []
        for line, text in suspect:
            raw = text.encode("utf-8", "surrogatepass")
            if not raw.strip():
                continue
            try:
                res = loads_json(raw)
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                issues.append(((fi, line), ImportIssue(str(f), line, None, f"malformed JSON line: {error}")))
                continue
            if not isinstance(res, dict) or "resourceType" not in res:
                issue = ImportIssue(str(f), line, "resourceType", "not a FHIR resource")
                issues.append(((fi, line), issue))
                continue
            kept.append(line)  # Python reads it: so does the SQL (DuckDB must parse it too)
        if kept:
            con.execute(
                f"UPDATE fhir_lines SET x = json_extract(t, [{_paths()}]) WHERE line IN (SELECT unnest(?))",
                [kept],
            )
        for (line,) in con.execute(
            "SELECT line FROM fhir_lines WHERE NOT suspect AND NOT is_res ORDER BY line"
        ).fetchall():
            issues.append(((fi, line), ImportIssue(str(f), line, "resourceType", "not a FHIR resource")))
        con.execute(
            f"""INSERT INTO fhir_res
            SELECT {u}, {fi}, {source}, line, NULL, NULL, {_next_k(con)} + line, x FROM fhir_lines
            WHERE x IS NOT NULL"""
        )
    con.execute("DROP TABLE IF EXISTS fhir_lines")
    issues.sort(key=lambda item: item[0])
    return issues


def _load_bundle(con: Any, u: int, path: Path) -> list[tuple[tuple[int, int], ImportIssue]] | None:
    from screener.fileio import read_json

    try:
        with path.open("rb") as handle:
            doc = read_json(handle)  # the strict reader the Python importer uses, once per file
    except Exception:
        return None  # Python reports it (malformed, too deep, unreadable)
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        return None
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        return None
    for entry in entries:
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or not isinstance(res.get("resourceType"), str):
            return None  # "entry without a resource": left to Python
    del doc
    source = sql_string(str(path))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE fhir_entries AS
        SELECT CAST(i - 1 AS INTEGER) AS entry, {_next_k(con)} + i AS k,
               CASE WHEN json_type(e, '$.fullUrl') = 'VARCHAR' THEN e ->> '$.fullUrl' END AS full_url,
               e -> '$.resource' AS j
        FROM (SELECT unnest(es) AS e, generate_subscripts(es, 1) AS i
              FROM (SELECT json_extract(content, '$.entry[*]') AS es FROM read_text({source})))"""
    )
    con.execute(
        f"""INSERT INTO fhir_res
        SELECT {u}, 0, {source}, NULL, entry, full_url, k, json_extract(j, [{_paths()}]) FROM fhir_entries"""
    )
    con.execute("INSERT INTO fhir_keep SELECT k, CAST(j AS VARCHAR) FROM fhir_entries")
    con.execute("DROP TABLE fhir_entries")
    return []
