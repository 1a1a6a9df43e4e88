"""Run a batch's tasks in this process, in worker processes or on a dask cluster, in order.

:func:`run_tasks` calls ``fn(job, task)`` for each task and yields ``(task, result)`` in
the order of the tasks, with at most ``2 x workers`` tasks in flight (memory stays flat
whatever the number of tasks). A task that fails (an exception, or the worker process
running it killed: out of memory, ``kill -9``, a crash in a C extension) is retried once,
alone; if it fails again its result is a :class:`TaskFailed` saying why, and the run goes
on. Nothing hangs and nothing is lost: every task comes back, as a result or a failure.

* **Worker processes** (``workers > 1``): a ``concurrent.futures`` process pool (forked,
  as :mod:`screener.batch.runner`'s pool). Unlike ``multiprocessing.Pool``, whose task
  simply never finishes when its worker is killed (the batch waits for ever), a killed
  worker breaks the pool: the pool is replaced, the tasks it held are submitted again, and
  a task retried alone in a fresh one-process pool that breaks it again is the one
  reported. Workers ignore Ctrl-C (the main process stops the pool) and exit if the main
  process dies.
* **dask.distributed** (``scheduler``): ``client.submit``; the scheduler itself moves the
  task of a worker that died to another worker, and a task that raised is retried once.
"""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from screener.errors import ScreenerError

T = TypeVar("T")


@dataclass(frozen=True)
class TaskFailed:
    """A task that failed twice: what went wrong the last time; ``crashed``: its worker
    process died (running it again in the main process could kill that too)."""

    message: str
    crashed: bool = False


def _describe(error: BaseException) -> str:
    if isinstance(error, BrokenProcessPool):
        return "the worker process screening it died (killed, or out of memory)"
    text = " ".join(str(error).split())[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_tasks(
    fn: Callable[[Any, T], Any],
    job: Any,
    tasks: Iterable[T],
    workers: int = 1,
    scheduler: str | None = None,
    init: Callable[..., None] | None = None,
    init_args: tuple[Any, ...] = (),
) -> Iterator[tuple[T, Any]]:
    """``(task, fn(job, task) or TaskFailed)`` for each task, in order (see the module).
    ``init(*init_args)`` runs first in each worker process of the pool."""
    if scheduler:
        yield from _on_dask(fn, job, tasks, scheduler)
    elif workers > 1:
        yield from _in_pool(fn, job, tasks, workers, (init, init_args))
    else:
        for task in tasks:
            try:
                result = fn(job, task)
            except Exception as error:  # retried once; then reported, the run goes on
                try:
                    result = fn(job, task)
                except Exception:
                    result = TaskFailed(_describe(error))
            yield task, result


# --------------------------------------------------------------------------- worker processes


_Init = tuple[Callable[..., None] | None, tuple[Any, ...]]


def _init_pool_worker(parent: int, init: _Init) -> None:
    from screener.batch.runner import _die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops the pool
    _die_with_parent(parent)
    function, args = init
    if function is not None:
        function(*args)


def _executor(workers: int, init: _Init = (None, ())) -> ProcessPoolExecutor:
    import multiprocessing

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_init_pool_worker,
        initargs=(os.getpid(), init),
    )


def _alone(fn: Callable[[Any, T], Any], job: Any, task: T, first: BaseException, init: _Init) -> Any:
    """The task once more, alone in a fresh one-process pool (so a task that kills its worker
    cannot take the others, or this process, with it); its result or a :class:`TaskFailed`."""
    with _executor(1, init) as single:
        try:
            return single.submit(fn, job, task).result()
        except Exception as error:
            crashed = isinstance(error, BrokenProcessPool)
            return TaskFailed(_describe(error if crashed else first), crashed)


def _in_pool(
    fn: Callable[[Any, T], Any], job: Any, tasks: Iterable[T], workers: int, init: _Init = (None, ())
) -> Iterator[tuple[T, Any]]:
    executor = _executor(workers, init)
    pending: deque[tuple[T, Future[Any]]] = deque()

    def collect() -> tuple[T, Any]:
        nonlocal executor
        task, future = pending.popleft()
        try:
            return task, future.result()
        except BrokenProcessPool as error:
            # every task the broken pool held failed with it: a new pool takes the others,
            # this one is retried alone (it may be the one that killed its worker)
            executor.shutdown(wait=False, cancel_futures=True)
            executor = _executor(workers, init)
            for i, (other, held) in enumerate(pending):
                if held.done() and not held.cancelled() and held.exception() is None:
                    continue  # finished before the pool broke
                pending[i] = (other, executor.submit(fn, job, other))
            return task, _alone(fn, job, task, error, init)
        except Exception as error:
            return task, _alone(fn, job, task, error, init)

    try:
        for task in tasks:
            try:
                future = executor.submit(fn, job, task)
            except BrokenProcessPool:  # broke between two collects: the next collect mends it
                future = Future()
                future.set_exception(BrokenProcessPool("the pool broke"))
            pending.append((task, future))
            while pending and (len(pending) >= 2 * workers or pending[0][1].done()):
                yield collect()
        while pending:
            yield collect()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


# --------------------------------------------------------------------------- dask


def _on_dask(
    fn: Callable[[Any, T], Any], job: Any, tasks: Iterable[T], address: str
) -> Iterator[tuple[T, Any]]:
    try:
        from distributed import Client
    except ImportError:
        raise ScreenerError("--scheduler needs dask.distributed: pip install 'screener[batch]'") from None
    try:
        client = Client(address, set_as_default=False, timeout="20s")
    except (OSError, TimeoutError) as error:
        raise ScreenerError(f"cannot reach the dask scheduler at {address}: {error}") from None
    with client:
        workers = max(len(client.scheduler_info().get("workers", {})), 1)
        shared = client.scatter(job, broadcast=True)
        pending: deque[tuple[T, Any]] = deque()

        def collect() -> tuple[T, Any]:
            task, future = pending.popleft()
            try:
                return task, future.result()
            except Exception as error:  # failed twice (retries=1), or its workers kept dying
                return task, TaskFailed(_describe(error))

        for task in tasks:
            pending.append((task, client.submit(fn, shared, task, pure=False, retries=1)))
            while pending and (len(pending) >= 2 * workers or pending[0][1].done()):
                yield collect()
        while pending:
            yield collect()
