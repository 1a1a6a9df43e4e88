"""Screen many patients with bounded memory, in parallel, resumably.

Records stream from :func:`screener.batch.inputs.iter_records` in chunks; each
chunk is screened by a worker that built ONE :class:`Engine` when it started
(a process pool initializer, or a per-process cache keyed by the rule set's
sha256 on dask workers) and comes back as compact rows, written in input order
as soon as they arrive. At most ``2 x workers`` chunks are in flight: results
are never all held, whatever the input size.

Outputs go through :class:`screener.batch.outputs.BatchOutputs`: ``FILE.partial``
renamed over ``FILE`` only when the whole input has been screened, a checkpoint
after every chunk, and ``resume=True`` continues an interrupted run from it with
no duplicate or lost row. The first chunks are small (8 records, then doubling up
to ``chunk_size``), so the first checkpoint comes after seconds, not after the pool
has read ``2 x workers`` full chunks.
A record that cannot be read or screened goes to the errors file (JSONL:
source, line, field, message) and the batch goes on, whatever the failure: an
exception while screening it, or a chunk that cannot travel to a pool worker and
back (then screened here, record by record). Pool workers ignore Ctrl-C (the main
process stops the pool) and exit at once, quietly, if the main process is killed.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from screener.batch.inputs import Record, count_records, expand, failure_message, iter_records, mapping_of
from screener.batch.outputs import (
    BatchOutputs,
    default_errors_path,
)
from screener.batch.progress import Progress
from screener.batch.safe_io import csv_lines
from screener.batch.summary import Funnel
from screener.engine.evaluate import Engine
from screener.errors import InputError, Location, ScreenerError
from screener.model.operators import NUMERIC_OPS, OPERATORS
from screener.model.patient import Patient, patient_from_data
from screener.model.rules import RuleSet, find_rule_file, parse_ruleset, read_rule_text
from screener.outputs.provenance import PROVENANCE_COLUMNS, result_columns
from screener.results import ScreeningResult
from screener.yamlio import LineMap

CSV_COLUMNS = (
    "patient_id",
    "decision",
    "decision_reason",  # set when the criteria did not give the decision (a death)
    "failing",
    "unknown",
    "eligible_from",
    "near_misses",
    "source",
    "line",
    *PROVENANCE_COLUMNS,  # which rule set, date and program made the row (row format 2)
)

Outcome = tuple[str, dict[str, Any]]  # ("row", row) or ("error", error record)


# --------------------------------------------------------------------------- worker side


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to screen: picklable, small, self-contained."""

    rules_text: str
    rules_file: str
    sha256: str
    as_of: date


_ENGINES: dict[str, tuple[RuleSet, Engine]] = {}
_ENGINES_LOCK = threading.Lock()
_JOB: Job | None = None
# Parsed rule sets by sha256: plain immutable data, so unlike engines (each holds its own
# durable_rules handle) a forked worker may use its parent's and skip parsing the YAML.
_RULESETS: dict[tuple[str, str], RuleSet] = {}  # (sha256, file) -> rule set


def engine_for(job: Job) -> tuple[RuleSet, Engine]:
    """This process's engine for ``job``'s rule set, built on first use only."""
    with _ENGINES_LOCK:
        hit = _ENGINES.get(job.sha256)
        if hit is None:
            ruleset = _RULESETS.get((job.sha256, job.rules_file))
            if ruleset is None:
                ruleset = parse_ruleset(job.rules_text, job.rules_file)
                _RULESETS[(job.sha256, job.rules_file)] = ruleset
            hit = (ruleset, Engine(ruleset))
            _ENGINES[job.sha256] = hit
        return hit


def engines_built() -> int:
    """How many engines this process holds (tests check one per worker)."""
    return len(_ENGINES)


def _fmt(x: float) -> str:
    return f"{round(float(x), 2):g}"


def near_misses(result: ScreeningResult) -> list[str]:
    """For each failing criterion, its numeric tests on the failing side and how far off.

    ``"E2: crcl_cockcroft_gault 27 < 30 mL/min (3 below)"``: the value, how it
    stands against the threshold, the unit and the distance (from Evidence).
    """
    out: list[str] = []
    for c in result.failing:
        failing_side = c.type != "inclusion"  # exclusion fails when its test holds
        for e in c.evidence:
            margin = e.margin
            if e.outcome is not failing_side or margin is None or e.op not in NUMERIC_OPS:
                continue
            assert e.value is not None and e.threshold is not None
            subject = e.test.rsplit(f" {OPERATORS[e.op].words} ", 1)[0]  # as Comparison.describe wrote it
            relation = "<" if margin < 0 else ">" if margin > 0 else "="
            unit = f" {e.unit}" if e.unit else ""
            distance = (
                f"{_fmt(-margin)} below"
                if margin < 0
                else f"{_fmt(margin)} above"
                if margin
                else "at threshold"
            )
            out.append(f"{c.id}: {subject} {_fmt(e.value)} {relation} {_fmt(e.threshold)}{unit} ({distance})")
    return out


def make_row(result: ScreeningResult, source: str, line: int | None) -> dict[str, Any]:
    """The per-patient batch row: only read from the result, never re-judged."""
    return {
        "patient_id": result.patient_id,
        "decision": result.decision,
        "decision_reason": result.decision_reason,
        "failing": [c.id for c in result.failing],
        "unknown": [{"id": c.id, "missing": list(c.missing)} for c in result.unknown],
        "eligible_from": result.eligible_from.isoformat() if result.eligible_from else None,
        "near_misses": near_misses(result),
        "source": source,
        "line": line,
        **result_columns(result),
    }


def _error(record: Record, message: str, location: Location | None = None) -> Outcome:
    line = record.line
    if location is not None and record.lines is not None:
        line = location.line  # a YAML/JSON file: the line inside it
    patient_id = record.data.get("patient_id") if isinstance(record.data, dict) else None
    return (
        "error",
        {
            "source": record.source,
            "line": line,
            "index": record.index,
            "patient_id": patient_id if isinstance(patient_id, str) else None,
            "field": location.field if location is not None else None,
            "message": message,
        },
    )


def screen_row(
    engine: Engine, patient: Patient, as_of: date, source: str, line: int | None
) -> dict[str, Any]:
    """One patient's batch row (also used by the fast path for the patients it explains)."""
    # rows show no facts-used lists, and no evidence of passing or unknown criteria
    return make_row(engine.screen(patient, as_of, explain=False, evidence="failing"), source, line)


def screen_record(engine: Engine, record: Record, as_of: date) -> Outcome:
    if record.error is not None:
        return _error(
            record, record.error.message, Location(record.source, record.error.line, record.error.field)
        )
    assert record.data is not None
    lines = record.lines or LineMap(record.source, {})
    try:
        patient = patient_from_data(record.data, lines)
        row = screen_row(engine, patient, as_of, record.source, record.line)
    except InputError as error:
        return _error(record, error.message, error.location)
    except ScreenerError as error:
        return _error(record, f"{type(error).__name__}: {error}")
    except Exception as error:  # a bug on one record must not lose the rest of the batch
        return _error(record, failure_message(error))
    return ("row", row)


def screen_chunk(job: Job, chunk: list[Record]) -> list[Outcome]:
    """Screen a chunk with this process's engine (used in-process and on dask workers)."""
    _, engine = engine_for(job)
    return [screen_record(engine, record, job.as_of) for record in chunk]


def _die_with_parent(parent: int) -> None:
    """An orphaned pool worker (its batch was killed, even by SIGKILL) exits at once and
    quietly, instead of finishing its chunk and dying on a broken pipe with a traceback."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before the line above
        os._exit(0)

    def watch() -> None:  # elsewhere, or if prctl failed: look every half second
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="screener-parent-watch", daemon=True).start()


def _init_worker(job: Job, parent: int | None = None) -> None:
    """Pool initializer: build this worker's one engine before any chunk arrives."""
    global _JOB
    if parent is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops the pool
        _die_with_parent(parent)
    _JOB = job
    _ENGINES.clear()  # a forked child must not reuse the parent's engine
    engine_for(job)


def _pool_chunk(chunk: list[Record]) -> list[Outcome]:
    assert _JOB is not None
    return screen_chunk(_JOB, chunk)


# --------------------------------------------------------------------------- executors


FIRST_CHUNK = 8  # records in the first chunk; each next one doubles, up to the chunk size


def _chunks(records: Iterable[Record], size: int, first: int = FIRST_CHUNK) -> Iterator[list[Record]]:
    """Chunks of ``size`` records, the first ones smaller (``first``, doubling): results,
    and so the first checkpoint, come early, however slow the records are to read."""
    iterator = iter(records)
    step = max(1, min(first, size))
    while chunk := list(itertools.islice(iterator, step)):
        yield chunk
        step = min(step * 2, size)


def run_in_process(job: Job, chunks: Iterable[list[Record]]) -> Iterator[list[Outcome]]:
    for chunk in chunks:
        yield screen_chunk(job, chunk)


def run_in_pool(job: Job, chunks: Iterable[list[Record]], workers: int) -> Iterator[list[Outcome]]:
    """Chunks through worker processes (:func:`screener.batch.tasks.run_tasks`), results in
    input order, at most 2 x workers in flight (memory stays flat).

    A chunk whose worker dies (killed, out of memory) is retried once, alone; if its worker
    dies again each of its records is reported as not screened, and the batch goes on (a
    ``multiprocessing.Pool`` waited for ever for the chunk of a killed worker). A chunk
    that fails otherwise, e.g. one that cannot travel to a worker and back (a record too
    deeply nested to pickle), is screened here, record by record.
    """
    from screener.batch.tasks import TaskFailed, run_tasks

    for chunk, result in run_tasks(screen_chunk, job, chunks, workers, init=_init_worker, init_args=(job,)):
        if not isinstance(result, TaskFailed):
            yield result
        elif result.crashed:
            yield [_error(record, f"not screened: {result.message} (retried once)") for record in chunk]
        else:
            yield screen_chunk(job, chunk)


def run_on_dask(job: Job, chunks: Iterable[list[Record]], address: str) -> Iterator[list[Outcome]]:
    """Chunks on a dask.distributed cluster; each worker process caches its engine by sha256.
    A chunk that fails on the cluster twice (it could not be sent, its workers kept dying)
    is screened here, record by record."""
    from screener.batch.tasks import TaskFailed, run_tasks

    for chunk, result in run_tasks(screen_chunk, job, chunks, scheduler=address):
        yield screen_chunk(job, chunk) if isinstance(result, TaskFailed) else result


# --------------------------------------------------------------------------- writing


def csv_row(r: dict[str, Any], *, trial: bool = False) -> list[Any]:
    """A row's CSV cells in the order of the CSV header (with the ``trial`` column of a
    portfolio's long rows after the patient id)."""
    return [
        r["patient_id"],
        *([r["trial"]] if trial else []),
        r["decision"],
        r["decision_reason"] or "",
        ";".join(r["failing"]),
        unknown_cell(r["unknown"]),
        r["eligible_from"] or "",
        "; ".join(r["near_misses"]),
        r["source"],
        "" if r["line"] is None else r["line"],
        *(r[c] for c in PROVENANCE_COLUMNS),
    ]


def unknown_cell(unknown: list[dict[str, Any]]) -> str:
    """The CSV cell of a row's unknown criteria: ``E2: creatinine | weight; E3: lvef``."""
    return "; ".join(f"{u['id']}: {' | '.join(u['missing'])}" for u in unknown)


class RowWriter:
    """CSV or JSONL rows, encoded to bytes so checkpoints can record exact sizes."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt

    def header(self) -> bytes:
        if self.fmt != "csv":
            return b""
        return self._csv([list(CSV_COLUMNS)])

    @staticmethod
    def _csv(rows: list[list[Any]]) -> bytes:
        """CSV lines (:func:`screener.batch.safe_io.csv_lines`: formula cells neutralised, a
        carriage return quoted); a lone surrogate becomes ``\\udXXX``."""
        return csv_lines(rows).encode("utf-8", "backslashreplace")

    def encode(self, rows: list[dict[str, Any]]) -> bytes:
        if self.fmt == "jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            return text.encode("utf-8", "backslashreplace")  # a lone surrogate: a JSON \udXXX escape
        return self._csv([csv_row(r) for r in rows])


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class BatchOptions:
    inputs: tuple[str, ...]
    rules: Path
    as_of: date
    out: Path
    fmt: str = "csv"  # csv | jsonl
    workers: int = 1
    errors: Path | None = None
    resume: bool = False
    limit: int | None = None  # stop (resumably) after this many records in this run
    chunk_size: int = 200
    scheduler: str | None = None
    summary: Path | None = None
    progress: bool = False
    overwrite: bool = False  # replace an earlier run's output files (--overwrite)
    #: vectorized engine: DuckDB memory per process (a DuckDB size, "300MB"; None: DuckDB's default)
    memory_limit: str | None = None


@dataclass(frozen=True)
class BatchReport:
    complete: bool
    records: int  # records handled in total, this run and resumed ones
    rows: int
    errors: int
    out: Path
    errors_path: Path | None
    funnel: Funnel = field(compare=False)
    resumed_from: int = 0


def _fingerprint(inputs: Iterable[str]) -> list[list[Any]]:
    """Path, size and modification time of every input file: resuming needs the same bytes."""
    out: list[list[Any]] = []
    for path in expand(inputs):
        try:
            st = path.stat()
        except OSError:
            out.append([str(path), None, None])
            continue
        out.append([str(path), st.st_size, st.st_mtime_ns])
    return out


def run_batch(opts: BatchOptions) -> BatchReport:
    rule_file = find_rule_file(opts.rules)
    text = read_rule_text(rule_file)
    ruleset = parse_ruleset(text, str(rule_file))
    _RULESETS.setdefault((ruleset.sha256, str(rule_file)), ruleset)  # workers here or forked: parsed once
    job = Job(text, str(rule_file), ruleset.sha256, opts.as_of)
    criteria = tuple(c.id for c in ruleset.criteria)
    titles = tuple(c.title for c in ruleset.criteria)

    writer = RowWriter(opts.fmt)
    outputs = BatchOutputs(
        opts.out,
        opts.errors,
        {
            "inputs": [str(p) for p in opts.inputs],
            "files": _fingerprint(opts.inputs),
            "rules_sha256": ruleset.sha256,
            "as_of": opts.as_of.isoformat(),
            "format": opts.fmt,
            "errors": str(opts.errors or default_errors_path(opts.out)),
        },
        Funnel(criteria, titles),
        writer.header(),
        opts.resume,
        "other inputs (or they changed since), rules, date, format or errors file",
        overwrite=opts.overwrite,
        summary=opts.summary,
    )
    try:
        progress = Progress(
            count_records(opts.inputs) if opts.progress else None, start=outputs.done, enabled=opts.progress
        )
    except BaseException:
        outputs.release()
        raise
    source = iter_records(opts.inputs, skip=outputs.done, mapping=mapping_of(opts.rules))
    records: Iterable[Record] = source if opts.limit is None else itertools.islice(source, opts.limit)
    chunks = _chunks(records, max(opts.chunk_size, 1))
    if opts.scheduler:
        results = run_on_dask(job, chunks, opts.scheduler)
    elif opts.workers > 1:
        results = run_in_pool(job, chunks, opts.workers)
    else:
        results = run_in_process(job, chunks)

    complete = False
    try:
        outputs.checkpoint()
        for outcomes in results:
            good = [payload for kind, payload in outcomes if kind == "row"]
            bad = [payload for kind, payload in outcomes if kind == "error"]
            if good:
                outputs.write_rows(writer.encode(good), len(good))
            for row in good:
                outputs.funnel.add_row(row)
            outputs.write_errors(bad)
            outputs.done += len(outcomes)
            outputs.errors += len(bad)
            outputs.checkpoint()
            progress.update(outputs.done)
        complete = opts.limit is None or next(iter(source), None) is None
    except BaseException:
        outputs.release()  # the checkpoint stays for --resume; the output is free again
        raise
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()  # stops a pool or dask client promptly on interruption
        outputs.close()
        progress.close()
    return report(outputs, complete, opts.summary)


def report(outputs: BatchOutputs, complete: bool, summary: Path | None) -> BatchReport:
    """Finish a run's outputs if it is complete, release them, and say what it did."""
    try:
        kept = outputs.finish(summary) if complete else None
    finally:
        outputs.release()
    return BatchReport(
        complete=complete,
        records=outputs.done,
        rows=outputs.rows,
        errors=outputs.errors,
        out=outputs.out,
        errors_path=kept,
        funnel=outputs.funnel,
        resumed_from=outputs.resumed_from,
    )
