"""Putting a finished registry into its folder, and replacing only what screener wrote there.

A registry is written into a new sibling directory and renamed into place. An existing
non-empty folder is replaced only with ``overwrite`` and only if it is a registry screener
wrote: its ``manifest.json`` carries screener's format marker (``screener-tables/N``) and
lists its files (``files``; older registries: derived from ``parts``), and the folder holds
nothing else. Only those files are deleted; a web app's folder with its own
``manifest.json``, or a registry with a file added by hand, is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zlib
from pathlib import Path

from screener.batch.safe_io import fsync_folder
from screener.errors import InputError, Location
from screener.tables.layout import TABLES

MANIFEST = "manifest.json"


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


#: most patient-hash partitions a registry may have (a few per core of the largest cluster)
MAX_PARTITIONS = 4096


def part_name(index: int, partition: int = 0, partitions: int = 1) -> str:
    """The file of write chunk ``index``: ``part-00003.parquet``, or in a registry of several
    patient-hash partitions ``part-00003.p0001.parquet`` (chunk 3, partition 1)."""
    if partitions == 1:
        return f"part-{index:05d}.parquet"
    return f"part-{index:05d}.p{partition:04d}.parquet"


def partition_glob(partition: int) -> str:
    """The files of one partition in a table's folder."""
    return f"part-*.p{partition:04d}.parquet"


def partition_of(patient_id: str, partitions: int) -> int:
    """The partition of a patient: CRC-32 of its id (UTF-8) modulo ``partitions``. Stable across
    runs, machines and input order (Python's own ``hash`` of a string is salted per process)."""
    return zlib.crc32(patient_id.encode("utf-8", "surrogatepass")) % partitions


def _owned_files(target: Path) -> list[str]:
    """The files of the registry screener wrote in ``target`` (relative paths, the manifest
    last); raises :class:`InputError` if ``target`` is not that, or holds anything else."""
    where = Location(str(target))
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"not a screener tables registry (no {MANIFEST}); refusing to replace it", where
        ) from None
    except (OSError, ValueError) as error:
        raise InputError(
            f"not a screener tables registry ({MANIFEST}: {error}); refusing to replace it", where
        ) from None
    marker = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(marker, str) or not marker.startswith("screener-tables/"):
        raise InputError(
            f"not a screener tables registry ({MANIFEST} has no screener format marker); "
            "refusing to replace it",
            where,
        )
    listed = manifest.get("files")
    if listed is None and isinstance(manifest.get("parts"), int):  # written before manifests listed files
        listed = [f"{t}/{part_name(i)}" for t in TABLES for i in range(manifest["parts"])]
    if not isinstance(listed, list) or not all(
        isinstance(f, str)
        and f.count("/") == 1
        and f.split("/")[0] in TABLES
        and f.endswith(".parquet")
        and ".." not in f
        for f in listed
    ):
        raise InputError(f"{MANIFEST} does not list the registry's files; refusing to replace it", where)
    known = {MANIFEST, *TABLES, *listed}
    for entry in sorted(target.rglob("*")):
        name = entry.relative_to(target).as_posix()
        if name not in known or (name in TABLES and (entry.is_symlink() or not entry.is_dir())):
            raise InputError(
                f"holds {name}, which screener did not write; refusing to replace the folder "
                "(move that file away, or choose another output folder)",
                where,
            )
    return [*listed, MANIFEST]


def new_sibling(target: Path, tag: str) -> Path:
    """A new, empty directory beside ``target`` (same file system, so renames are atomic).

    Made with the process umask (``tempfile.mkdtemp`` would make it private to the user,
    and the registry keeps the mode of this directory once renamed)."""
    while True:
        path = target.with_name(f"{target.name}.{tag}-{secrets.token_hex(6)}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path


def check_target(target: Path, overwrite: bool) -> None:
    """Refuse a target that is a file, or a non-empty folder that ``overwrite`` may not replace."""
    if target.exists() and not target.is_dir():
        raise InputError("exists and is not a directory", Location(str(target)))
    if target.is_dir() and not _is_empty_dir(target):
        if not overwrite:
            raise InputError(
                "the directory exists and is not empty; choose a new one, or overwrite a previous "
                "registry (overwrite=True, screener convert --overwrite)",
                Location(str(target)),
            )
        _owned_files(target)


def move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished registry ``tmp`` to ``target`` (checked by :func:`check_target`);
    of a previous registry there, delete exactly the files its manifest lists."""
    if target.is_dir() and not _is_empty_dir(target):
        owned = _owned_files(target)
        old = new_sibling(target, "old")
        os.replace(target, old / target.name)
        os.replace(tmp, target)
        # delete only what the old manifest lists; a file that appeared meanwhile stays
        moved = old / target.name
        for name in owned:
            with contextlib.suppress(FileNotFoundError):
                (moved / name).unlink()
        for directory in (*(moved / t for t in TABLES), moved, old):
            with contextlib.suppress(OSError):
                directory.rmdir()
    else:
        os.replace(tmp, target)  # over an empty directory too
    fsync_folder(target.parent)
