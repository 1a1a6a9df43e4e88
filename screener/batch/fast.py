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
    write_atomic,
)
from screener.batch.summary import Funnel, render_html, render_svg
from screener.errors import InputError, Location
from screener.model.rules import find_rule_file, parse_ruleset
from screener.vectorized import VectorizedScreener
from screener.vectorized.screen import TableChunk
from screener.vectorized.sql import ident, outcome_lists

CHECKPOINT_VERSION = 1
DEFAULT_CHUNK = 100_000


def _row_sql(criteria: tuple[str, ...], fmt: str) -> str:
    """SELECT of the current chunk's rows (``outcomes`` joined to ``registry_patients``)."""
    parts = outcome_lists(criteria)
    if fmt == "jsonl":
        outcomes = ", ".join(f"{ident(c)}: {parts[c]}" for c in criteria)
        columns = (
            f"x.patient_id AS patient_id, {parts['decision']} AS decision, "
            f"{parts['failing']} AS failing, {parts['unknown']} AS unknown, "
            f"{{{outcomes}}} AS outcomes, x.file AS source"
        )
    else:
        per = ", ".join(f"{parts[c]} AS {ident(c)}" for c in criteria)
        columns = (
            f"x.patient_id, {parts['decision']} AS decision, "
            f"nullif(array_to_string({parts['failing']}, ';'), '') AS failing, "
            f"nullif(array_to_string({parts['unknown']}, ';'), '') AS unknown, x.file AS source, {per}"
        )
    joined = "outcomes JOIN registry_patients x ON x.pid = outcomes.pid"
    return f"SELECT {columns} FROM {joined} ORDER BY outcomes.pid"


def _header(criteria: tuple[str, ...], fmt: str) -> bytes:
    if fmt != "csv":
        return b""
    import csv
    import io

    buffer = io.StringIO()
    columns = ["patient_id", "decision", "failing", "unknown", "source", *criteria]
    csv.writer(buffer, lineterminator="\n").writerow(columns)
    return buffer.getvalue().encode("utf-8")


def _error_lines(chunk: TableChunk) -> bytes:
    return "".join(
        json.dumps(
            {
                "source": e.file,
                "line": None,
                "index": e.pid,
                "patient_id": e.patient_id,
                "field": e.field,
                "message": e.message,
            },
            ensure_ascii=False,
        )
        + "\n"
        for e in chunk.errors
    ).encode("utf-8")


def run_fast_batch(opts: BatchOptions) -> BatchReport:
    """Screen one columnar registry (``opts.inputs``) with the vectorized query."""
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
    select = _row_sql(criteria, opts.fmt)
    copy_format = "(FORMAT json)" if opts.fmt == "jsonl" else "(FORMAT csv, HEADER false)"
    limit = total if opts.limit is None else min(total, done + opts.limit)
    complete = False
    try:
        checkpoint()
        with tempfile.TemporaryDirectory(prefix="screener-fast-") as scratch:
            part = Path(scratch) / f"rows.{opts.fmt}"
            for chunk in screener.iter_tables(registry, opts.as_of, chunk_size=opts.chunk_size, skip=done):
                target = str(part).replace("'", "''")
                screener.con.execute(f"COPY ({select}) TO '{target}' {copy_format}")
                with part.open("rb") as handle:
                    while block := handle.read(1 << 20):
                        out_handle.write(block)
                err_handle.write(_error_lines(chunk))
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
