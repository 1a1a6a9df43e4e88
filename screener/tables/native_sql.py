"""The SQL that checks and types native patients, line by line (for :mod:`screener.tables.from_native`).

:func:`setup` creates, in a DuckDB connection, the macros and the reference tables the
checks join: the known vocabulary by kind (``nl_vocab``), the canonical quantities with
their plausible range (``nl_canon``) and the unit spellings :func:`screener.units.accepted_units`
lists, each with the factor :func:`screener.units.normalize` multiplies by (``nl_conv``).
:func:`statements` reads the chunk's lines (``nl_lines``: ord, line, text) into one table
per record kind, each row with its typed columns and ``ok`` (certainly clean), and the ords
of the patients with any row not ok, or a record dated before birth (``nl_bad``).
:data:`VIEWS` are the layout tables (``ord`` for ``pid``) of the other patients.

Each object is read once with ``json_keys`` and one ``json_extract`` of all its fields; a
field's value stays JSON text (``"abc"``, ``12.5``, ``true``), whose first character says
its type. An object's keys are right when there are as many as fields found: an unknown key,
or a key given twice, makes them differ.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from screener.which_value import SEQ_SPAN

_NAME = "[a-z][a-z0-9_]*"
_YES_NO = ("yes", "no", "y", "n", "on", "off")  # screener.model.patient._YES_NO_WORDS


def _list(values: Iterable[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _paths(fields: Sequence[str]) -> str:
    return _list(f"$.{f}" for f in fields)


def _json_strings(values: Iterable[str]) -> str:
    """SQL list of JSON texts of strings: ['"a"', '"b"']."""
    return _list(f'"{v}"' for v in values)


_TOP = (
    "schema_version",
    "patient_id",
    "demographics",
    "observations",
    "statuses",
    "assessments",
    "conditions",
    "medications",
)
_DEMO = ("birth_date", "deceased", "sex_source", "observed", "sex", "source")
_OBS = (
    "name",
    "value",
    "unit",
    "date",
    "reference_range",
    "method",
    "on_oxygen",
    "attributed_to_sle",
    "source",
)
_STATUS = ("name", "value", "date", "confirmed_by", "source")
_ASSESS = ("name", "score", "date", "source")
_COND = (
    "name",
    "status",
    "verification",
    "type",
    "onset",
    "end",
    "severity",
    "classification",
    "criteria_met",
    "controlled",
    "source",
)
_MED = ("drug", "dose", "unit", "route", "frequency", "start", "end", "administrations", "outcome", "source")


def _enum(schema: dict[str, Any], kind: str, field: str) -> tuple[str, ...]:
    return tuple(schema["$defs"][kind]["properties"][field]["enum"])


_MACROS = (
    # a JSON text (as json_extract gives it) of a string, a number, true/false, a date
    "CREATE OR REPLACE TEMP MACRO nl_isstr(x) AS left(x, 1) = '\"'",
    "CREATE OR REPLACE TEMP MACRO nl_str(x) AS "
    "CASE WHEN left(x, 1) = '\"' THEN substr(x, 2, length(x) - 2) END",
    # a number as json_extract writes it back: at most 15 integer digits (a double holds them
    # exactly), no exponent, not NaN or Infinity (which DuckDB's reader accepts, Python's refuses)
    "CREATE OR REPLACE TEMP MACRO nl_isnum(x) AS regexp_full_match(x, '-?[0-9]{1,15}(\\.[0-9]+)?')",
    "CREATE OR REPLACE TEMP MACRO nl_num(x) AS CASE WHEN nl_isnum(x) THEN TRY_CAST(x AS DOUBLE) END",
    "CREATE OR REPLACE TEMP MACRO nl_isbool(x) AS x IN ('true', 'false')",
    "CREATE OR REPLACE TEMP MACRO nl_bool(x) AS CASE WHEN x IN ('true', 'false') THEN x = 'true' END",
    "CREATE OR REPLACE TEMP MACRO nl_isdate(x) AS regexp_full_match(x, '\"[0-9]{4}-[0-9]{2}-[0-9]{2}\"') "
    "AND x >= '\"0001-01-01\"' AND TRY_CAST(substr(x, 2, 10) AS DATE) IS NOT NULL",
    "CREATE OR REPLACE TEMP MACRO nl_date(x) AS "
    "CASE WHEN nl_isdate(x) THEN TRY_CAST(substr(x, 2, 10) AS DATE) END",
    # an optional field: absent, or a valid value
    "CREATE OR REPLACE TEMP MACRO nl_opt(x, ok) AS x IS NULL OR ok",
    "CREATE OR REPLACE TEMP MACRO nl_name(x, k) AS nl_isstr(x) AND regexp_full_match(nl_str(x), '"
    + _NAME
    + "') "
    "AND nl_str(x) IN (SELECT name FROM nl_vocab WHERE kind = k)",
)


def setup(con: Any) -> None:
    """Macros and the reference tables (vocabulary, units, bounds) the checks join."""
    import numpy as np

    from screener import units
    from screener.model.vocabulary import KINDS, known_vocabulary

    for macro in _MACROS:
        con.execute(macro)
    vocabulary = known_vocabulary()
    kinds = [k for k in KINDS for _ in vocabulary.get(k)]
    names = [n for k in KINDS for n in sorted(vocabulary.get(k))]
    con.register(
        "nl_vocab_src", {"kind": np.array(kinds, dtype=object), "name": np.array(names, dtype=object)}
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nl_vocab AS "
        "SELECT kind::VARCHAR kind, name::VARCHAR name FROM nl_vocab_src"
    )
    con.unregister("nl_vocab_src")
    canon = []
    for quantity, unit in units.CANONICAL.items():
        bounds = units.plausible_range(quantity)
        canon.append((quantity, unit, *(bounds if bounds else (None, None))))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE nl_canon (quantity VARCHAR, unit VARCHAR, low DOUBLE, high DOUBLE)"
    )
    con.executemany("INSERT INTO nl_canon VALUES (?, ?, ?, ?)", canon)
    # the spellings Python accepts verbatim, with the factor it multiplies by (normalize(q, 1, s))
    conv = [(q, s, units.normalize(q, 1.0, s)) for q in units.CANONICAL for s in units.accepted_units(q)]
    con.execute("CREATE OR REPLACE TEMP TABLE nl_conv (quantity VARCHAR, spelling VARCHAR, factor DOUBLE)")
    con.executemany("INSERT INTO nl_conv VALUES (?, ?, ?)", conv)


@cache
def _enums() -> dict[str, tuple[str, ...]]:
    """The patient schema's enums the checks compare with."""
    from screener.spec.validate import schema

    s = schema("patient.schema.json")
    return {
        "sex": tuple(s["properties"]["demographics"]["properties"]["sex"]["enum"]),
        "status": _enum(s, "condition", "status"),
        "verification": _enum(s, "condition", "verification"),
        "severity": _enum(s, "condition", "severity"),
        "route": _enum(s, "medication", "route"),
        "frequency": _enum(s, "medication", "frequency"),
        "outcome": _enum(s, "medication", "outcome"),
    }


def _v(fields: Sequence[str], name: str, var: str = "v") -> str:
    """The column holding field ``name`` (JSON text) of an unpacked object."""
    assert name in fields
    return f'"{var}_{name}"'


def _keys(ks: str, var: str, fields: Sequence[str], required: Sequence[str] = ()) -> str:
    """An object's keys ``ks`` are the allowed ``fields``, none twice, the ``required`` ones
    present: as many keys as fields found (json_extract of a field given twice or of an
    unknown key finds one value or none), which is cheaper than comparing lists."""
    found = " + ".join(f"({_v(fields, f, var)} IS NOT NULL)::INTEGER" for f in fields)
    present = "".join(f" AND {_v(fields, f, var)} IS NOT NULL" for f in required)
    return f"(len({ks}) = {found}{present})"


def _unpack(var: str, fields: Sequence[str]) -> str:
    """The list ``var`` of json_extract(obj, paths) as one column per field (``var_field``)."""
    return ", ".join(f'{var}[{i + 1}] AS "{var}_{f}"' for i, f in enumerate(fields))


def _explode(array: str, fields: Sequence[str], table: str, source: str = "nl_pat") -> str:
    """A statement materialising ``table``: rows (ord, seq, ks, one column per field) of the
    objects of the JSON array column ``array`` of ``source`` (each object parsed once)."""
    return (
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT ord, seq, ks, {_unpack('v', fields)} FROM ("
        f"SELECT ord, seq, json_keys(o) AS ks, json_extract(o, {_paths(fields)}) AS v FROM ("
        f"SELECT ord, unnest(a) AS o, unnest(range(len(a))) AS seq FROM ("
        f"SELECT ord, json_extract({array}, '$[*]') AS a FROM {source} WHERE {array} IS NOT NULL)));\n"
    )


def _sql_patients(file: str) -> str:
    T, D = _TOP, _DEMO
    v = lambda n: _v(T, n)  # noqa: E731
    d = lambda n: _v(D, n, "dv")  # noqa: E731
    arrays = " AND ".join(f"nl_opt({v(n)}, left({v(n)}, 1) = '[')" for n in T[3:])
    ok = f"""
        {_keys("ks", "v", T, ("schema_version", "patient_id", "demographics"))}
        AND {v("schema_version")} = '"1"'
        AND nl_isstr({v("patient_id")}) AND length({v("patient_id")}) > 2
        AND left({v("demographics")}, 1) = '{{' AND {_keys("dks", "dv", D)}
        AND nl_opt({d("birth_date")}, nl_isdate({d("birth_date")}))
        AND nl_opt({d("deceased")}, nl_isbool({d("deceased")}) OR nl_isdate({d("deceased")}))
        AND nl_opt({d("sex_source")}, nl_isstr({d("sex_source")}))
        AND nl_opt({d("observed")}, left({d("observed")}, 1) = '[')
        AND nl_opt({d("sex")}, {d("sex")} IN {_json_strings(_enums()["sex"])})
        AND nl_opt({d("source")}, nl_isstr({d("source")}))
        AND {arrays}"""
    path = "'" + file.replace("'", "''") + "'"
    return f"""
    CREATE OR REPLACE TEMP TABLE nl_top AS
    SELECT * EXCLUDE (dv), {_unpack("dv", D)} FROM (
        SELECT *, json_keys({v("demographics")}) AS dks, json_extract({v("demographics")}, {_paths(D)}) AS dv
        FROM (SELECT ord, line, ks, {_unpack("v", T)} FROM (
            SELECT ord, line, try(json_keys(text)) AS ks, try(json_extract(text, {_paths(T)})) AS v
            FROM nl_lines) WHERE v IS NOT NULL));
    CREATE OR REPLACE TEMP TABLE nl_pat AS
    SELECT ord, line, {v("observations")} AS observations, {v("statuses")} AS statuses,
        {v("assessments")} AS assessments, {v("conditions")} AS conditions, {v("medications")} AS medications,
        {d("observed")} AS observed_j,
        nl_str({v("patient_id")}) AS patient_id, nl_date({d("birth_date")}) AS birth_date,
        nl_str({d("sex")}) AS sex, nl_str({d("source")}) AS demographics_source, {path} AS file,
        CASE WHEN nl_isstr({d("deceased")}) THEN nl_date({d("deceased")}) END AS deceased,
        coalesce({d("deceased")} = 'true', false) AS deceased_undated,
        coalesce({ok}, false) AS ok
    FROM nl_top
    """


def _sql_observed() -> str:
    F = ("start", "end")
    v = lambda n: _v(F, n)  # noqa: E731
    return (
        _explode("observed_j", F, "nl_x_observed")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_observed AS
    SELECT ord, seq, nl_date({v("start")}) AS start, nl_date({v("end")}) AS "end",
        coalesce({_keys("ks", "v", F, ("start",))} AND nl_isdate({v("start")})
            AND nl_opt({v("end")}, nl_isdate({v("end")}) AND nl_date({v("end")}) >= nl_date({v("start")})),
            false) AS ok
    FROM nl_x_observed
    """
    )


def _sql_observations() -> str:
    F = _OBS
    v = lambda n: _v(F, n)  # noqa: E731
    R = ("low", "high", "unit")
    r = lambda n: _v(R, n, "rv")  # noqa: E731
    bound_ok = " AND ".join(
        f"nl_opt({r(b)}, nl_isnum({r(b)}) AND nl_num({r(b)}) >= 0)" for b in ("low", "high")
    )
    ok = f"""
        {_keys("ks", "v", F, ("name", "value", "date"))}
        AND nl_name({v("name")}, 'observation')
        AND (nl_isstr({v("value")}) OR nl_isbool({v("value")}) OR (nl_isnum({v("value")}) AND isfinite(num)))
        AND nl_opt({v("unit")}, nl_isstr({v("unit")}))
        AND nl_isdate({v("date")})
        AND nl_opt({v("method")}, nl_isstr({v("method")}))
        AND nl_opt({v("on_oxygen")}, nl_isbool({v("on_oxygen")}))
        AND nl_opt({v("attributed_to_sle")}, nl_isbool({v("attributed_to_sle")}))
        AND nl_opt({v("source")}, nl_isstr({v("source")}))
        AND (quantity IS NULL OR (nl_isnum({v("value")}) AND factor IS NOT NULL AND isfinite(num * factor)
             AND (plo IS NULL OR num * factor BETWEEN plo AND phi)))
        AND nl_opt(rr, left(rr, 1) = '{{' AND {_keys("rks", "rv", R)} AND {bound_ok}
             AND nl_opt({r("unit")}, nl_isstr({r("unit")}))
             AND (NOT convert_ref OR ref_factor IS NOT NULL)
             AND nl_opt(low, isfinite(low)) AND nl_opt(high, isfinite(high))
             AND (low IS NULL OR high IS NULL OR low <= high))"""
    return (
        _explode("observations", F, "nl_x_obs")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_obs AS
    SELECT ord, seq, nl_str({v("name")}) AS name, nl_date({v("date")}) AS date,
        CASE WHEN nl_isnum({v("value")}) THEN (CASE WHEN quantity IS NULL THEN num ELSE num * factor END) END
            AS value_num,
        nl_str({v("value")}) AS value_text, nl_bool({v("value")}) AS value_bool,
        CASE WHEN quantity IS NULL THEN nl_str({v("unit")}) ELSE canon_unit END AS unit,
        high AS reference_high, low AS reference_low,
        nl_str({v("method")}) AS method, nl_bool({v("on_oxygen")}) AS on_oxygen,
        nl_bool({v("attributed_to_sle")}) AS attributed_to_sle, nl_str({v("source")}) AS source,
        coalesce({ok}, false) AS ok
    FROM (
        SELECT e.*, rc.factor AS ref_factor,
            CASE WHEN convert_ref THEN nl_num({r("low")}) * rc.factor ELSE nl_num({r("low")}) END AS low,
            CASE WHEN convert_ref THEN nl_num({r("high")}) * rc.factor ELSE nl_num({r("high")}) END AS high
        FROM (
            SELECT e.*, k.quantity AS quantity, k.unit AS canon_unit, k.low AS plo, k.high AS phi,
                c.factor AS factor,
                k.quantity IS NOT NULL AND ref_unit IS NOT NULL AND ref_unit <> '' AS convert_ref
            FROM (
                SELECT e.* EXCLUDE (rv), {_unpack("rv", R)}, nl_num({v("value")}) AS num,
                    {v("reference_range")} AS rr, json_keys({v("reference_range")}) AS rks,
                    CASE WHEN {v("reference_range")} IS NOT NULL THEN
                        coalesce(nl_str(rv[3]), nl_str({v("unit")})) END AS ref_unit
                FROM (SELECT *, json_extract({v("reference_range")}, {_paths(R)}) AS rv FROM nl_x_obs) e
            ) e
            LEFT JOIN nl_canon k ON k.quantity = nl_str({v("name")})
            LEFT JOIN nl_conv c ON c.quantity = k.quantity AND c.spelling = nl_str({v("unit")})
        ) e
        LEFT JOIN nl_conv rc ON rc.quantity = e.quantity AND rc.spelling = e.ref_unit
    ) e
    """
    )


def _sql_statuses() -> str:
    F = _STATUS
    v = lambda n: _v(F, n)  # noqa: E731
    value = v("value")
    ok = f"""
        {_keys("ks", "v", F, ("name", "value"))}
        AND nl_name({v("name")}, 'status')
        AND ((nl_isstr({value}) AND lower(nl_str({value})) NOT IN {_list(_YES_NO)}) OR nl_isbool({value})
             OR (nl_isnum({value}) AND isfinite(nl_num({value}))))
        AND nl_opt({v("date")}, nl_isdate({v("date")}))
        AND nl_opt({v("confirmed_by")}, nl_isstr({v("confirmed_by")}))
        AND nl_opt({v("source")}, nl_isstr({v("source")}))"""
    return (
        _explode("statuses", F, "nl_x_statuses")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_statuses AS
    SELECT ord, seq, nl_str({v("name")}) AS name, nl_date({v("date")}) AS date,
        nl_num({value}) AS value_num, nl_str({value}) AS value_text, nl_bool({value}) AS value_bool,
        nl_str({v("confirmed_by")}) AS confirmed_by, nl_str({v("source")}) AS source,
        coalesce({ok}, false) AS ok
    FROM nl_x_statuses
    """
    )


def _sql_assessments() -> str:
    F = _ASSESS
    v = lambda n: _v(F, n)  # noqa: E731
    score = f"nl_num({v('score')})"
    ok = f"""
        {_keys("ks", "v", F, ("name", "score", "date"))}
        AND nl_name({v("name")}, 'assessment')
        AND nl_isnum({v("score")}) AND isfinite({score})
        AND (nl_str({v("name")}) <> 'selena_sledai' OR {score} BETWEEN 0 AND 105)
        AND nl_isdate({v("date")})
        AND nl_opt({v("source")}, nl_isstr({v("source")}))"""
    return (
        _explode("assessments", F, "nl_x_assessments")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_assessments AS
    SELECT ord, seq, nl_str({v("name")}) AS name, nl_date({v("date")}) AS date, {score} AS score,
        nl_str({v("source")}) AS source, coalesce({ok}, false) AS ok
    FROM nl_x_assessments
    """
    )


def _sql_conditions() -> str:
    from screener.model.patient import CLASSIFICATION_CRITERIA

    F = _COND
    v = lambda n: _v(F, n)  # noqa: E731
    met = v("criteria_met")
    limits = " ".join(
        f"WHEN '{name}' THEN {limit}" for name, limit in sorted(CLASSIFICATION_CRITERIA.items())
    )
    ok = f"""
        {_keys("ks", "v", F, ("name",))}
        AND nl_name({v("name")}, 'condition')
        AND nl_opt({v("status")}, {v("status")} IN {_json_strings(_enums()["status"])})
        AND nl_opt({v("verification")}, {v("verification")} IN {_json_strings(_enums()["verification"])})
        AND nl_opt({v("type")}, nl_isstr({v("type")}) AND regexp_full_match(nl_str({v("type")}), '{_NAME}'))
        AND nl_opt({v("onset")}, nl_isdate({v("onset")}))
        AND nl_opt({v("end")}, nl_isdate({v("end")}))
        AND nl_opt({v("severity")}, {v("severity")} IN {_json_strings(_enums()["severity"])})
        AND nl_opt({v("classification")}, nl_isstr({v("classification")}))
        AND nl_opt({met}, regexp_full_match({met}, '[0-9]{{1,15}}')
            AND CAST({met} AS BIGINT)
                <= coalesce(CASE nl_str({v("classification")}) {limits} END, CAST({met} AS BIGINT)))
        AND nl_opt({v("controlled")}, nl_isbool({v("controlled")}))
        AND nl_opt({v("source")}, nl_isstr({v("source")}))"""
    return (
        _explode("conditions", F, "nl_x_conditions")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_conditions AS
    SELECT ord, seq, nl_str({v("name")}) AS name, coalesce(nl_str({v("status")}), 'active') AS status,
        nl_str({v("type")}) AS type, nl_date({v("onset")}) AS onset, nl_date({v("end")}) AS "end",
        nl_str({v("severity")}) AS severity, nl_str({v("classification")}) AS classification,
        CASE WHEN regexp_full_match({met}, '[0-9]{{1,15}}') THEN CAST({met} AS BIGINT) END AS criteria_met,
        nl_bool({v("controlled")}) AS controlled, nl_str({v("source")}) AS source,
        coalesce(nl_str({v("verification")}), 'confirmed') AS verification,
        coalesce({ok}, false) AS ok
    FROM nl_x_conditions
    """
    )


def _sql_medications() -> str:
    F = _MED
    v = lambda n: _v(F, n)  # noqa: E731
    start, end = f"nl_date({v('start')})", f"nl_date({v('end')})"
    ok = f"""
        {_keys("ks", "v", F, ("drug", "start"))}
        AND nl_name({v("drug")}, 'drug')
        AND nl_opt({v("dose")}, nl_isnum({v("dose")}) AND dose > 0 AND c.factor IS NOT NULL
            AND isfinite(dose * c.factor) AND dose * c.factor BETWEEN k.low AND k.high)
        AND nl_opt({v("unit")}, nl_isstr({v("unit")}))
        AND nl_opt({v("route")}, {v("route")} IN {_json_strings(_enums()["route"])})
        AND nl_opt({v("frequency")}, {v("frequency")} IN {_json_strings(_enums()["frequency"])})
        AND nl_isdate({v("start")})
        AND nl_opt({v("end")}, nl_isdate({v("end")}) AND {end} >= {start})
        AND nl_opt({v("administrations")}, left({v("administrations")}, 1) = '[')
        AND nl_opt({v("outcome")}, {v("outcome")} IN {_json_strings(_enums()["outcome"])})
        AND nl_opt({v("source")}, nl_isstr({v("source")}))"""
    return (
        _explode("medications", F, "nl_x_medications")
        + f"""
    CREATE OR REPLACE TEMP TABLE nl_medications AS
    SELECT ord, seq, nl_str({v("drug")}) AS drug, dose * c.factor AS dose_mg,
        nl_str({v("route")}) AS route, nl_str({v("frequency")}) AS frequency,
        {start} AS start, {end} AS "end",
        nl_str({v("outcome")}) AS outcome, nl_str({v("source")}) AS source,
        {v("administrations")} AS administrations_j,
        coalesce({ok}, false) AS ok
    FROM (SELECT *, nl_num({v("dose")}) AS dose FROM nl_x_medications) e
    LEFT JOIN nl_canon k ON k.quantity = 'dose'
    LEFT JOIN nl_conv c ON c.quantity = 'dose' AND c.spelling = nl_str({v("unit")})
    """
    )


_SQL_ADMINISTRATIONS = """
    CREATE OR REPLACE TEMP TABLE nl_administrations AS
    SELECT ord, seq AS med_seq, nl_date(d) AS date, coalesce(nl_isdate(d), false) AS ok
    FROM (SELECT ord, seq, unnest(json_extract(administrations_j, '$[*]')) AS d
          FROM nl_medications WHERE administrations_j IS NOT NULL)
"""

# ords of patients the SQL does not take: any record not certainly clean, a date before birth,
# more records of a kind than the order key can tell apart (SEQ_SPAN)
_SQL_BAD = f"""
    CREATE OR REPLACE TEMP TABLE nl_bad AS
    SELECT ord FROM nl_pat WHERE NOT ok
    UNION SELECT ord FROM nl_observed WHERE NOT ok
    UNION SELECT ord FROM nl_obs WHERE NOT ok
    UNION SELECT ord FROM nl_statuses WHERE NOT ok
    UNION SELECT ord FROM nl_assessments WHERE NOT ok
    UNION SELECT ord FROM nl_conditions WHERE NOT ok
    UNION SELECT ord FROM nl_medications WHERE NOT ok
    UNION SELECT ord FROM nl_administrations WHERE NOT ok
    UNION SELECT ord FROM (
        SELECT ord, date FROM nl_obs UNION ALL SELECT ord, date FROM nl_statuses
        UNION ALL SELECT ord, date FROM nl_assessments UNION ALL SELECT ord, start FROM nl_medications
        UNION ALL SELECT ord, date FROM nl_administrations
    ) r JOIN nl_pat p USING (ord) WHERE r.date < p.birth_date
    UNION SELECT ord FROM (
        SELECT ord, count(*) AS n FROM nl_obs GROUP BY ord UNION ALL
        SELECT ord, count(*) FROM nl_statuses GROUP BY ord UNION ALL
        SELECT ord, count(*) FROM nl_assessments GROUP BY ord
    ) WHERE n > {SEQ_SPAN}
"""


def _good(table: str) -> str:
    return f"{table} WHERE ord NOT IN (SELECT ord FROM nl_bad)"


VIEWS = {
    "patients": """SELECT ord, patient_id, birth_date, sex, demographics_source, file, line, deceased,
        deceased_undated, (SELECT string_agg(
            strftime(start, '%Y-%m-%d') || '/' || coalesce(strftime("end", '%Y-%m-%d'), ''),
            ';' ORDER BY seq) FROM nl_observed o WHERE o.ord = p.ord) AS observed
        FROM nl_pat p WHERE ord NOT IN (SELECT ord FROM nl_bad)""",
    "observations": """SELECT ord, seq, name, date, value_num, value_text, value_bool, unit, reference_high,
        reference_low, method, on_oxygen, attributed_to_sle, source FROM """
    + _good("nl_obs"),
    "statuses": "SELECT ord, seq, name, date, value_num, value_text, value_bool, confirmed_by, source FROM "
    + _good("nl_statuses"),
    "assessments": "SELECT ord, seq, name, date, score, source FROM " + _good("nl_assessments"),
    "conditions": """SELECT ord, seq, name, status, type, onset, "end", severity, classification,
        criteria_met,
        controlled, source, verification FROM """
    + _good("nl_conditions"),
    "medications": """SELECT ord, seq, drug, dose_mg, route, frequency, start, "end", outcome, source FROM """
    + _good("nl_medications"),
    "administrations": "SELECT ord, med_seq, date FROM " + _good("nl_administrations"),
}


def statements(file: str) -> tuple[str, ...]:
    """The statements staging one chunk of ``nl_lines`` from ``file`` (its name as written in
    the registry), in order."""
    return (
        _sql_patients(file),
        _sql_observed(),
        _sql_observations(),
        _sql_statuses(),
        _sql_assessments(),
        _sql_conditions(),
        _sql_medications(),
        _SQL_ADMINISTRATIONS,
        _SQL_BAD,
    )
