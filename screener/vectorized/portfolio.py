"""Every trial of a portfolio over one columnar registry, in one pass.

One DuckDB connection reads the registry (the views ``registry_<table>``, attached once);
chunk by chunk of pids, each trial's preparation (which value counts for *its* vocabulary:
freshness limits, units, windows) and query run over that chunk in turn, so the registry
is walked once for all trials, not once per trial. Each trial's outcomes are exactly those
of :meth:`VectorizedScreener.iter_tables` for that rule set alone (tests/portfolio).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from screener.model.rules import RuleSet
from screener.vectorized.screen import TableChunk, VectorizedScreener, attach_registry, capped_connection


@dataclass(frozen=True)
class TrialChunk:
    """One trial's outcomes for one chunk of pids. Its ``outcomes`` table is current on the
    connection until the next :class:`TrialChunk` is produced: use it before asking for more."""

    index: int  # the trial's position in the portfolio
    screener: VectorizedScreener
    chunk: TableChunk
    first: int  # the chunk's first pid
    last_of_chunk: bool  # the last trial of this chunk: the chunk's pids are all done after it


class PortfolioVectorized:
    """The portfolio's rule sets compiled once, sharing one connection."""

    def __init__(self, rulesets: Sequence[RuleSet], threads: int = 1) -> None:
        self.con, _ = capped_connection(threads)  # not capped: see batch --memory-limit
        self.screeners = [VectorizedScreener(r, con=self.con) for r in rulesets]

    def iter_tables(self, directory: Path, as_of: date, chunk_size: int = 100_000) -> Iterator[TrialChunk]:
        """Per chunk of pids, each trial's outcomes in portfolio order."""
        from screener.tables.write import read_manifest

        total = int(read_manifest(directory)["patients"])
        sources = attach_registry(self.con, directory)
        for first in range(0, total, chunk_size):
            last = min(first + chunk_size, total) - 1
            for i, screener in enumerate(self.screeners):
                chunk = screener.chunk_outcomes(sources, as_of, first, last)
                yield TrialChunk(i, screener, chunk, first, i == len(self.screeners) - 1)

    def close(self) -> None:
        for screener in self.screeners:
            screener.close()
        self.con.close()
