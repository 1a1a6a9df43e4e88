"""Peak memory of a command and all its child processes (issue 17 §5), sampled from /proc.

    python benchmarks/tree_memory.py -- screener batch REGISTRY --engine vectorized --out rows.csv
    python benchmarks/tree_memory.py --every 0.25 --log memory.log -- COMMAND...

The peak of one process (VmHWM, as ``bench_batch.py`` reads it) misses the workers of a batch,
and adding the workers' peaks counts twice the pages they share with the main process after a
fork. This samples the whole tree every ``--every`` seconds and prints the peak of the summed
PSS (each shared page divided among the processes sharing it: what the run costs the machine)
and of the summed RSS (an upper bound), with the largest process count seen. ``--log`` writes
one line every 30 s (elapsed, PSS now, peak, each process's RSS), to see whether memory is flat
over a long run. Linux only (``/proc/PID/smaps_rollup``). A sample between two samples is not
seen: a peak shorter than ``--every`` may be missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(parent, []).append(int(entry))
    return kids


def tree(root: int) -> list[int]:
    """``root`` and every process below it."""
    kids = _children()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def pss_rss_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; (0, 0) if it has ended."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    parser.add_argument("--log", type=Path, help="a line every 30 s: elapsed, PSS now and peak, each RSS")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command (after --)")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")
    start = time.monotonic()
    child = subprocess.Popen(command)
    peak_pss = peak_rss = most = 0
    logged = -30.0
    log = args.log.open("w", encoding="utf-8") if args.log else None
    try:
        while child.poll() is None:
            sizes = [pss_rss_kb(p) for p in tree(child.pid)]
            pss, rss = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
            peak_pss, peak_rss, most = max(peak_pss, pss), max(peak_rss, rss), max(most, len(sizes))
            elapsed = time.monotonic() - start
            if log is not None and elapsed - logged >= 30:
                logged = elapsed
                each = " ".join(f"{s[1] // 1024}" for s in sizes)
                log.write(f"{elapsed:.0f}s PSS {pss // 1024} MB peak {peak_pss // 1024} MB RSS each {each}\n")
                log.flush()
            time.sleep(args.every)
    finally:
        if log is not None:
            log.close()
    print(
        f"peak PSS {peak_pss / 1024:,.0f} MB  peak RSS {peak_rss / 1024:,.0f} MB  processes {most}  "
        f"wall {time.monotonic() - start:.1f} s  exit {child.returncode}",
        file=sys.stderr,
    )
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
