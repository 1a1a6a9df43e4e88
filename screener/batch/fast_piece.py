"""One task of ``screener batch --engine vectorized``: screen one piece of a columnar registry.

A piece is a range of pids, of the whole registry or of one of its patient-hash partitions
(:func:`screener.tables.write.partitions`). :func:`screen_piece` runs wherever the task
runs (this process, a pool worker, a dask worker): the rule query in DuckDB (one thread),
then the rule engine for the patients the query cannot read at face value (dead, outside
their observed time, an unconfirmed diagnosis) and, with ``explain="open"``, for those
still in reach. It returns outcomes as plain data (:class:`PieceResult`) and, for a piece of
a whole registry, its rows (``FastJob.rows``: the SELECT the main process would run, over
the same tables); for a partition's piece, the explanations the main process joins into the
rows. The main process (:mod:`screener.batch.fast`) puts them in pid order whatever the order
the pieces finish in. Each process keeps one screener and one engine per job
(:data:`_STATES`), built on its first piece.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from screener import scratch as scratch_dirs
from screener.batch.inputs import failure_message
from screener.batch.memory import PartSize, in_parts
from screener.batch.runner import make_row, screen_row, unknown_cell
from screener.engine.evaluate import Engine
from screener.model.patient import Patient
from screener.model.rules import RuleSet, parse_ruleset
from screener.vectorized import VectorizedScreener
from screener.vectorized.reasons import Reasons
from screener.vectorized.screen import TableChunk
from screener.vectorized.sql import ident


@dataclass(frozen=True)
class RowSpec:
    """How a piece of the whole registry writes its own rows (``screener.batch.fast``): the
    rows' SELECT over ``outcomes``, ``registry_patients``, ``explained``, ``eligible_at`` and
    ``reasoned`` (without WHERE), the COPY format, and the directory where the main process
    collects them (a worker that cannot see it, on another machine, sends the bytes)."""

    select: str
    copy_format: str
    suffix: str
    directory: str


@dataclass(frozen=True)
class FastJob:
    """What every piece of one run shares: picklable, small (the rule text, not the parsed set)."""

    registry: str
    rules_text: str
    rules_file: str
    sha256: str
    as_of: date
    explain: str = "none"
    #: DuckDB memory per worker process (a DuckDB size, "300MB"); None: DuckDB's default
    memory_limit: str | None = None
    #: a directory the main process made and removes; each process spills into its own
    #: subdirectory (a dask worker that cannot see it makes its own temporary one)
    spill: str | None = None
    #: a piece of the whole registry writes its rows (None: the main process writes them, from
    #: the outcomes and reasons the piece sends; so with patient-hash partitions, whose pieces'
    #: rows interleave by pid)
    rows: RowSpec | None = None


@dataclass(frozen=True)
class Piece:
    """The pids ``first``..``last`` of ``partition`` (None: of the whole registry)."""

    first: int
    last: int
    partition: int | None = None


@dataclass(frozen=True)
class PieceResult:
    """A piece's outcomes, aligned by position: ``codes[criterion][i]`` is patient ``pids[i]``'s
    0/1/2 code (after the engine screened the uncertain ones); ``explained`` holds the engine's
    rows (pid, unknown cell, unknown list, eligible-from, near misses, decision, reason);
    ``problems`` and ``errors`` are error records (engine, then patients not screened);
    ``decided`` the pids whose decision the criteria did not give (a death)."""

    pids: list[int]
    patient_ids: list[str]
    files: list[str]
    lines: list[int | None]
    codes: dict[str, Any]
    explained: list[tuple[Any, ...]] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_pids: int = 0  # patients not screened (one may have several error records)
    decided: frozenset[int] = frozenset()
    eligible: list[tuple[int, str]] = field(default_factory=list)  # (pid, eligible-from) from SQL
    #: the SQL reasons of the patients the engine did not screen (:mod:`screener.vectorized.reasons`):
    #: Parquet files' bytes (pid, unknown, near_misses), one per part screened; none with
    #: ``explain="outcomes"`` or where the piece wrote its rows
    reasons: tuple[bytes, ...] = ()
    #: the piece's rows in pid order (``FastJob.rows``), one per part screened: a file in
    #: ``RowSpec.directory`` or the bytes, and how many rows; then ``explained``, ``eligible``
    #: and ``reasons`` are not sent
    rows: tuple[tuple[str | bytes, int], ...] = ()

    def then(self, later: PieceResult) -> PieceResult:
        """This result followed by ``later``'s, of the pids after this one's (a split piece)."""
        import numpy as np

        return PieceResult(
            self.pids + later.pids,
            self.patient_ids + later.patient_ids,
            self.files + later.files,
            self.lines + later.lines,
            {c: np.concatenate([v, later.codes[c]]) for c, v in self.codes.items()},
            self.explained + later.explained,
            self.problems + later.problems,
            self.errors + later.errors,
            self.error_pids + later.error_pids,
            self.decided | later.decided,
            self.eligible + later.eligible,
            self.reasons + later.reasons,
            self.rows + later.rows,
        )


class _State:
    """One process's screener and engines for one job."""

    def __init__(self, job: FastJob, ruleset: RuleSet) -> None:
        spill = None
        if job.spill is not None and Path(job.spill).is_dir():
            spill = Path(job.spill) / f"worker-{os.getpid()}-{threading.get_ident()}"
        self.screener = VectorizedScreener(ruleset, threads=1, memory_limit=job.memory_limit, spill=spill)
        self.ruleset = ruleset
        self.engine = Engine(ruleset) if job.explain == "open" else None
        self._uncertain: Engine | None = self.engine
        self.reasons = Reasons(ruleset, self.screener.layout) if job.explain != "outcomes" else None
        self.part_size = PartSize()  # the most pids screened at once (screener.batch.memory)
        self.copy_size = PartSize()  # the most rows written by one COPY

    def uncertain_engine(self) -> Engine:
        """The engine for uncertain patients, made the first time one is met."""
        if self._uncertain is None:
            self._uncertain = Engine(self.ruleset)
        return self._uncertain

    def close(self) -> None:
        self.screener.close()
        for engine in {id(e): e for e in (self.engine, self._uncertain) if e is not None}.values():
            engine.close()


_STATES: dict[tuple[Any, ...], _State] = {}
_STATES_LOCK = threading.Lock()
#: parsed rule sets the main process registers, so a forked worker need not parse the YAML again
RULESETS: dict[str, RuleSet] = {}


def _key(job: FastJob) -> tuple[Any, ...]:
    # by process (a forked worker must not use its parent's DuckDB connection) and by thread
    # (a dask worker may run pieces in several threads; a connection serves one at a time)
    return (os.getpid(), threading.get_ident(), job.sha256, job.registry, job.as_of, job.explain)


def _state(job: FastJob) -> _State:
    key = _key(job)
    with _STATES_LOCK:
        state = _STATES.get(key)
        if state is None:
            ruleset = RULESETS.get(job.sha256) or parse_ruleset(job.rules_text, job.rules_file)
            state = _STATES[key] = _State(job, ruleset)
        return state


def release(job: FastJob) -> None:
    """Close this process's screener and engines for ``job`` (the in-process run's, at its end)."""
    with _STATES_LOCK:
        state = _STATES.pop(_key(job), None)
    if state is not None:
        state.close()


def screen_piece(job: FastJob, piece: Piece) -> PieceResult:
    """Screen one piece (see the module); runs in any process that can read the registry.

    A piece that does not fit in the DuckDB memory of ``job.memory_limit`` (DuckDB spills most
    of its work, not all of it) is screened in parts of half its pids, and so on down to one
    patient; the parts' results are the piece's, as if it had run whole. The process then
    screens at most that many pids at once, so it pays the failed attempt once."""
    state = _state(job)
    most = state.part_size.most
    parts = in_parts(
        piece.first,
        piece.last,
        state.part_size,
        lambda first, last: _screen_whole(job, Piece(first, last, piece.partition), state),
    )
    result = functools.reduce(PieceResult.then, parts)
    if state.part_size.most != most:  # said once per process and size: each part costs ~2 s
        print(
            f"screener: DuckDB ran out of its --memory-limit ({job.memory_limit or 'default'}) on "
            f"{piece.last - piece.first + 1:,} patients at once; this process now screens "
            f"{state.part_size.most:,} at a time, which is slower (a larger --memory-limit is faster)",
            file=sys.stderr,
        )
    return result


def _screen_whole(job: FastJob, piece: Piece, state: _State) -> PieceResult:
    screener = state.screener
    chunk = screener.screen_range(Path(job.registry), job.as_of, piece.first, piece.last, piece.partition)
    screener.con.execute(EXPLAINED_SQL)
    problems, decided = _screen_uncertain(screener, state.uncertain_engine, chunk, job.as_of)
    if state.reasons is not None:  # from this chunk's prepared tables, which eligible_from replaces
        state.reasons.fill(screener.con)
    # eligible-from dates in SQL (screener.vectorized.eligible_from), but for the engine's rows
    screener.eligible_from(job.as_of, piece.first, piece.last, "outcomes.pid IN (SELECT pid FROM explained)")
    eligible = screener.con.execute(
        "SELECT pid, eligible_from FROM eligible_at WHERE eligible_from IS NOT NULL ORDER BY pid"
    ).fetchall()
    if state.engine is not None:
        problems += _explain(screener, state.engine, chunk, job.as_of, dict(eligible))
    reasons: tuple[bytes, ...] = ()
    if state.reasons is not None:
        # the few rows whose explanation the SQL does not phrase (a contradiction in the record,
        # a derived value that could not be computed): the engine's, as with --explain open
        pending = (
            "SELECT pid FROM reasons WHERE engine AND pid NOT IN (SELECT pid FROM explained) ORDER BY pid"
        )
        problems += _explain(
            screener, state.uncertain_engine(), chunk, job.as_of, dict(eligible), pids_sql=pending
        )
    rows: tuple[tuple[str | bytes, int], ...] = ()
    explained: list[tuple[Any, ...]] = []
    if job.rows is not None and piece.partition is None:
        rows = ((_write_rows(job.rows, screener.con, piece, state), len(chunk.pids)),)
        eligible = []
    else:
        if state.reasons is not None:
            reasons = (_reason_bytes(screener.con),)
        explained = screener.con.execute(
            "SELECT pid, unknown_text, unknown_list, eligible_from, near_misses, decision, decision_reason "
            "FROM explained ORDER BY pid"
        ).fetchall()
    return PieceResult(
        chunk.pids,
        chunk.patient_ids,
        chunk.files,
        chunk.lines,
        chunk.codes,
        explained,
        problems,
        _error_records(chunk),
        len({e.pid for e in chunk.errors}),
        frozenset(chunk.pids[i] for i in decided),
        eligible,
        reasons,
        rows,
    )


def _write_rows(spec: RowSpec, con: Any, piece: Piece, state: _State) -> str | bytes:
    """The piece's rows, as the main process would write them from what the piece sends
    (the same SELECT over the same tables), in pid order: a file in ``spec.directory``, or
    its bytes where this process cannot see that directory. A COPY that does not fit in
    DuckDB's memory is done in parts (:func:`screener.batch.memory.in_parts`)."""
    if state.reasons is not None:  # the SQL reasons of the rows the engine did not make
        con.execute(
            "CREATE OR REPLACE TEMP VIEW reasoned AS SELECT pid, unknown, near_misses FROM reasons "
            "WHERE pid NOT IN (SELECT pid FROM explained)"
        )
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE reasoned ({REASON_COLUMNS})")
    directory = Path(spec.directory)
    shared = directory.is_dir()
    if not shared:
        directory = scratch_dirs.make("rows")
    out = directory / f"rows-{piece.first}-{piece.last}{spec.suffix}"
    part = directory / f"part-{os.getpid()}-{threading.get_ident()}{spec.suffix}"
    try:
        with out.open("wb") as handle:

            def copy(first: int, last: int) -> None:
                copy_rows(con, spec.select, spec.copy_format, part, first, last)
                with part.open("rb") as written:
                    shutil.copyfileobj(written, handle, 1 << 20)

            for _ in in_parts(piece.first, piece.last, state.copy_size, copy):
                pass
        if shared:
            return str(out)
        return out.read_bytes()
    finally:
        part.unlink(missing_ok=True)
        if not shared:
            shutil.rmtree(directory, ignore_errors=True)


def copy_rows(con: Any, select: str, copy_format: str, part: Path, first: int, last: int) -> None:
    """Write the rows of pids ``first``..``last`` (``select``: :func:`screener.batch.fast._row_sql`)
    to the file ``part``, in pid order; the one COPY of rows, in a piece or the main process."""
    target = str(part).replace("'", "''")
    con.execute(
        f"COPY ({select} WHERE outcomes.pid BETWEEN {first} AND {last} ORDER BY outcomes.pid) "
        f"TO '{target}' {copy_format}"
    )


REASON_COLUMNS = "pid BIGINT, unknown STRUCT(id VARCHAR, missing VARCHAR[])[], near_misses VARCHAR[]"


def _reason_bytes(con: Any) -> bytes:
    """The chunk's SQL reasons of the patients without an engine row, as Parquet bytes: plain
    data that travels back from a worker process or a dask worker as outcomes do."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="screener-reasons-") as scratch:
        path = Path(scratch) / "reasons.parquet"
        target = str(path).replace("'", "''")
        # in any order (the rows join them by pid); small row groups: the Parquet writer holds
        # one row group in memory, and missing facts are long lists of text
        con.execute(
            "COPY (SELECT pid, unknown, near_misses FROM reasons "
            f"WHERE pid NOT IN (SELECT pid FROM explained)) TO '{target}' "
            "(FORMAT parquet, ROW_GROUP_SIZE 8192)"
        )
        return path.read_bytes()


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


EXPLAINED_SQL = (
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
    screener: VectorizedScreener,
    engine: Engine,
    chunk: TableChunk,
    as_of: date,
    eligible: dict[int, str] | None = None,
    pids_sql: str | None = None,
) -> list[dict[str, Any]]:
    """Screen with the engine the chunk's patients who fail nothing, or only criteria they
    may pass later (a washout, an age limit: ``Engine.time_dependent``), or those ``pids_sql``
    selects; fill ``explained``.

    Returns error records for any patient the engine could not explain (its row keeps the
    fast path's outcomes) or on which the engine and the fast path disagree, on outcomes or
    on the eligible-from date (``eligible``: the query's, by pid; the differential tests say
    they never do; a disagreement is reported, not hidden, and the row is the engine's).
    """
    from screener.tables.layout import TABLES

    con = screener.con
    settled = [c for c in screener.query.criteria if c not in engine.time_dependent]
    failing = " OR ".join(f"{ident(c)} = 1" for c in settled) or "FALSE"
    query = (
        f"SELECT pid FROM outcomes WHERE NOT ({failing}) "
        "AND pid NOT IN (SELECT pid FROM explained) ORDER BY pid"  # uncertain ones: done already
    )
    pids = [pid for (pid,) in con.execute(pids_sql or query).fetchall()]
    if not pids:
        return []
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
        if eligible is not None and row["eligible_from"] != eligible.get(pid):
            problems.append(
                _problem(
                    patient,
                    pid,
                    chunk.lines[i],
                    "internal error: the engine and the vectorized query disagree on this patient's "
                    f"eligible-from date (engine {row['eligible_from']}, query {eligible.get(pid)}); "
                    "please report it",
                )
            )
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
