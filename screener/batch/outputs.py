"""A batch run's output files: written as ``.partial``, checkpointed, renamed when complete.

Both batch runners (the engine's, :mod:`screener.batch.runner`, and the vectorized
one, :mod:`screener.batch.fast`) write rows to ``OUT.partial`` and error records to
``ERRORS.partial``. After every chunk both are fsynced and a checkpoint
(``OUT.partial.ckpt``: what the run was, how far it got, the byte sizes of the
partial files, the funnel counts) is replaced atomically. Resuming truncates the
partial files back to the checkpoint, so an interrupted run continues with no
duplicate or lost row. Only a complete run renames the files into place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from screener.batch.summary import Funnel, render_html, render_svg
from screener.errors import InputError, Location

CHECKPOINT_VERSION = 2


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.ckpt")


def default_errors_path(out: Path) -> Path:
    return out.with_name(out.name + ".errors.jsonl")


def _sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path.parent if str(path.parent) else ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path)


class BatchOutputs:
    """The partial row and error files of one run, and its checkpoint.

    ``signature`` says what the run is (inputs, rules, date, format...): a checkpoint
    made by another run is refused with ``mismatch`` in the message. ``done`` counts
    what the runner has handled (records, or pids), ``rows`` and ``errors`` what it wrote.
    """

    def __init__(
        self,
        out: Path,
        errors: Path | None,
        signature: dict[str, Any],
        funnel: Funnel,
        header: bytes,
        resume: bool,
        mismatch: str,
    ) -> None:
        self.out = out
        self.errors_path = errors or default_errors_path(out)
        self.errors_named = errors is not None
        self.signature = signature
        self.funnel = funnel
        self.done = self.rows = self.errors = self.resumed_from = 0
        self.ckpt = checkpoint_path(out)
        out_partial, err_partial = partial_path(out), partial_path(self.errors_path)
        if resume and self.ckpt.exists():
            try:
                state = json.loads(self.ckpt.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise InputError(
                    f"checkpoint unreadable ({error}); run without --resume", Location(str(self.ckpt))
                ) from None
            if state.get("version") != CHECKPOINT_VERSION or state.get("signature") != signature:
                raise InputError(
                    f"checkpoint was made with {mismatch}; run without --resume to start again",
                    Location(str(self.ckpt)),
                )
            if not out_partial.exists() or not err_partial.exists():
                raise InputError(
                    "partial output files are missing; run without --resume", Location(str(self.ckpt))
                )
            self.done, self.rows, self.errors = state["done"], state["rows"], state["errors"]
            self.funnel = Funnel.from_state(state["funnel"], funnel.titles)
            self.resumed_from = self.done
            self._out, self._err = out_partial.open("r+b"), err_partial.open("r+b")
            self._out.truncate(state["out_bytes"])
            self._err.truncate(state["err_bytes"])
            self._out.seek(0, os.SEEK_END)
            self._err.seek(0, os.SEEK_END)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            self.errors_path.parent.mkdir(parents=True, exist_ok=True)
            self._out, self._err = out_partial.open("wb"), err_partial.open("wb")
            self._out.write(header)

    def write_rows(self, data: bytes, count: int) -> None:
        self._out.write(data)
        self.rows += count

    def write_errors(self, records: list[dict[str, Any]]) -> None:
        self._err.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8"))

    def checkpoint(self) -> None:
        _sync(self._out)
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
        }
        write_atomic(self.ckpt, json.dumps(state))

    def close(self) -> None:
        self._out.close()
        self._err.close()

    def finish(self, summary: Path | None) -> Path | None:
        """Rename the complete files into place, write the funnel ``summary``; the errors
        file's path if one was kept (some errors, or a path the user named)."""
        self.close()
        os.replace(partial_path(self.out), self.out)
        kept = None
        if self.errors or self.errors_named:
            os.replace(partial_path(self.errors_path), self.errors_path)
            kept = self.errors_path
        else:
            partial_path(self.errors_path).unlink()
        self.ckpt.unlink()
        fsync_dir(self.out)
        if summary is not None:
            funnel = self.funnel
            text = render_svg(funnel) if summary.suffix.lower() == ".svg" else render_html(funnel)
            write_atomic(summary, text)
        return kept
