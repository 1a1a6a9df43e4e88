"""``screener batch --rules DIR --engine vectorized``: a columnar registry against every trial.

One pass over the registry (:class:`screener.vectorized.portfolio.PortfolioVectorized`):
per chunk of pids, each trial's query; the patients whose records leave something
uncertain are screened by that trial's engine, as in the single-trial fast path
(:mod:`screener.batch.fast`); every row has its missing facts and near misses computed in
SQL (:mod:`screener.vectorized.reasons`; ``explain="outcomes"``: outcomes only), and with
``explain="open"`` the patients still in reach get the engine's eligible-from dates. Rows
are gathered in DuckDB and written in patient order, one per patient and trial (``trial``
column) or one per patient with a decision column per trial (``wide``). The CSV leaves out
the per-criterion outcome columns of the single-trial file (each trial has its own
criteria); the JSONL keeps them in ``outcomes``. A funnel per trial is counted with numpy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from screener.batch.fast import _ELIGIBLE_FROM, _literal
from screener.batch.fast_piece import EXPLAINED_SQL, _error_records, _explain, _screen_uncertain
from screener.batch.outputs import BatchOutputs
from screener.batch.portfolio import (
    ERROR_CELL,
    WIDE_LEAD,
    PortfolioBatchReport,
    PortfolioRowWriter,
    finish,
    funnels_of,
    portfolio_signature,
)
from screener.batch.progress import Progress
from screener.batch.runner import BatchOptions
from screener.batch.safe_io import csv_cell_sql, refuse_existing
from screener.batch.summary import Funnel
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location
from screener.outputs.provenance import PROVENANCE_COLUMNS, Provenance
from screener.portfolio.load import Portfolio
from screener.vectorized.portfolio import PortfolioVectorized
from screener.vectorized.reasons import EMPTY_REASONS, Reasons, unknown_cell_sql
from screener.vectorized.sql import ident, outcome_lists

_ROWS = (
    "CREATE OR REPLACE TEMP TABLE portfolio_rows (pid BIGINT, trial_index INTEGER, trial VARCHAR, "
    "decision VARCHAR, decision_reason VARCHAR, failing VARCHAR[], unknown_text VARCHAR, "
    "unknown STRUCT(id VARCHAR, missing VARCHAR[])[], eligible_from VARCHAR, near_misses VARCHAR[], "
    "outcomes JSON, explained BOOLEAN, " + ", ".join(f"{ident(c)} VARCHAR" for c in PROVENANCE_COLUMNS) + ")"
)
_FAILED = "CREATE OR REPLACE TEMP TABLE portfolio_failed (pid BIGINT, trial_index INTEGER)"


def _insert_sql(index: int, trial: str, criteria: tuple[str, ...], provenance: dict[str, str]) -> str:
    """This trial's rows of the current chunk (``outcomes``, ``explained``) into portfolio_rows."""
    parts = outcome_lists(criteria)
    plain = f"list_transform({parts['unknown']}, lambda i: {{'id': i, 'missing': NULL::VARCHAR[]}})"
    outcomes = "to_json({" + ", ".join(f"{_literal(c)}: {parts[c]}" for c in criteria) + "})"
    stamp = ", ".join(_literal(provenance[c]) for c in PROVENANCE_COLUMNS)
    return (
        f"INSERT INTO portfolio_rows SELECT outcomes.pid, {index}, {_literal(trial)}, "
        f"coalesce(ex.decision, {parts['decision']}), ex.decision_reason, {parts['failing']}, "
        f"coalesce(ex.unknown_text, CASE WHEN ex.pid IS NULL THEN {unknown_cell_sql('rs.unknown')} END, "
        f"nullif(array_to_string({parts['unknown']}, ';'), '')), "
        f"coalesce(ex.unknown_list, rs.unknown, {plain}), {_ELIGIBLE_FROM}, "
        f"coalesce(ex.near_misses, rs.near_misses, []), {outcomes}, ex.pid IS NOT NULL, {stamp} "
        "FROM outcomes LEFT JOIN explained ex ON ex.pid = outcomes.pid "
        "LEFT JOIN eligible_at el ON el.pid = outcomes.pid "
        "LEFT JOIN reasons rs ON rs.pid = outcomes.pid"
    )


def _long_sql(fmt: str) -> str:
    joined = "portfolio_rows r JOIN registry_patients x ON x.pid = r.pid ORDER BY r.pid, r.trial_index"
    stamp = ", ".join(f"r.{ident(c)}" for c in PROVENANCE_COLUMNS)
    if fmt == "jsonl":
        return (
            "SELECT x.patient_id, r.trial, r.decision, r.decision_reason, r.failing, r.unknown, "
            f"r.eligible_from, r.near_misses, r.outcomes, x.file AS source, x.line, {stamp}, r.explained "
            f"FROM {joined}"
        )
    cell = csv_cell_sql
    failing = cell("nullif(array_to_string(r.failing, ';'), '')")
    near = cell("nullif(array_to_string(r.near_misses, '; '), '')")
    return (
        f"SELECT {cell('x.patient_id')}, r.trial, r.decision, {cell('r.decision_reason')}, "
        f"{failing}, {cell('r.unknown_text')}, {cell('r.eligible_from')}, {near}, "
        f"{cell('x.file')}, x.line, {stamp} FROM {joined}"
    )


def _wide_sql(fmt: str, trials: tuple[str, ...]) -> str:
    def cell(i: int, column: str) -> str:
        failed = f"(r.pid, {i}) IN (SELECT (pid, trial_index) FROM portfolio_failed)"
        value = f"max(CASE WHEN r.trial_index = {i} THEN r.{column} END)"
        if column == "decision":
            return f"CASE WHEN bool_or({failed}) THEN {_literal(ERROR_CELL)} ELSE {value} END"
        return value

    lead = (
        "any_value(x.patient_id) AS patient_id, any_value(x.file) AS source, any_value(x.line) AS line, "
        "any_value(r.as_of) AS as_of, any_value(r.screener_version) AS screener_version"
    )
    grouped = "FROM portfolio_rows r JOIN registry_patients x ON x.pid = r.pid GROUP BY r.pid ORDER BY r.pid"
    if fmt == "jsonl":
        per = ", ".join(
            f"{_literal(t)}: {{'decision': {cell(i, 'decision')}, "
            f"'eligible_from': {cell(i, 'eligible_from')}, 'ruleset_sha256': {cell(i, 'ruleset_sha256')}}}"
            for i, t in enumerate(trials)
        )
        return f"SELECT {lead}, {{{per}}} AS trials {grouped}"
    columns = ", ".join(
        f"{cell(i, 'decision')} AS {ident(t)}, {cell(i, 'eligible_from')} AS {ident(t + '_eligible_from')}"
        for i, t in enumerate(trials)
    )
    lead_csv = ", ".join(
        csv_cell_sql(f"any_value({src})") + f" AS {name}"
        if name in ("patient_id", "source")
        else f"any_value({src}) AS {name}"
        for name, src in zip(
            WIDE_LEAD, ("x.patient_id", "x.file", "x.line", "r.as_of", "r.screener_version"), strict=True
        )
    )
    return f"SELECT {lead_csv}, {columns} {grouped}"


def run_portfolio_fast(
    opts: BatchOptions, portfolio: Portfolio, wide: bool = False, explain: str = "none"
) -> PortfolioBatchReport:
    """Screen one columnar registry against every usable trial of ``portfolio`` in one pass."""
    import numpy as np

    from screener.tables.write import read_manifest

    if opts.resume:
        raise InputError(
            "a portfolio batch (--rules DIR) cannot be resumed yet; start again with --overwrite"
        )
    if len(opts.inputs) != 1 or Path(opts.inputs[0]).is_file():
        raise InputError(
            "the vectorized engine reads one columnar registry (a directory); convert the inputs first: "
            "screener convert --to tables DIR INPUT...",
            Location(", ".join(opts.inputs)),
        )
    registry = Path(opts.inputs[0])
    manifest = read_manifest(registry)
    refuse_existing([opts.summary], opts.overwrite)
    trials = portfolio.trials
    writer = PortfolioRowWriter(opts.fmt, trials, wide)
    funnels: dict[str, Funnel] = funnels_of(portfolio)
    signature = portfolio_signature(portfolio, opts, wide, "vectorized")
    signature.update(registry_created=manifest.get("created"), patients=manifest["patients"], explain=explain)
    outputs = BatchOutputs(
        opts.out,
        opts.errors,
        signature,
        Funnel(()),
        writer.header(),
        False,
        "another portfolio, registry, date or format",
        overwrite=opts.overwrite,
    )
    total = int(manifest["patients"])
    progress = Progress(total, enabled=opts.progress)
    engines: dict[int, Engine] = {}
    try:
        portfolio_screener = PortfolioVectorized(portfolio.rulesets, threads=max(opts.workers, 1))
    except BaseException:
        outputs.release()
        raise
    con = portfolio_screener.con
    rulesets = portfolio.rulesets
    reasons = [Reasons(r, s.layout) for r, s in zip(rulesets, portfolio_screener.screeners, strict=True)]

    def engine_of(index: int) -> Engine:
        if index not in engines:
            engines[index] = Engine(rulesets[index])
        return engines[index]

    select = _wide_sql(opts.fmt, trials) if wide else _long_sql(opts.fmt)
    copy_format = "(FORMAT json)" if opts.fmt == "jsonl" else "(FORMAT csv, HEADER false)"
    inserts = [
        _insert_sql(i, r.trial, tuple(c.id for c in r.criteria), Provenance.of(r, opts.as_of).columns())
        for i, r in enumerate(rulesets)
    ]
    limit = total if opts.limit is None else min(total, opts.limit)
    complete = False
    try:
        outputs.checkpoint()
        con.execute(_ROWS)
        con.execute(_FAILED)
        with tempfile.TemporaryDirectory(prefix="screener-portfolio-") as scratch:
            part = Path(scratch) / f"rows.{opts.fmt}"
            for item in portfolio_screener.iter_tables(registry, opts.as_of, chunk_size=opts.chunk_size):
                screener, chunk, trial = item.screener, item.chunk, rulesets[item.index].trial
                con.execute(EXPLAINED_SQL)
                problems, decided = _screen_uncertain(
                    screener, lambda i=item.index: engine_of(i), chunk, opts.as_of
                )
                if explain == "outcomes":
                    con.execute(EMPTY_REASONS)
                else:  # missing facts and near misses in SQL, from the prepared tables eligible_from replaces
                    reasons[item.index].fill(con)
                # eligible-from dates in SQL, but for the engine's rows (screener.vectorized.eligible_from)
                screener.eligible_from(
                    opts.as_of, item.first, chunk.next_pid - 1, "outcomes.pid IN (SELECT pid FROM explained)"
                )
                eligible = dict(con.execute("SELECT pid, eligible_from FROM eligible_at").fetchall())
                if explain == "open":
                    problems += _explain(screener, engine_of(item.index), chunk, opts.as_of, eligible)
                if explain != "outcomes":  # the rows the SQL cannot word: the engine's
                    pending = (
                        "SELECT pid FROM reasons WHERE engine AND pid NOT IN (SELECT pid FROM explained) "
                        "ORDER BY pid"
                    )
                    problems += _explain(
                        screener, engine_of(item.index), chunk, opts.as_of, eligible, pids_sql=pending
                    )
                failed = _error_records(chunk)
                errors = [{**e, "trial": trial} for e in (*problems, *failed)]
                outputs.write_errors(errors)
                outputs.errors += len(errors)
                if failed:
                    con.executemany(
                        "INSERT INTO portfolio_failed VALUES (?, ?)",
                        [(e["index"], item.index) for e in failed],
                    )
                con.execute(inserts[item.index])
                if len(chunk):
                    criteria = screener.query.criteria
                    codes = np.column_stack([chunk.codes[c] for c in criteria])
                    if decided:
                        codes = np.delete(codes, sorted(decided), axis=0)
                        for _ in decided:
                            funnels[trial].add((), (), decided=True)
                    funnels[trial].add_codes(codes)
                if not item.last_of_chunk:
                    continue
                target = str(part).replace("'", "''")
                con.execute(f"COPY ({select}) TO '{target}' {copy_format}")
                count = con.execute(
                    "SELECT count(DISTINCT pid) FROM portfolio_rows"
                    if wide
                    else "SELECT count(*) FROM portfolio_rows"
                ).fetchone()
                assert count is not None
                outputs.write_rows_from(part, int(count[0]))
                con.execute(_ROWS)
                con.execute(_FAILED)
                outputs.done = chunk.next_pid
                outputs.checkpoint()
                progress.update(outputs.done)
                if outputs.done >= limit:
                    break
        complete = outputs.done >= total
    except BaseException:
        outputs.release()
        raise
    finally:
        portfolio_screener.close()
        for engine in engines.values():
            engine.close()
        outputs.close()
        progress.close()
    return finish(outputs, complete, funnels, portfolio, opts.summary)
