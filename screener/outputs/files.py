"""Writing export files: never over an existing file without ``overwrite``, never half-written.

The data goes to a temporary file beside the target, is fsynced, then hard-linked into place
(which fails if the target appeared meanwhile) or, with ``overwrite``, renamed over it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from screener.errors import InputError, Location


class OutputExists(InputError):
    """An export would replace an existing file."""


def refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExists(
            "already exists; not overwritten (use --overwrite to replace it)", Location(str(path))
        )


def write_new(path: Path, data: bytes, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` atomically; refuse an existing file unless ``overwrite``."""
    refuse_existing(path, overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror or error}", Location(str(path))) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExists(
                    "already exists; not overwritten (use --overwrite to replace it)", Location(str(path))
                ) from None
            os.unlink(tmp)
    except OSError as error:
        raise InputError(f"cannot write: {error.strerror or error}", Location(str(path))) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
