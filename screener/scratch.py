"""Temporary folders of the vectorized batch (spill files, rows), named by the process that made them.

A run removes its folders when it ends, however it ends, except when it is killed outright
(SIGKILL, the kernel's out-of-memory killer): its DuckDB spill files and the rows of the
range it was writing then stay in the temporary directory, up to gigabytes. Each folder's name
carries the pid of the process that made it (``screener-spill-<pid>-...``), and a later run
removes those whose process is gone and that nothing has touched for an hour (a process in
another PID namespace sharing the directory would look gone; its folders are in use).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

_NAME = re.compile(r"screener-(?:spill|rows|fast)-(\d+)-")
#: a folder untouched for this long, of a process that is gone, is left over
MIN_AGE_SECONDS = 3600.0


def make(kind: str) -> Path:
    """A new temporary folder ``screener-<kind>-<pid>-...`` (``kind``: spill, rows or fast)."""
    return Path(tempfile.mkdtemp(prefix=f"screener-{kind}-{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process (PermissionError), or a pid the OS refuses: in use
        return True
    return True


def sweep(root: Path | None = None, min_age: float = MIN_AGE_SECONDS) -> list[Path]:
    """Remove the folders of :func:`make` left in ``root`` (the temporary directory) by a process
    that is gone, untouched for ``min_age`` seconds; return them."""
    root = Path(tempfile.gettempdir()) if root is None else root
    removed: list[Path] = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or int(match[1]) == os.getpid():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < min_age:
                continue
        except OSError:
            continue
        if not _alive(int(match[1])):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed
