"""``screener batch --engine vectorized``: a whole columnar registry, outcomes per criterion.

The registry (:mod:`screener.tables`, made by ``screener convert --to tables``) is
screened by :meth:`VectorizedScreener.iter_tables` in chunks of pids; rows are
written by DuckDB straight from the outcome codes (no Python step per patient), the
attrition funnel is counted with numpy. Each row has the decision, the failing and
the unknown criteria and every criterion's outcome. Missing facts, eligible-from
dates and near-miss margins come from the engine: with ``explain="open"`` it screens
the patients still in reach (failing nothing, or only a washout or an age limit).

As in :mod:`screener.batch.runner`: rows go to ``OUT.partial``, renamed when the
registry is done; a checkpoint after every chunk lets ``--resume`` continue an
interrupted run with no duplicate or lost row; a patient that cannot be screened
(a value of the wrong type, a unit with no conversion) goes to the errors file with
its field, and the batch goes on.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from screener.batch.inputs import failure_message
from screener.batch.outputs import BatchOutputs, default_errors_path
from screener.batch.progress import Progress
from screener.batch.runner import (
    CSV_COLUMNS,
    BatchOptions,
    BatchReport,
    make_row,
    report,
    screen_row,
    unknown_cell,
)
from screener.batch.safe_io import csv_cell_sql, csv_lines
from screener.batch.summary import Funnel
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location
from screener.model.patient import Patient
from screener.model.rules import find_rule_file, parse_ruleset, read_rule_text
from screener.outputs.provenance import PROVENANCE_COLUMNS, Provenance
from screener.vectorized import VectorizedScreener
from screener.vectorized.screen import TableChunk
from screener.vectorized.sql import ident, outcome_lists

DEFAULT_CHUNK = 100_000


_EXPLAINED = (
    "CREATE OR REPLACE TEMP TABLE explained (pid BIGINT, unknown_text VARCHAR, "
    "unknown_list STRUCT(id VARCHAR, missing VARCHAR[])[], eligible_from VARCHAR, near_misses VARCHAR[], "
    "decision VARCHAR, decision_reason VARCHAR)"
)

# The chunk's patients whose records leave something uncertain on the screening date
# (screener.engine.uncertain): dead by then, screened outside their observed time, or with an
# unconfirmed diagnosis. The query reads records at face value, so the engine screens these.
_UNCERTAIN = """
SELECT pid FROM registry_patients
WHERE pid IN (SELECT pid FROM outcomes) AND (
    deceased_undated OR deceased <= $as_of
    OR (observed IS NOT NULL AND len(list_filter(string_split(observed, ';'), lambda p:
        CAST(split_part(p, '/', 1) AS DATE) <= $as_of
        AND coalesce($as_of <= CAST(nullif(split_part(p, '/', 2), '') AS DATE), TRUE))) = 0))
UNION
SELECT pid FROM registry_conditions
WHERE pid IN (SELECT pid FROM outcomes) AND verification = 'unconfirmed'
ORDER BY pid
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _row_sql(criteria: tuple[str, ...], fmt: str, provenance: dict[str, str]) -> str:
    """SELECT of the current chunk's rows: ``outcomes`` joined to ``registry_patients`` and to
    ``explained`` (the engine's missing facts, eligible-from date and near misses, if any),
    with the run's provenance columns (:mod:`screener.outputs.provenance`) on every row."""
    parts = outcome_lists(criteria)
    stamp = ", ".join(f"{_literal(provenance[c])} AS {ident(c)}" for c in PROVENANCE_COLUMNS)
    if fmt == "jsonl":
        outcomes = ", ".join(f"{ident(c)}: {parts[c]}" for c in criteria)
        plain = f"list_transform({parts['unknown']}, lambda i: {{'id': i, 'missing': NULL::VARCHAR[]}})"
        columns = (
            f"x.patient_id AS patient_id, coalesce(ex.decision, {parts['decision']}) AS decision, "
            "ex.decision_reason AS decision_reason, "
            f"{parts['failing']} AS failing, coalesce(ex.unknown_list, {plain}) AS unknown, "
            "ex.eligible_from AS eligible_from, coalesce(ex.near_misses, []) AS near_misses, "
            f"{{{outcomes}}} AS outcomes, x.file AS source, x.line AS line, {stamp}, "
            "ex.pid IS NOT NULL AS explained"
        )
    else:
        # text cells a spreadsheet would evaluate are neutralised as the engine's CSV rows are
        cell = csv_cell_sql
        per = ", ".join(f"{parts[c]} AS {ident(c)}" for c in criteria)
        failing = f"nullif(array_to_string({parts['failing']}, ';'), '')"
        unknown = f"coalesce(ex.unknown_text, nullif(array_to_string({parts['unknown']}, ';'), ''))"
        near = "nullif(array_to_string(ex.near_misses, '; '), '')"
        columns = (
            f"{cell('x.patient_id')} AS patient_id, coalesce(ex.decision, {parts['decision']}) AS decision, "
            f"{cell('ex.decision_reason')} AS decision_reason, "
            f"{cell(failing)} AS failing, {cell(unknown)} AS unknown, "
            f"{cell('ex.eligible_from')} AS eligible_from, "
            f"{cell(near)} AS near_misses, "
            f"{cell('x.file')} AS source, x.line, {stamp}, {per}"
        )
    joined = (
        "outcomes JOIN registry_patients x ON x.pid = outcomes.pid "
        "LEFT JOIN explained ex ON ex.pid = outcomes.pid"
    )
    return f"SELECT {columns} FROM {joined} ORDER BY outcomes.pid"


def _problem(patient: Patient, pid: int, line: int | None, message: str) -> dict[str, Any]:
    return {
        "source": patient.file,
        "line": line,
        "index": pid,
        "patient_id": patient.patient_id,
        "field": None,
        "message": message,
    }


def _explain(
    screener: VectorizedScreener, engine: Engine, chunk: TableChunk, as_of: date
) -> list[dict[str, Any]]:
    """Screen with the engine the chunk's patients who fail nothing, or only criteria they
    may pass later (a washout, an age limit: ``Engine.time_dependent``); fill ``explained``.

    Returns error records for any patient the engine could not explain (its row keeps the
    fast path's outcomes) or on which the engine and the fast path disagree (the
    differential tests say they never do; a disagreement is reported, not hidden).
    """
    from screener.tables.layout import TABLES

    con = screener.con
    settled = [c for c in screener.query.criteria if c not in engine.time_dependent]
    failing = " OR ".join(f"{ident(c)} = 1" for c in settled) or "FALSE"
    query = (
        f"SELECT pid FROM outcomes WHERE NOT ({failing}) "
        "AND pid NOT IN (SELECT pid FROM explained) ORDER BY pid"  # uncertain ones: done already
    )
    pids = [pid for (pid,) in con.execute(query).fetchall()]
    relations = {t: f"registry_{t}" for t in TABLES}
    index = {pid: i for i, pid in enumerate(chunk.pids)}
    values, problems = [], []
    for pid, patient in _read_each(con, relations, pids):
        i = index[pid]
        if isinstance(patient, Exception):  # its rows could not be read back: report, go on
            problems.append(_chunk_problem(chunk, i, f"not explained: {failure_message(patient)}"))
            continue
        try:
            row = screen_row(engine, patient, as_of, patient.file, chunk.lines[i])
        except Exception as error:  # one patient the engine cannot explain must not stop the batch
            message = f"not explained: {type(error).__name__}: {error}"
            problems.append(_problem(patient, pid, chunk.lines[i], message))
            continue
        fast_failing = [c for c in screener.query.criteria if int(chunk.codes[c][i]) == 1]
        fast_unknown = [c for c in screener.query.criteria if int(chunk.codes[c][i]) == 2]
        if row["failing"] != fast_failing or [u["id"] for u in row["unknown"]] != fast_unknown:
            problems.append(
                _problem(
                    patient,
                    pid,
                    chunk.lines[i],
                    "internal error: the engine and the vectorized query disagree on this patient "
                    f"(engine failing {row['failing']}, unknown {[u['id'] for u in row['unknown']]}; "
                    f"query failing {fast_failing}, unknown {fast_unknown}); please report it",
                )
            )
            continue
        values.append(
            (
                pid,
                unknown_cell(row["unknown"]) or None,
                row["unknown"],
                row["eligible_from"],
                row["near_misses"],
            )
        )
    if values:
        con.executemany("INSERT INTO explained VALUES (?, ?, ?, ?, ?, NULL, NULL)", values)
    return problems


def _read_each(con: Any, relations: dict[str, str], pids: list[int]) -> Iterator[tuple[int, Any]]:
    """``(pid, patient)`` for ``pids``, read back together; if that fails, one by one, and a
    patient that cannot be read comes with the exception instead (one never stops the rest)."""
    from screener.tables.read import read_patients

    try:
        patients = read_patients(con, relations, pids)
    except Exception:  # which patient? read them one at a time
        for pid in pids:
            try:
                (patient,) = read_patients(con, relations, [pid])
            except Exception as error:
                yield pid, error
                continue
            yield pid, patient
        return
    yield from zip(pids, patients, strict=True)


def _chunk_problem(chunk: TableChunk, i: int, message: str) -> dict[str, Any]:
    """An error record for the chunk's ``i``-th patient (its file, line, pid and id)."""
    return {
        "source": chunk.files[i],
        "line": chunk.lines[i],
        "index": chunk.pids[i],
        "patient_id": chunk.patient_ids[i],
        "field": None,
        "message": message,
    }


def _screen_uncertain(
    screener: VectorizedScreener, make_engine: Callable[[], Engine], chunk: TableChunk, as_of: date
) -> tuple[list[dict[str, Any]], set[int]]:
    """Screen with the engine the chunk's patients the query cannot read at face value
    (:data:`_UNCERTAIN`): their outcomes in ``outcomes`` and ``chunk.codes`` become the
    engine's, their rows take the engine's decision, reason, missing facts and dates
    (``explained``). Returns error records and the indexes (in the chunk) of patients whose
    decision the criteria did not give (a death), which the funnel counts apart.

    A patient the engine cannot screen is reported and left with every criterion unknown:
    never a face-value row that might read eligible.
    """
    from screener.tables.layout import TABLES
    from screener.vectorized.sql import OUTCOME_CODES

    con = screener.con
    pids = [pid for (pid,) in con.execute(_UNCERTAIN, {"as_of": as_of}).fetchall()]
    if not pids:
        return [], set()
    engine = make_engine()
    criteria = screener.query.criteria
    relations = {t: f"registry_{t}" for t in TABLES}
    index = {pid: i for i, pid in enumerate(chunk.pids)}
    problems: list[dict[str, Any]] = []
    decided: set[int] = set()
    explained, updates = [], []
    for pid, patient in _read_each(con, relations, pids):
        i = index[pid]
        try:
            if isinstance(patient, Exception):
                raise patient
            result = engine.screen(patient, as_of, explain=False, evidence="failing")
        except Exception as error:  # reported; the row stays open (all unknown), never eligible
            message = f"not screened: {failure_message(error)}; every criterion left unknown"
            problems.append(_chunk_problem(chunk, i, message))
            codes = {c: OUTCOME_CODES.index("unknown") for c in criteria}
            explained.append((pid, None, None, None, None, "incomplete", "could not be screened"))
        else:
            codes = {c.id: OUTCOME_CODES.index(c.outcome) for c in result.criteria}
            row = make_row(result, patient.file, chunk.lines[i])
            explained.append(
                (
                    pid,
                    unknown_cell(row["unknown"]) or None,
                    row["unknown"],
                    row["eligible_from"],
                    row["near_misses"],
                    result.decision,
                    result.decision_reason,
                )
            )
            if result.decision_reason is not None:
                decided.add(i)
        for c in criteria:
            chunk.codes[c][i] = codes[c]
        updates.append([*(codes[c] for c in criteria), pid])
    assignments = ", ".join(f"{ident(c)} = ?" for c in criteria)
    con.executemany(f"UPDATE outcomes SET {assignments} WHERE pid = ?", updates)
    con.executemany("INSERT INTO explained VALUES (?, ?, ?, ?, ?, ?, ?)", explained)
    return problems, decided


def _header(criteria: tuple[str, ...], fmt: str) -> bytes:
    if fmt != "csv":
        return b""
    return csv_lines([[*CSV_COLUMNS, *criteria]]).encode("utf-8")


def _error_records(chunk: TableChunk) -> list[dict[str, Any]]:
    return [
        {
            "source": e.file,
            "line": e.line,
            "index": e.pid,
            "patient_id": e.patient_id,
            "field": e.field,
            "message": e.message,
        }
        for e in chunk.errors
    ]


def run_fast_batch(opts: BatchOptions, explain: str = "none") -> BatchReport:
    """Screen one columnar registry (``opts.inputs``) with the vectorized query.

    ``explain="open"``: the patients who fail no criterion (eligible or incomplete), or
    fail only criteria they may pass later (a washout, an age limit), are also screened
    by the engine, so their rows carry the missing facts of unknown criteria,
    eligible-from dates and near misses, as the engine's rows do.
    """
    import numpy as np

    from screener.tables.write import read_manifest

    if len(opts.inputs) != 1:
        raise InputError(
            "the vectorized engine reads one columnar registry; convert several inputs into one "
            "with: screener convert --to tables DIR INPUT...",
            Location(", ".join(opts.inputs)),
        )
    registry = Path(opts.inputs[0])
    if registry.is_file():
        raise InputError(
            "the vectorized engine reads a columnar registry (a directory); convert this input first: "
            f"screener convert --to tables DIR {registry}",
            Location(str(registry)),
        )
    manifest = read_manifest(registry)
    if opts.scheduler:
        raise InputError("--scheduler runs the durable engine; the vectorized engine runs in DuckDB threads")
    rule_file = find_rule_file(opts.rules)
    ruleset = parse_ruleset(read_rule_text(rule_file), str(rule_file))
    criteria = tuple(c.id for c in ruleset.criteria)
    titles = tuple(c.title for c in ruleset.criteria)

    outputs = BatchOutputs(
        opts.out,
        opts.errors,
        {
            "engine": "vectorized",
            "registry": str(registry),
            "registry_created": manifest.get("created"),
            "patients": manifest["patients"],
            "rules_sha256": ruleset.sha256,
            "as_of": opts.as_of.isoformat(),
            "format": opts.fmt,
            "errors": str(opts.errors or default_errors_path(opts.out)),
            "explain": explain,
        },
        Funnel(criteria, titles),
        _header(criteria, opts.fmt),
        opts.resume,
        "another registry, rules, date, format, errors file or --explain",
        overwrite=opts.overwrite,
        summary=opts.summary,
    )
    total = int(manifest["patients"])
    progress = Progress(total, start=outputs.done, enabled=opts.progress)
    try:
        screener = VectorizedScreener(ruleset, threads=max(opts.workers, 1))
        screener.con.execute(_EXPLAINED)
        engine = Engine(ruleset) if explain == "open" else None
        lazy: list[Engine] = [engine] if engine is not None else []

        def uncertain_engine() -> Engine:
            """The engine for uncertain patients, made the first time one is met."""
            if not lazy:
                lazy.append(Engine(ruleset))
            return lazy[0]

    except BaseException:
        outputs.release()
        raise
    select = _row_sql(criteria, opts.fmt, Provenance.of(ruleset, opts.as_of).columns())
    copy_format = "(FORMAT json)" if opts.fmt == "jsonl" else "(FORMAT csv, HEADER false)"
    limit = total if opts.limit is None else min(total, outputs.done + opts.limit)
    complete = False
    try:
        outputs.checkpoint()
        with tempfile.TemporaryDirectory(prefix="screener-fast-") as scratch:
            part = Path(scratch) / f"rows.{opts.fmt}"
            chunks = screener.iter_tables(registry, opts.as_of, chunk_size=opts.chunk_size, skip=outputs.done)
            for chunk in chunks:
                screener.con.execute(_EXPLAINED)
                problems, decided = _screen_uncertain(screener, uncertain_engine, chunk, opts.as_of)
                if engine is not None:
                    problems += _explain(screener, engine, chunk, opts.as_of)
                outputs.write_errors(problems)
                outputs.errors += len(problems)
                target = str(part).replace("'", "''")
                screener.con.execute(f"COPY ({select}) TO '{target}' {copy_format}")
                outputs.write_rows(part.read_bytes(), len(chunk))
                outputs.write_errors(_error_records(chunk))
                if len(chunk):
                    codes = np.column_stack([chunk.codes[c] for c in criteria])
                    if decided:  # decided before the criteria (a death): counted apart
                        codes = np.delete(codes, sorted(decided), axis=0)
                        for _ in decided:
                            outputs.funnel.add((), (), decided=True)
                    outputs.funnel.add_codes(codes)
                outputs.done = chunk.next_pid
                outputs.errors += len({e.pid for e in chunk.errors})
                outputs.checkpoint()
                progress.update(outputs.done)
                if outputs.done >= limit and outputs.done < total:
                    break
        complete = outputs.done >= total
    except BaseException:
        outputs.release()  # the checkpoint stays for --resume; the output is free again
        raise
    finally:
        screener.close()
        if engine is not None:
            engine.close()
        outputs.close()
        progress.close()
    return report(outputs, complete, opts.summary)
