"""A small progress line on stderr: count, rate and ETA.

Hand-written rather than rich's Progress: it is a dozen lines, costs nothing per
update, never takes over the terminal (stdout stays clean for the summary), and
degrades to an occasional plain line when stderr is not a terminal (CI logs).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Progress:
    def __init__(
        self, total: int | None, start: int = 0, stream: TextIO | None = None, enabled: bool = True
    ) -> None:
        self.total = total
        self.start = start
        self.done = start
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else 5.0
        self.began = time.monotonic()
        self.last = 0.0
        self.shown = -1

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.began, 1e-9)
        rate = (self.done - self.start) / elapsed
        text = f"screened {self.done}"
        if self.total:
            text += f"/{self.total} ({100 * self.done / self.total:.0f}%)"
        text += f"  {rate:,.0f} patients/s"
        if self.total and rate > 0:
            text += f"  ETA {_clock(max(self.total - self.done, 0) / rate)}"
        return text

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if not self.enabled or now - self.last < self.every:
            return
        self.last = now
        self.shown = done
        self.stream.write(("\r" + self.line() + "\x1b[K") if self.tty else self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and (self.tty or self.shown != self.done):
            self.stream.write(("\r" if self.tty else "") + self.line() + ("\x1b[K\n" if self.tty else "\n"))
            self.stream.flush()
