"""``screener batch --rules DIR``: many patients against every trial of a portfolio.

Rows: one per patient and trial (a ``trial`` column; the single-trial row otherwise), or
with ``wide=True`` one per patient with a decision column per trial (a patient x trial
matrix). A funnel per trial, counted from the rows. Each patient is read once and screened
by each trial's engine (compiled once per process); with ``workers > 1`` chunks of records
go to a fork pool, in input order. A record that cannot be read is one error; a trial that
cannot screen a readable patient is an error naming the trial, and the patient's other
trials are still written (the wide cell says ``error``). Rule sets that could not be loaded
are not screened and are reported with the run (:class:`PortfolioBatchReport.broken`).

The row files go through :class:`screener.batch.outputs.BatchOutputs` (``.partial``,
lock, atomic rename, errors file); the checkpoint holds every trial's funnel
(:class:`screener.batch.summary.TrialFunnels`), so an interrupted run continues with
``--resume`` after the last checkpointed chunk of records, as a single-trial run does.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from screener.batch.inputs import Record, count_records, iter_records, mapping_of
from screener.batch.outputs import BatchOutputs, default_errors_path
from screener.batch.progress import Progress
from screener.batch.runner import BatchOptions, _error, csv_row, screen_row
from screener.batch.safe_io import csv_lines, refuse_existing, write_atomic
from screener.batch.summary import Funnel, RunInfo, TrialFunnels, render_html, render_svg
from screener.engine.evaluate import Engine
from screener.errors import InputError, ScreenerError
from screener.model.patient import patient_from_data
from screener.outputs.provenance import PROVENANCE_COLUMNS
from screener.portfolio.load import BrokenRuleSet, Portfolio
from screener.yamlio import LineMap

LONG_COLUMNS = (
    "patient_id",
    "trial",
    "decision",
    "decision_reason",
    "failing",
    "unknown",
    "eligible_from",
    "near_misses",
    "source",
    "line",
    *PROVENANCE_COLUMNS,
)
WIDE_LEAD = ("patient_id", "source", "line", "as_of", "screener_version")
ERROR_CELL = "error"  # wide: this trial could not screen this patient (see the errors file)

Outcome = tuple[str, dict[str, Any]]  # ("row", row with "trial") or ("error", error record)


def wide_columns(trials: Iterable[str]) -> tuple[str, ...]:
    """The wide CSV header: the lead columns, then per trial its decision and eligible-from date."""
    return (*WIDE_LEAD, *itertools.chain.from_iterable((t, f"{t}_eligible_from") for t in trials))


# --------------------------------------------------------------------------- rows


def screen_portfolio_record(engines: list[Engine], record: Record, as_of: date) -> list[Outcome]:
    """One record read once, screened by every trial: a row per trial, or errors."""
    if record.error is not None:
        from screener.errors import Location

        err = record.error
        return [_error(record, err.message, Location(record.source, err.line, err.field))]
    assert record.data is not None
    try:
        patient = patient_from_data(record.data, record.lines or LineMap(record.source, {}))
    except InputError as error:
        return [_error(record, error.message, error.location)]
    except Exception as error:  # one bad record never stops the batch
        from screener.batch.inputs import failure_message

        return [_error(record, failure_message(error))]
    out: list[Outcome] = []
    for engine in engines:
        trial = engine.ruleset.trial
        try:
            row = screen_row(engine, patient, as_of, record.source, record.line)
        except InputError as error:
            kind, payload = _error(record, error.message, error.location)
            out.append((kind, {**payload, "trial": trial}))
            continue
        except ScreenerError as error:
            kind, payload = _error(record, f"{type(error).__name__}: {error}")
            out.append((kind, {**payload, "trial": trial}))
            continue
        except Exception as error:
            from screener.batch.inputs import failure_message

            kind, payload = _error(record, failure_message(error))
            out.append((kind, {**payload, "trial": trial}))
            continue
        out.append(("row", {"patient_id": row["patient_id"], "trial": trial, **row}))
    return out


class PortfolioRowWriter:
    """Long rows (patient x trial) or wide rows (a patient and every trial's decision)."""

    def __init__(self, fmt: str, trials: tuple[str, ...], wide: bool) -> None:
        self.fmt, self.trials, self.wide = fmt, trials, wide

    def header(self) -> bytes:
        if self.fmt != "csv":
            return b""
        columns = wide_columns(self.trials) if self.wide else LONG_COLUMNS
        return csv_lines([list(columns)]).encode("utf-8", "backslashreplace")

    def encode(self, patients: list[tuple[list[dict[str, Any]], set[str]]]) -> tuple[bytes, int]:
        """``patients``: each patient's rows (one per trial screened) and the trials that
        failed on it. Returns the bytes and the number of rows they hold."""
        if self.wide:
            rows = [self._wide(rows, failed) for rows, failed in patients if rows]
        else:
            rows = [r for rows, _ in patients for r in rows]
        if self.fmt == "jsonl":
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            return text.encode("utf-8", "backslashreplace"), len(rows)
        if self.wide:
            cells = [[r[c] if r[c] is not None else "" for c in wide_columns(self.trials)] for r in rows]
        else:
            cells = [csv_row(r, trial=True) for r in rows]
        return csv_lines(cells).encode("utf-8", "backslashreplace"), len(rows)

    def _wide(self, rows: list[dict[str, Any]], failed: set[str]) -> dict[str, Any]:
        first = rows[0]
        by_trial = {r["trial"]: r for r in rows}
        if self.fmt == "jsonl":
            return {
                "patient_id": first["patient_id"],
                "source": first["source"],
                "line": first["line"],
                "as_of": first["as_of"],
                "screener_version": first["screener_version"],
                "trials": {
                    t: (
                        {
                            "decision": by_trial[t]["decision"],
                            "eligible_from": by_trial[t]["eligible_from"],
                            "ruleset_sha256": by_trial[t]["ruleset_sha256"],
                        }
                        if t in by_trial
                        else {"decision": ERROR_CELL if t in failed else None}
                    )
                    for t in self.trials
                },
            }
        out: dict[str, Any] = {c: first[c] for c in WIDE_LEAD}
        for t in self.trials:
            row = by_trial.get(t)
            out[t] = row["decision"] if row else (ERROR_CELL if t in failed else None)
            out[f"{t}_eligible_from"] = row["eligible_from"] if row else None
        return out


def group_by_patient(
    outcomes: list[list[Outcome]],
) -> tuple[list[tuple[list[dict[str, Any]], set[str]]], list[dict[str, Any]]]:
    """Per record: its rows and the trials that failed on it; and every error record."""
    patients: list[tuple[list[dict[str, Any]], set[str]]] = []
    errors: list[dict[str, Any]] = []
    for record in outcomes:
        rows = [payload for kind, payload in record if kind == "row"]
        bad = [payload for kind, payload in record if kind == "error"]
        errors.extend(bad)
        patients.append((rows, {e["trial"] for e in bad if e.get("trial")}))
    return patients, errors


# --------------------------------------------------------------------------- workers

_ENGINES: list[Engine] = []
_PORTFOLIO: Portfolio | None = None
_AS_OF: date | None = None


def _engines(portfolio: Portfolio) -> list[Engine]:
    if not _ENGINES:
        _ENGINES.extend(Engine(r) for r in portfolio.rulesets)
    return _ENGINES


def _init_worker(portfolio: Portfolio, as_of: date) -> None:
    import signal

    global _PORTFOLIO, _AS_OF
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops the pool
    _ENGINES.clear()  # a forked child must not reuse the parent's engines
    _PORTFOLIO, _AS_OF = portfolio, as_of
    _engines(portfolio)


def _pool_chunk(chunk: list[Record]) -> list[list[Outcome]]:
    assert _PORTFOLIO is not None and _AS_OF is not None
    engines = _engines(_PORTFOLIO)
    return [screen_portfolio_record(engines, r, _AS_OF) for r in chunk]


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _results(
    portfolio: Portfolio, records: Iterable[Record], as_of: date, workers: int, size: int
) -> Iterator[list[list[Outcome]]]:
    chunks = _chunks(records, size)
    if workers <= 1:
        engines = [Engine(r) for r in portfolio.rulesets]
        try:
            for chunk in chunks:
                yield [screen_portfolio_record(engines, r, as_of) for r in chunk]
        finally:
            for engine in engines:
                engine.close()
        return
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(portfolio, as_of)) as pool:
        yield from pool.imap(_pool_chunk, chunks)  # in input order


# --------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class PortfolioBatchReport:
    complete: bool
    records: int
    rows: int
    errors: int  # error records: unreadable records, and (record, trial) pairs not screened
    out: Path
    errors_path: Path | None
    funnels: dict[str, Funnel] = field(compare=False)  # trial -> its funnel, in portfolio order
    broken: tuple[BrokenRuleSet, ...] = ()
    resumed_from: int = 0  # records a resumed run found done at its checkpoint


def portfolio_signature(portfolio: Portfolio, opts: BatchOptions, wide: bool, engine: str) -> dict[str, Any]:
    return {
        "engine": engine,
        "portfolio": {r.trial: r.sha256 for r in portfolio.rulesets},
        "inputs": [str(p) for p in opts.inputs],
        "as_of": opts.as_of.isoformat(),
        "format": opts.fmt,
        "wide": wide,
        "errors": str(opts.errors or default_errors_path(opts.out)),
    }


def funnels_of(portfolio: Portfolio) -> dict[str, Funnel]:
    return {
        r.trial: Funnel(tuple(c.id for c in r.criteria), tuple(c.title for c in r.criteria))
        for r in portfolio.rulesets
    }


def run_portfolio_batch(opts: BatchOptions, portfolio: Portfolio, wide: bool = False) -> PortfolioBatchReport:
    """Screen every record of ``opts.inputs`` against every usable trial of ``portfolio``."""
    if not opts.resume:
        refuse_existing([opts.summary], opts.overwrite)
    trials = portfolio.trials
    writer = PortfolioRowWriter(opts.fmt, trials, wide)
    outputs = BatchOutputs(
        opts.out,
        opts.errors,
        portfolio_signature(portfolio, opts, wide, "durable"),
        TrialFunnels(funnels_of(portfolio)),
        writer.header(),
        opts.resume,
        "another portfolio, inputs, date or format",
        overwrite=opts.overwrite,
    )
    assert isinstance(outputs.funnel, TrialFunnels)
    funnels = outputs.funnel.by_trial  # counted on from the checkpoint when resuming
    try:
        progress = Progress(count_records(opts.inputs) if opts.progress else None, enabled=opts.progress)
    except BaseException:
        outputs.release()
        raise
    source = iter_records(opts.inputs, skip=outputs.done, mapping=mapping_of(opts.rules))
    records: Iterable[Record] = source if opts.limit is None else itertools.islice(source, opts.limit)
    results = _results(portfolio, records, opts.as_of, opts.workers, max(opts.chunk_size, 1))
    complete = False
    try:
        outputs.checkpoint()
        for chunk in results:
            patients, errors = group_by_patient(chunk)
            data, count = writer.encode(patients)
            if count:
                outputs.write_rows(data, count)
            for rows, _ in patients:
                for row in rows:
                    funnels[row["trial"]].add_row(row)
            outputs.write_errors(errors)
            outputs.done += len(chunk)
            outputs.errors += len(errors)
            outputs.checkpoint()
            progress.update(outputs.done)
        complete = opts.limit is None or next(iter(source), None) is None
    except BaseException:
        outputs.release()
        raise
    finally:
        close = getattr(results, "close", None)
        if close is not None:
            close()
        outputs.close()
        progress.close()
    return finish(outputs, complete, funnels, portfolio, opts.summary)


def finish(
    outputs: BatchOutputs,
    complete: bool,
    funnels: dict[str, Funnel],
    portfolio: Portfolio,
    summary: Path | None,
    broken: tuple[BrokenRuleSet, ...] | None = None,
) -> PortfolioBatchReport:
    try:
        kept = outputs.finish(None) if complete else None
    finally:
        outputs.release()
    if complete and summary is not None:
        write_summary(summary, funnels)
    return PortfolioBatchReport(
        complete=complete,
        records=outputs.done,
        rows=outputs.rows,
        errors=outputs.errors,
        out=outputs.out,
        errors_path=kept,
        funnels=funnels,
        broken=portfolio.broken if broken is None else broken,
        resumed_from=outputs.resumed_from,
    )


def summary_paths(summary: Path, trials: Iterable[str]) -> dict[str, Path]:
    """An SVG holds one funnel: ``FILE.svg`` becomes ``FILE.<trial>.svg`` per trial."""
    return {t: summary.with_name(f"{summary.stem}.{t}{summary.suffix}") for t in trials}


def write_summary(
    summary: Path, funnels: dict[str, Funnel], infos: dict[str, RunInfo] | None = None
) -> list[Path]:
    """The funnels: one HTML page with a section per trial, or an SVG per trial."""
    summary.parent.mkdir(parents=True, exist_ok=True)
    if summary.suffix.lower() == ".svg":
        paths = summary_paths(summary, funnels)
        for trial, funnel in funnels.items():
            write_atomic(paths[trial], render_svg(funnel))
        return list(paths.values())
    sections = []
    for trial, funnel in funnels.items():
        page = render_html(funnel, (infos or {}).get(trial))
        body = page[page.index("<body>") + len("<body>") : page.index("</body>")]
        sections.append(body.replace("<h1>Attrition funnel</h1>", f"<h2>{trial}: attrition funnel</h2>", 1))
    head = page[: page.index("<body>") + len("<body>")] if funnels else "<!DOCTYPE html>\n<html><body>"
    text = head.replace("<title>Attrition funnel</title>", "<title>Portfolio attrition funnels</title>")
    text += "\n<h1>Attrition funnel per trial</h1>\n" + "\n".join(sections) + "</body></html>\n"
    write_atomic(summary, text)
    return [summary]
