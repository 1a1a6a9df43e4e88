"""A batch run's output files: written as ``.partial``, checkpointed, renamed when complete.

Both batch runners (the engine's, :mod:`screener.batch.runner`, and the vectorized
one, :mod:`screener.batch.fast`) write rows to ``OUT.partial`` and error records to
``ERRORS.partial``. After every chunk both are fsynced and a checkpoint
(``OUT.partial.ckpt``: what the run was, how far it got, the byte sizes of the
partial files, the funnel counts) is replaced atomically. Resuming truncates the
partial files back to the checkpoint, so an interrupted run continues with no
duplicate or lost row. Only a complete run renames the files into place.

Safety (:mod:`screener.batch.safe_io`): one run at a time holds ``OUT.lock`` (a
second run on the same output refuses at once and names the first); files are
created without following links; an earlier run's output, or an interrupted run's
partial files, are replaced only with ``overwrite=True`` (``--overwrite``); a full
disk stops the run with a message, the last checkpoint intact for ``--resume``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from screener.batch.safe_io import (
    OutputError,
    RunLock,
    create_new,
    fsync_dir,
    open_existing,
    output_error,
    refuse_existing,
    write_atomic,
)
from screener.batch.summary import Funnel, TrialFunnels, render_html, render_svg
from screener.errors import InputError, Location

CHECKPOINT_VERSION = 2

__all__ = [
    "BatchOutputs",
    "checkpoint_path",
    "default_errors_path",
    "fsync_dir",
    "partial_path",
    "write_atomic",
]


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.ckpt")


def default_errors_path(out: Path) -> Path:
    return out.with_name(out.name + ".errors.jsonl")


def _sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


_RESUME_HINT = "the last checkpoint is kept: free some space, then continue with --resume"


class BatchOutputs:
    """The partial row and error files of one run, and its checkpoint.

    ``signature`` says what the run is (inputs, rules, date, format...): a checkpoint
    made by another run is refused with ``mismatch`` in the message. ``done`` counts
    what the runner has handled (records, or pids), ``rows`` and ``errors`` what it wrote.
    ``summary`` is only checked here (an earlier file there needs ``overwrite``); it is
    written by :meth:`finish`. Call :meth:`release` when the run is over, however it ends.
    """

    def __init__(
        self,
        out: Path,
        errors: Path | None,
        signature: dict[str, Any],
        funnel: Funnel | TrialFunnels,
        header: bytes,
        resume: bool,
        mismatch: str,
        *,
        overwrite: bool = False,
        summary: Path | None = None,
    ) -> None:
        self.out = out
        self.errors_path = errors or default_errors_path(out)
        self.errors_named = errors is not None
        self.signature = signature
        self.funnel = funnel
        self.done = self.rows = self.errors = self.resumed_from = 0
        self.ckpt = checkpoint_path(out)
        self._out: BinaryIO | None = None
        self._err: BinaryIO | None = None
        out.parent.mkdir(parents=True, exist_ok=True)
        self.errors_path.parent.mkdir(parents=True, exist_ok=True)
        # the lock first: a second run on this output stops here, before touching anything
        self._locks = [RunLock(out).acquire()]
        try:
            if self.errors_named and self.errors_path != default_errors_path(out):
                self._locks.append(RunLock(self.errors_path).acquire())
            for lock in self._locks:
                if lock.taken_over:
                    print(
                        f"screener: {lock.target}: taking over from a run that is no longer running "
                        f"({lock.taken_over})",
                        file=sys.stderr,
                    )
            self._open(header, resume, mismatch, overwrite, summary)
        except BaseException:
            self.release()
            raise

    def _open(
        self, header: bytes, resume: bool, mismatch: str, overwrite: bool, summary: Path | None
    ) -> None:
        out_partial, err_partial = partial_path(self.out), partial_path(self.errors_path)
        finals = [self.out, self.errors_path, summary]
        self.replaces = overwrite  # the run may replace earlier outputs (kept in its checkpoint)
        if resume and self.ckpt.exists():
            self._resume(out_partial, err_partial, mismatch)
            # allowed when the interrupted run was started with --overwrite, or if asked now
            refuse_existing(finals, overwrite or self.replaces)
            return
        left = [p for p in (self.ckpt, out_partial, err_partial) if os.path.lexists(p)]
        if left and not overwrite:
            raise OutputError(
                f"{left[0]}: an interrupted run left its partial output here; continue it with "
                "--resume, or start again with --overwrite"
            )
        refuse_existing(finals, overwrite)
        # starting again: the old checkpoint goes first, so it never describes the new files
        with contextlib.suppress(FileNotFoundError):
            self.ckpt.unlink()
        self._out = create_new(out_partial)
        self._err = create_new(err_partial)
        with self._writing(out_partial):
            self._out.write(header)

    def _resume(self, out_partial: Path, err_partial: Path, mismatch: str) -> None:
        try:
            state = json.loads(self.ckpt.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(
                f"checkpoint unreadable ({error}); run without --resume", Location(str(self.ckpt))
            ) from None
        if (
            not isinstance(state, dict)
            or state.get("version") != CHECKPOINT_VERSION
            or state.get("signature") != self.signature
        ):
            raise InputError(
                f"checkpoint was made with {mismatch}; run without --resume to start again",
                Location(str(self.ckpt)),
            )
        if not out_partial.exists() or not err_partial.exists():
            raise InputError(
                "partial output files are missing; run without --resume", Location(str(self.ckpt))
            )
        self._out, self._err = open_existing(out_partial), open_existing(err_partial)
        for handle, size, path in (
            (self._out, state["out_bytes"], out_partial),
            (self._err, state["err_bytes"], err_partial),
        ):
            if os.fstat(handle.fileno()).st_size < size:
                raise InputError(
                    f"{path} is shorter than the checkpoint says ({size} bytes): it was changed "
                    "since; run again with --overwrite to start again",
                    Location(str(self.ckpt)),
                )
        self.done, self.rows, self.errors = state["done"], state["rows"], state["errors"]
        self.funnel = type(self.funnel).from_state(state["funnel"], self.funnel.titles)  # type: ignore[arg-type]
        self.resumed_from = self.done
        self.replaces = bool(state.get("replaces", False))
        with self._writing(out_partial):
            self._out.truncate(state["out_bytes"])
            self._err.truncate(state["err_bytes"])
            self._out.seek(0, os.SEEK_END)
            self._err.seek(0, os.SEEK_END)

    @contextlib.contextmanager
    def _writing(self, path: Path) -> Iterator[None]:
        """An OS error while writing (a full disk) becomes a message; the checkpoint stays."""
        try:
            yield
        except OutputError as error:
            raise OutputError(f"{error}; {_RESUME_HINT}") from None
        except OSError as error:
            raise output_error(error, path, hint=_RESUME_HINT) from None

    def write_rows(self, data: bytes, count: int) -> None:
        assert self._out is not None
        with self._writing(partial_path(self.out)):
            self._out.write(data)
        self.rows += count

    def write_rows_from(self, part: Path, count: int) -> None:
        """Append the rows of the file ``part`` (a range written by DuckDB), a block at a time:
        a range of 50,000 rows is ~100 MB of text, not held in memory."""
        assert self._out is not None
        with part.open("rb") as handle, self._writing(partial_path(self.out)):
            shutil.copyfileobj(handle, self._out, 1 << 20)
        self.rows += count

    def write_errors(self, records: list[dict[str, Any]]) -> None:
        assert self._err is not None
        # backslashreplace: a lone surrogate in an id or message becomes a JSON \uXXXX escape
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self._writing(partial_path(self.errors_path)):
            self._err.write(text.encode("utf-8", "backslashreplace"))

    def checkpoint(self) -> None:
        assert self._out is not None and self._err is not None
        with self._writing(partial_path(self.out)):
            _sync(self._out)
        with self._writing(partial_path(self.errors_path)):
            _sync(self._err)
        state = {
            "version": CHECKPOINT_VERSION,
            "signature": self.signature,
            "done": self.done,
            "rows": self.rows,
            "errors": self.errors,
            "out_bytes": self._out.tell(),
            "err_bytes": self._err.tell(),
            "funnel": self.funnel.to_state(),
            "replaces": self.replaces,
        }
        with self._writing(self.ckpt):
            write_atomic(self.ckpt, json.dumps(state))

    def close(self) -> None:
        """Close the partial files (what was not checkpointed is dropped on resume, so an
        error here, e.g. a full disk, is not raised again over the one that stopped the run)."""
        for handle in (self._out, self._err):
            if handle is not None:
                with contextlib.suppress(OSError):
                    handle.close()

    def release(self) -> None:
        """Close the files and let another run have this output."""
        self.close()
        for lock in reversed(self._locks):
            lock.release()
        self._locks = []

    def finish(self, summary: Path | None) -> Path | None:
        """Rename the complete files into place, write the funnel ``summary``; the errors
        file's path if one was kept (some errors, or a path the user named)."""
        assert self._out is not None and self._err is not None
        if not self._out.closed:
            with self._writing(partial_path(self.out)):
                _sync(self._out)
                _sync(self._err)
        self.close()
        # the checkpoint goes first: a run killed in between leaves no checkpoint describing
        # files already renamed (starting again is then safe, resuming is not offered)
        self.ckpt.unlink()
        fsync_dir(self.ckpt)
        os.replace(partial_path(self.out), self.out)
        kept = None
        if self.errors or self.errors_named:
            os.replace(partial_path(self.errors_path), self.errors_path)
            kept = self.errors_path
        else:
            partial_path(self.errors_path).unlink()
            if self.replaces and os.path.lexists(self.errors_path):
                self.errors_path.unlink()  # an earlier run's errors must not sit beside these rows
        fsync_dir(self.out)
        if summary is not None:
            funnel = self.funnel
            assert isinstance(funnel, Funnel), "a portfolio writes its funnels itself"
            text = render_svg(funnel) if summary.suffix.lower() == ".svg" else render_html(funnel)
            summary.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(summary, text)
        return kept
