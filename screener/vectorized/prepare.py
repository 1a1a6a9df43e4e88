"""Which value counts, in SQL: from a columnar registry to the tables the rule query reads.

:func:`screener.facts.prepare` decides, patient by patient in Python, which value of
each fact counts at the screening date. This module compiles the same decisions
into DuckDB SQL over a columnar registry (:mod:`screener.tables`), so a registry of
millions is screened without a Python step per patient:

* observations: the latest not after the screening date (ties: the one listed
  later), or the latest with the fact's ``prefer_value``; none if older than the
  fact's ``max_age_days``; converted to the rule set's unit through its quantity;
* statuses and assessments: the latest (undated counts as oldest), none if too
  old, none for a person-only fact nobody confirmed;
* a value of the wrong type for the rule set makes the patient an error, as a
  :class:`~screener.errors.PatientDataError` does in Python;
* medication periods get the calendar attributes of ``facts._exposure`` (last
  dose, ongoing, duration, administrations, doses per day/week/month) and the
  cumulative days at dose of ``facts.cumulative_days_at_dose``;
* derived values call the SQL twins of the named clinical functions
  (:mod:`screener.clinical.sql`), rounded as the engine rounds them.

The result is three temporary tables with exactly the columns of
:func:`screener.vectorized.flatten.layout_of` (``p``, ``e``, ``c``; ``e`` and ``c`` also keep
each record's ``seq``, its id in explanations) and ``errors`` (pid, field, message); ``pw``
also says why a value the patient has does not count (``<fact>.__aside``, as
``facts.SetAside``), for :mod:`screener.vectorized.reasons`. The differential tests check
that both routes give the same tables and the same outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from screener import units
from screener.clinical import FUNCTIONS
from screener.clinical.dosing import DAYS_PER_MONTH, FREQUENCIES
from screener.clinical.sql import python_lower, sql_call, without_python_whitespace
from screener.derivation import ROUND_DIGITS, sql_default
from screener.facts import FAILED_OUTCOMES, declared_bounds, window_field, windows_of
from screener.model.records import RECORDS, rule_fields, stored
from screener.model.rules import Derived, FactDef, RuleSet, Window
from screener.vectorized.at import COLUMN, At, at_of, sql_date
from screener.vectorized.flatten import SQL_TYPES, Layout
from screener.vectorized.sql import ident, literal
from screener.which_value import (
    date_of_day_sql,
    day_of_sql,
    disagree_sql,
    is_confirmed_sql,
    is_fresh_sql,
    is_preferred_sql,
    key_day_sql,
    lift_sql,
    order_key_sql,
    same_day_sql,
)

# observation fields a rule may test besides the value and date (its unit is the rule set's, not a test)
_OBSERVATION_FIELDS = tuple(n for n in rule_fields("observation") if n != "date")
# stored medication fields rules test as they are (dates are clipped to the screening date)
_MEDICATION_AS_IS = tuple(f.name for f in stored("medication") if f.rules and f.type != "date")

_QUOTE = "''''"  # SQL text of a single quote
_DEMOGRAPHICS = ("birth_date", "sex")  # the patients table's columns that can be facts


class PreparationError(ValueError):
    """A rule set the SQL preparation cannot express (the Python path still can)."""


def _number_text(expr: str) -> str:
    """A number as Python shows it: 3 for a whole number, 2.5 otherwise."""
    return (
        f"CASE WHEN {expr} = trunc({expr}) AND abs({expr}) < 1e15 "
        f"THEN CAST(CAST({expr} AS BIGINT) AS VARCHAR) ELSE CAST({expr} AS VARCHAR) END"
    )


def _iso(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def _value_column(definition: FactDef) -> str:
    return {
        "number": "value_num",
        "string": "value_text",
        "boolean": "value_bool",
        "date": "value_date",
    }[definition.type]


def _fold_sql(expr: str) -> str:
    """``units._fold`` in SQL: no whitespace, micro signs as u, ^ as *, lower case (exact for
    the ASCII spellings it is compared with)."""
    micro = f"replace(replace({without_python_whitespace(expr)}, '\u00b5', 'u'), '\u03bc', 'u')"
    return python_lower(f"replace({micro}, '^', '*')")


@dataclass(frozen=True)
class Sources:
    """SQL relations for the registry tables (e.g. ``read_parquet('dir/observations/*.parquet')``)."""

    patients: str
    observations: str
    statuses: str
    assessments: str
    conditions: str
    medications: str
    administrations: str


class TablePreparation:
    """The SQL that builds ``p``, ``e``, ``c`` and ``errors`` for one rule set."""

    def __init__(self, ruleset: RuleSet, layout: Layout) -> None:
        self.ruleset = ruleset
        self.layout = layout
        self.windows: dict[str, tuple[str, Window]] = {
            window_field(name, w): (name, w) for name, w in windows_of(ruleset)
        }
        self.derived_scalar = [d for d in ruleset.derived if d.per is None]
        self.derived_names = {d.name for d in self.derived_scalar}
        self.per_exposure = [d for d in ruleset.derived if d.per == "exposure"]
        # keys each base fact must provide: what the rules test plus what derived values read
        self.keys: dict[str, set[str]] = {}
        for column in layout.patients:
            if column.source not in self.derived_names:
                self.keys.setdefault(column.source, set()).add(column.key)
        for d in ruleset.derived:
            for i in d.inputs:
                if i.source in ("context", "exposure") or i.source in self.derived_names:
                    continue
                self.keys.setdefault(i.source, set()).add(i.field or "value")
        for name in self.keys:
            if name not in ruleset.facts:
                raise PreparationError(f"{name} is read by the rules but is not a declared fact")

    # ------------------------------------------------------------------ scalar facts

    def _needs_unit(self, definition: FactDef) -> bool:
        """Whether a fact's stored unit can differ from the rule set's (the loader already
        converted every quantity with a canonical unit to it)."""
        if definition.kind != "observation" or definition.type != "number" or not definition.unit:
            return False
        return units.CANONICAL.get(definition.name) != definition.unit

    def _key(self, name: str, kind: str) -> str:
        """SQL: the order key of fact ``name``'s rows (NULL on other rows)."""
        definition = self.ruleset.facts[name]
        key = "k"
        if definition.prefer_value is not None and kind == "observation":  # which_value rule 3
            preferred = is_preferred_sql(_value_column(definition), literal(definition.prefer_value))
            key = lift_sql("k", preferred)
        return f"CASE WHEN name = {literal(name)} THEN {key} END"

    def _aggregates(self, name: str, kind: str, key: str) -> list[str]:
        """Aggregates over a group's rows, one patient each, picking fact ``name``'s chosen row.

        ``k`` orders a patient's rows (date, then listing order); the fact's key is ``k``
        on its own rows and NULL elsewhere, raised above every other row for a preferred
        value; its maximum also tells the chosen row's date. ``arg_max_null`` returns the
        chosen row's field even when that is NULL (a value of another type, for example).
        """
        definition = self.ruleset.facts[name]
        column = "score" if kind == "assessment" else _value_column(definition)

        def pick(expr: str, label: str) -> str:
            return f"arg_max_null({expr}, {key}) AS {ident(name + '.__' + label)}"

        out = [f"max({key}) AS {ident(name + '.__key')}", pick(column, "raw")]
        if self._same_day_conflicts(name, kind):
            # another row of the chosen row's day whose value disagrees (facts.disagree): the
            # row's flag ``__c_<column>`` (see _group), on this fact's rows
            flag = ident(f"__c_{column}")
            out.append(
                f"coalesce(bool_or({key} IS NOT NULL AND {flag}), FALSE) AS {ident(name + '.__conflict')}"
            )
        if self._needs_unit(definition):
            out.append(pick("unit", "unit"))
        if definition.person_only:
            out.append(pick(is_confirmed_sql("confirmed_by") if kind == "status" else "FALSE", "confirmed"))
        for field in sorted(self.keys[name]):
            if field in _OBSERVATION_FIELDS and kind == "observation":
                out.append(pick(field, field))
        return out

    def _same_day_conflicts(self, name: str, kind: str) -> bool:
        """Whether two values of ``name`` on one day may contradict each other (``facts.prepare``):
        observations, except those with a preferred value (an ANA ever positive)."""
        return kind == "observation" and self.ruleset.facts[name].prefer_value is None

    def _rows(self, relation: str, kind: str, names: list[str], as_of: At, where: str) -> str:
        """A group's rows that may count at ``as_of``, with their order key ``k``."""
        dated = f"date <= {as_of.sql()}"
        undated = kind == "status"  # an undated status counts as the oldest (which_value rule 1)
        if undated:
            dated = f"(date IS NULL OR {dated})"
        key = order_key_sql(day_of_sql("date", undated), "seq")
        return (
            f"(SELECT *, {key} AS k FROM {relation} "
            f"WHERE {where} AND name IN ({', '.join(map(literal, names))}) AND {dated})"
        )

    def _group(self, relation: str, kind: str, as_of: At, where: str) -> str | None:
        """One row per patient with the chosen row's values of every fact of ``kind``."""
        names = [n for n in self.keys if self.ruleset.facts[n].kind == kind]
        if not names:
            return None
        # each fact's key computed once per row, then read by all of that fact's aggregates
        keys = {n: ident(f"k:{n}") for n in names}
        aggregates = [a for n in names for a in self._aggregates(n, kind, keys[n])]
        rows = self._rows(relation, kind, names, as_of, where)
        keyed = ", ".join(f"{self._key(n, kind)} AS {keys[n]}" for n in names)
        inner = f"SELECT *, {keyed} FROM {rows}"
        # Facts checked for same-day conflicts have no preferred value, so their key is ``k`` on
        # their own rows. Per (pid, name): the chosen row's key and value (one aggregation), then
        # whether another row of its day disagrees (a join of those few rows), joined back to the
        # rows as one flag per value column. (Two windows per fact over a patient's rows, as
        # before, made this statement ~2x slower; a flag per row is inlined into every fact.)
        columns = sorted(
            {_value_column(self.ruleset.facts[n]) for n in names if self._same_day_conflicts(n, kind)}
        )
        if columns:
            chosen = ", ".join(
                ["max(k) AS __m", *(f"arg_max_null({c}, k) AS {ident('__v_' + c)}" for c in columns)]
            )
            flags = ", ".join(
                f"bool_or({disagree_sql('r.' + c, 'm.' + ident('__v_' + c), numbers=c == 'value_num')}) "
                f"AS {ident('__c_' + c)}"
                for c in columns
            )
            conflicts = (
                f"SELECT r.pid, r.name, {flags} FROM {rows} r "
                f"JOIN (SELECT pid, name, {chosen} FROM {rows} GROUP BY pid, name) m "
                f"ON r.pid = m.pid AND r.name = m.name AND r.k <> m.__m AND {same_day_sql('r.k', 'm.__m')} "
                "GROUP BY r.pid, r.name"
            )
            inner = f"SELECT * FROM ({inner}) LEFT JOIN ({conflicts}) USING (pid, name)"
        return f"SELECT pid, {', '.join(aggregates)} FROM ({inner}) GROUP BY pid"

    def _shown(self, relation: str, kind: str, as_of: At, where: str) -> str | None:
        """The chosen value as text, for the patients and facts flagged in ``errors`` only."""
        names = [n for n in self.keys if self.ruleset.facts[n].kind == kind]
        if not names:
            return None
        number = _number_text("score" if kind == "assessment" else "value_num")
        shown = (
            number
            if kind == "assessment"
            else f"coalesce({number}, {_QUOTE} || value_text || {_QUOTE}, "
            "lower(CAST(value_bool AS VARCHAR)), 'nothing')"
        )
        keys = " ".join(f"WHEN {literal(n)} THEN {self._key(n, kind)}" for n in names)
        return (
            f"SELECT pid, name, arg_max_null({shown}, CASE name {keys} END) AS shown "
            f"FROM {self._rows(relation, kind, names, as_of, where)} r "
            f"WHERE (pid, name) IN (SELECT (pid, field) FROM errors WHERE needs_value) GROUP BY pid, name"
        )

    def _fact_counts(self, name: str, as_of: At) -> list[str]:
        """``__date`` (the chosen row's, from its key) and ``__counts`` (it is fresh enough and,
        if person-only, confirmed) of one recorded fact, over the joined groups."""
        definition = self.ruleset.facts[name]
        if definition.kind == "demographic":
            return []

        def col(label: str) -> str:
            return ident(f"{name}.__{label}")

        dated = date_of_day_sql(key_day_sql(col("key")))
        counts = f"{col('key')} IS NOT NULL"
        if definition.max_age_days is not None:  # which_value rule 4
            counts += f" AND {is_fresh_sql(dated, as_of.sql(), definition.max_age_days)}"
        if definition.person_only:
            counts += f" AND {col('confirmed')}"
        if self._same_day_conflicts(name, definition.kind):
            counts += f" AND NOT {col('conflict')}"
        return [f"{dated} AS {col('date')}", f"coalesce({counts}, FALSE) AS {col('counts')}"]

    def _aside_sql(self, name: str, as_of: date) -> list[str]:
        """``__aside``: why a value the patient has does not count (``facts.SetAside.reason``, the
        text the engine's missing facts show), and ``__murky``: it does not count for a reason
        that text is not built for here (a contradiction), for :mod:`screener.vectorized.reasons`."""
        definition = self.ruleset.facts[name]
        if definition.kind == "demographic":
            return [
                f"CAST(NULL AS VARCHAR) AS {ident(name + '.__aside')}",
                f"FALSE AS {ident(name + '.__murky')}",
            ]

        def col(label: str) -> str:
            return ident(f"{name}.__{label}")

        whys = []
        if definition.max_age_days is not None:
            fresh = is_fresh_sql(col("date"), sql_date(as_of), definition.max_age_days)
            stale = f"{col('date')} IS NOT NULL AND NOT {fresh}"
            whys.append(
                f"WHEN {stale} THEN 'latest value dated ' || CAST({col('date')} AS VARCHAR) || "
                f"{literal(f' is older than {definition.max_age_days} days')}"
            )
        if definition.person_only and definition.kind != "observation":
            whys.append(
                f"WHEN NOT {col('confirmed')} THEN 'recorded but not confirmed by a person (confirmed_by)'"
            )
        future = "NULL"
        if definition.kind == "observation":
            future = f"'dated ' || CAST({col('future')} AS VARCHAR) || ', after the screening date'"
        aside = (
            f"CASE WHEN {col('key')} IS NULL THEN {future} WHEN {col('counts')} THEN NULL "
            f"{' '.join(whys)} END"
        )
        return [
            f"{aside} AS {ident(name + '.__aside')}",
            f"coalesce({col('key')} IS NOT NULL AND NOT {col('counts')} AND ({aside}) IS NULL, FALSE) "
            f"AS {ident(name + '.__murky')}",
        ]

    def _future(self, relation: str, as_of: date, where: str) -> str | None:
        """Per patient, each observed fact's first listed value dated after ``as_of`` (``__future``):
        the engine names it when no value counts yet."""
        names = [n for n in self.keys if self.ruleset.facts[n].kind == "observation"]
        if not names:
            return None
        picks = ", ".join(
            f"arg_min(date, seq) FILTER (WHERE name = {literal(n)}) AS {ident(n + '.__future')}"
            for n in names
        )
        return (
            f"SELECT pid, {picks} FROM {relation} WHERE {where} AND date > {sql_date(as_of)} "
            f"AND name IN ({', '.join(map(literal, names))}) GROUP BY pid"
        )

    def _fact_columns(self, name: str, as_of: At) -> list[str]:
        """Columns of one fact over the joined groups: its keys, ``__present`` (it counts) and
        ``__error`` (why the patient cannot be screened, if it cannot)."""
        definition = self.ruleset.facts[name]

        def col(label: str) -> str:
            return ident(f"{name}.__{label}")

        if definition.kind == "demographic":
            # only birth date and sex are recorded (as in screener.facts.prepare); others stay unknown
            raw = name if name in _DEMOGRAPHICS else f"CAST(NULL AS {SQL_TYPES[definition.type]})"
            counts, dated = f"({raw} IS NOT NULL)", "CAST(NULL AS DATE)"
        else:  # computed once per patient by _fact_counts
            counts, raw, dated = col("counts"), col("raw"), col("date")
        bad = f"{raw} IS NULL"
        if definition.values:
            bad += f" OR {raw} NOT IN ({', '.join(map(literal, definition.values))})"
        wanted = f"one of {list(definition.values)}" if definition.values else f"a {definition.type}"
        message = (
            f"{literal(name)} || coalesce(' dated ' || CAST({dated} AS VARCHAR), '') || "
            f"{literal(f': expected {wanted}, got ')}"
        )
        needs_value = f"{counts} AND ({bad})"
        if definition.kind == "demographic":  # the value is at hand: name it now
            message += f" || {_QUOTE} || CAST({raw} AS VARCHAR) || {_QUOTE}"
            needs_value = "FALSE"
        unit_error = "NULL"
        value = raw
        if self._needs_unit(definition):
            value, no_conversion = self._converted(definition, raw, col("unit"))
            unit_error = (
                f"CASE WHEN {no_conversion} THEN {literal(name)} || ' is in ' || {col('unit')} || "
                f"{literal(f'; the rule set needs {definition.unit} and no conversion is known')} END"
            )
        bounds = declared_bounds(definition)
        if bounds is not None:  # screener.facts.implausible, in SQL
            quantity, low, high = bounds
            implausible = (
                f"CASE WHEN NOT ({value} BETWEEN {low!r} AND {high!r}) THEN {literal(name + ' = ')} || "
                f"CAST(CAST({value} AS DOUBLE) AS VARCHAR) || "
                f"{literal(f' {definition.unit} is impossible: expected {low:g}..{high:g} ({quantity})')} END"
            )
            unit_error = f"coalesce({unit_error}, {implausible})"
        items = [
            f"{counts} AND NOT ({bad}) AS {ident(name + '.__present')}",
            f"CASE WHEN {counts} THEN CASE WHEN {bad} THEN {message} ELSE {unit_error} END END "
            f"AS {ident(name + '.__error')}",
            f"{needs_value} AS {ident(name + '.__needs_value')}",
        ]
        for key in sorted(self.keys[name]):
            items.append(
                f"CASE WHEN {counts} THEN {self._key_sql(name, key, value, dated, as_of)} END "
                f"AS {ident(name + '.' + key)}"
            )
        return items

    def _key_sql(self, name: str, key: str, value: str, dated: str, as_of: At) -> str:
        """SQL for fact ``name``'s prepared ``key`` over the joined groups."""
        definition = self.ruleset.facts[name]
        if key == "value":
            return _iso(value) if definition.type == "date" else value
        if key in self.windows:
            field, window = self.windows[key]
            sources = {"date": dated} | ({"value": value} if definition.type == "date" else {})
            source = sources.get(field)
            if source is None:
                raise PreparationError(f"{name}.{key}: no date field {field!r} in the registry tables")
            return f"date_diff('day', {as_of.window_start(window)}, {source})"
        if key == "date":
            return _iso(dated)
        if key in _OBSERVATION_FIELDS and definition.kind == "observation":
            return ident(f"{name}.__{key}")
        raise PreparationError(f"{name}.{key}: the SQL preparation does not provide this field")

    def _converted(self, definition: FactDef, raw: str, unit: str) -> tuple[str, str]:
        """(value in the rule set's unit, condition under which no conversion is known)."""
        target = definition.unit
        assert target is not None
        same = f"({unit} IS NULL OR {unit} = {literal(target)})"
        quantity = definition.quantity
        if quantity is None or units.CANONICAL.get(quantity) != target:
            return f"CASE WHEN {same} THEN {raw} END", f"NOT {same}"
        factors: dict[str, float] = {}
        for spelling in units.accepted_units(quantity):
            key = units._fold(spelling)
            if not key.isascii():
                raise PreparationError(
                    f"unit spelling {spelling!r} of {quantity}: SQL folding is exact for ASCII"
                )
            factors[key] = units.normalize(quantity, 1.0, spelling)
        cases = " ".join(f"WHEN {literal(k)} THEN {raw} * CAST({v!r} AS DOUBLE)" for k, v in factors.items())
        folded = _fold_sql(unit)
        value = f"CASE WHEN {same} THEN {raw} ELSE CASE {folded} {cases} END END"
        known = ", ".join(literal(k) for k in factors)
        return value, f"(NOT {same} AND {folded} NOT IN ({known}))"

    # ------------------------------------------------------------------ statements

    def statements(self, s: Sources, when: date | At, pids: tuple[int, int] | None = None) -> list[str]:
        """SQL statements that create temp tables ``errors``, ``pw`` (wide), ``p``, ``e`` and ``c``.

        ``pids`` = (first, last) restricts to a range of pids (chunked screening). ``when``:
        the screening date, or ``At()`` for re-keyed sources whose rows carry their own
        (:mod:`screener.vectorized.at`; ``pid`` is then the key of a patient and a date).
        """
        as_of = at_of(when)
        where = "TRUE" if pids is None else f"pid BETWEEN {pids[0]} AND {pids[1]}"
        groups = [
            (alias, self._group(relation, kind, as_of, where))
            for alias, relation, kind in (
                ("go", s.observations, "observation"),
                ("gs", s.statuses, "status"),
                ("ga", s.assessments, "assessment"),
            )
        ]
        demographics = [
            n for n in self.keys if n in _DEMOGRAPHICS and self.ruleset.facts[n].kind == "demographic"
        ]
        future = None if as_of.when is None else self._future(s.observations, as_of.when, where)
        if future:
            groups.append(("gf", future))
        joins = "".join(f" LEFT JOIN ({sql}) {alias} USING (pid)" for alias, sql in groups if sql)
        counts = [item for name in self.keys for item in self._fact_counts(name, as_of)]
        items = [item for name in self.keys for item in self._fact_columns(name, as_of)]
        if not as_of.per_key:  # what the SQL reasons read (screener.vectorized.reasons), on the one date
            assert as_of.when is not None
            items += [item for name in self.keys for item in self._aside_sql(name, as_of.when)]
        patients = (
            f"(SELECT pid{''.join(', ' + n for n in demographics)}{as_of.carried()} FROM {s.patients} "
            f"WHERE {where}) pt"
        )
        joined = f"SELECT *{''.join(', ' + c for c in counts)} FROM {patients}{joins}"
        joined = self._declared_conflicts(joined)
        facts = f"SELECT pid{as_of.carried()}, {', '.join(items)} FROM ({joined})"
        statements = [f"CREATE OR REPLACE TEMP TABLE facts AS {facts}"]
        unpivot = (
            "\nUNION ALL\n".join(
                f"SELECT pid, {literal(n)} AS field, {ident(n + '.__error')} AS message, "
                f"{ident(n + '.__needs_value')} AS needs_value FROM facts "
                f"WHERE {ident(n + '.__error')} IS NOT NULL"
                for n in self.keys
            )
            or "SELECT CAST(NULL AS BIGINT) AS pid, '' AS field, '' AS message, FALSE AS needs_value "
            "WHERE FALSE"
        )
        statements.append(f"CREATE OR REPLACE TEMP TABLE errors AS {unpivot}")
        shown = [
            sql
            for relation, kind in (
                (s.observations, "observation"),
                (s.statuses, "status"),
                (s.assessments, "assessment"),
            )
            if (sql := self._shown(relation, kind, as_of, where))
        ]
        if shown:  # a wrong value is named in its message (few patients: a second, small query)
            statements.append(
                "UPDATE errors SET message = message || v.shown, needs_value = FALSE "
                f"FROM ({' UNION ALL '.join(shown)}) v WHERE errors.needs_value "
                "AND v.pid = errors.pid AND v.name = errors.field"
            )
        layer = "(SELECT * FROM facts ANTI JOIN errors USING (pid))"
        for d in self._derive_order():
            layer = f"(SELECT *, {self._derived_scalar_sql(d, as_of)} FROM {layer})"
        columns = ", ".join(
            f"CAST({ident(c.source + '.value' if c.source in self.derived_names else c.name)} "
            f"AS {SQL_TYPES[c.type]}) AS {ident(c.name)}"
            for c in self.layout.patients
        )
        statements.append(f"CREATE OR REPLACE TEMP TABLE pw AS SELECT * FROM {layer}")
        statements.append(f"CREATE OR REPLACE TEMP TABLE p AS SELECT pid, {columns} FROM pw")
        statements.append(f"CREATE OR REPLACE TEMP TABLE e AS {self._exposures(s, as_of, where)}")
        statements.append(f"CREATE OR REPLACE TEMP TABLE c AS {self._conditions(s, as_of, where)}")
        return statements

    def _declared_conflicts(self, joined: str) -> str:
        """Both facts of a contradiction the rule set declares stop counting.

        As ``facts._declared_conflicts``: both counted, with the declared values, dated
        at most ``within_days`` apart (an undated status counts as close).
        """
        found: dict[str, list[str]] = {}
        for x in self.ruleset.conflicts:
            (a, va), (b, vb) = x.when
            if a not in self.keys or b not in self.keys:
                continue  # a fact no rule reads: nothing to set aside in the query

            def col(name: str, label: str) -> str:
                return ident(f"{name}.__{label}")

            apart = f"abs(date_diff('day', {col(a, 'date')}, {col(b, 'date')}))"
            close = f"coalesce({apart} <= {int(x.within_days)}, TRUE)"
            both = (
                f"({col(a, 'counts')} AND {col(b, 'counts')} "
                f"AND {col(a, 'raw')} IS NOT DISTINCT FROM {literal(va)} "
                f"AND {col(b, 'raw')} IS NOT DISTINCT FROM {literal(vb)} AND {close})"
            )
            for name in (a, b):
                found.setdefault(name, []).append(both)
        if not found:
            return joined
        replaced = ", ".join(
            f"({ident(n + '.__counts')} AND NOT ({' OR '.join(c)})) AS {ident(n + '.__counts')}"
            for n, c in found.items()
        )
        return f"SELECT * REPLACE ({replaced}) FROM ({joined})"

    # ------------------------------------------------------------------ derived values

    def _derive_order(self) -> list[Derived]:
        """Scalar derived values in an order where each one's inputs come first (as the engine chains)."""
        done: set[str] = set(self.keys)
        order: list[Derived] = []
        pending = list(self.derived_scalar)
        while pending:
            ready = [d for d in pending if all(src in done for src in d.fact_inputs())]
            if not ready:
                break  # never derivable: the engine leaves them unknown too
            for d in ready:
                pending.remove(d)
                order.append(d)
                done.add(d.name)
        return order

    def _input_sql(
        self, d: Derived, as_of: At, exposure: str | None = None, facts: str = ""
    ) -> tuple[dict[str, str], str]:
        """Keyword SQL arguments for ``d``'s function and the condition that every fact exists.

        ``facts`` prefixes the patient-level columns (``"pw."`` beside an exposure alias).
        """
        kwargs: dict[str, str] = {}
        defaults = dict(d.defaults)
        present: list[str] = []
        for i in d.inputs:
            if i.source == "context":
                value = as_of.sql(f"{exposure}." if exposure else "")
            elif i.source == "exposure":
                assert exposure is not None
                value = f"{exposure}.{ident(i.field or '')}"
                if i.field in ("start", "end", "last_dose"):
                    value = f"CAST({value} AS DATE)"
            else:
                present.append(facts + ident(i.source + ".__present"))
                column = facts + ident(f"{i.source}.{i.field or 'value'}")
                date_typed = i.source in self.ruleset.facts and self.ruleset.facts[i.source].type == "date"
                value = f"CAST({column} AS DATE)" if date_typed and not i.field else column
            if i.param in defaults:
                # a default of the wrong type is NULL: unknown, as the Python function's TypeError
                value = f"coalesce({value}, {sql_default(d.function, i.param, defaults[i.param], literal)})"
            kwargs[i.param] = value
        return kwargs, " AND ".join(present) or "TRUE"

    def _rounded(self, d: Derived, kwargs: dict[str, str]) -> str:
        call = sql_call(d.function, **kwargs)
        every = " AND ".join(f"({v}) IS NOT NULL" for v in kwargs.values()) or "TRUE"
        if FUNCTIONS[d.function].unit not in ("", "bool"):
            # the engine rounds floats with round(x, ROUND_DIGITS): half to even, as DuckDB's round_even
            call = f"round_even(CAST({call} AS DOUBLE), {ROUND_DIGITS})"
        return f"(CASE WHEN {every} THEN {call} END)"

    def _derived_scalar_sql(self, d: Derived, as_of: At) -> str:
        kwargs, present = self._input_sql(d, as_of)
        value = f"(CASE WHEN {present} THEN {self._rounded(d, kwargs)} END)"
        return (
            f"{value} AS {ident(d.name + '.value')}, ({value}) IS NOT NULL AS {ident(d.name + '.__present')}"
        )

    # ------------------------------------------------------------------ exposures

    def _exposures(self, s: Sources, as_of: At, where: str) -> str:
        d = as_of.sql()  # inside a single table's SELECT (its own column, if per key)
        per_day = " ".join(f"WHEN {literal(k)} THEN CAST({v!r} AS DOUBLE)" for k, v in FREQUENCIES.items())

        def dose(days: float) -> str:
            return (
                f"CASE WHEN dose_mg IS NOT NULL AND frequency IS NOT NULL AND frequency <> 'once' "
                f"THEN round_even(dose_mg * (CASE frequency {per_day} END) * CAST({days!r} AS DOUBLE), 6) END"
            )

        failed = ", ".join(map(literal, FAILED_OUTCOMES))
        e0 = f"""
        SELECT m.pid, m.seq, {", ".join("m." + ident(n) for n in _MEDICATION_AS_IS)}, m.start,
               CASE WHEN m."end" <= {d} THEN m."end" END AS end_{as_of.carried("m.")},
               (m.frequency = 'once' OR (m.frequency IS NULL AND coalesce(aa.n_all, 0) > 0)) AS single,
               CASE WHEN m.frequency = 'once' OR (m.frequency IS NULL AND coalesce(aa.n_all, 0) > 0)
                    THEN FALSE ELSE (m."end" IS NULL OR m."end" > {d}) END AS ongoing,
               a.n AS n_adm, a.first_adm, a.last_adm
        FROM (SELECT * FROM {s.medications} WHERE {where} AND start <= {d}) m
        LEFT JOIN (SELECT pid, med_seq, count(*) AS n, min(date) AS first_adm, max(date) AS last_adm
                   FROM {s.administrations} WHERE {where} AND date <= {d} GROUP BY pid, med_seq) a
               ON a.pid = m.pid AND a.med_seq = m.seq
        LEFT JOIN (SELECT pid, med_seq, count(*) AS n_all FROM {s.administrations} WHERE {where}
                   GROUP BY pid, med_seq) aa
               ON aa.pid = m.pid AND aa.med_seq = m.seq
        """
        e1 = f"""
        SELECT *, CASE WHEN ongoing THEN {d} ELSE coalesce(end_, last_dose, start) END AS period_end
        FROM (SELECT *, CASE WHEN single THEN coalesce(last_adm, start)
                             WHEN ongoing THEN {d} ELSE coalesce(last_adm, end_) END AS last_dose
              FROM ({e0}))
        """
        e2 = f"""
        SELECT *, date_diff('day', start, period_end) + 1 AS duration_days,
               {dose(1.0)} AS daily_dose_mg, {dose(7.0)} AS weekly_dose_mg,
               {dose(DAYS_PER_MONTH)} AS monthly_dose_mg,
        FROM ({e1})
        """
        statements_cte = f"e2 AS ({e2}), {self._cumulative_cte()}"
        dates = {"start": "e2.start", "end": "e2.end_", "last_dose": "e2.last_dose"}
        windows = [
            f"date_diff('day', {as_of.window_start(w, 'e2.')}, {dates[field]}) AS {ident(key)}"
            for key, (field, w) in self.windows.items()
            if field in dates
        ]
        e3 = f"""
        SELECT e2.pid, e2.seq, {", ".join("e2." + ident(n) for n in _MEDICATION_AS_IS)}, e2.daily_dose_mg,
               e2.weekly_dose_mg, e2.monthly_dose_mg, e2.start, e2.end_, e2.last_dose, e2.ongoing,
               e2.duration_days{as_of.carried("e2.")},
               CASE WHEN e2.daily_dose_mg IS NOT NULL THEN coalesce(cum.days, e2.duration_days) END
                    AS cumulative_days_at_dose,
               CASE WHEN e2.n_adm > 0 THEN e2.n_adm WHEN e2.frequency = 'once' THEN 1 END AS administrations,
               CASE WHEN e2.n_adm > 0 THEN date_diff('day', e2.first_adm, e2.last_adm)
                    WHEN e2.frequency = 'once' THEN 0 END AS administration_span_days,
               CASE WHEN e2.outcome IS NOT NULL THEN e2.outcome IN ({failed}) END AS failed
               {"".join(", " + w for w in windows)}
        FROM e2 LEFT JOIN cum ON cum.pid = e2.pid AND cum.seq = e2.seq
        """
        plain = (
            *_MEDICATION_AS_IS,
            "daily_dose_mg",
            "weekly_dose_mg",
            "monthly_dose_mg",
            "ongoing",
            "duration_days",
            "cumulative_days_at_dose",
            "administrations",
            "administration_span_days",
            "failed",
        )
        fields = {f: f"x.{f}" for f in plain}
        fields |= {"start": _iso("x.start"), "end": _iso("x.end_"), "last_dose": _iso("x.last_dose")}
        fields |= {key: f"x.{ident(key)}" for key, (field, _) in self.windows.items() if field in dates}
        derived: dict[str, str] = {}
        lookups: list[str] = []
        joins = ""
        for i, d in enumerate(self.per_exposure):
            if any(x.source not in ("exposure", "context") for x in d.inputs):
                derived[d.name] = self._per_exposure_sql(d, as_of)
                continue
            # inputs from the exposure alone (drug, dose): computed once per distinct input
            used = sorted({x.field or "" for x in d.inputs if x.source == "exposure"})
            if as_of.per_key and any(x.source == "context" for x in d.inputs):
                used.append(COLUMN)  # one value per distinct input and screening date
            kwargs, _ = self._input_sql(d, as_of, exposure="x")
            keys = ", ".join(f"x.{ident(f)}" for f in used)
            lookups.append(
                f"dv{i} AS (SELECT *, {self._rounded(d, kwargs)} AS v "
                f"FROM (SELECT DISTINCT {keys} FROM x WHERE {self._match(d)}) x)"
            )
            on = " AND ".join(f"dv{i}.{ident(f)} IS NOT DISTINCT FROM x.{ident(f)}" for f in used)
            joins += f" LEFT JOIN dv{i} ON {on}"
            derived[d.name] = f"CASE WHEN {self._match(d)} THEN dv{i}.v END"
        columns = []
        for column in self.layout.exposures:
            expr = derived.get(column.name) or fields.get(column.name)
            if expr is None:
                raise PreparationError(f"exposure field {column.name}: not provided by the SQL preparation")
            columns.append(f"CAST({expr} AS {SQL_TYPES[column.type]}) AS {ident(column.name)}")
        ctes = ", ".join([statements_cte, f"x AS ({e3})", *lookups])
        return (
            f"WITH {ctes} SELECT x.pid AS pid, {', '.join(columns)}, x.seq AS seq "
            f"FROM x JOIN pw ON pw.pid = x.pid{joins}"
        )

    @staticmethod
    def _cumulative_cte() -> str:
        """``facts.cumulative_days_at_dose`` over each patient's periods of one drug, in SQL.

        Periods are ordered by start (then listing order) as ``k``. For a period x at
        daily dose q, the run reaches back while the earlier period's dose is >= q and
        the next period starts at most a day after it ends; forward while the later
        period's dose is >= q and it starts at most a day after the run's end so far.
        Calendar days of the run's periods are counted once. Only drugs with several
        periods go through this; a drug's only period is its own run (its duration).
        """
        return """
        multi AS (SELECT pid, drug FROM e2 GROUP BY pid, drug HAVING count(*) > 1),
        per AS (SELECT pid, drug, seq, start, start + CAST(duration_days - 1 AS INTEGER) AS last_day,
                       daily_dose_mg AS q, row_number() OVER periods AS k,
                       lead(start) OVER periods AS next_start
                FROM e2 SEMI JOIN multi USING (pid, drug)
                WINDOW periods AS (PARTITION BY pid, drug ORDER BY start, seq)),
        back AS (SELECT x.pid, x.seq, coalesce(max(y.k), 0) + 1 AS first_k
                 FROM per x LEFT JOIN per y ON y.pid = x.pid AND y.drug = x.drug AND y.k < x.k
                      AND (y.q IS NULL OR y.q < x.q OR date_diff('day', y.last_day, y.next_start) > 1)
                 WHERE x.q IS NOT NULL GROUP BY x.pid, x.seq),
        fwd_pairs AS (SELECT x.pid, x.seq, x.k AS xk, x.q AS xq, y.k, y.q, y.start,
                             max(y.last_day) OVER (PARTITION BY x.pid, x.seq ORDER BY y.k
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS run_end
                      FROM per x JOIN per y ON y.pid = x.pid AND y.drug = x.drug AND y.k >= x.k
                      WHERE x.q IS NOT NULL),
        fwd AS (SELECT pid, seq,
                       coalesce(min(k) FILTER (WHERE k > xk AND (q IS NULL OR q < xq
                                OR date_diff('day', run_end, start) > 1)) - 1, max(k)) AS last_k
                FROM fwd_pairs GROUP BY pid, seq),
        run AS (SELECT b.pid, b.seq, z.k, z.start, z.last_day
                FROM back b JOIN fwd f ON f.pid = b.pid AND f.seq = b.seq
                JOIN per x ON x.pid = b.pid AND x.seq = b.seq
                JOIN per z ON z.pid = x.pid AND z.drug = x.drug AND z.k BETWEEN b.first_k AND f.last_k),
        cov AS (SELECT pid, seq, start, last_day,
                       max(last_day) OVER (PARTITION BY pid, seq ORDER BY start, k
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
                FROM run),
        cum AS (SELECT pid, seq,
                       CAST(sum(greatest(0, date_diff('day',
                           CASE WHEN prev_end IS NULL OR prev_end < start - 1
                                THEN start - 1 ELSE prev_end END,
                           last_day))) AS BIGINT) AS days
                FROM cov GROUP BY pid, seq)
        """

    @staticmethod
    def _match(d: Derived) -> str:
        return (
            " AND ".join(f"x.{ident(key)} IN ({', '.join(map(literal, values))})" for key, values in d.match)
            or "TRUE"
        )

    def _per_exposure_sql(self, d: Derived, as_of: At) -> str:
        kwargs, present = self._input_sql(d, as_of, exposure="x", facts="pw.")
        return f"(CASE WHEN {self._match(d)} AND {present} THEN {self._rounded(d, kwargs)} END)"

    # ------------------------------------------------------------------ conditions

    def _conditions(self, s: Sources, as_of: At, where: str) -> str:
        d = as_of.sql("x.")
        ended = f'(x."end" IS NOT NULL AND x."end" <= {d})'
        active = f"(x.status = 'active' AND NOT {ended})"
        y_active = f"""(y.status = 'active' AND NOT (y."end" IS NOT NULL AND y."end" <= {d}))"""
        recurrence = f'(CASE WHEN {active} THEN x.onset > y."end" ELSE y.onset > x."end" END)'
        # recorded both active and resolved (facts.condition_conflicts): whether it is active is unknown
        contradicted = (
            f"EXISTS (SELECT 1 FROM {s.conditions} y WHERE y.pid = x.pid AND y.seq <> x.seq "
            f"AND y.name = x.name AND y.type IS NOT DISTINCT FROM x.type "
            f"AND (y.onset IS NULL OR y.onset <= {d}) AND {y_active} <> {active} "
            f"AND NOT coalesce({recurrence}, FALSE))"
        )
        fields = {  # stored fields as they are (dates as ISO text), from screener.model.records
            f.name: _iso(f"x.{ident(f.name)}") if f.type == "date" else f"x.{ident(f.name)}"
            for f in RECORDS["condition"]
            if f.stored and f.rules
        }
        fields["status"] = f"CASE WHEN {ended} THEN 'resolved' ELSE x.status END"
        fields["active"] = f"CASE WHEN {contradicted} THEN NULL ELSE {active} END"
        for key, (field, w) in self.windows.items():
            source = {"onset": "x.onset", "end": 'x."end"'}.get(field)
            if source:
                fields[key] = f"date_diff('day', {as_of.window_start(w, 'x.')}, {source})"
        columns = []
        for column in self.layout.conditions:
            expr = fields.get(column.name)
            if expr is None:
                raise PreparationError(f"condition field {column.name}: not provided by the SQL preparation")
            columns.append(f"CAST({expr} AS {SQL_TYPES[column.type]}) AS {ident(column.name)}")
        return (
            f"SELECT x.pid AS pid, {', '.join(columns)}, x.seq AS seq FROM {s.conditions} x "
            "JOIN pw ON pw.pid = x.pid "
            f"WHERE {where.replace('pid', 'x.pid')} AND (x.onset IS NULL OR x.onset <= {d})"
        )
