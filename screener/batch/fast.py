"""``screener batch --engine vectorized``: a whole columnar registry, outcomes per criterion.

The registry (:mod:`screener.tables`, made by ``screener convert --to tables``) is
screened in pieces, ranges of pids split by the registry's patient-hash partitions
(:mod:`screener.batch.fast_piece`), here, in worker processes or on a dask cluster
(:mod:`screener.batch.tasks`). DuckDB writes the rows straight from the outcome codes and
reasons (no Python step per patient), with one SELECT (:func:`_row_sql`) wherever it runs,
so they are the same bytes however the pieces ran: a piece of a whole registry writes its
own rows (in parallel: this process only appends them in pid order); the pieces of a
partitioned registry send outcomes and reasons, and this process joins each range's in pid
order and writes them. The attrition funnel is counted with numpy. A piece whose worker
dies is retried once, then its patients are reported by name. Each row has the decision,
the failing and the unknown criteria, every criterion's outcome and the eligible-from date
(in SQL: :mod:`screener.vectorized.eligible_from`). Missing facts and near-miss margins come from
the engine: with ``explain="open"`` it screens the patients still in reach (failing
nothing, or only a washout or an age limit), and checks its eligible-from dates against
the query's.

As in :mod:`screener.batch.runner`: rows go to ``OUT.partial``, renamed when the
registry is done; a checkpoint after every chunk lets ``--resume`` continue an
interrupted run with no duplicate or lost row; a patient that cannot be screened
(a value of the wrong type, a unit with no conversion) goes to the errors file with
its field, and the batch goes on.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from screener import scratch as scratch_dirs
from screener.batch.fast_piece import (
    EXPLAINED_SQL,
    REASON_COLUMNS,
    RULESETS,
    FastJob,
    Piece,
    PieceResult,
    RowSpec,
    copy_rows,
    release,
    screen_piece,
)
from screener.batch.memory import PartSize, in_parts
from screener.batch.outputs import BatchOutputs, default_errors_path
from screener.batch.progress import Progress
from screener.batch.runner import CSV_COLUMNS, BatchOptions, BatchReport, report
from screener.batch.safe_io import csv_cell_sql, csv_lines
from screener.batch.summary import Funnel
from screener.batch.tasks import TaskFailed, run_tasks
from screener.errors import InputError, Location
from screener.model.rules import find_rule_file, parse_ruleset, read_rule_text
from screener.outputs.provenance import PROVENANCE_COLUMNS, Provenance
from screener.vectorized.eligible_from import ELIGIBLE_SQL
from screener.vectorized.reasons import unknown_cell_sql
from screener.vectorized.screen import capped_connection
from screener.vectorized.sql import ident, outcome_lists

DEFAULT_CHUNK = 50_000
#: DuckDB memory per process of ``screener batch --engine vectorized`` (``--memory-limit``)
DEFAULT_MEMORY_LIMIT = "300MB"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# the engine's date for the rows it explained, else the query's (screener.vectorized.eligible_from)
_ELIGIBLE_FROM = "CASE WHEN ex.pid IS NOT NULL THEN ex.eligible_from ELSE el.eligible_from END"


def _row_sql(criteria: tuple[str, ...], fmt: str, provenance: dict[str, str]) -> str:
    """SELECT of the current chunk's rows, without WHERE: ``outcomes`` joined to
    ``registry_patients`` and to ``explained`` (the engine's missing facts, eligible-from date
    and near misses, if any), with the run's provenance columns
    (:mod:`screener.outputs.provenance`) on every row."""
    parts = outcome_lists(criteria)
    stamp = ", ".join(f"{_literal(provenance[c])} AS {ident(c)}" for c in PROVENANCE_COLUMNS)
    if fmt == "jsonl":
        outcomes = ", ".join(f"{ident(c)}: {parts[c]}" for c in criteria)
        plain = f"list_transform({parts['unknown']}, lambda i: {{'id': i, 'missing': NULL::VARCHAR[]}})"
        columns = (
            f"x.patient_id AS patient_id, coalesce(ex.decision, {parts['decision']}) AS decision, "
            "ex.decision_reason AS decision_reason, "
            f"{parts['failing']} AS failing, coalesce(ex.unknown_list, rs.unknown, {plain}) AS unknown, "
            f"{_ELIGIBLE_FROM} AS eligible_from, "
            "coalesce(ex.near_misses, rs.near_misses, []) AS near_misses, "
            f"{{{outcomes}}} AS outcomes, x.file AS source, x.line AS line, {stamp}, "
            "ex.pid IS NOT NULL AS explained"
        )
    else:
        # text cells a spreadsheet would evaluate are neutralised as the engine's CSV rows are
        cell = csv_cell_sql
        per = ", ".join(f"{parts[c]} AS {ident(c)}" for c in criteria)
        failing = f"nullif(array_to_string({parts['failing']}, ';'), '')"
        reasoned = unknown_cell_sql("rs.unknown")  # runner.unknown_cell
        unknown = (
            f"coalesce(ex.unknown_text, CASE WHEN ex.pid IS NULL THEN {reasoned} END, "
            f"nullif(array_to_string({parts['unknown']}, ';'), ''))"
        )
        near = "nullif(array_to_string(coalesce(ex.near_misses, rs.near_misses), '; '), '')"
        columns = (
            f"{cell('x.patient_id')} AS patient_id, coalesce(ex.decision, {parts['decision']}) AS decision, "
            f"{cell('ex.decision_reason')} AS decision_reason, "
            f"{cell(failing)} AS failing, {cell(unknown)} AS unknown, "
            f"{cell(_ELIGIBLE_FROM)} AS eligible_from, "
            f"{cell(near)} AS near_misses, "
            f"{cell('x.file')} AS source, x.line, {stamp}, {per}"
        )
    joined = (
        "outcomes JOIN registry_patients x ON x.pid = outcomes.pid "
        "LEFT JOIN explained ex ON ex.pid = outcomes.pid LEFT JOIN eligible_at el ON el.pid = outcomes.pid "
        "LEFT JOIN reasoned rs ON rs.pid = outcomes.pid"
    )
    return f"SELECT {columns} FROM {joined}"


def _header(criteria: tuple[str, ...], fmt: str) -> bytes:
    if fmt != "csv":
        return b""
    return csv_lines([[*CSV_COLUMNS, *criteria]]).encode("utf-8")


def run_fast_batch(opts: BatchOptions, explain: str = "none") -> BatchReport:
    """Screen one columnar registry (``opts.inputs``) with the vectorized query.

    ``explain="open"``: the patients who fail no criterion (eligible or incomplete), or
    fail only criteria they may pass later (a washout, an age limit), are also screened
    by the engine, so their rows carry the missing facts of unknown criteria,
    eligible-from dates and near misses, as the engine's rows do.

    The registry is screened in pieces (:mod:`screener.batch.fast_piece`): ranges of
    ``opts.chunk_size`` pids, each split by the registry's patient-hash partitions. With
    ``opts.workers > 1`` the pieces run in worker processes, with ``opts.scheduler`` on a
    dask.distributed cluster (its workers must reach the registry at the same path), else
    here; the rows are the same, in pid order, whichever runs them.
    """

    from screener.tables.write import partitions, read_manifest, table_glob

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
    count = partitions(manifest)
    rule_file = find_rule_file(opts.rules)
    text = read_rule_text(rule_file)
    ruleset = parse_ruleset(text, str(rule_file))
    RULESETS[ruleset.sha256] = ruleset  # this process and forked workers: parsed once
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
    scratch_dirs.sweep()  # what a run killed outright left (its spill files, its rows)
    spill = scratch_dirs.make("spill") if opts.memory_limit else None
    select = _row_sql(criteria, opts.fmt, Provenance.of(ruleset, opts.as_of).columns())
    copy_format = "(FORMAT json)" if opts.fmt == "jsonl" else "(FORMAT csv, HEADER false)"
    # the pieces of a whole registry write their own rows, in parallel; the pieces of patient-hash
    # partitions send outcomes and reasons, and this process writes each range's rows in pid order
    rows_dir = scratch_dirs.make("rows") if count == 1 else None
    job = FastJob(
        str(registry.resolve()),
        text,
        str(rule_file),
        ruleset.sha256,
        opts.as_of,
        explain,
        opts.memory_limit,
        None if spill is None else str(spill),
        None if rows_dir is None else RowSpec(select, copy_format, f".{opts.fmt}", str(rows_dir)),
    )
    try:
        # one thread from the start: no DuckDB worker threads exist when the pool forks
        con, _ = capped_connection(1, opts.memory_limit, None if spill is None else spill / "main")
        con.execute(
            "CREATE TEMP VIEW registry_patients AS SELECT * FROM "
            f"read_parquet({_literal(table_glob(registry, 'patients'))})"
        )
    except BaseException:
        outputs.release()
        for directory in (spill, rows_dir):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        raise
    limit = total if opts.limit is None else min(total, outputs.done + opts.limit)
    copy_size = PartSize()  # the most rows written by one COPY (screener.batch.memory)
    parallel = opts.workers > 1 or bool(opts.scheduler)
    pieces = _pieces(outputs.done, limit, total, opts.chunk_size, count, opts.workers if parallel else 1)
    results = run_tasks(screen_piece, job, pieces, 1 if opts.scheduler else opts.workers, opts.scheduler)
    complete = False
    try:
        outputs.checkpoint()
        with tempfile.TemporaryDirectory(prefix=f"screener-fast-{os.getpid()}-") as scratch:
            part = Path(scratch) / f"rows.{opts.fmt}"
            done: list[tuple[Piece, PieceResult | TaskFailed]] = []
            for piece, result in results:
                done.append((piece, result))
                if len(done) < count:
                    continue  # a range is written when all its partitions are in
                if job.rows is not None:  # written by the piece
                    _append_rows(outputs, done)
                else:
                    _load_range(con, criteria, done)

                    def write(first: int, last: int) -> None:
                        copy_rows(con, select, copy_format, part, first, last)
                        ((rows,),) = con.execute(
                            "SELECT count(*) FROM outcomes WHERE pid BETWEEN ? AND ?", [first, last]
                        ).fetchall()
                        outputs.write_rows_from(part, rows)

                    for _ in in_parts(done[0][0].first, piece.last, copy_size, write):
                        pass
                _account_range(con, outputs, criteria, done, job)
                for _, finished in done:
                    if isinstance(finished, PieceResult):
                        outputs.write_errors(finished.errors)
                        outputs.errors += finished.error_pids
                outputs.done = piece.last + 1
                outputs.checkpoint()
                progress.update(outputs.done)
                done = []
        complete = outputs.done >= total
    except BaseException:
        outputs.release()  # the checkpoint stays for --resume; the output is free again
        raise
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stops a pool or dask client promptly on interruption
        release(job)
        con.close()
        # the spill directories of this process and the workers, the rows the pieces wrote
        for directory in (spill, rows_dir):
            if directory is not None:
                shutil.rmtree(directory, ignore_errors=True)
        outputs.close()
        progress.close()
    return report(outputs, complete, opts.summary)


def _pieces(skip: int, limit: int, total: int, size: int, count: int, workers: int) -> Iterator[Piece]:
    """Ranges of ``size`` pids from ``skip`` (the last range may stop at ``limit``, rounded up to a
    whole range as before), each as one piece per partition. A registry of one partition screened
    by several workers gets ranges small enough to give each worker one."""
    size = max(size, 1)
    if count == 1 and workers > 1:
        size = max(1, min(size, -(-(limit - skip) // workers)))
    for first in range(skip, limit, size):
        last = min(first + size, total) - 1
        for partition in range(count) if count > 1 else (None,):
            yield Piece(first, last, partition)


def _append_rows(outputs: BatchOutputs, done: list[tuple[Piece, PieceResult | TaskFailed]]) -> None:
    """Append the rows the pieces of one range wrote (files, or bytes from another machine)."""
    for _, result in done:
        if not isinstance(result, PieceResult):
            continue  # its patients are reported (_account_range)
        for part, count in result.rows:
            if isinstance(part, bytes):
                outputs.write_rows(part, count)
            else:
                outputs.write_rows_from(Path(part), count)
                Path(part).unlink(missing_ok=True)


def _load_range(
    con: Any, criteria: tuple[str, ...], done: list[tuple[Piece, PieceResult | TaskFailed]]
) -> None:
    """Load one range's pieces into ``outcomes``, ``explained``, ``eligible_at`` and ``reasoned``
    (in pid order), which the rows' SELECT joins."""
    import numpy as np

    results = [r for _, r in done if isinstance(r, PieceResult)]
    pids = np.array([pid for r in results for pid in r.pids], dtype=np.int64)
    order = np.argsort(pids, kind="stable")
    frame: dict[str, Any] = {"pid": pids[order]}
    for c in criteria:
        codes = [r.codes[c] for r in results]
        frame[c] = (np.concatenate(codes) if codes else np.array([], dtype=np.int8))[order].astype(np.int8)
    con.register("outcomes_in", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE outcomes AS SELECT * FROM outcomes_in")
    finally:
        con.unregister("outcomes_in")
    con.execute(EXPLAINED_SQL)
    con.execute(ELIGIBLE_SQL)
    eligible = [row for r in results for row in r.eligible]
    if eligible:
        con.executemany("INSERT INTO eligible_at VALUES (?, ?)", eligible)
    _load_reasons(con, [part for r in results for part in r.reasons])
    explained = [row for r in results for row in r.explained]
    if explained:
        con.executemany("INSERT INTO explained VALUES (?, ?, ?, ?, ?, ?, ?)", explained)


def _account_range(
    con: Any,
    outputs: BatchOutputs,
    criteria: tuple[str, ...],
    done: list[tuple[Piece, PieceResult | TaskFailed]],
    job: FastJob,
) -> None:
    """Write the error records of the engine and of failed pieces, and count the range in
    the funnel."""
    import numpy as np

    from screener.tables.write import table_glob

    results = [r for _, r in done if isinstance(r, PieceResult)]
    problems = [p for r in results for p in r.problems]
    problems.sort(key=lambda p: p["index"])  # pid order, whichever piece (or part of one) met them
    for piece, failed in done:
        if isinstance(failed, TaskFailed):  # every patient of the piece, reported by name
            glob = _literal(table_glob(job.registry, "patients", piece.partition))
            for pid, patient_id, file, line in con.execute(
                f"SELECT pid, patient_id, file, line FROM read_parquet({glob}) "
                "WHERE pid BETWEEN ? AND ? ORDER BY pid",
                [piece.first, piece.last],
            ).fetchall():
                problems.append(
                    {
                        "source": file,
                        "line": line,
                        "index": pid,
                        "patient_id": patient_id,
                        "field": None,
                        "message": f"not screened: {failed.message} (retried once); no row written",
                    }
                )
                outputs.errors += 1
    outputs.write_errors(problems)
    outputs.errors += sum(len(r.problems) for r in results)
    pids = np.array([pid for r in results for pid in r.pids], dtype=np.int64)
    if len(pids):  # the funnel counts rows in any order
        matrix = np.column_stack(
            [np.concatenate([r.codes[c] for r in results]).astype(np.int8) for c in criteria]
        )
        decided = frozenset().union(*(r.decided for r in results))
        if decided:  # decided before the criteria (a death): counted apart
            matrix = matrix[~np.isin(pids, list(decided))]
            for _ in decided:
                outputs.funnel.add((), (), decided=True)
        outputs.funnel.add_codes(matrix)


def _load_reasons(con: Any, parts: list[bytes]) -> None:
    """The range's SQL reasons (:mod:`screener.vectorized.reasons`, Parquet bytes from each
    piece) as the table ``reasoned``, which the rows join."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE reasoned ({REASON_COLUMNS})")
    if not parts:
        return
    with tempfile.TemporaryDirectory(prefix="screener-reasons-") as scratch:
        files = []
        for i, data in enumerate(parts):
            path = Path(scratch) / f"part-{i}.parquet"
            path.write_bytes(data)
            files.append(_literal(str(path)))
        con.execute(
            f"INSERT INTO reasoned SELECT pid, unknown, near_misses FROM read_parquet([{', '.join(files)}])"
        )
