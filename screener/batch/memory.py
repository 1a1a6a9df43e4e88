"""Work on a range of pids within DuckDB's memory limit (``screener batch --memory-limit``).

DuckDB spills most of its work to disk when it reaches its ``memory_limit``, but not all of
it (list aggregates, the rows of one ``COPY``): a statement over too many patients then fails
with an ``OutOfMemoryException``. :func:`in_parts` runs such work over a range of pids in
consecutive parts, halving the part after a failure, down to one patient; a
:class:`PartSize` remembers the size that fitted, so a process pays the failed attempt once.
The parts together give what the whole range would have: the callers' work is per patient.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class PartSize:
    """The most pids worked on at once since a part ran out of memory (None: no limit yet)."""

    most: int | None = None


def in_parts(first: int, last: int, size: PartSize, work: Callable[[int, int], T]) -> Iterator[T]:
    """``work(a, b)`` for consecutive parts ``a..b`` covering ``first..last`` (at least one
    call), each at most ``size.most`` pids; a part that runs out of DuckDB memory is tried
    again in halves (``size.most`` lowered), and one patient that does not fit raises."""
    import duckdb

    start, called = first, False
    while not called or start <= last:
        count = last - start + 1
        if size.most is not None and count > size.most:
            count = size.most
        try:
            result = work(start, start + count - 1)
        except duckdb.OutOfMemoryException:
            if count <= 1:
                raise
            size.most = count // 2
            continue
        called = True
        start += count
        yield result
