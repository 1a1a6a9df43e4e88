"""``screener batch --engine vectorized``: a whole columnar registry, outcomes per criterion.

The registry (:mod:`screener.tables`, made by ``screener convert --to tables``) is
screened by :meth:`VectorizedScreener.iter_tables` in chunks of pids; rows are
written by DuckDB straight from the outcome codes (no Python step per patient), the
attrition funnel is counted with numpy. Each row has the decision, the failing and
the unknown criteria and every criterion's outcome; missing facts, eligible-from
dates and near-miss margins need the engine (the default ``--engine durable``).

As in :mod:`screener.batch.runner`: rows go to ``OUT.partial``, renamed when the
registry is done; a checkpoint after every chunk lets ``--resume`` continue an
interrupted run with no duplicate or lost row; a patient that cannot be screened
(a value of the wrong type, a unit with no conversion) goes to the errors file with
its field, and the batch goes on.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from screener.batch.progress import Progress
from screener.batch.runner import (
    BatchOptions,
    BatchReport,
    _fsync_dir,
    _sync,
    checkpoint_path,
    default_errors_path,
    partial_path,
    screen_row,
    unknown_cell,
    write_atomic,
)
from screener.batch.summary import Funnel, render_html, render_svg
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location
from screener.model.rules import find_rule_file, parse_ruleset
from screener.vectorized import VectorizedScreener
from screener.vectorized.screen import TableChunk
from screener.vectorized.sql import ident, outcome_lists

CHECKPOINT_VERSION = 1
DEFAULT_CHUNK = 100_000


_EXPLAINED = (
    "CREATE OR REPLACE TEMP TABLE explained (pid BIGINT, unknown_text VARCHAR, "
    "unknown_list STRUCT(id VARCHAR, missing VARCHAR[])[], eligible_from VARCHAR, near_misses VARCHAR[])"
)


def _row_sql(criteria: tuple[str, ...], fmt: str) -> str:
    """SELECT of the current chunk's rows: ``outcomes`` joined to ``registry_patients`` and to
    ``explained`` (the engine's missing facts, eligible-from date and near misses, if any)."""
    parts = outcome_lists(criteria)
    if fmt == "jsonl":
        outcomes = ", ".join(f"{ident(c)}: {parts[c]}" for c in criteria)
        plain = f"list_transform({parts['unknown']}, lambda i: {{'id': i, 'missing': NULL::VARCHAR[]}})"
        columns = (
            f"x.patient_id AS patient_id, {parts['decision']} AS decision, "
            f"{parts['failing']} AS failing, coalesce(ex.unknown_list, {plain}) AS unknown, "
            "ex.eligible_from AS eligible_from, coalesce(ex.near_misses, []) AS near_misses, "
            f"{{{outcomes}}} AS outcomes, x.file AS source, ex.pid IS NOT NULL AS explained"
        )
    else:
        per = ", ".join(f"{parts[c]} AS {ident(c)}" for c in criteria)
        columns = (
            f"x.patient_id, {parts['decision']} AS decision, "
            f"nullif(array_to_string({parts['failing']}, ';'), '') AS failing, "
            f"coalesce(ex.unknown_text, nullif(array_to_string({parts['unknown']}, ';'), '')) AS unknown, "
            "ex.eligible_from, nullif(array_to_string(ex.near_misses, '; '), '') AS near_misses, "
            f"x.file AS source, {per}"
        )
    joined = (
        "outcomes JOIN registry_patients x ON x.pid = outcomes.pid "
        "LEFT JOIN explained ex ON ex.pid = outcomes.pid"
    )
    return f"SELECT {columns} FROM {joined} ORDER BY outcomes.pid"


def _explain(
    screener: VectorizedScreener, engine: Engine, chunk: TableChunk, as_of: date
) -> list[dict[str, Any]]:
    """Screen the chunk's patients that fail no criterion with the engine; fill ``explained``.

    Returns error records for any patient on which the engine and the fast path disagree
    (the differential tests say they never do; a disagreement is reported, not hidden).
    """
    from screener.tables.layout import TABLES
    from screener.tables.read import read_patients

    con = screener.con
    con.execute(_EXPLAINED)
    failing = " OR ".join(f"{ident(c)} = 1" for c in screener.query.criteria)
    pids = [
        pid
        for (pid,) in con.execute(f"SELECT pid FROM outcomes WHERE NOT ({failing}) ORDER BY pid").fetchall()
    ]
    relations = {t: f"registry_{t}" for t in TABLES}
    index = {pid: i for i, pid in enumerate(chunk.pids)}
    values, problems = [], []
    for pid, patient in zip(pids, read_patients(con, relations, pids), strict=True):
        row = screen_row(engine, patient, as_of, patient.file, None)
        i = index[pid]
        fast_unknown = [c for c in screener.query.criteria if int(chunk.codes[c][i]) == 2]
        if row["failing"] or [u["id"] for u in row["unknown"]] != fast_unknown:
            problems.append(
                {
                    "source": patient.file,
                    "line": None,
                    "index": pid,
                    "patient_id": patient.patient_id,
                    "field": None,
                    "message": "internal error: the engine and the vectorized query disagree on this patient "
                    f"(engine failing {row['failing']}, unknown {[u['id'] for u in row['unknown']]}; "
                    f"query unknown {fast_unknown}); please report it",
                }
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
        con.executemany("INSERT INTO explained VALUES (?, ?, ?, ?, ?)", values)
    return problems


def _header(criteria: tuple[str, ...], fmt: str) -> bytes:
    if fmt != "csv":
        return b""
    import csv
    import io

    buffer = io.StringIO()
    columns = [
        "patient_id",
        "decision",
        "failing",
        "unknown",
        "eligible_from",
        "near_misses",
        "source",
        *criteria,
    ]
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue().encode("utf-8")


def _lines(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def _error_records(chunk: TableChunk) -> list[dict[str, Any]]:
    return [
        {
            "source": e.file,
            "line": None,
            "index": e.pid,
            "patient_id": e.patient_id,
            "field": e.field,
            "message": e.message,
        }
        for e in chunk.errors
    ]


def run_fast_batch(opts: BatchOptions, explain: str = "none") -> BatchReport:
    """Screen one columnar registry (``opts.inputs``) with the vectorized query.

    ``explain="open"``: the patients who fail no criterion (eligible or incomplete) are
    also screened by the engine, so their rows carry the missing facts of unknown
    criteria, eligible-from dates and near misses, as the engine's rows do.
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
    ruleset = parse_ruleset(rule_file.read_text(encoding="utf-8"), str(rule_file))
    criteria = tuple(c.id for c in ruleset.criteria)
    titles = tuple(c.title for c in ruleset.criteria)

    errors_path = opts.errors or default_errors_path(opts.out)
    out_partial, err_partial = partial_path(opts.out), partial_path(errors_path)
    ckpt = checkpoint_path(opts.out)
    signature = {
        "engine": "vectorized",
        "registry": str(registry),
        "registry_created": manifest.get("created"),
        "patients": manifest["patients"],
        "rules_sha256": ruleset.sha256,
        "as_of": opts.as_of.isoformat(),
        "format": opts.fmt,
        "errors": str(errors_path),
        "explain": explain,
    }
    done = rows = errors = resumed_from = 0
    funnel = Funnel(criteria, titles)
    if opts.resume and ckpt.exists():
        try:
            state = json.loads(ckpt.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(
                f"checkpoint unreadable ({error}); run without --resume", Location(str(ckpt))
            ) from None
        if state.get("version") != CHECKPOINT_VERSION or state.get("signature") != signature:
            raise InputError(
                "checkpoint was made with another registry, rules, date, format or errors file; "
                "run without --resume to start again",
                Location(str(ckpt)),
            )
        done, rows, errors = state["pids_done"], state["rows"], state["errors"]
        funnel = Funnel.from_state(state["funnel"], titles)
        resumed_from = done
        out_handle, err_handle = out_partial.open("r+b"), err_partial.open("r+b")
        out_handle.truncate(state["out_bytes"])
        err_handle.truncate(state["err_bytes"])
        out_handle.seek(0, os.SEEK_END)
        err_handle.seek(0, os.SEEK_END)
    else:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        errors_path.parent.mkdir(parents=True, exist_ok=True)
        out_handle, err_handle = out_partial.open("wb"), err_partial.open("wb")
        out_handle.write(_header(criteria, opts.fmt))

    def checkpoint() -> None:
        _sync(out_handle)
        _sync(err_handle)
        state: dict[str, Any] = {
            "version": CHECKPOINT_VERSION,
            "signature": signature,
            "pids_done": done,
            "rows": rows,
            "errors": errors,
            "out_bytes": out_handle.tell(),
            "err_bytes": err_handle.tell(),
            "funnel": funnel.to_state(),
        }
        write_atomic(ckpt, json.dumps(state))

    total = int(manifest["patients"])
    progress = Progress(total, start=done, enabled=opts.progress)
    screener = VectorizedScreener(ruleset, threads=max(opts.workers, 1))
    screener.con.execute(_EXPLAINED)
    engine = Engine(ruleset) if explain == "open" else None
    select = _row_sql(criteria, opts.fmt)
    copy_format = "(FORMAT json)" if opts.fmt == "jsonl" else "(FORMAT csv, HEADER false)"
    limit = total if opts.limit is None else min(total, done + opts.limit)
    complete = False
    try:
        checkpoint()
        with tempfile.TemporaryDirectory(prefix="screener-fast-") as scratch:
            part = Path(scratch) / f"rows.{opts.fmt}"
            for chunk in screener.iter_tables(registry, opts.as_of, chunk_size=opts.chunk_size, skip=done):
                if engine is not None:
                    problems = _explain(screener, engine, chunk, opts.as_of)
                    err_handle.write(_lines(problems))
                    errors += len(problems)
                target = str(part).replace("'", "''")
                screener.con.execute(f"COPY ({select}) TO '{target}' {copy_format}")
                with part.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        out_handle.write(block)
                err_handle.write(_lines(_error_records(chunk)))
                if len(chunk):
                    funnel.add_codes(np.column_stack([chunk.codes[c] for c in criteria]))
                done = chunk.next_pid
                rows += len(chunk)
                errors += len({e.pid for e in chunk.errors})
                checkpoint()
                progress.update(done)
                if done >= limit and done < total:
                    break
        complete = done >= total
    finally:
        screener.close()
        if engine is not None:
            engine.close()
        out_handle.close()
        err_handle.close()
        progress.close()

    if complete:
        os.replace(out_partial, opts.out)
        if errors or opts.errors is not None:
            os.replace(err_partial, errors_path)
        else:
            err_partial.unlink()
        ckpt.unlink()
        _fsync_dir(opts.out)
        if opts.summary is not None:
            text = render_svg(funnel) if opts.summary.suffix.lower() == ".svg" else render_html(funnel)
            write_atomic(opts.summary, text)
    return BatchReport(
        complete=complete,
        records=done,
        rows=rows,
        errors=errors,
        out=opts.out,
        errors_path=errors_path if complete and (errors or opts.errors is not None) else None,
        funnel=funnel,
        resumed_from=resumed_from,
    )
