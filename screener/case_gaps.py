"""Known gaps: what a fast route is known not to do as the engine does, each with its reason.

A rule set may keep ``known-gaps.yaml`` beside its ``rules.yaml`` (not in ``tests/``,
which holds only case files)::

    gaps:
      - route: sql                  # python | sql | fast (both fast routes)
        case: "E5 on oxygen stays unknown"   # a case note (optional)
        criteria: [E5]              # the criteria it concerns (optional)
        reason: why the route differs, and where it is tracked

An entry needs ``case`` or ``criteria`` (or both): a gap that would set aside every
difference on a route is refused. The engine is the reference and has no gaps: a case
the engine fails is wrong, or the engine is. ``screener test`` sets aside the
differences an entry covers (listed with the reason, not counted as failures) and
reports an entry that covered nothing on a route that ran as stale, so the file only
ever lists gaps that still exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from screener.errors import InputError, Location
from screener.yamlio import load_file, yaml_error_location, yaml_error_message

__all__ = ["GAPS_FILE", "GAP_ROUTES", "GapFileError", "KnownGap", "load_gaps"]

GAPS_FILE = "known-gaps.yaml"
GAP_ROUTES = {"python": ("python",), "sql": ("sql",), "fast": ("python", "sql")}
GAP_KEYS = {"route", "case", "criteria", "reason"}


class GapFileError(InputError):
    """A known-gaps file is malformed or names a criterion the rule set does not have."""


@dataclass(frozen=True)
class KnownGap:
    routes: tuple[str, ...]
    reason: str
    case: str | None
    criteria: tuple[str, ...]
    where: str  # file:line of the entry

    def covers(self, route: str, note: str, criterion: str | None) -> bool:
        """Whether this gap sets aside a difference on ``criterion`` (None: the decision) of
        the case with ``note`` on ``route``. A decision follows from the outcomes, so a gap
        covering a case covers its decision too."""
        if route not in self.routes:
            return False
        if self.case is not None and self.case != note:
            return False
        if criterion is None:
            return self.case is not None
        return not self.criteria or criterion in self.criteria


def _entry(raw: Any, index: int, file: str, lines: Any, known: set[str]) -> KnownGap:
    def error(message: str, *path: str | int) -> GapFileError:
        return GapFileError(message, lines.locate(("gaps", index, *path)))

    if not isinstance(raw, dict):
        raise error("a known gap must be a mapping with route, reason and case or criteria")
    extra = set(map(str, raw)) - GAP_KEYS
    if extra:
        raise error(
            f"unknown key(s) in a known gap: {', '.join(sorted(extra))}; "
            f"allowed: {', '.join(sorted(GAP_KEYS))}",
            sorted(extra)[0],
        )
    route = raw.get("route")
    if route not in GAP_ROUTES:
        shown = "engine (the reference route has no gaps)" if route == "engine" else repr(route)
        raise error(f"route must be one of {', '.join(GAP_ROUTES)}, got {shown}", "route")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise error("reason must say why the route differs", "reason")
    case = raw.get("case")
    if case is not None and (not isinstance(case, str) or not case.strip()):
        raise error("case must be the note of a case", "case")
    criteria = raw.get("criteria", [])
    if isinstance(criteria, str):
        criteria = [criteria]
    if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
        raise error("criteria must be a list of criterion ids", "criteria")
    for cid in criteria:
        if cid not in known:
            raise error(f"unknown criterion {cid!r}; the rule set has {', '.join(sorted(known))}", "criteria")
    if case is None and not criteria:
        raise error("a known gap needs case or criteria: it would set aside every difference", "route")
    line = lines.line(("gaps", index)) or 1
    return KnownGap(
        GAP_ROUTES[route], reason.strip(), case.strip() if case else None, tuple(criteria), f"{file}:{line}"
    )


def load_gaps(rules_dir: str | Path, criteria: Iterable[str]) -> tuple[list[KnownGap], list[InputError]]:
    """The known gaps of a rule set (none without the file), and an error per bad entry."""
    path = Path(rules_dir) / GAPS_FILE
    if not path.is_file():
        return [], []
    file = str(path)
    try:
        data, lines = load_file(path)
    except OSError as error:
        return [], [GapFileError(f"cannot read known gaps: {error.strerror}", Location(file))]
    except yaml.YAMLError as error:
        return [], [GapFileError(yaml_error_message(error), yaml_error_location(error, file))]
    if not isinstance(data, dict) or set(data) != {"gaps"} or not isinstance(data["gaps"], list):
        return [], [
            GapFileError("a known-gaps file must be a mapping with only a 'gaps:' list", Location(file, 1))
        ]
    known = set(criteria)
    gaps: list[KnownGap] = []
    errors: list[InputError] = []
    for index, raw in enumerate(data["gaps"]):
        try:
            gaps.append(_entry(raw, index, file, lines, known))
        except GapFileError as error:
            errors.append(error)
    return gaps, errors
