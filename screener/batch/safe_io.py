"""Writing output files safely: one place for every command that writes.

* **Never through a planted symbolic link.** New files are created with
  ``O_CREAT | O_EXCL | O_NOFOLLOW``; whole files are written to a fresh temporary file
  in the target folder and renamed over the target (:func:`write_atomic`), which
  replaces a link rather than writing where it points.
* **Never over an earlier run's file unannounced.** :func:`refuse_existing` stops a
  command before it writes anything when an output already exists, unless the user
  said ``--overwrite`` (one spelling in every command).
* **One run per output.** :class:`RunLock` holds ``OUT.lock`` (an ``flock``, which the
  kernel drops when the holder dies): a second run refuses at once and names the first
  (pid, start time, command); the lock file of a dead run is taken over with a message.
* **A full disk is a message, not a traceback** (:class:`OutputError`, :func:`output_error`).
* **Spreadsheet-safe CSV cells** (:func:`csv_cell`, :func:`csv_cell_sql`): a text cell a
  spreadsheet would evaluate as a formula gets a leading single quote (OWASP, "CSV
  Injection": cells starting with ``= + - @``, tab or carriage return; ASVS 5.0 V1.2.10
  adds NUL; line feed and the full-width forms of ``= + - @`` are neutralised too).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import secrets
import shlex
import socket
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from screener.errors import ScreenerError

# --------------------------------------------------------------------------- errors


class OutputError(ScreenerError):
    """An output cannot be written (full disk, a link in the way, another run on it)."""


def output_error(
    error: OSError, path: Path | str, doing: str = "cannot write", hint: str = ""
) -> OutputError:
    """A clear message for an OS error while writing ``path`` (``hint``: what to do next)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device (disk full or quota reached)"
    elif error.errno == errno.ELOOP:
        reason = "it is a symbolic link; screener does not write through links"
    else:
        reason = error.strerror or str(error)
    return OutputError(f"{path}: {doing}: {reason}" + (f"; {hint}" if hint else ""))


def is_disk_full(error: OSError) -> bool:
    return error.errno in (errno.ENOSPC, errno.EDQUOT)


# --------------------------------------------------------------------------- files

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def exists(path: Path) -> bool:
    """True for a file, a directory or a link (even a dangling one) at ``path``."""
    return os.path.lexists(path)


def refuse_existing(paths: Iterable[Path | None], overwrite: bool, hint: str = "") -> None:
    """Refuse to replace an earlier run's output unless ``overwrite`` (``--overwrite``)."""
    if overwrite:
        return
    for path in paths:
        if path is not None and exists(path):
            more = f" {hint}" if hint else ""
            raise OutputError(
                f"{path}: exists (an earlier run's output?); screener does not replace files "
                f"unless asked: use --overwrite, or choose another name{more}"
            )


def create_new(path: Path) -> BinaryIO:
    """A new empty file at ``path`` for binary writing; whatever was there (a file or a
    link) is removed first, and a link planted in between makes this fail, not follow it."""
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            raise OutputError(f"{path}: is a directory")
        path.unlink()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
    except FileExistsError:
        raise OutputError(f"{path}: appeared while screener was creating it; refusing to write") from None
    except OSError as error:
        raise output_error(error, path) from None
    return os.fdopen(fd, "wb")


def open_existing(path: Path) -> BinaryIO:
    """An existing regular file opened for reading and writing, never through a link."""
    try:
        fd = os.open(path, os.O_RDWR | _NOFOLLOW | _CLOEXEC)
    except OSError as error:
        raise output_error(error, path, "cannot reopen") from None
    return os.fdopen(fd, "r+b")


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path``'s folder durable (best effort)."""
    fsync_folder(path.parent if str(path.parent) else Path("."))


def fsync_folder(folder: Path) -> None:
    """Make the renames and unlinks in ``folder`` durable (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all: a new temporary file beside it
    (``O_EXCL | O_NOFOLLOW``, a random name), fsynced, then renamed over ``path``.

    A link at ``path`` is replaced, not followed; an existing file keeps its old
    content if anything fails (a full disk), and no temporary file is left."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666)
    except OSError as error:
        raise output_error(error, path) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise output_error(error, path) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path)


# --------------------------------------------------------------------------- CSV cells

# First characters a spreadsheet may read as the start of a formula (see the module doc).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# A text that already starts with the escape gets one more, so reading back is exact (csv_text).
_ESCAPED_START = (*FORMULA_START, "'")


def csv_cell(value: Any) -> Any:
    """``value`` as a CSV cell a spreadsheet shows as text: a string starting with a
    formula character gets a leading ``'``; numbers and everything else are unchanged."""
    if isinstance(value, str) and value.startswith(_ESCAPED_START):
        return "'" + value
    return value


def csv_text(cell: str) -> str:
    """The text a :func:`csv_cell` was made from (for tools that read screener's CSV back)."""
    if cell.startswith("'") and cell[1:].startswith(_ESCAPED_START):
        return cell[1:]
    return cell


def csv_cells(values: Iterable[Any]) -> list[Any]:
    return [csv_cell(v) for v in values]


def csv_lines(rows: Iterable[Iterable[Any]]) -> str:
    """CSV text of ``rows``, lines ending in ``\\n``, cells through :func:`csv_cell`.

    A cell holding a carriage return is quoted like one holding a line feed (Python's
    ``csv`` quotes only the characters of its line terminator, so with ``\\n`` a bare CR
    would split the row in a reader): each row is written with ``\\r\\n`` and its
    terminator, exactly the last two characters, becomes ``\\n``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    out: list[str] = []
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(csv_cells(row))
        out.append(buffer.getvalue()[:-2] + "\n")
    return "".join(out)


def csv_cell_sql(expr: str) -> str:
    """The DuckDB twin of :func:`csv_cell` for a VARCHAR expression (NULL stays NULL)."""
    starts = ", ".join(
        "chr(" + str(ord(c)) + ")" if not c.isprintable() or not c.isascii() or c == "'" else "'" + c + "'"
        for c in _ESCAPED_START
    )
    return f"(CASE WHEN left({expr}, 1) IN ({starts}) THEN '''' || {expr} ELSE {expr} END)"


# --------------------------------------------------------------------------- one run per output

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

_HELD: set[int] = set()  # lock descriptors of this process, closed in forked children


def _close_held_in_child() -> None:
    # A forked pool worker must not keep the run's lock alive after the run has died.
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


def lock_path(target: Path) -> Path:
    return target.with_name(target.name + ".lock")


def _describe(info: dict[str, Any]) -> str:
    pid = info.get("pid", "?")
    started = info.get("started", "?")
    host = info.get("host")
    command = info.get("command") or "?"
    where = f" on {host}" if host and host != socket.gethostname() else ""
    return f"pid {pid}{where}, started {started}: {command}"


def _read_info(fd: int) -> dict[str, Any] | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
    except OSError:
        return None
    if not raw.strip():
        return None
    try:
        info = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        return {"command": "(unreadable lock file)"}
    return info if isinstance(info, dict) else {"command": "(unreadable lock file)"}


class RunLock:
    """``TARGET.lock``, held while one run writes ``TARGET`` and its partial files.

    The lock is an ``flock`` on the file, so it ends with its process however that
    process ends; the file names the run (pid, host, start time, command) for the
    message a second run prints. ``taken_over`` describes the run whose left-over lock
    file this one took (it had died), or is None.
    """

    def __init__(self, target: Path, command: str | None = None) -> None:
        self.target = target
        self.path = lock_path(target)
        self.command = command if command is not None else shlex.join(["screener", *sys.argv[1:]])
        self.taken_over: str | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(100):  # a lock file removed between our open and our lock: try again
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o666)
            except OSError as error:
                raise output_error(error, self.path, "cannot create the run's lock file") from None
            if fcntl is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    info = _read_info(fd) or {}
                    os.close(fd)
                    raise OutputError(
                        f"{self.target}: another screener run is writing this output "
                        f"({_describe(info)}); wait for it to finish, or choose another output. "
                        f"If that run is gone, remove {self.path}"
                    ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False))
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            previous = _read_info(fd)
            if previous is not None:
                self.taken_over = _describe(previous)
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": self.command,
            }
            try:
                os.ftruncate(fd, 0)
                os.lseek(fd, 0, os.SEEK_SET)
                os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))
            except OSError as error:
                os.close(fd)
                raise output_error(error, self.path) from None
            self._fd = fd
            _HELD.add(fd)
            return self
        raise OutputError(f"{self.path}: cannot take the run's lock (it keeps changing)")

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(self.path, follow_symlinks=False)):
                self.path.unlink()  # before unlocking: a waiting run then finds no stale file
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def locked(targets: Iterable[Path], command: str | None = None) -> Iterator[list[RunLock]]:
    """Hold the locks of several outputs (all or none)."""
    locks: list[RunLock] = []
    try:
        for target in targets:
            locks.append(RunLock(target, command).acquire())
        yield locks
    finally:
        for lock in reversed(locks):
            lock.release()
