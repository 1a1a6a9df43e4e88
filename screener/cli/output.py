"""Writing results to stdout: a reader that stops early (``| head``) ends the command quietly."""

from __future__ import annotations

import os
import sys


class OutputClosed(Exception):
    """stdout was closed by its reader (BrokenPipe); the command stops without a message."""


def emit(text: str) -> None:
    """Write ``text`` to stdout and flush; :class:`OutputClosed` when the reader has gone.

    stdout is then pointed at /dev/null, so that Python's own flush at exit does not print
    "Exception ignored ... BrokenPipeError" (the recipe of the Python docs, signal module).
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
        raise OutputClosed from None


def quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (tests, embedding)
        pass
